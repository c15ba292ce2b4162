package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/grafana-tools/sdk"
)

// Model is a dashboard file read for what it says: the typed view of
// grafana-tools/sdk (sdk.Board, sdk.Panel, sdk.TemplateVar) for every
// part the sdk can decode, and the file's own JSON, with offsets, for
// every part.
//
// The sdk's types date from Grafana 6 and 7: a modern panel or variable
// can hold a field of another type than the sdk expects (a stat panel's
// colors as an object, a variable's current text as an object), and one
// such field makes the sdk refuse the whole board. Parse decodes each
// top-level field, panel, variable and annotation on its own instead: a
// part the sdk refuses is kept as raw JSON, left out of Board, and a Note
// says which part and why. The typed view never stands for the file: the
// sdk drops the fields it does not know, so nothing is written back from
// it (Provision and Normalize work on the file's own JSON). The model is
// for reading.
type Model struct {
	// Board is the sdk's view of the parts it could decode. A panel,
	// variable or annotation the sdk refused is missing from its lists;
	// Panels, Variables and Notes have every one.
	Board sdk.Board
	// Fields are the dashboard's top-level fields as written, in order.
	Fields []Field
	// Panels are every panel in file order: those at the top level, each
	// row panel followed by the panels it holds (a collapsed row's), and
	// the panels of the legacy rows list (schema before 16).
	Panels []*Panel
	// Variables are the templating list's variables, in order.
	Variables []*Variable
	// Annotations are the annotations list's entries, in order.
	Annotations []*Part
	// Notes say which parts the sdk could not decode, kept raw.
	Notes []Note
}

// Field is one member of a JSON object as written.
type Field struct {
	Key   string
	Value json.RawMessage
	// Offset is where Value starts in the file.
	Offset int
}

// Note says that a part of the dashboard was kept as raw JSON because
// the sdk could not decode it.
type Note struct {
	// Path is the part's place in the dashboard: panels[3],
	// panels[2].panels[0], templating.list[1], refresh.
	Path string
	// Offset is where the part starts in the file.
	Offset int
	// Reason is the sdk's error.
	Reason string
}

func (n Note) String() string {
	return fmt.Sprintf("%s kept as raw JSON: the sdk cannot decode it: %s", n.Path, n.Reason)
}

// Part is one object of the dashboard (a panel, a variable, an
// annotation) as written, with its members.
type Part struct {
	// Path is its place in the dashboard, as in Note.
	Path string
	// Raw is the object's JSON as written.
	Raw json.RawMessage
	// Offset is where it starts in the file.
	Offset int
	// Fields are its members, in order.
	Fields []Field
}

// Field returns the member key of the part; a key written twice is the
// last, as Grafana reads it.
func (p *Part) Field(key string) (Field, bool) {
	for i := len(p.Fields) - 1; i >= 0; i-- {
		if p.Fields[i].Key == key {
			return p.Fields[i], true
		}
	}
	return Field{}, false
}

// str returns the member key when it is a string.
func (p *Part) str(key string) string {
	f, ok := p.Field(key)
	if !ok {
		return ""
	}
	var s string
	_ = json.Unmarshal(f.Value, &s)
	return s
}

// Panel is one panel of the dashboard.
type Panel struct {
	Part
	// SDK is the sdk's view of the panel, nil when the sdk could not
	// decode it (see the Model's Notes). A row's SDK has no panels: they
	// are Panels of their own.
	SDK *sdk.Panel
	// Row is the row panel this panel is in (a collapsed row keeps its
	// panels), or the legacy row, nil for a panel at the top level.
	Row *Panel
}

// Type returns the panel's plugin type (timeseries, row, ...).
func (p *Panel) Type() string {
	if p.SDK != nil {
		return p.SDK.Type
	}
	return p.str("type")
}

// Title returns the panel's title.
func (p *Panel) Title() string {
	if p.SDK != nil {
		return p.SDK.Title
	}
	return p.str("title")
}

// Repeat returns the variable the panel repeats for, "" for none.
func (p *Panel) Repeat() string {
	if p.SDK != nil && p.SDK.Repeat != nil {
		return *p.SDK.Repeat
	}
	return p.str("repeat")
}

