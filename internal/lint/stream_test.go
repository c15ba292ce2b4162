package lint

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/load"
)

// TestLintStreamsAsRun lints fixtures of the checks that read other rules'
// expressions as a repo on disk, each rule file twice (rules/a.yaml and
// rules/b.yaml, so that every rule has a peer in another file): Lint,
// which reads each file, checks it and lets it go, keeping the
// expressions of few rules (RuleExpr reads the others again), must find
// what Run finds with every file in memory.
func TestLintStreamsAsRun(t *testing.T) {
	defCfg, err := os.ReadFile("testdata/default.obsctl.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ dir, name string }{
		{"rules/duplicate-name", "basic.bad"},
		{"rules/duplicate-name", "basic.good"},
		{"rules/duplicate-name", "disjoint.good"},
		{"rules/duplicate-name", "overlap.bad"},
		{"alerting/dropped-label", "basic.bad"},
		{"alerting/dropped-label", "ok.good"},
		{"rules/unused-record", ""},
	}
	for _, tc := range cases {
		t.Run(tc.dir+"/"+tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", tc.dir)
			names := []string{tc.name + ".yaml"}
			if tc.name == "" {
				names = nil
				entries, err := os.ReadDir(dir)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range entries {
					if filepath.Ext(e.Name()) == ".yaml" && filepath.Ext(trimExt(e.Name())) != ".obsctl" {
						names = append(names, e.Name())
					}
				}
			}
			root := t.TempDir()
			cfg := defCfg
			if tc.name != "" {
				base := trimExt(trimExt(tc.name + ".yaml"))
				if b, err := os.ReadFile(filepath.Join(dir, base+".obsctl.yaml")); err == nil {
					cfg = b
				}
			}
			write(t, filepath.Join(root, "obsctl.yaml"), cfg)
			for i, n := range names {
				src, err := os.ReadFile(filepath.Join(dir, n))
				if err != nil {
					t.Fatal(err)
				}
				for _, copyName := range []string{"a", "b"} {
					write(t, filepath.Join(root, "rules", copyName+itoa(i)+".yaml"), src)
				}
			}
			l, err := New(Options{Enable: []string{"all"}})
			if err != nil {
				t.Fatal(err)
			}
			whole, err := load.Load(load.Options{Dir: root, WorkDir: root})
			if err != nil {
				t.Fatal(err)
			}
			want := l.Run(whole)
			streamed, err := load.Load(load.Options{Dir: root, WorkDir: root, Defer: true})
			if err != nil {
				t.Fatal(err)
			}
			if streamed.DeferredRuleFiles() != 2*len(names) {
				t.Fatalf("%d rule files deferred, want %d", streamed.DeferredRuleFiles(), 2*len(names))
			}
			got, err := l.Lint(streamed)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("Lint found\n%s\nRun found\n%s", listFindings(got), listFindings(want))
			}
			if tc.name != "" && filepath.Ext(tc.name) == ".bad" && len(want) == 0 {
				t.Error("a bad case found nothing")
			}
		})
	}
}

func trimExt(name string) string { return name[:len(name)-len(filepath.Ext(name))] }

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func listFindings(fs []diag.Finding) string {
	var out string
	for _, f := range fs {
		out += "  " + f.String() + "\n"
	}
	return out
}
