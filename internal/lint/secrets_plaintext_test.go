package lint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

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