// ID returns the panel's id, ok false when it has none, or 0 (Grafana
// gives such a panel an id when it loads the dashboard), or one that is
// not an integer.
func (p *Panel) ID() (id int64, ok bool) {
	if p.SDK != nil && p.SDK.ID != 0 {
		return int64(p.SDK.ID), true
	}
	// None, 0, or not one the sdk takes (negative), or the sdk refused
	// the panel.
	f, ok := p.Field("id")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(f.Value), 10, 64)
	return n, err == nil && n != 0
}

// GridPos is a panel's place on Grafana's grid of 24 columns.
type GridPos struct {
	X, Y, W, H int
	// Offset is where the gridPos object starts in the file.
	Offset int
	// Missing names the members not given (Grafana takes 0 for x and y,
	// and a default size).
	Missing []string
}

// Has reports whether the gridPos gives the member name (x, y, w or h).
func (g GridPos) Has(name string) bool { return !slices.Contains(g.Missing, name) }

// GridPos returns the panel's gridPos, ok false when it has none (a
// panel of the legacy rows) or one whose members are not integers.
func (p *Panel) GridPos() (GridPos, bool) {
	f, ok := p.Field("gridPos")
	if !ok {
		return GridPos{}, false
	}
	g := GridPos{Offset: f.Offset}
	if p.SDK != nil {
		sg := p.SDK.GridPos
		for _, m := range []struct {
			name string
			v    *int
			to   *int
		}{{"x", sg.X, &g.X}, {"y", sg.Y, &g.Y}, {"w", sg.W, &g.W}, {"h", sg.H, &g.H}} {
			if m.v == nil {
				g.Missing = append(g.Missing, m.name)
				continue
			}
			*m.to = *m.v
		}
		return g, true
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(f.Value, &raw) != nil {
		return GridPos{}, false
	}
	for _, m := range []struct {
		name string
		to   *int
	}{{"x", &g.X}, {"y", &g.Y}, {"w", &g.W}, {"h", &g.H}} {
		v, ok := raw[m.name]
		if !ok || string(v) == "null" {
			g.Missing = append(g.Missing, m.name)
			continue
		}
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return GridPos{}, false
		}
		*m.to = n
	}
	return g, true
}

// Targets returns the panel's queries (targets), each as written.
func (p *Panel) Targets() []*Part {
	f, ok := p.Field("targets")
	if !ok {
		return nil
	}
	items, err := elements(f.Value, f.Offset)
	if err != nil {
		return nil
	}
	out := make([]*Part, 0, len(items))
	for i, it := range items {
		t := &Part{Path: fmt.Sprintf("%s.targets[%d]", p.Path, i), Raw: it.Value, Offset: it.Offset}
		t.Fields, _ = members(it.Value, it.Offset)
		out = append(out, t)
	}
	return out
}

// Variable is one template variable of the dashboard.
type Variable struct {
	Part
	// SDK is the sdk's view of the variable, nil when the sdk could not
	// decode it (see the Model's Notes).
	SDK *sdk.TemplateVar
}

// Name returns the variable's name.
func (v *Variable) Name() string {
	if v.SDK != nil {
		return v.SDK.Name
	}
	return v.str("name")
}

// Type returns the variable's type (query, datasource, custom, ...).
func (v *Variable) Type() string {
	if v.SDK != nil {
		return v.SDK.Type
	}
	return v.str("type")
}

// Query returns the variable's query as a string, Grafana's two forms
// read alike: a string, or an object holding it under query; with the
// offset of the string's JSON in the file, for positions in it. ok is
// false when there is no string query.
func (v *Variable) Query() (raw json.RawMessage, offset int, ok bool) {
	f, ok := v.Field("query")
	if !ok {
		return nil, 0, false
	}
	switch {
	case len(f.Value) > 0 && f.Value[0] == '"':
		return f.Value, f.Offset, true
	case len(f.Value) > 0 && f.Value[0] == '{':
		fields, err := members(f.Value, f.Offset)
		if err != nil {
			return nil, 0, false
		}
		obj := Part{Fields: fields}
		if q, ok := obj.Field("query"); ok && len(q.Value) > 0 && q.Value[0] == '"' {
			return q.Value, q.Offset, true
		}
	}
	return nil, 0, false
}

