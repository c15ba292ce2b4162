package dashboard

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/grafana-tools/sdk"

	"github.com/obsctl/obsctl/dashboards"
)

// modern is a dashboard as Grafana 10 saves it, with three parts the
// sdk's types refuse: a stat panel's colors as an object, a collapsed
// row's panel whose thresholds are the modern object, and a variable
// whose current text is an object. It also holds fields the sdk does not
// know (pluginVersion, fieldConfig.overrides, weekStart).
const modern = `{
  "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": true, "name": "Annotations & Alerts", "type": "dashboard"}]},
  "editable": true,
  "graphTooltip": 1,
  "panels": [
    {"id": 1, "type": "timeseries", "title": "Requests", "pluginVersion": "10.4.1",
     "datasource": {"type": "prometheus", "uid": "prometheus"},
     "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0},
     "fieldConfig": {"defaults": {"unit": "reqps"}, "overrides": [{"matcher": {"id": "byName", "options": "5xx"}, "properties": []}]},
     "targets": [{"refId": "A", "expr": "sum(rate(http_requests_total[$__rate_interval]))"}]},
    {"id": 2, "type": "stat", "title": "Up", "colors": {"mode": "thresholds"},
     "gridPos": {"h": 8, "w": 12, "x": 12, "y": 0},
     "targets": [{"refId": "A", "expr": "up"}]},
    {"id": 3, "type": "row", "title": "Details", "collapsed": true,
     "gridPos": {"h": 1, "w": 24, "x": 0, "y": 8},
     "panels": [
       {"id": 4, "type": "timeseries", "title": "Latency", "gridPos": {"h": 8, "w": 24, "x": 0, "y": 9},
        "targets": [{"refId": "A", "expr": "histogram_quantile(0.99, rate(x_bucket[5m]))"}]},
       {"id": 5, "type": "stat", "title": "Errors", "thresholds": [{"value": 1}],
        "gridPos": {"h": 4, "w": 6, "x": 0, "y": 17}}
     ]}
  ],
  "schemaVersion": 39,
  "tags": ["shop"],
  "templating": {"list": [
    {"name": "ds", "type": "datasource", "query": "prometheus"},
    {"name": "job", "type": "query", "datasource": {"uid": "$ds"},
     "current": {"text": {"selected": "api"}, "value": "api"},
     "query": {"query": "label_values(up, job)", "refId": "PrometheusVariableQueryEditor-VariableQuery"}}
  ]},
  "time": {"from": "now-6h", "to": "now"},
  "title": "Shop",
  "uid": "shop",
  "weekStart": ""
}
`

