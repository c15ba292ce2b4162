package lint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/source"
)

// dashboardSyntax reports a dashboard (dashboards/*.json) that is not
// valid JSON, or whose top level is not an object, at the position of the
// error. Grafana skips such a file and logs the error where nobody looks:
// the dashboard silently goes missing.
//
// It cannot be disabled: lint.disable, --disable (by name, dashboards/* or
// all) and obsctl:disable comments leave it on.
type dashboardSyntax struct{}

func (dashboardSyntax) Name() string { return "dashboards/syntax" }

func (dashboardSyntax) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Required: true, Summary: "A dashboard is not a valid JSON object."}
}

func (dashboardSyntax) Check(p *Pass) {
	for _, d := range p.dashboards() {
		var se *dashboardError
		if errors.As(d.err, &se) {
			p.Report(diag.Span{File: d.file.Path, Start: d.file.Pos(se.offset), End: d.file.Pos(se.offset)}, "", "invalid dashboard: %s", se.msg)
		}
	}
}

// dashboardScan is one dashboard walked for its datasource references,
// and what else the checks read of it, each read once, when first asked.
type dashboardScan struct {
	file  *source.File
	refs  []datasourceRef
	exprs []dashboardExpr
	err   error

	topSt      map[string]topValue
	topRead    bool
	inputsSt   []dashboard.Input
	inputsRead bool
	varNames   []string
	varPlugins map[string]string // nil until read
	modelSt    *dashboard.Model
	modelRead  bool
}

// model returns the dashboard read through grafana-tools/sdk's types
// (dashboard.Parse), nil when it is not a JSON object.
func (d *dashboardScan) model() *dashboard.Model {
	if !d.modelRead {
		d.modelSt, _ = dashboard.Parse(d.file.Src)
		d.modelRead = true
	}
	return d.modelSt
}

// models returns the repo's dashboards that lint can read, each with its
// model: those with a syntax error (dashboards/syntax) are left out.
func (p *Pass) models() []dashboardModel {
	var out []dashboardModel
	for _, d := range p.dashboards() {
		if d.err != nil {
			continue
		}
		if m := d.model(); m != nil {
			out = append(out, dashboardModel{d, m})
		}
	}
	return out
}

// dashboardModel is a dashboard's scan with its model.
type dashboardModel struct {
	*dashboardScan
	m *dashboard.Model
}

// span returns where n bytes at offset off are in the dashboard's file.
func (d dashboardModel) span(off, n int) diag.Span {
	return diag.Span{File: d.file.Path, Start: d.file.Pos(off), End: d.file.Pos(off + n)}
}

// panelName names a panel in a message: its title and its place.
func panelName(p *dashboard.Panel) string {
	if t := p.Title(); t != "" {
		return fmt.Sprintf("panel %q (%s)", t, p.Path)
	}
	return "panel " + p.Path
}

// top returns the values of the dashboard's top-level keys (topLevel).
func (d *dashboardScan) top() map[string]topValue {
	if !d.topRead {
		d.topSt, d.topRead = topLevel(d.file.Src), true
	}
	return d.topSt
}

// inputs returns the __inputs of an exported dashboard, none when it has
// none or is not JSON.
func (d *dashboardScan) inputs() []dashboard.Input {
	if !d.inputsRead {
		d.inputsSt, _ = dashboard.Inputs(d.file.Src)
		d.inputsRead = true
	}
	return d.inputsSt
}

// variables returns the names of the dashboard's template variables and
// the plugin of each datasource variable (templateVariables).
func (d *dashboardScan) variables() ([]string, map[string]string) {
	if d.varPlugins == nil {
		d.varNames, d.varPlugins = templateVariables(d.file.Src)
	}
	return d.varNames, d.varPlugins
}

// dashboards walks the repo's dashboards once per run, for the checks
// that share the result: those of the repo and rules/dashboard-link.
func (p *Pass) dashboards() []*dashboardScan {
	if p.dashSt == nil {
		if p.run != nil {
			p.dashSt = p.run.dashboards(p.Repo)
		} else {
			p.dashSt = scanDashboards(p.Repo)
		}
	}
	return p.dashSt
}

