package promrule

import (
	"testing"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/fuzzseed"
	"github.com/obsctl/obsctl/internal/source"
)

// FuzzLoad loads fuzzed rule files. Load must not panic, every finding
// and every span of the model must be inside the file, and a file Load
// has nothing to say about must compile.
func FuzzLoad(f *testing.F) {
	fuzzseed.Files(f,
		"../../rules/*.yaml",
		"../lint/testdata/*/*/*.yaml",
		"../lint/testdata/corpus/*.bad.yaml",
	)
	for _, s := range []string{
		"", "groups:\n", "groups: []\n", "groups: {a: 1}\n", "groups: [1, [], {}]\n",
		"groups:\n- name: g\n  rules: x\n", "groups:\n- name: g\n  limit: ten\n  interval: 1x\n  query_offset: -1m\n",
		"groups:\n- name: g\n  rules:\n  - alert: A\n    expr: {a: 1}\n    for: 5\n    labels: [a]\n    annotations: {a: [b]}\n",
		"groups:\n- name: g\n  rules:\n  - record: a:b\n    alert: A\n    for: 1m\n    annotations: {a: b}\n",
		"groups: &g [*g]\n", "a: &a [*a]\n", "groups:\n- &r {name: g, rules: [*r]}\n",
		"x: &k metadata\nkind: PrometheusRule\napiVersion: monitoring.coreos.com/v1\n*k : {name: Bad_Name}\nspec: {groups: []}\n",
		"kind: PrometheusRule\napiVersion: monitoring.coreos.com/v1\nmetadata: {name: a}\nspec:\n  groups:\n  - name: g\n    partial_response_strategy: warn\n    rules: [{record: a:b, expr: up}]\n",
		"kind: PrometheusRule\napiVersion: monitoring.coreos.com/v1\nmetadata: {name: a}\nspec: {groups: []}\n---\nkind: PrometheusRule\napiVersion: monitoring.coreos.com/v1\nmetadata: {name: a}\nspec: {groups: []}\n",
		"kind: ConfigMap\n---\nkind: PrometheusRule\n---\n- a\n---\ngroups: []\n---\ngroups: []\n",
		"# obsctl:disable-file rules/*\ngroups:\n- name: g # obsctl:disable all\n  rules: [{alert: A, expr: '1'}]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		sf := source.NewFile("rules/fuzz.yaml", src)
		file, fs := Load(sf)
		if file == nil || file.File != sf {
			t.Fatal("Load returned no File for the source")
		}
		inFile := func(what string, sp diag.Span) {
			t.Helper()
			if sp.File != sf.Path {
				t.Fatalf("%s: span names file %q", what, sp.File)
			}
			if sp.Start.Line < 1 || sp.Start.Line > sf.NumLines() || sp.Start.Col < 1 {
				t.Fatalf("%s: span %v outside the file's %d lines", what, sp, sf.NumLines())
			}
			if !sp.End.IsZero() && sp.End.Before(sp.Start) {
				t.Fatalf("%s: span %+v ends before it starts", what, sp)
			}
		}
		for _, fd := range fs {
			if fd.Check != CheckSyntax && fd.Check != CheckSchema || !fd.Severity.Valid() || fd.Message == "" {
				t.Fatalf("malformed finding %+v", fd)
			}
			inFile("finding "+fd.Message, fd.Span)
		}
		for _, o := range file.Objects {
			inFile("object", o.Span)
		}
		for _, g := range file.Groups {
			inFile("group", g.Span)
			if g.File != file {
				t.Fatal("group does not point at its file")
			}
			for _, kv := range g.Labels {
				inFile("group label key", kv.KeySpan())
				inFile("group label value", kv.ValueSpan())
			}
			for _, r := range g.Rules {
				if r.Group != g {
					t.Fatal("rule does not point at its group")
				}
				inFile("rule", r.Span)
				inFile("rule name", r.NameSpan)
				inFile("rule expr", r.ExprSpan)
				if r.ForSet {
					inFile("rule for", r.ForSpan)
				}
				for _, kv := range append(append([]KV{}, r.Labels...), r.Annotations...) {
					inFile("rule label or annotation key", kv.KeySpan())
					inFile("rule label or annotation value", kv.ValueSpan())
				}
			}
		}
		if len(fs) > 0 {
			return
		}
		files := []*File{file}
		if _, err := CompileRuleFiles(files); err != nil {
			t.Fatalf("Load found nothing wrong, but CompileRuleFiles fails: %v", err)
		}
		if _, err := CompileObjects(files, ObjectOptions{Stack: "fuzz", Namespace: "monitoring"}); err != nil {
			t.Fatalf("Load found nothing wrong, but CompileObjects fails: %v", err)
		}
	})
}