// Field returns the dashboard's top-level member key; a key written twice
// is the last, as Grafana reads it.
func (m *Model) Field(key string) (Field, bool) {
	p := Part{Fields: m.Fields}
	return p.Field(key)
}

// Parse reads a dashboard file into its Model. It fails only when src is
// not a JSON object; a part the sdk cannot decode is a Note.
func Parse(src []byte) (*Model, error) {
	fields, err := members(src, 0)
	if err != nil {
		return nil, err
	}
	m := &Model{Fields: fields}
	for _, f := range fields {
		switch f.Key {
		case "panels":
			m.panels(f, "panels", nil)
		case "rows":
			m.rows(f)
		case "templating":
			m.templating(f)
		case "annotations":
			m.annotations(f)
		default:
			m.top(f)
		}
	}
	return m, nil
}

// top decodes one top-level field into Board on its own: a field of
// another type than the sdk's leaves the rest of the board decoded.
func (m *Model) top(f Field) {
	key, err := json.Marshal(f.Key)
	if err != nil {
		return
	}
	one := make([]byte, 0, len(key)+len(f.Value)+3)
	one = append(append(append(append(append(one, '{'), key...), ':'), f.Value...), '}')
	var b sdk.Board
	if err := json.Unmarshal(one, &b); err != nil {
		m.note(f.Key, f.Offset, err)
		return
	}
	// Only the field decoded is set in b; copy it over.
	if err := json.Unmarshal(one, &m.Board); err != nil {
		m.note(f.Key, f.Offset, err)
	}
}

func (m *Model) note(path string, offset int, err error) {
	m.Notes = append(m.Notes, Note{Path: path, Offset: offset, Reason: err.Error()})
}

// panels reads a list of panels (the top level's, or a row's).
func (m *Model) panels(f Field, path string, row *Panel) {
	items, err := elements(f.Value, f.Offset)
	if err != nil {
		m.note(path, f.Offset, err)
		return
	}
	for i, it := range items {
		p := &Panel{Part: Part{Path: fmt.Sprintf("%s[%d]", path, i), Raw: it.Value, Offset: it.Offset}, Row: row}
		p.Fields, _ = members(it.Value, it.Offset) // not an object: no fields
		m.Panels = append(m.Panels, p)
		children, nested := p.Field("panels")
		nested = nested && p.str("type") == "row"
		// The sdk decodes a row's panels into the row, and refuses the
		// row for one panel it refuses: decode the row without them, and
		// each of them on its own.
		sp, err := decodePanel(p)
		if err != nil {
			m.note(p.Path, p.Offset, err)
		} else {
			p.SDK = sp
			if row == nil {
				m.Board.Panels = append(m.Board.Panels, sp)
			} else if row.SDK != nil && row.SDK.RowPanel != nil {
				row.SDK.RowPanel.Panels = append(row.SDK.RowPanel.Panels, *sp)
			}
		}
		if nested && row == nil {
			m.panels(children, p.Path+".panels", p)
		}
		// Panels nested deeper are not Grafana's: kept raw, in Raw.
	}
}

// decodePanel decodes p into the sdk's Panel, without the panels a row
// holds.
func decodePanel(p *Panel) (*sdk.Panel, error) {
	if len(p.Raw) == 0 || p.Raw[0] != '{' {
		return nil, errors.New("a panel is a JSON object")
	}
	src := p.Raw
	if _, nested := p.Field("panels"); nested && p.str("type") == "row" {
		src = withoutKey(p.Fields, "panels")
	}
	var sp sdk.Panel
	if err := json.Unmarshal(src, &sp); err != nil {
		return nil, err
	}
	return &sp, nil
}

