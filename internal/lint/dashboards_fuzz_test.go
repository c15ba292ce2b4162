package lint

import (
	"testing"

	"github.com/obsctl/obsctl/internal/fuzzseed"
	"github.com/obsctl/obsctl/internal/source"
)

// FuzzDashboardRefs walks fuzzed dashboards: it must not panic, and every
// reference and error it gives must lie inside the file.
func FuzzDashboardRefs(f *testing.F) {
	fuzzseed.Files(f, "../../dashboards/*.json", "testdata/dashboards/*/*.json")
	f.Add([]byte(`{"panels":[{"datasource":"x"},{"datasource":{"uid":"y"}},{"datasource":null}]}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, data []byte) {
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