// dashboards returns the repo's dashboards walked, once for the run's
// passes (the rule files' run in parallel).
func (st *runState) dashboards(r *load.Repo) []*dashboardScan {
	st.dashOnce.Do(func() { st.dashScans = scanDashboards(r) })
	return st.dashScans
}

// scanDashboards walks the repo's dashboards.
func scanDashboards(r *load.Repo) []*dashboardScan {
	out := make([]*dashboardScan, 0, len(r.Dashboards))
	for _, f := range r.Dashboards {
		w, err := dashboardRefs(f)
		d := &dashboardScan{file: f, err: err}
		if w != nil {
			d.refs, d.exprs = w.refs, w.exprs
		}
		out = append(out, d)
	}
	return out
}

// dashboardDatasource reports a panel, target, annotation or template
// variable of a dashboard that refers to a datasource the stack does not
// provision: a uid other than prometheus, alertmanager, logs (Elasticsearch)
// and jaeger, one of those whose component is disabled, or a datasource
// given by name (a string), which breaks when the name differs. Grafana
// shows such panels empty with a "datasource not found" error.
//
// References through a template variable (${ds}) and Grafana's built-in
// datasources (-- Grafana --, -- Mixed --, -- Dashboard --) are fine.
type dashboardDatasource struct{}

func (dashboardDatasource) Name() string { return "dashboards/datasource" }

func (dashboardDatasource) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "A dashboard refers to a datasource the stack does not provision."}
}

// provisionedDatasources maps each datasource uid the stack provisions to
// the component that must be enabled for it.
var provisionedDatasources = func() map[string]string {
	m := map[string]string{}
	for _, d := range dashboard.Provisioned {
		m[d.UID] = d.Component
	}
	return m
}()

// builtinDatasources are Grafana's own.
var builtinDatasources = []string{"grafana", "-- Grafana --", "-- Mixed --", "-- Dashboard --"}

func (dashboardDatasource) Check(p *Pass) {
	on := p.Config.ComponentsOn()
	// The stack's datasources, by the component each needs, and the
	// repo's (grafana.datasources), which need none.
	known := maps.Clone(provisionedDatasources)
	for _, d := range dashboard.Repo(p.Config) {
		known[d.UID] = ""
	}
	uids := slices.Sorted(maps.Keys(known))
	for _, d := range p.dashboards() {
		if d.err != nil {
			continue // dashboards/syntax reports it
		}
		f := d.file
		for _, r := range d.refs {
			span := diag.Span{File: f.Path, Start: f.Pos(r.offset), End: f.Pos(r.offset)}
			switch {
			case r.unused:
			case r.name != "" && (strings.HasPrefix(r.name, "$") || slices.Contains(builtinDatasources, r.name)):
			case r.name != "":
				p.Report(span, `refer to it as {"type": ..., "uid": ...} with one of the stack's uids: `+strings.Join(uids, ", "),
					"datasource given by name %q: names differ between Grafanas; the stack provisions uids", r.name)
			case strings.HasPrefix(r.uid, "$") || slices.Contains(builtinDatasources, r.uid) || r.uid == "":
			default:
				comp, ok := known[r.uid]
				switch {
				case !ok:
					p.Report(span, "the stack provisions "+strings.Join(uids, ", ")+"; declare others under grafana.datasources in obsctl.yaml",
						"datasource uid %q is not provisioned by the stack", r.uid)
				case comp != "" && !on[comp]:
					p.Report(span, "enable stack.components."+comp+", or remove the panels that use it",
						"datasource %q needs stack.components.%s, which is disabled", r.uid, comp)
				}
			}
		}
	}
}

// datasourceRef is one "datasource" value in a dashboard.
type datasourceRef struct {
	// unused marks the datasource of a row panel or its targets, which
	// nothing queries.
	unused    bool
	uid, name string // name for the legacy string form
	typ       string // the object form's type, when it says
	offset    int    // of the value
}