// withoutKey writes an object of fields, those of key left out.
func withoutKey(fields []Field, key string) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for _, f := range fields {
		if f.Key == key {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(f.Key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(f.Value)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// rows reads the legacy rows list: each row's panels are Panels, the row
// (which is no panel) only their Row.
func (m *Model) rows(f Field) {
	items, err := elements(f.Value, f.Offset)
	if err != nil {
		m.note("rows", f.Offset, err)
		return
	}
	for i, it := range items {
		row := &Panel{Part: Part{Path: fmt.Sprintf("rows[%d]", i), Raw: it.Value, Offset: it.Offset}}
		row.Fields, _ = members(it.Value, it.Offset)
		sr := &sdk.Row{}
		if err := json.Unmarshal(withoutKey(row.Fields, "panels"), sr); err != nil {
			m.note(row.Path, row.Offset, err)
			sr = nil
		}
		children, ok := row.Field("panels")
		if !ok {
			if sr != nil {
				m.Board.Rows = append(m.Board.Rows, sr)
			}
			continue
		}
		before := len(m.Panels)
		m.panels(children, row.Path+".panels", row)
		if sr != nil {
			for _, p := range m.Panels[before:] {
				if p.SDK != nil {
					sr.Panels = append(sr.Panels, *p.SDK)
				}
			}
			m.Board.Rows = append(m.Board.Rows, sr)
		}
	}
}

// templating reads the templating list, each variable on its own.
func (m *Model) templating(f Field) {
	for i, it := range m.listItems(f, "templating") {
		v := &Variable{Part: Part{Path: fmt.Sprintf("templating.list[%d]", i), Raw: it.Value, Offset: it.Offset}}
		v.Fields, _ = members(it.Value, it.Offset)
		m.Variables = append(m.Variables, v)
		var sv sdk.TemplateVar
		if err := json.Unmarshal(it.Value, &sv); err != nil {
			m.note(v.Path, v.Offset, err)
			continue
		}
		v.SDK = &sv
		m.Board.Templating.List = append(m.Board.Templating.List, sv)
	}
}

// annotations reads the annotations list, each entry on its own.
func (m *Model) annotations(f Field) {
	for i, it := range m.listItems(f, "annotations") {
		a := &Part{Path: fmt.Sprintf("annotations.list[%d]", i), Raw: it.Value, Offset: it.Offset}
		a.Fields, _ = members(it.Value, it.Offset)
		m.Annotations = append(m.Annotations, a)
		var sa sdk.Annotation
		if err := json.Unmarshal(it.Value, &sa); err != nil {
			m.note(a.Path, a.Offset, err)
			continue
		}
		m.Board.Annotations.List = append(m.Board.Annotations.List, sa)
	}
}

// listItems returns the items of the list member of f, the object of the
// top-level key name (templating, annotations), noting what the file does
// not let it read.
func (m *Model) listItems(f Field, name string) []Field {
	fields, err := members(f.Value, f.Offset)
	if err != nil {
		m.note(name, f.Offset, err)
		return nil
	}
	list, ok := (&Part{Fields: fields}).Field("list")
	if !ok {
		return nil
	}
	items, err := elements(list.Value, list.Offset)
	if err != nil {
		m.note(name+".list", list.Offset, err)
		return nil
	}
	return items
}

// members returns the members of the JSON object raw, which starts at
// offset base of the file.
func members(raw []byte, base int) ([]Field, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var out []Field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, Field{Key: key, Value: v, Offset: base + int(dec.InputOffset()) - len(v)})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

// elements returns the items of the JSON array raw, which starts at
// offset base of the file; a value that is not an array has none.
func elements(raw []byte, base int) ([]Field, error) {
	if len(raw) > 0 && raw[0] != '[' {
		if string(raw) == "null" {
			return nil, nil
		}
		return nil, errors.New("not a JSON array")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var out []Field
	for dec.More() {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, Field{Value: v, Offset: base + int(dec.InputOffset()) - len(v)})
	}
	return out, nil
}

// Unit returns the unit a panel gives its values (fieldConfig.defaults.unit),
// or, when it has none, the first an override sets; "" for none.
func (p *Panel) Unit() string {
	f, ok := p.Field("fieldConfig")
	if !ok {
		return ""
	}
	var fc struct {
		Defaults struct {
			Unit any `json:"unit"`
		} `json:"defaults"`
		Overrides []struct {
			Properties []struct {
				ID    string `json:"id"`
				Value any    `json:"value"`
			} `json:"properties"`
		} `json:"overrides"`
	}
	if json.Unmarshal(f.Value, &fc) != nil {
		return ""
	}
	if u, _ := fc.Defaults.Unit.(string); u != "" {
		return u
	}
	for _, o := range fc.Overrides {
		for _, pr := range o.Properties {
			if u, _ := pr.Value.(string); pr.ID == "unit" && u != "" {
				return u
			}
		}
	}
	return ""
}
