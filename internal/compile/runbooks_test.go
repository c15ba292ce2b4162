package compile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/load"
)

func TestRunbookBase(t *testing.T) {
	cfg := &config.Config{}
	for _, tc := range []struct{ version, base, want string }{
		{"dev", "", DefaultRunbooks},
		{"v1.4.0", "", "https://github.com/obsctl/obsctl/blob/v1.4.0/docs/runbooks/"},
		{"v1.4.0-rc.1", "", "https://github.com/obsctl/obsctl/blob/v1.4.0-rc.1/docs/runbooks/"},
		{"v0.0.0-20261206050000-643d80f1a2b3", "", DefaultRunbooks},
		{"v1.4.0-dirty", "", DefaultRunbooks},
		{"v1.4.0", "https://wiki.example.com/obsctl/runbooks", "https://wiki.example.com/obsctl/runbooks/"},
		{"dev", "https://wiki.example.com/rb/", "https://wiki.example.com/rb/"},
	} {
		cfg.Overrides.RunbookBaseURL = tc.base
		if got := RunbookBase(cfg, tc.version); got != tc.want {
			t.Errorf("version %s, base %q: %s, want %s", tc.version, tc.base, got, tc.want)
		}
	}
}

// TestCompileRelinksRunbooks: the default alerts' runbook links lead
// where RunbookBase says in both outputs (rule files and PrometheusRules),
// while the loaded rules keep their files' links (which the tests hold).
func TestCompileRelinksRunbooks(t *testing.T) {
	defer func(v func() string) { obsctlVersion = v }(obsctlVersion)
	obsctlVersion = func() string { return "v1.4.0" }
	r := loadDefault(t)
	_, outs := compileOutputs(t, r)
	pinned := []byte("https://github.com/obsctl/obsctl/blob/v1.4.0/docs/runbooks/node.md#")
	var rules, objects int
	for _, o := range outs {
		if bytes.Contains(o.Data, []byte(DefaultRunbooks)) {
			t.Errorf("%s still links runbooks at main", o.Path)
		}
		if bytes.Contains(o.Data, pinned) {
			if strings.HasPrefix(o.Path, "prometheusrules/") {
				objects++
			} else {
				rules++
			}
		}
	}
	if rules == 0 || objects == 0 {
		t.Errorf("node.md links pinned in %d rule files and %d objects, want both", rules, objects)
	}
	for _, f := range r.RuleFiles {
		for _, rule := range f.Rules() {
			for _, kv := range rule.Annotations {
				if kv.Key == "runbook_url" && !strings.HasPrefix(kv.Value, DefaultRunbooks) {
					t.Fatalf("the loaded %s links %s: Compile changed what load read", rule.Name(), kv.Value)
				}
			}
		}
	}

	// A team's base, from obsctl.yaml.
	dir := t.TempDir()
	writeFile(t, dir, "obsctl.yaml", "apiVersion: obsctl/v1\nname: t\noverrides:\n  runbookBaseURL: https://wiki.example.com/obsctl/runbooks\n")
	lr, err := load.Load(load.Options{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(lr.Findings) > 0 {
		t.Fatalf("findings: %v", lr.Findings)
	}
	_, outs = compileOutputs(t, lr)
	var found bool
	for _, o := range outs {
		found = found || bytes.Contains(o.Data, []byte("runbook_url: https://wiki.example.com/obsctl/runbooks/node.md#"))
		if bytes.Contains(o.Data, []byte("github.com/obsctl/obsctl/blob/")) {
			t.Errorf("%s links runbooks on GitHub", o.Path)
		}
	}
	if !found {
		t.Error("no default alert links the team's runbook site")
	}
}

func writeFile(t *testing.T, dir, name, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
