package config

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/obsctl/obsctl/internal/fuzzseed"
	"github.com/obsctl/obsctl/internal/source"
)

// FuzzParse decodes fuzzed obsctl.yaml files. Parse must not panic, must
// always return a Config, must place every finding inside the file, and
// must give the same answer twice.
func FuzzParse(f *testing.F) {
	fuzzseed.Files(f,
		"../../obsctl.yaml",
		"testdata/*.yaml",
		"../lint/testdata/*.obsctl.yaml",
		"../lint/testdata/*/*/*.obsctl.yaml",
		"../lint/testdata/corpus/*.obsctl.yaml",
	)
	for _, s := range []string{
		"", "apiVersion: obsctl/v1\nname: x\nalertng: {}\n",
		"apiVersion: obsctl/v1\nname: x\nprometheus:\n  externalLabels: {a-b: 1, c-d: 2, e.f: 3}\n",
		"apiVersion: obsctl/v1\nname: x\nalerting:\n  receivers:\n  - name: a\n    opsgenie:\n      apiKey: 0123456789abcdef\n",
		"apiVersion: obsctl/v1\nname: x\nalerting:\n  receivers:\n  - name: a\n    email: {to: a, from: b, smarthost: c, authPassword: {secret: {name: X, key: 'a b'}}}\n",
		"apiVersion: obsctl/v1\nname: x\nrules: {<<: {}}\n",
		"apiVersion: obsctl/v1\nname: x\nalerting: &a {routes: [*a]}\n",
		"a: &a [*a, *a]\nb: *a\n",
		"---\napiVersion: obsctl/v1\n---\nname: x\n",
		"apiVersion: obsctl/v1\nname: x\nalerting:\n  routes:\n  - {receiver: a, groupWait: 1 minute, continue: yes}\n",
	} {
		f.Add([]byte(s))
	}
	checks := map[string]bool{"yaml/syntax": true, CheckSchema: true, CheckSecretRef: true}
	f.Fuzz(func(t *testing.T, src []byte) {
		file := source.NewFile(FileName, src)
		cfg, fs := Parse(file)
		if cfg == nil {
			t.Fatal("Parse returned no Config")
		}
		for _, fd := range fs {
			switch {
			case !checks[fd.Check]:
				t.Fatalf("finding of an unexpected check: %v", fd)
			case fd.File != FileName:
				t.Fatalf("finding names file %q: %v", fd.File, fd)
			case !fd.Severity.Valid() || fd.Message == "":
				t.Fatalf("malformed finding %+v", fd)
			case fd.Start.Line < 1 || fd.Start.Line > file.NumLines() || fd.Start.Col < 1:
				t.Fatalf("finding outside the file's %d lines: %v", file.NumLines(), fd)
			case !fd.End.IsZero() && fd.End.Before(fd.Start):
				t.Fatalf("finding ends before it starts: %+v", fd)
			}
		}
		cfg2, fs2 := Parse(source.NewFile(FileName, bytes.Clone(src)))
		if !reflect.DeepEqual(fs, fs2) {
			t.Fatalf("Parse is not deterministic:\n%v\n%v", fs, fs2)
		}
		if !reflect.DeepEqual(cfg, cfg2) {
			t.Fatalf("Parse is not deterministic:\n%+v\n%+v", cfg, cfg2)
		}
	})
}
