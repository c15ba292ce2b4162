package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// corpusRule is a rule as read back from a generated file.
type corpusRule struct {
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type corpusFile struct {
	Groups []struct {
		Name  string       `yaml:"name"`
		Rules []corpusRule `yaml:"rules"`
	} `yaml:"groups"`
}

func TestGenerateCorpus(t *testing.T) {
	for _, n := range []int{7, 45, 1000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			dir := t.TempDir()
			st, err := generateCorpus(dir, n, 1)
			if err != nil {
				t.Fatal(err)
			}
			if st.Rules != n || st.Records+st.Alerts != n {
				t.Fatalf("stats %+v, want %d rules", st, n)
			}
			files := readCorpus(t, dir)
			if len(files) != st.Files {
				t.Fatalf("%d files on disk, stats say %d", len(files), st.Files)
			}
			p := parser.NewParser(parser.Options{})
			total, records := 0, 0
			recorded, read := map[string]bool{}, map[string]bool{}
			identity := map[string]string{}
			for path, f := range files {
				inFile := 0
				groups := map[string]bool{}
				for _, g := range f.Groups {
					if groups[g.Name] {
						t.Errorf("%s: group %q twice", path, g.Name)
					}
					groups[g.Name] = true
					for _, r := range g.Rules {
						inFile++
						e, err := p.ParseExpr(r.Expr)
						if err != nil {
							t.Errorf("%s: %s: %v", path, r.Expr, err)
							continue
						}
						if r.Record != "" {
							records++
							recorded[r.Record] = true
							continue
						}
						parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
							if vs, ok := node.(*parser.VectorSelector); ok && strings.Contains(vs.Name, ":") {
								read[vs.Name] = true
							}
							return nil
						})
						if r.For == "" || r.Labels["severity"] == "" || r.Annotations["runbook_url"] == "" ||
							!strings.Contains(r.Annotations["description"], "{{ $labels.") {
							t.Errorf("%s: alert %s lacks for, severity, runbook_url or a templated description", path, r.Alert)
						}
						id := r.Alert + "/" + r.Labels["severity"]
						if prev, ok := identity[id]; ok {
							t.Errorf("%s: alert %s with severity %s already in %s", path, r.Alert, r.Labels["severity"], prev)
						}
						identity[id] = path
					}
				}
				if n >= 10 && (inFile < 10 || inFile > 30) {
					t.Errorf("%s holds %d rules, want 10 to 30", path, inFile)
				}
				total += inFile
			}
			if total != n {
				t.Errorf("read %d rules back, want %d", total, n)
			}
			for name := range recorded {
				if !read[name] {
					t.Errorf("recorded series %s is read by no alert", name)
				}
			}
			if n >= 1000 {
				if share := float64(records) / float64(total); share < 0.2 || share > 0.3 {
					t.Errorf("recording rules are %.0f%% of the corpus, want about 25%%", 100*share)
				}
			}
		})
	}
}

func TestGenerateCorpusDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if _, err := generateCorpus(dir, 300, 42); err != nil {
			t.Fatal(err)
		}
	}
	fa, fb := snapshot(t, a), snapshot(t, b)
	if len(fa) != len(fb) {
		t.Fatalf("%d files, then %d", len(fa), len(fb))
	}
	for name, data := range fa {
		if !bytes.Equal(data, fb[name]) {
			t.Errorf("%s differs between two runs with one seed", name)
		}
	}
}

func readCorpus(t *testing.T, dir string) map[string]corpusFile {
	t.Helper()
	out := map[string]corpusFile{}
	for name, data := range snapshot(t, dir) {
		var f corpusFile
		if err := yaml.Unmarshal(data, &f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = f
	}
	return out
}

func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBatches(t *testing.T) {
	files := []string{"aaaa", "bbbb", "cccc", "dddd", "eeee"}
	got := batches([]string{"p"}, files, 12) // "p " + two files of 5 bytes
	want := [][]string{{"p", "aaaa", "bbbb"}, {"p", "cccc", "dddd"}, {"p", "eeee"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("batches = %q, want %q", got, want)
	}
}

func TestCountFindings(t *testing.T) {
	out := `rules/a.yaml:3:5: warning: alert "X" has no ` + "`for`" + ` [rules/for-missing]
    - alert: X
      ^
  hint: add for
rules/b.yaml:1:1: error: bad [rules/schema]
2 findings (1 error, 1 warning) in 2 files
`
	fc := countFindings(strings.NewReader(out))
	if fc.total != 2 || fc.bySeverity["warning"] != 1 || fc.byCheck["rules/schema"] != 1 {
		t.Errorf("countFindings = %+v", fc)
	}
	if fc.summary != "2 findings (1 error, 1 warning) in 2 files" {
		t.Errorf("summary = %q", fc.summary)
	}
}