func TestParseModern(t *testing.T) {
	src := []byte(modern)
	// The sdk alone refuses the whole board.
	var whole sdk.Board
	if err := json.Unmarshal(src, &whole); err == nil {
		t.Fatal("the sdk decodes the modern dashboard whole: the fixture no longer tests the fallback")
	}
	m, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	// The typed view of what the sdk takes.
	if m.Board.Title != "Shop" || m.Board.UID != "shop" || !slices.Equal(m.Board.Tags, []string{"shop"}) || m.Board.SchemaVersion != 39 || m.Board.GraphTooltip != 1 {
		t.Errorf("board: title %q uid %q tags %q schema %d tooltip %d", m.Board.Title, m.Board.UID, m.Board.Tags, m.Board.SchemaVersion, m.Board.GraphTooltip)
	}
	if len(m.Board.Panels) != 2 || m.Board.Panels[0].Title != "Requests" || m.Board.Panels[1].RowPanel == nil {
		t.Fatalf("board panels: %d, want the timeseries and the row (the stat kept raw)", len(m.Board.Panels))
	}
	if row := m.Board.Panels[1].RowPanel; len(row.Panels) != 1 || row.Panels[0].Title != "Latency" {
		t.Errorf("the row's sdk panels: %d, want Latency only", len(row.Panels))
	}
	if len(m.Board.Templating.List) != 1 || m.Board.Templating.List[0].Name != "ds" {
		t.Errorf("board variables: %+v, want ds only", m.Board.Templating.List)
	}
	if len(m.Board.Annotations.List) != 1 {
		t.Errorf("board annotations: %d, want 1", len(m.Board.Annotations.List))
	}

	// Every panel, the refused ones too, in file order, read alike.
	type want struct {
		path, title, typ string
		id               int64
		grid             [4]int
		sdk              bool
		row              string
	}
	wants := []want{
		{"panels[0]", "Requests", "timeseries", 1, [4]int{0, 0, 12, 8}, true, ""},
		{"panels[1]", "Up", "stat", 2, [4]int{12, 0, 12, 8}, false, ""},
		{"panels[2]", "Details", "row", 3, [4]int{0, 8, 24, 1}, true, ""},
		{"panels[2].panels[0]", "Latency", "timeseries", 4, [4]int{0, 9, 24, 8}, true, "panels[2]"},
		{"panels[2].panels[1]", "Errors", "stat", 5, [4]int{0, 17, 6, 4}, false, "panels[2]"},
	}
	if len(m.Panels) != len(wants) {
		t.Fatalf("%d panels, want %d", len(m.Panels), len(wants))
	}
	for i, w := range wants {
		p := m.Panels[i]
		id, _ := p.ID()
		g, ok := p.GridPos()
		row := ""
		if p.Row != nil {
			row = p.Row.Path
		}
		if p.Path != w.path || p.Title() != w.title || p.Type() != w.typ || id != w.id || !ok || [4]int{g.X, g.Y, g.W, g.H} != w.grid || (p.SDK != nil) != w.sdk || row != w.row {
			t.Errorf("panel %d: %s %q %s id %d grid %v sdk %v row %q, want %+v", i, p.Path, p.Title(), p.Type(), id, g, p.SDK != nil, row, w)
		}
		// The raw JSON is the file's, at its offset.
		if !bytes.Equal(src[p.Offset:p.Offset+len(p.Raw)], p.Raw) {
			t.Errorf("%s: raw JSON is not the file's at offset %d", p.Path, p.Offset)
		}
	}
	if v := m.Variables[1]; v.SDK != nil || v.Name() != "job" || v.Type() != "query" {
		t.Errorf("variable job: sdk %v name %q type %q, want kept raw, job, query", v.SDK != nil, v.Name(), v.Type())
	}
	if q, off, ok := m.Variables[1].Query(); !ok || string(q) != `"label_values(up, job)"` || !bytes.Equal(src[off:off+len(q)], q) {
		t.Errorf("variable job's query: %s at %d, %v", q, off, ok)
	}
	if q, _, ok := m.Variables[0].Query(); !ok || string(q) != `"prometheus"` {
		t.Errorf("variable ds's query: %s, %v", q, ok)
	}

	// Each part kept raw is said, where and why.
	var notes []string
	for _, n := range m.Notes {
		notes = append(notes, n.Path)
		if !strings.Contains(n.String(), "kept as raw JSON") || n.Reason == "" || n.Offset <= 0 {
			t.Errorf("note %v: want the part, its offset and the sdk's reason", n)
		}
	}
	if want := []string{"panels[1]", "panels[2].panels[1]", "templating.list[1]"}; !slices.Equal(notes, want) {
		t.Errorf("notes on %q, want %q", notes, want)
	}

	// No field of the file is lost: every top-level key, as written.
	var keys []string
	for _, f := range m.Fields {
		keys = append(keys, f.Key)
		if !bytes.Equal(src[f.Offset:f.Offset+len(f.Value)], f.Value) {
			t.Errorf("field %s: value is not the file's at offset %d", f.Key, f.Offset)
		}
	}
	if want := []string{"annotations", "editable", "graphTooltip", "panels", "schemaVersion", "tags", "templating", "time", "title", "uid", "weekStart"}; !slices.Equal(keys, want) {
		t.Errorf("fields %q, want %q", keys, want)
	}
	if f, ok := m.Panels[0].Field("pluginVersion"); !ok || string(f.Value) != `"10.4.1"` {
		t.Errorf("a field the sdk does not know is lost: pluginVersion %s", f.Value)
	}
}

