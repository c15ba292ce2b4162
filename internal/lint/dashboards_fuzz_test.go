package lint

import (
	"testing"

	"github.com/obsctl/obsctl/internal/fuzzseed"
	"github.com/obsctl/obsctl/internal/source"
)

// FuzzDashboardRefs walks fuzzed dashboards: it must not panic, and every
// reference and error it gives must lie inside the file. Every check then
// runs on the dashboard (the model's checks among them): none may panic,
// and each finding must lie inside the file it names.
func FuzzDashboardRefs(f *testing.F) {
	fuzzseed.Files(f, "../../dashboards/*.json", "testdata/dashboards/*/*.json")
	f.Add([]byte(`{"panels":[{"datasource":"x"},{"datasource":{"uid":"y"}},{"datasource":null}]}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`{"panels":[{"type":"row","panels":[{"type":"row","panels":[{"id":1}]}]},{"id":1,"gridPos":{"x":30,"w":-1}}],"templating":{"list":[{"name":"a","query":{"query":1}}]},"schemaVersion":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lintFuzzedDashboard(t, data)
		file := source.NewFile("d.json", data)
		w, err := dashboardRefs(file)
		if err != nil {
			de, ok := err.(*dashboardError)
			if !ok || de.offset < 0 || de.offset > len(data) {
				t.Fatalf("error %v outside the file of %d bytes", err, len(data))
			}
			return
		}
		for _, r := range w.refs {
			if r.offset < 0 || r.offset >= len(data) {
				t.Fatalf("reference at %d outside the file of %d bytes", r.offset, len(data))
			}
		}
		for _, e := range w.exprs {
			if len(e.offsets) != len(e.text)+1 {
				t.Fatalf("query %q has %d offsets", e.text, len(e.offsets))
			}
			for _, off := range e.offsets {
				if off < 0 || off >= len(data) {
					t.Fatalf("query byte at %d outside the file of %d bytes", off, len(data))
				}
			}
		}
	})
}

// lintFuzzedDashboard runs every check on data as the repo's one
// dashboard.
func lintFuzzedDashboard(t *testing.T, data []byte) {
	const path = "dashboards/d.json"
	r := repoOf("apiVersion: obsctl/v1\nname: fuzz\n", nil)
	r.Dashboards = append(r.Dashboards, source.NewFile(path, data))
	l, err := New(Options{Enable: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	file := source.NewFile(path, data)
	end := file.Pos(len(data))
	for _, fd := range l.Run(r) {
		if fd.File != path {
			continue
		}
		if fd.Start.Line < 1 || fd.Start.Col < 1 || fd.Start.Line > end.Line || fd.End.Line > end.Line {
			t.Fatalf("finding %v outside the file of %d lines", fd, end.Line)
		}
	}
}
