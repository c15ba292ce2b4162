package fluentd

import (
	"reflect"
	"testing"
	"testing/fstest"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/fuzzseed"
	"github.com/obsctl/obsctl/internal/source"
)

var fuzzChecks = map[string]bool{
	CheckSyntax: true, CheckRead: true, CheckSchema: true, CheckKubernetesName: true, CheckFieldName: true,
	CheckIndexName: true, CheckIndexPrefix: true, CheckRegexp: true, CheckDuplicateName: true,
	CheckCatchAll: true, CheckOverlap: true,
}

// FuzzLoad loads a fuzzed pipeline file next to a fixed valid one. Load
// must not panic, must place every finding and every span of the model
// inside its file, must give the same answer twice, and when it finds no
// error, CompileFluentd must accept the pipelines and write a
// configuration that Fluentd can read, with input only in inert text.
func FuzzLoad(f *testing.F) {
	fuzzseed.Files(f, "../../pipelines/*.yaml")
	for _, s := range []string{
		"", "---\n", "- a\n", "a: &a [*a]\n", readmeExample,
		head + out, head + "match: {}\n" + out,
		head + "match: &m {namespaces: *m}\n" + out,
		head + "match: {podLabels: {a.b/c: d, 'e': [f]}, containers: [Web]}\n" + out,
		head + "decorate: {podLabels: {a: log}, static: {b: \"x\\n'#{y}\"}, namespaceFields: [uid, name, name]}\n" + out,
		head + "parse: {format: regexp, regexp: '(?<a>(?<b>x)\\\\'}\n" + out,
		head + "parse: {format: json, timeKey: t, timeFormat: '%d'}\noutput: {index: .Logs, dateSuffix: 'no'}\n",
		head + "<<: {name: q}\n" + out + "---\n" + head,
	} {
		f.Add([]byte(s))
	}
	const fixed = "apiVersion: obsctl/v1\nkind: Pipeline\nname: fixed\nmatch: {namespaces: [fixed]}\noutput: {index: logs-fixed}\n"
	f.Fuzz(func(t *testing.T, src []byte) {
		fsys := fstest.MapFS{
			"pipelines/fuzz.yaml":  {Data: src},
			"pipelines/fixed.yaml": {Data: []byte(fixed)},
		}
		files := map[string]*source.File{
			"pipelines/fuzz.yaml":  source.NewFile("pipelines/fuzz.yaml", src),
			"pipelines/fixed.yaml": source.NewFile("pipelines/fixed.yaml", []byte(fixed)),
		}
		ps, fds := Load(fsys, Dir)
		inFile := func(what string, sp diag.Span) {
			t.Helper()
			if sp.File == "" && sp.Start.IsZero() {
				return // a span of a key not written
			}
			sf := files[sp.File]
			if sf == nil {
				t.Fatalf("%s: span names file %q", what, sp.File)
			}
			if sp.Start.Line < 1 || sp.Start.Line > sf.NumLines() || sp.Start.Col < 1 {
				t.Fatalf("%s: span %v outside the file's %d lines", what, sp, sf.NumLines())
			}
			if !sp.End.IsZero() && sp.End.Before(sp.Start) {
				t.Fatalf("%s: span %+v ends before it starts", what, sp)
			}
		}
		errs := 0
		for _, fd := range fds {
			if !fuzzChecks[fd.Check] || !fd.Severity.Valid() || fd.Message == "" {
				t.Fatalf("malformed finding %+v", fd)
			}
			inFile("finding "+fd.Message, fd.Span)
			if fd.Severity >= diag.Error {
				errs++
			}
		}
		for _, p := range ps {
			inFile("pipeline", p.NameSpan())
			for _, list := range [][]Str{p.Match.Namespaces, p.Match.ExcludeNamespaces, p.Match.Containers, p.Decorate.NamespaceFields} {
				for _, s := range list {
					inFile("list item", s.Span)
				}
			}
			for _, pairs := range []Pairs{p.Match.PodLabels, p.Decorate.PodLabels, p.Decorate.NamespaceLabels, p.Decorate.Static} {
				for _, kv := range pairs {
					inFile("key", kv.KeySpan)
					inFile("value", kv.ValueSpan)
				}
			}
			for _, k := range []string{"index", "dateSuffix"} {
				inFile("output."+k, p.Output.Span(k))
			}
		}
		ps2, fds2 := Load(fsys, Dir)
		if !reflect.DeepEqual(fds, fds2) || len(ps) != len(ps2) {
			t.Fatalf("Load is not deterministic:\n%v\n%v", fds, fds2)
		}
		if errs > 0 {
			return
		}
		conf, err := CompileFluentd(ps, testOutput)
		if err != nil {
			t.Fatalf("Load found no error, but CompileFluentd fails: %v", err)
		}
		checkStructure(t, string(conf))
	})
}
