package load

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func writeRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const minimalConfig = "apiVersion: obsctl/v1\nname: t\n"

func TestLoadResolvesTheRepo(t *testing.T) {
	dir := writeRepo(t, map[string]string{
		"obsctl.yaml":             minimalConfig,
		"rules/a.yaml":            "groups: []\n",
		"rules/sub/b.yml":         "groups: []\n",
		"rules/a_test.yaml":       "not a rule file: tests are skipped\n",
		"rules/.hidden/c.yaml":    "groups: []\n",
		"rules/notes.md":          "# not YAML\n",
		"elsewhere/outside.yaml":  "groups: []\n",
		"work/obsctl.yaml":        minimalConfig,
		"work/rules/w.yaml":       "groups: []\n",
		"plain/folder/keep.txt":   "",
		"plain/extra/extra.yaml":  "groups: []\n",
		"plain/extra/extra2.yaml": "groups: []\n",
	})
	tests := []struct {
		name      string
		opts      Options
		wantFiles []string // display paths
		wantRel   []string
		embedded  bool
	}{
		{"relative --repo", Options{Dir: "./", WorkDir: dir},
			[]string{"rules/a.yaml", "rules/sub/b.yml"}, []string{"rules/a.yaml", "rules/sub/b.yml"}, false},
		{"absolute --repo", Options{Dir: dir, WorkDir: "/"},
			[]string{filepath.ToSlash(filepath.Join(dir, "rules/a.yaml")), filepath.ToSlash(filepath.Join(dir, "rules/sub/b.yml"))},
			[]string{"rules/a.yaml", "rules/sub/b.yml"}, false},
		{"working dir with obsctl.yaml", Options{WorkDir: filepath.Join(dir, "work")},
			[]string{"rules/w.yaml"}, []string{"rules/w.yaml"}, false},
		{"working dir without obsctl.yaml uses the default", Options{WorkDir: filepath.Join(dir, "plain")},
			nil, nil, true},
		{"paths given", Options{WorkDir: filepath.Join(dir, "plain"), Paths: []string{"extra"}},
			[]string{"extra/extra.yaml", "extra/extra2.yaml"}, []string{"extra/extra.yaml", "extra/extra2.yaml"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Load(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if r.Embedded() != tt.embedded {
				t.Fatalf("Embedded = %v", r.Embedded())
			}
			if tt.embedded && len(tt.opts.Paths) == 0 {
				if len(r.RuleFiles) < 5 || len(r.Findings) != 0 {
					t.Fatalf("embedded default: %d files, findings %v", len(r.RuleFiles), r.Findings)
				}
				return
			}
			var got, rel []string
			for _, f := range r.RuleFiles {
				got, rel = append(got, f.Path), append(rel, f.Rel)
			}
			if !equal(got, tt.wantFiles) || !equal(rel, tt.wantRel) {
				t.Errorf("files %v (rel %v), want %v (rel %v)", got, rel, tt.wantFiles, tt.wantRel)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLoadErrors(t *testing.T) {
	dir := writeRepo(t, map[string]string{"noconfig/x": "", "obsctl.yaml": minimalConfig + "rules:\n  paths: [missing]\n"})
	if _, err := Load(Options{Dir: "noconfig", WorkDir: dir}); !errors.Is(err, ErrNoConfig) {
		t.Errorf("folder without obsctl.yaml: %v", err)
	}
	if _, err := Load(Options{Dir: "nope", WorkDir: dir}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing folder: %v", err)
	}
	if _, err := Load(Options{WorkDir: dir}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing rule path: %v", err)
	}
	if _, err := Load(Options{WorkDir: dir, Paths: []string{"gone.yaml"}}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing path argument: %v", err)
	}
}

func TestTooLargeFileIsAFinding(t *testing.T) {
	dir := writeRepo(t, map[string]string{"obsctl.yaml": minimalConfig})
	f, err := os.Create(filepath.Join(dir, "big.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(33 << 20); err != nil { // sparse: no 33 MiB written
		t.Fatal(err)
	}
	f.Close()
	r, err := Load(Options{WorkDir: dir, Paths: []string{"big.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 1 || r.Findings[0].Check != "yaml/syntax" {
		t.Fatalf("findings %v", r.Findings)
	}
}