// dashboardError is a JSON error at a byte offset.
type dashboardError struct {
	offset int
	msg    string
	// exact is set when offset is known to be the file's; otherwise the
	// whole input is scanned for it.
	exact bool
}

func (e *dashboardError) Error() string { return e.msg }

// dashboardRefs walks f's JSON for every datasource reference and query.
func dashboardRefs(f *source.File) (*dsWalker, error) {
	if off, bad := f.NotText(); bad {
		// The JSON decoder takes invalid UTF-8 in strings: say so here,
		// before any of it reaches a message.
		return nil, &dashboardError{offset: off, msg: "the file is not UTF-8 text (invalid UTF-8 or a NUL byte)", exact: true}
	}
	w, err := walkDashboard(f.Src)
	var de *dashboardError
	if errors.As(err, &de) && !de.exact {
		// The streaming decoder counts the offsets of some errors from the
		// start of the value it was reading, or from its buffer: the
		// error would be reported lines early. Scanning the whole input
		// once more gives the offset in the file.
		if off, msg, ok := syntaxErrorAt(f.Src); ok {
			return nil, &dashboardError{offset: off, msg: msg, exact: true}
		}
	}
	return w, err
}

func walkDashboard(src []byte) (*dsWalker, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	w := &dsWalker{dec: dec, src: src}
	tok, err := dec.Token()
	if err != nil {
		return nil, w.fail(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		// At the value, past the blank lines and spaces before it.
		off := len(src) - len(bytes.TrimLeft(src, " \t\r\n"))
		return nil, &dashboardError{offset: off, msg: "the top level is not a JSON object", exact: true}
	}
	if err := w.object(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &dashboardError{offset: int(dec.InputOffset()), msg: "text after the dashboard object"}
	}
	for _, i := range w.pending {
		w.exprs[i].prometheus = true // the dashboard's default: the stack's Prometheus
	}
	return w, nil
}

// syntaxErrorAt returns the byte offset of the first JSON syntax error in
// src, as encoding/json's scanner finds it reading src from its start,
// and its message. The end of an input cut short is placed after its last
// character, not on the empty line a final line break starts.
func syntaxErrorAt(src []byte) (int, string, bool) {
	var v struct{}
	err := json.Unmarshal(src, &v)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return 0, "", false
	}
	if int(se.Offset) >= len(src) {
		return len(bytes.TrimRight(src, " \t\r\n")), "unexpected end of the file", true
	}
	msg := se.Error()
	if strings.HasSuffix(msg, "after top-level value") {
		msg = "text after the dashboard object"
	}
	// Offset counts the bytes read, the bad one included.
	return max(0, int(se.Offset)-1), msg, true
}

type dsWalker struct {
	dec   *json.Decoder
	src   []byte
	refs  []datasourceRef
	depth int
	// exprs are the queries (expr strings) met; pending those whose
	// datasource is not known yet: a target without one uses its
	// panel's, which may come after the targets.
	exprs   []dashboardExpr
	pending []int
}

func (w *dsWalker) fail(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &dashboardError{offset: int(se.Offset), msg: se.Error()}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &dashboardError{offset: int(w.dec.InputOffset()), msg: "unexpected end of the file"}
	}
	return &dashboardError{offset: int(w.dec.InputOffset()), msg: err.Error()}
}

