package cli

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"testing"
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