// TestParseTopLevelField keeps the rest of the board when one top-level
// field is of another type than the sdk's.
func TestParseTopLevelField(t *testing.T) {
	m, err := Parse([]byte(`{"title": "T", "refresh": 30, "schemaVersion": "39", "uid": "u"}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Board.Title != "T" || m.Board.UID != "u" || m.Board.SchemaVersion != 0 {
		t.Errorf("board %+v", m.Board)
	}
	var notes []string
	for _, n := range m.Notes {
		notes = append(notes, n.Path)
	}
	if !slices.Equal(notes, []string{"refresh", "schemaVersion"}) {
		t.Errorf("notes %q, want refresh and schemaVersion", notes)
	}
	if f, ok := m.Field("schemaVersion"); !ok || string(f.Value) != `"39"` {
		t.Errorf("schemaVersion kept raw: %s", f.Value)
	}
}

// TestParseLegacyRows reads the rows of a dashboard from before the grid
// (schema 16): their panels are Panels, with the row.
func TestParseLegacyRows(t *testing.T) {
	m, err := Parse([]byte(`{"rows": [{"title": "R", "panels": [{"id": 1, "type": "graph", "title": "G", "span": 6}, {"id": 1, "type": "text", "title": "X", "span": 6}]}], "schemaVersion": 14}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Panels) != 2 || m.Panels[1].Path != "rows[0].panels[1]" || m.Panels[1].Row == nil || m.Panels[1].Row.Path != "rows[0]" {
		t.Fatalf("panels %+v", m.Panels)
	}
	if _, ok := m.Panels[0].GridPos(); ok {
		t.Error("a legacy panel has no gridPos")
	}
	if len(m.Board.Rows) != 1 || len(m.Board.Rows[0].Panels) != 2 || m.Board.Rows[0].Title != "R" {
		t.Errorf("board rows %+v", m.Board.Rows)
	}
}

// TestParseRaw reads what the sdk refuses outright: ids and positions it
// cannot type, lists that are not lists.
func TestParseRaw(t *testing.T) {
	m, err := Parse([]byte(`{"panels": [{"id": -2, "type": "graph", "gridPos": {"x": -1, "y": 0, "w": 30}}, 7, {"id": 1.5, "gridPos": {"x": 0.5}}], "templating": {"list": {}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Panels) != 3 {
		t.Fatalf("%d panels, want 3", len(m.Panels))
	}
	if id, ok := m.Panels[0].ID(); !ok || id != -2 {
		t.Errorf("id %d %v, want -2", id, ok)
	}
	if g, ok := m.Panels[0].GridPos(); !ok || g.X != -1 || g.W != 30 || !slices.Equal(g.Missing, []string{"h"}) {
		t.Errorf("gridPos %+v %v", g, ok)
	}
	if _, ok := m.Panels[2].ID(); ok {
		t.Error("id 1.5 read as an id")
	}
	if _, ok := m.Panels[2].GridPos(); ok {
		t.Error("gridPos of x 0.5 read as a place")
	}
	if m.Panels[1].Type() != "" || len(m.Panels[1].Fields) != 0 {
		t.Error("a panel that is not an object has no fields")
	}
	if len(m.Notes) != 4 {
		t.Errorf("notes %v, want one for each panel and the list", m.Notes)
	}
	for _, bad := range []string{`[]`, `{"a": }`, ``, `{"a": 1} x`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) took a file that is not a dashboard object", bad)
		}
	}
}

// TestParseEmbedded reads the embedded default dashboards whole through
// the sdk: nothing of them is kept raw.
func TestParseEmbedded(t *testing.T) {
	files, err := fs.Glob(dashboards.FS, "*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no embedded dashboards: %v", err)
	}
	for _, name := range files {
		src, err := fs.ReadFile(dashboards.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Parse(src)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(m.Notes) != 0 || len(m.Panels) == 0 || m.Board.UID == "" {
			t.Errorf("%s: notes %v, %d panels, uid %q", name, m.Notes, len(m.Panels), m.Board.UID)
		}
	}
}

// FuzzParse reads fuzzed dashboards: Parse must not panic, and every
// part it gives must be the file's bytes at its offset.
func FuzzParse(f *testing.F) {
	f.Add([]byte(modern))
	f.Add([]byte(`{"rows": [{"panels": [{"id": 1}]}], "panels": [{"type": "row", "panels": [{"type": "row", "panels": [7]}]}]}`))
	f.Add([]byte(`{"templating": {"list": [{"name": 1, "query": {"query": "x"}}]}, "annotations": {"list": 3}}`))
	f.Fuzz(func(t *testing.T, src []byte) {
		m, err := Parse(src)
		if err != nil {
			return
		}
		inside := func(what string, off int, raw []byte) {
			if off < 0 || off+len(raw) > len(src) || !bytes.Equal(src[off:off+len(raw)], raw) {
				t.Fatalf("%s at %d is not the file's bytes", what, off)
			}
		}
		for _, fl := range m.Fields {
			inside(fl.Key, fl.Offset, fl.Value)
		}
		for _, p := range m.Panels {
			inside(p.Path, p.Offset, p.Raw)
			p.ID()
			p.GridPos()
			p.Title()
			p.Type()
			p.Repeat()
			p.Unit()
			for _, tg := range p.Targets() {
				inside(tg.Path, tg.Offset, tg.Raw)
			}
		}
		for _, v := range m.Variables {
			inside(v.Path, v.Offset, v.Raw)
			if q, off, ok := v.Query(); ok {
				inside(v.Path+".query", off, q)
			}
			v.Name()
			v.Type()
		}
	})
}