// object walks an object whose { was read.
func (w *dsWalker) object() error {
	w.depth++
	defer func() { w.depth-- }()
	if w.depth > 200 {
		// The { just read, which the input offset is right after.
		return &dashboardError{offset: int(w.dec.InputOffset()) - 1, msg: "nested too deeply", exact: true}
	}
	pending := len(w.pending) // those of this object are after
	ds := -1                  // this object's datasource, in w.refs
	row := false
	targets := [2]int{-1, -1} // the refs of its targets, in w.refs
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return w.fail(err)
		}
		key, _ := tok.(string)
		switch key {
		case "datasource":
			if err := w.datasource(); err != nil {
				return err
			}
			ds = len(w.refs) - 1
			continue
		case "expr":
			if err := w.expr(); err != nil {
				return err
			}
			continue
		case "type":
			raw, _, err := w.raw()
			if err != nil {
				return err
			}
			row = string(raw) == `"row"`
			continue
		case "targets":
			targets[0] = len(w.refs)
			if err := w.value(); err != nil {
				return err
			}
			targets[1] = len(w.refs)
			continue
		}
		if err := w.value(); err != nil {
			return err
		}
	}
	if _, err := w.dec.Token(); err != nil { // }
		return w.fail(err)
	}
	if row {
		// A row queries nothing: the datasource it and its targets name
		// (Grafana's exports keep them) is never used. The panels a
		// collapsed row holds are panels of their own.
		if ds >= 0 {
			w.refs[ds].unused = true
		}
		for i := max(targets[0], 0); i < targets[1]; i++ {
			w.refs[i].unused = true
		}
	}
	if ds >= 0 && ds < len(w.refs) {
		// The object's datasource is its queries' and those of the
		// objects in it that name none.
		prom := w.refs[ds].prometheus()
		for _, i := range w.pending[pending:] {
			w.exprs[i].prometheus = prom
			w.exprs[i].ds = ds
		}
		w.pending = w.pending[:pending]
	}
	return nil
}

// raw reads the next value whole, and returns it with its offset.
func (w *dsWalker) raw() (json.RawMessage, int, error) {
	var raw json.RawMessage
	if err := w.dec.Decode(&raw); err != nil {
		return nil, 0, w.fail(err)
	}
	// The decoder stops right after the value, whose bytes raw holds.
	return raw, int(w.dec.InputOffset()) - len(raw), nil
}

// expr reads a query: a string, kept with where each of its bytes is.
func (w *dsWalker) expr() error {
	raw, start, err := w.raw()
	if err != nil {
		return err
	}
	if len(raw) == 0 || raw[0] != '"' {
		return nil
	}
	text, offs, ok := jsonStringOffsets(raw, start)
	if !ok || strings.TrimSpace(text) == "" {
		return nil
	}
	w.exprs = append(w.exprs, dashboardExpr{text: text, offsets: offs, ds: -1})
	w.pending = append(w.pending, len(w.exprs)-1)
	return nil
}

// value walks any value.
func (w *dsWalker) value() error {
	tok, err := w.dec.Token()
	if err != nil {
		return w.fail(err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		return w.object()
	case '[':
		w.depth++
		defer func() { w.depth-- }()
		for w.dec.More() {
			if err := w.value(); err != nil {
				return err
			}
		}
		if _, err := w.dec.Token(); err != nil { // ]
			return w.fail(err)
		}
	}
	return nil
}

// datasource reads a datasource value: an object with a uid, a string
// (the legacy name form) or null.
func (w *dsWalker) datasource() error {
	raw, start, err := w.raw()
	if err != nil {
		return err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return &dashboardError{offset: start, msg: err.Error()}
	}
	switch v := v.(type) {
	case string:
		w.refs = append(w.refs, datasourceRef{name: v, offset: start})
	case map[string]any:
		uid, _ := v["uid"].(string)
		typ, _ := v["type"].(string)
		w.refs = append(w.refs, datasourceRef{uid: uid, typ: typ, offset: start})
	default:
		w.refs = append(w.refs, datasourceRef{offset: start}) // null: the default
	}
	return nil
}

// prometheus reports whether the datasource may be a Prometheus: the
// stack's, one of type prometheus, one given by a variable, or the
// default.
func (r datasourceRef) prometheus() bool {
	switch {
	case r.typ != "":
		return r.typ == "prometheus"
	case r.uid != "":
		_, provisioned := provisionedDatasources[r.uid]
		return r.uid == "prometheus" || !provisioned
	}
	return true
}
