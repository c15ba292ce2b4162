package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/manifest"
	"github.com/obsctl/obsctl/internal/render"
)

// desiredSet is what apply and diff take to the cluster: the manifests of
// -f, or the stack rendered from the repo with the Secrets obsctl
// generates.
type desiredSet struct {
	objs      []*unstructured.Unstructured
	generated []render.GeneratedSecret
	// from says where the objects come from, for messages.
	from string
}

// readDesired reads -f's manifests, or renders the repo's stack when there
// is no -f; what names the command in messages.
func readDesired(deps *Deps, g *globalOptions, files []string, profile, what string) (*desiredSet, error) {
	if len(files) == 0 {
		r, res, err := renderStack(deps, g, profile, what)
		if err != nil {
			return nil, err
		}
		from := "the embedded default repo"
		if !r.Embedded() {
			from = "the repo " + r.Dir
		}
		return &desiredSet{objs: res.Objects, generated: res.Generated, from: from}, nil
	}
	if profile != "" {
		return nil, usagef("--profile renders the repo's stack; it does not apply to manifests given with -f")
	}
	ms, err := manifest.Read(files, manifest.Options{Stdin: deps.Stdin, WorkDir: deps.WorkDir})
	if err != nil {
		return nil, fmt.Errorf("read manifests: %w", err)
	}
	objs := manifest.Objects(ms)
	if len(objs) == 0 {
		// Most likely a render that went wrong; applied with prune, an
		// empty set would delete the whole stack.
		return nil, fmt.Errorf("no objects in %s: nothing to apply", strings.Join(files, ", "))
	}
	return &desiredSet{objs: objs, from: strings.Join(files, ", ")}, nil
}

// withGenerated returns the set's objects and its generated Secrets. A
// generated Secret that exists keeps its values; a missing one gets random
// values. Secrets of environment variables take them from getenv. Copies of one Secret in several namespaces share their values:
// those of the first copy found.
func (d *desiredSet) withGenerated(ctx context.Context, conn *clusterConn, stackName string, getenv func(string) string) ([]*unstructured.Unstructured, error) {
	if len(d.generated) == 0 {
		return d.objs, nil
	}
	out := slices.Clone(d.objs)
	for _, g := range d.generated {
		var data map[string]any
		var err error
		if len(g.Env) > 0 {
			// From the environment, every time: the environment is the
			// source of truth for these.
			data = map[string]any{}
			for _, k := range slices.Sorted(maps.Keys(g.Env)) {
				v := getenv(g.Env[k])
				if v == "" {
					return nil, fmt.Errorf("environment variable %s is not set: obsctl.yaml refers to it for %s (Secret %s/%s key %s)", g.Env[k], g.Component, g.Namespace, g.Name, k)
				}
				data[k] = base64.StdEncoding.EncodeToString([]byte(v))
			}
		} else if data, err = existingGenerated(ctx, conn, g); err != nil {
			return nil, err
		}
		if data == nil && g.TLS {
			if data, err = generateTLS(g.CommonName); err != nil {
				return nil, err
			}
		}
		if data == nil {
			data = map[string]any{}
			for _, k := range g.Keys {
				v, err := randomValue()
				if err != nil {
					return nil, err
				}
				data[k] = base64.StdEncoding.EncodeToString([]byte(v))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(g.Fixed)) {
			data[k] = base64.StdEncoding.EncodeToString([]byte(g.Fixed[k]))
		}
		for _, ns := range g.AllNamespaces() {
			typ := "Opaque"
			if g.TLS {
				typ = "kubernetes.io/tls"
			}
			s := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "Secret", "type": typ,
				"metadata": map[string]any{"name": g.Name, "namespace": ns, "labels": map[string]any{
					render.LabelPartOf: "obsctl", apply.LabelStack: stackName, apply.LabelManagedBy: apply.FieldManager,
					render.LabelGenerated: "true",
				}},
				"data": maps.Clone(data),
			}}
			out = append(out, s)
		}
	}
	return out, nil
}

// existingGenerated returns the data of the first copy of g that exists,
// limited to g's keys, or nil when there is none (or one lacks a key).
func existingGenerated(ctx context.Context, conn *clusterConn, g render.GeneratedSecret) (map[string]any, error) {
	for _, ns := range g.AllNamespaces() {
		var live *unstructured.Unstructured
		err := kube.Retry(ctx, "read Secret "+ns+"/"+g.Name, func(ctx context.Context) error {
			var err error
			live, err = conn.clients.Dynamic.Resource(secretsGVR).Namespace(ns).Get(ctx, g.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				live, err = nil, nil
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		if live == nil {
			continue
		}
		have, _, _ := unstructured.NestedMap(live.Object, "data")
		data := map[string]any{}
		for _, k := range g.Keys {
			v, ok := have[k]
			if !ok {
				return nil, nil // incomplete: generate afresh
			}
			data[k] = v
		}
		return data, nil
	}
	return nil, nil
}

// randomValue is 32 characters from 24 random bytes.
func randomValue() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate a secret value: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// tlsValidity is how long a generated CA and certificate are valid.
const tlsValidity = 10 * 365 * 24 * time.Hour

// generateTLS makes a private CA and a certificate for cn signed by it,
// both ECDSA P-256, as Secret data (base64): ca.crt, tls.crt, tls.key.
func generateTLS(cn string) (map[string]any, error) {
	now := time.Now()
	serial := func() (*big.Int, error) { return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120)) }
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate a CA key: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: cn + " CA (obsctl)"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(tlsValidity),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("generate a CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate a key: %w", err)
	}
	if sn, err = serial(); err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn, Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(tlsValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("generate a certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	enc := func(typ string, b []byte) string {
		return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}))
	}
	return map[string]any{
		"ca.crt":  enc("CERTIFICATE", caDER),
		"tls.crt": enc("CERTIFICATE", der),
		"tls.key": enc("PRIVATE KEY", keyDER),
	}, nil
}
