package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/render"
)

// TestGenerateTLS: the generated certificate is signed by the generated
// CA, names the common name, and its key matches it.
func TestGenerateTLS(t *testing.T) {
	data, err := generateTLS("elasticsearch.monitoring.svc")
	if err != nil {
		t.Fatal(err)
	}
	raw := map[string][]byte{}
	for k, v := range data {
		b, err := base64.StdEncoding.DecodeString(v.(string))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		raw[k] = b
	}
	if _, err := tls.X509KeyPair(raw["tls.crt"], raw["tls.key"]); err != nil {
		t.Fatalf("tls.crt and tls.key do not pair: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw["ca.crt"]) {
		t.Fatal("ca.crt holds no certificate")
	}
	block, _ := pem.Decode(raw["tls.crt"])
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "elasticsearch.monitoring.svc", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the certificate does not verify against the CA: %v", err)
	}
	again, _ := generateTLS("elasticsearch.monitoring.svc")
	if again["tls.key"] == data["tls.key"] {
		t.Error("two generations gave the same key")
	}
}

// TestGeneratedFromEnv: a receiver secret given as {env: VAR} becomes a
// Secret apply writes from the environment, on every apply; an unset
// variable is an error naming it, and its value is never in the error.
func TestGeneratedFromEnv(t *testing.T) {
	set := &desiredSet{generated: []render.GeneratedSecret{{
		Namespace: "monitoring", Name: "obsctl-alerting-env", Component: "Alertmanager",
		Env: map[string]string{"SLACK_URL": "SLACK_URL"},
	}}}
	env := map[string]string{"SLACK_URL": "https://hooks.example/T0/B0/s3cr3t"}
	objs, err := set.withGenerated(context.Background(), nil, "obsctl", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("%d objects, want the Secret", len(objs))
	}
	v, _, _ := unstructured.NestedString(objs[0].Object, "data", "SLACK_URL")
	if b, _ := base64.StdEncoding.DecodeString(v); string(b) != env["SLACK_URL"] {
		t.Errorf("data SLACK_URL = %q", b)
	}
	delete(env, "SLACK_URL")
	_, err = set.withGenerated(context.Background(), nil, "obsctl", func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "environment variable SLACK_URL is not set") {
		t.Errorf("unset variable: %v", err)
	}
}
