package lint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestScanSecretLine(t *testing.T) {
	tests := []struct {
		line string
		want []string // "kind=token" for each hit, in order
	}{
		{`apiKey: 0a1b2c3d4e5f`, []string{"API key=0a1b2c3d4e5f"}},
		{`  - "api_key": "0a1b2c3d4e5f",`, []string{"API key=0a1b2c3d4e5f"}},
		{`basicAuth: {username: u, password: s3cr3t-pw}`, []string{"password=s3cr3t-pw"}},
		{`auth_password: 's3cr3t-pw' # comment`, []string{"password=s3cr3t-pw"}},
		{`routing_key: 0123456789abcdef0123456789abcdef`, []string{"PagerDuty integration key=0123456789abcdef0123456789abcdef"}},
		{`serviceKey: short-key-1`, []string{"integration key=short-key-1"}},
		{`url: https://u:pa55word@h.example.com/x`, []string{"password in a URL=pa55word"}},
		{`x: https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx`, []string{"Slack webhook URL=https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx"}},
		{`token: xoxb-1234567890-abcdefghijkl`, []string{"Slack token=xoxb-1234567890-abcdefghijkl"}},
		{`id AKIAIOSFODNN7EXAMPLE.`, []string{"AWS access key id=AKIAIOSFODNN7EXAMPLE"}},
		{`t: ghp_0123456789abcdefghijABCDEFGHIJ012345`, []string{"GitHub token=ghp_0123456789abcdefghijABCDEFGHIJ012345"}},
		{`Authorization: Bearer abcdef0123456789ABCDEF`, []string{"bearer token=abcdef0123456789ABCDEF"}},
		{`h: "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig"`, []string{"JWT=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig"}},
		{`https://x.example.com/?a=1&access_token=abcd1234efgh#top`, []string{"token=abcd1234efgh"}},
		{`-----BEGIN OPENSSH PRIVATE KEY-----`, []string{"private key=-----BEGIN OPENSSH PRIVATE KEY-----"}},
		{`# password: hunter2!`, []string{"password=hunter2!"}},

		// References, placeholders and look-alikes.
		{`apiKey: {secret: {name: opsgenie, key: api-key}}`, nil},
		{`webhookURL: {env: SLACK_URL}`, nil},
		{`password: ${DB_PASSWORD}`, nil},
		{`password: "$DB_PASSWORD"`, nil},
		{`token: "{{ .Values.token }}"`, nil},
		{`api_key: <your-api-key>`, nil},
		{`password: ""`, nil},
		{`password:`, nil},
		{`password: |`, nil},
		{`secret: true`, nil},
		{`password: changeme`, nil},
		{`token: xxxxxxxxxxxx`, nil},
		{`token: '********'`, nil},
		{`apiKey: your_api_key_here`, nil},
		{`description: rotate the token: it expires soon`, nil},
		{`summary: "API token: expired"`, nil},
		{`summary: 'see token: abc123def'`, nil},
		{`secret_name: api-credentials`, nil},
		{`token_ttl: 3600`, nil},
		{`password_file: /etc/alertmanager/pw`, nil},
		{`x: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX`, nil},
		{`url: https://user:${PASSWORD}@h.example.com/`, nil},
		{`url: https://runbooks.example.com/a:b@c`, nil},
		{`expr: rate(auth_token_requests_total{secret="x"}[5m]) > 0`, nil},
		{`record: job:token:rate5m`, nil},
		{`-----BEGIN CERTIFICATE-----`, nil},
		{`summary: "Bearer {{ $labels.token }}"`, nil},
		{`alert: GitHubTokenExpiring`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			var got []string
			for _, h := range scanSecrets([]byte(tt.line), nil) {
				got = append(got, h.kind+"="+string(h.text[h.start:h.end]))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestPlaintextSecretsNotQuoted checks, over the fixtures, that every
// finding marks its span as secret and that neither message nor hint
// repeats the text under the span.
func TestPlaintextSecretsNotQuoted(t *testing.T) {
	dir := filepath.Join("testdata", "secrets", "plaintext")
	cfg, err := os.ReadFile(filepath.Join(dir, "plaintext.bad.obsctl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := os.ReadFile(filepath.Join(dir, "rules.bad.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	srcs := map[string][]string{
		"obsctl.yaml":    strings.Split(string(cfg), "\n"),
		"rules.bad.yaml": strings.Split(string(rules), "\n"),
	}
	n := 0
	for _, f := range lintSources(t, string(cfg), map[string]string{"rules.bad.yaml": string(rules)}) {
		if f.Check != "secrets/plaintext" {
			continue
		}
		n++
		line := []rune(srcs[f.File][f.Start.Line-1])
		secret := string(line[f.Start.Col-1 : f.End.Col-1])
		switch {
		case !f.Secret:
			t.Errorf("%v: not marked Secret", f)
		case utf8.RuneCountInString(secret) < 4:
			t.Errorf("%v: span %q does not cover the secret", f, secret)
		case strings.Contains(f.Message, secret) || strings.Contains(f.Hint, secret):
			t.Errorf("%v: message or hint quotes the secret", f)
		}
	}
	if n < 10 {
		t.Errorf("only %d findings; the fixtures have more secrets", n)
	}
}
