package release

import (
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
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/render"
)

// generatedRefs returns the references of the Secrets specs describe, one
// per namespace each is copied to, so that the release reads them with the
// rest of the live state.
func generatedRefs(specs []render.GeneratedSecret) []kube.Ref {
	var out []kube.Ref
	for _, g := range specs {
		for _, ns := range g.AllNamespaces() {
			out = append(out, kube.Ref{Version: "v1", Kind: "Secret", Namespace: ns, Name: g.Name})
		}
	}
	return out
}

// generated returns the Secrets specs describe, as the release applies
// them. A generated Secret that exists keeps its values: a password or an
// encryption key is created once and never changed, whatever command runs
// (apply, apply -f of render output, rollback). A missing one gets random
// values, or a CA and certificate. Copies of one Secret in several
// namespaces share the values of the first copy found. Secrets of
// environment variables take them from getenv on every release: the
// environment is their source of truth. It returns the Secrets and, for
// each one generated now, a note saying so (without values).
func generated(specs []render.GeneratedSecret, stack string, live map[kube.Ref]*unstructured.Unstructured, getenv func(string) string) ([]*unstructured.Unstructured, []string, error) {
	var out []*unstructured.Unstructured
	var notes []string
	for _, g := range specs {
		var data map[string]any
		fromEnv := len(g.Env) > 0
		if fromEnv {
			data = map[string]any{}
			for _, k := range slices.Sorted(maps.Keys(g.Env)) {
				v := getenv(g.Env[k])
				if v == "" {
					return nil, nil, fmt.Errorf("environment variable %s is not set: obsctl.yaml refers to it for %s (Secret %s/%s key %s)", g.Env[k], g.Component, g.Namespace, g.Name, k)
				}
				data[k] = base64.StdEncoding.EncodeToString([]byte(v))
			}
		} else {
			data = existingValues(g, live)
		}
		if data == nil {
			var err error
			if g.TLS {
				data, err = generateTLS(g.CommonName)
			} else {
				data, err = randomValues(g.Keys)
			}
			if err != nil {
				return nil, nil, err
			}
			notes = append(notes, fmt.Sprintf("Secret %s/%s (%s): values generated", g.Namespace, g.Name, g.Component))
		}
		for _, k := range slices.Sorted(maps.Keys(g.Fixed)) {
			data[k] = base64.StdEncoding.EncodeToString([]byte(g.Fixed[k]))
		}
		typ := "Opaque"
		if g.TLS {
			typ = "kubernetes.io/tls"
		}
		labels := map[string]any{render.LabelPartOf: "obsctl", LabelStack: stack, LabelManagedBy: managedBy}
		if !fromEnv {
			labels[LabelGenerated] = "true"
		}
		for _, ns := range g.AllNamespaces() {
			out = append(out, &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "v1", "kind": "Secret", "type": typ,
				"metadata": map[string]any{"name": g.Name, "namespace": ns, "labels": maps.Clone(labels)},
				"data":     maps.Clone(data),
			}})
		}
	}
	return out, notes, nil
}

// existingValues returns the data of the first copy of g that exists,
// limited to g's keys, or nil when there is none or one lacks a key.
func existingValues(g render.GeneratedSecret, live map[kube.Ref]*unstructured.Unstructured) map[string]any {
	keys := g.Keys
	if g.TLS {
		keys = []string{"ca.crt", "tls.crt", "tls.key"}
	}
	for _, ns := range g.AllNamespaces() {
		l := live[kube.Ref{Kind: "Secret", Namespace: ns, Name: g.Name}]
		if l == nil {
			continue
		}
		have, _, _ := unstructured.NestedMap(l.Object, "data")
		data := map[string]any{}
		for _, k := range keys {
			v, ok := have[k]
			if !ok {
				return nil // incomplete: generate afresh
			}
			data[k] = v
		}
		return data
	}
	return nil
}

func randomValues(keys []string) (map[string]any, error) {
	data := map[string]any{}
	for _, k := range keys {
		v, err := randomValue()
		if err != nil {
			return nil, err
		}
		data[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return data, nil
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

// GeneratedSecrets returns the Secrets obsctl generates for a stack, as
// manifests, for teams whose GitOps tool (Argo CD, Flux) applies the
// rendered stack and never runs obsctl against the cluster: they write
// them once, into their secret tooling (Sealed Secrets, SOPS, a vault), as
// obsctl apply would have created them once. Values are taken from
// existing (the Secrets written before) when complete, so writing again
// changes nothing. Secrets given as {env: VAR} are left out: their source
// is the environment the GitOps tool runs in.
func GeneratedSecrets(specs []render.GeneratedSecret, stack string, existing []*unstructured.Unstructured) ([]*unstructured.Unstructured, []string, error) {
	live := map[kube.Ref]*unstructured.Unstructured{}
	for _, o := range existing {
		live[kube.RefOf(o).ID()] = o
	}
	var own []render.GeneratedSecret
	for _, g := range specs {
		if len(g.Env) == 0 {
			own = append(own, g)
		}
	}
	return generated(own, stack, live, func(string) string { return "" })
}
