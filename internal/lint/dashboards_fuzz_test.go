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
		refs, err := dashboardRefs(file)
		if err != nil {
			de, ok := err.(*dashboardError)
			if !ok || de.offset < 0 || de.offset > len(data) {
				t.Fatalf("error %v outside the file of %d bytes", err, len(data))
			}
			return
		}
		for _, r := range refs {
			if r.offset < 0 || r.offset >= len(data) {
				t.Fatalf("reference at %d outside the file of %d bytes", r.offset, len(data))
			}
		}
	})
}
