package load

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
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

const minimalConfig = "apiVersion: obsctl/v1\nname: t\ndefaults: false\n"

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
		{"sub-folder finds the repo above", Options{WorkDir: filepath.Join(dir, "rules")},
			[]string{"../rules/a.yaml", "../rules/sub/b.yml"}, []string{"rules/a.yaml", "rules/sub/b.yml"}, false},
		{"deeper sub-folder finds the nearest repo", Options{WorkDir: filepath.Join(dir, "work", "rules")},
			[]string{"../rules/w.yaml"}, []string{"rules/w.yaml"}, false},
		{"folder without obsctl.yaml inside a repo", Options{WorkDir: filepath.Join(dir, "plain", "folder")},
			[]string{"../../rules/a.yaml", "../../rules/sub/b.yml"}, []string{"rules/a.yaml", "rules/sub/b.yml"}, false},
		{"paths given", Options{WorkDir: filepath.Join(dir, "plain"), Paths: []string{"extra"}},
			[]string{"extra/extra.yaml", "extra/extra2.yaml"}, []string{"extra/extra.yaml", "extra/extra2.yaml"}, false},
		{"no obsctl.yaml up to the root uses the default", Options{WorkDir: t.TempDir()},
			nil, nil, true},
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
			for _, f := range reportedFiles(r) {
				got, rel = append(got, f.Path), append(rel, f.Rel)
			}
			if !equal(got, tt.wantFiles) || !equal(rel, tt.wantRel) {
				t.Errorf("files %v (rel %v), want %v (rel %v)", got, rel, tt.wantFiles, tt.wantRel)
			}
		})
	}
}

// reported returns the findings of r that lint reports (Repo.Reports).
func reported(r *Repo) []diag.Finding {
	var out []diag.Finding
	for _, f := range r.Findings {
		if r.Reports(f.File) {
			out = append(out, f)
		}
	}
	return out
}

// reportedFiles returns the rule files of r whose findings lint reports.
func reportedFiles(r *Repo) []*promrule.File {
	var out []*promrule.File
	for _, f := range r.RuleFiles {
		if r.Reports(f.Path) {
			out = append(out, f)
		}
	}
	return out
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
	// A rule path obsctl.yaml names that does not exist is a finding at
	// its entry, not an error without a position.
	r, err := Load(Options{WorkDir: dir})
	if err != nil {
		t.Fatalf("missing rule path: %v", err)
	}
	line := strings.Count(minimalConfig, "\n") + 2
	if len(r.Findings) != 1 || r.Findings[0].Check != "config/schema" || r.Findings[0].Start.Line != line {
		t.Errorf("missing rule path: %v, want one config/schema finding on line %d", r.Findings, line)
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
	if fds := reported(r); len(fds) != 1 || fds[0].Check != CheckFile || fds[0].File != "big.yaml" || fds[0].Start.Line != 1 {
		t.Fatalf("findings %v", fds)
	}
	if len(r.RuleFiles) != 0 {
		t.Fatalf("the file over the limit was loaded: %d rule files", len(r.RuleFiles))
	}
}

func TestFind(t *testing.T) {
	dir := writeRepo(t, map[string]string{
		"obsctl.yaml":            minimalConfig,
		"rules/team/a.yaml":      "groups: []\n",
		"nested/obsctl.yaml":     minimalConfig,
		"nested/deep/keep.txt":   "",
		"obsctl.yaml.d/keep.txt": "",
	})
	outside := t.TempDir()
	tests := []struct {
		name    string
		opts    Options
		wantDir string
		root    string // "" for the embedded default
	}{
		{"working dir", Options{WorkDir: dir}, ".", dir},
		{"rules/ finds the repo", Options{WorkDir: filepath.Join(dir, "rules")}, "..", dir},
		{"two levels up", Options{WorkDir: filepath.Join(dir, "rules", "team")}, filepath.Join("..", ".."), dir},
		{"the nearest wins", Options{WorkDir: filepath.Join(dir, "nested", "deep")}, "..", filepath.Join(dir, "nested")},
		{"--repo beats discovery", Options{WorkDir: filepath.Join(dir, "nested"), Dir: ".."}, "..", filepath.Join(dir, "nested", "..")},
		{"nothing up to the root", Options{WorkDir: outside}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := Find(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if loc.Dir != tt.wantDir || loc.Root != tt.root || loc.Default() != (tt.root == "") {
				t.Errorf("Find = %+v (default %v), want dir %q root %q", loc, loc.Default(), tt.wantDir, tt.root)
			}
		})
	}
}

func TestLoadConfigFromSubFolder(t *testing.T) {
	dir := writeRepo(t, map[string]string{
		"obsctl.yaml":  minimalConfig + "rules:\n  paths: [rules]\n",
		"rules/a.yaml": "not: [valid\n", // LoadConfig reads obsctl.yaml only
	})
	r, err := LoadConfig(Options{WorkDir: filepath.Join(dir, "rules")})
	if err != nil {
		t.Fatal(err)
	}
	if r.Embedded() || r.Root != dir || r.Dir != ".." || r.Config.Name != "t" || r.ConfigFile.Path != "../obsctl.yaml" {
		t.Fatalf("LoadConfig from rules/: dir %q root %q embedded %v name %q file %q", r.Dir, r.Root, r.Embedded(), r.Config.Name, r.ConfigFile.Path)
	}
	if len(r.RuleFiles) != 0 || len(r.Findings) != 0 {
		t.Errorf("LoadConfig read more than obsctl.yaml: %d rule files, findings %v", len(r.RuleFiles), r.Findings)
	}
	d, err := LoadConfig(Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Embedded() || d.Dir != "" || d.Root != "" || d.Config.Name == "" {
		t.Errorf("embedded default: %+v", d)
	}
}
