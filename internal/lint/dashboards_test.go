package lint

import (
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/source"
)

// TestDashboardErrorPositions places each JSON error on its character:
// the streaming decoder counts some offsets from the start of the value it
// is reading, which put errors deep in a dashboard hundreds of lines early.
func TestDashboardErrorPositions(t *testing.T) {
	filler := strings.Repeat("    {\"id\": 1, \"title\": \"panel\", \"datasource\": {\"uid\": \"prometheus\"}},\n", 60)
	for _, tc := range []struct {
		name, bad string
		at        string // the error is on the first character of at in bad
	}{
		{"literal", `    {"hidden": tru},`, `},`},
		{"number", `    {"id": 1x},`, `x},`},
		{"string value", `    {"title": "a` + "\t" + `b"},`, "\t"},
		{"escape", `    {"title": "C:\qdata"},`, `qdata`},
		{"inside a datasource", `    {"datasource": {"uid": prometheus}},`, `prometheus}`},
		{"unquoted key", `    {id: 1},`, `id: 1`},
		{"missing value", `    {"title": },`, `},`},
		{"line break in a string", `    {"title": "open},` + "\n", "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "{\n  \"panels\": [\n" + filler + tc.bad + "\n" + filler + "    {}\n  ]\n}\n"
			want := strings.Index(src, tc.bad) + strings.Index(tc.bad, tc.at)
			f := source.NewFile("d.json", []byte(src))
			_, err := dashboardRefs(f)
			de, ok := err.(*dashboardError)
			if !ok {
				t.Fatalf("got %v, want a dashboard error", err)
			}
			if got, w := f.Pos(de.offset), f.Pos(want); got != w {
				t.Errorf("%s at %d:%d, want %d:%d", de.msg, got.Line, got.Col, w.Line, w.Col)
			}
		})
	}
	// The end of a file cut short is after its last character.
	src := "{\n  \"panels\": [\n" + filler
	f := source.NewFile("d.json", []byte(src))
	_, err := dashboardRefs(f)
	if de, ok := err.(*dashboardError); !ok || f.Pos(de.offset).Line != strings.Count(src, "\n") {
		t.Errorf("a cut-off dashboard: %v, want an error on line %d", err, strings.Count(src, "\n"))
	}
}
