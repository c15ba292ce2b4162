package lint

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

// FuzzLint runs every check on a fuzzed rule file with the default test
// config. The linter must not panic, must return findings sorted and
// without duplicates, must name only registered checks, and must place
// every finding inside the file it names.
func FuzzLint(f *testing.F) {
	const maxSeed = 2 << 10 // larger seeds make the fuzzer spend its time minimizing
	n := 0
	for _, pat := range []string{"../../rules/*.yaml", "testdata/*/*/*.yaml", "testdata/corpus/*.bad.yaml"} {
		paths, err := filepath.Glob(pat)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range paths {
			if strings.HasSuffix(p, ".obsctl.yaml") {
				continue // a config, not a rule file
			}
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			if len(b) > maxSeed {
				b = b[:bytes.LastIndexByte(b[:maxSeed], '\n')+1]
			}
			f.Add(b)
			n++
		}
	}
	if n == 0 {
		f.Fatal("no seed files")
	}
	f.Add([]byte("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: rate(x[1s]) > 0 and absent(y) unless z =~ \"a\"\n    labels: {severity: nope, '{{ $labels.x }}': v}\n    annotations: {summary: '{{ $value | humanize }', description: '{{ .Labels.y }}'}\n"))
	f.Add([]byte("groups:\n- name: g\n  rules:\n  - record: a:b:c\n    expr: sum(rate(x{a=~\"b|b\",c!~\".*\"}[5m:1m] offset 1h))\n  - record: a:b:c\n    expr: a:b:c\n  - alert: A\n    expr: a:b:d > 1\n"))
	cfg, err := os.ReadFile("testdata/default.obsctl.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		const path = "rules/fuzz.yaml"
		got := lintSources(t, string(cfg), map[string]string{path: string(src)})
		if !slices.IsSortedFunc(got, diag.Compare) {
			t.Fatalf("findings not sorted: %v", got)
		}
		files := map[string]*source.File{"obsctl.yaml": source.NewFile("obsctl.yaml", cfg), path: source.NewFile(path, src)}
		for i, fd := range got {
			if i > 0 && diag.Compare(got[i-1], fd) == 0 {
				t.Fatalf("duplicate finding %v", fd)
			}
			if _, ok := Lookup(fd.Check); !ok {
				t.Fatalf("finding of unregistered check %q: %v", fd.Check, fd)
			}
			if !fd.Severity.Valid() || fd.Message == "" {
				t.Fatalf("malformed finding %+v", fd)
			}
			sf := files[fd.File]
			if sf == nil {
				t.Fatalf("finding names unknown file %q: %v", fd.File, fd)
			}
			if fd.Start.Line < 1 || fd.Start.Line > sf.NumLines() || fd.Start.Col < 1 {
				t.Fatalf("finding outside the file's %d lines: %v", sf.NumLines(), fd)
			}
		}
	})
}
