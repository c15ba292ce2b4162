package lint

import (
	"slices"
	"testing"

	"github.com/obsctl/obsctl/internal/load"
)

// TestEmbeddedHouseStyle: the checks that are off by default because
// public projects keep other styles are on for the embedded repo's own
// content, which keeps the strict style, and it lints clean with them.
func TestEmbeddedHouseStyle(t *testing.T) {
	r, err := load.Load(load.Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Embedded() {
		t.Fatal("an empty folder loads the embedded repo")
	}
	enable, disable, unknown := ConfigSelection(r.Config)
	if len(unknown) != 0 || len(disable) != 0 {
		t.Fatalf("lint selection of the embedded obsctl.yaml: unknown %v, disable %v", unknown, disable)
	}
	for _, c := range Checks() {
		if c.Meta().Optional && (area(c.Name()) == "rules" || area(c.Name()) == "dashboards") && !slices.Contains(enable, c.Name()) {
			t.Errorf("the embedded obsctl.yaml does not enable %s, a house-style check its content keeps", c.Name())
		}
	}
	l, err := New(Options{Enable: enable})
	if err != nil {
		t.Fatal(err)
	}
	if fs := l.Run(r); len(fs) != 0 {
		t.Errorf("the embedded repo has findings with its house style on: %v", fs)
	}
}
