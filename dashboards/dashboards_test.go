package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana-tools/sdk"
	"github.com/prometheus/prometheus/promql/parser"
)

// datasourceTypes maps the uid of each datasource the stack provisions to its
// plugin type. Dashboards reference datasources by uid only: a name breaks
// when the datasource is renamed, and which one is the default differs from
// one Grafana to the next.
var datasourceTypes = map[string]string{
	"prometheus":   "prometheus",
	"alertmanager": "alertmanager",
	"logs":         "elasticsearch",
	"jaeger":       "jaeger",
}

// starterDashboards are the files obsctl provisions by default.
var starterDashboards = []string{
	"alerts.json",
	"cluster-overview.json",
	"logging-pipeline.json",
	"nodes.json",
	"tracing.json",
	"workloads.json",
}

// gridColumns is the width of Grafana's dashboard grid.
const gridColumns = 24

// promql parses with Prometheus' default options, so an expression using an
// experimental function fails here as it would on the server.
var promql = parser.NewParser(parser.Options{})

// Values that stand in for Grafana's interval variables before parsing. They
// are durations nobody writes by hand, so the rate-window check can tell a
// window written as $__rate_interval or $__range from a hard-coded one.
const (
	rateIntervalStandIn = 67 * time.Second
	rangeStandIn        = 71 * time.Second
	intervalStandIn     = 73 * time.Second
)

// rateFuncs take a range whose length must follow Grafana's $__rate_interval
// (or $__range for a total over the whole time range), never a fixed window
// that undersamples at one zoom level and smooths everything away at another.
var rateFuncs = map[string]bool{"rate": true, "irate": true, "increase": true}

func TestStarterDashboardsEmbedded(t *testing.T) {
	for _, name := range starterDashboards {
		t.Run(name, func(t *testing.T) {
			if _, err := fs.Stat(FS, name); err != nil {
				t.Errorf("%s is not in the embedded FS: %v (check the go:embed patterns in embed.go)", name, err)
			}
		})
	}
}

// check inspects one decoded dashboard and returns its problems, each a
// message that names the panel or variable it is about.
type check func(d *dashboard) []string

var checks = []struct {
	name  string
	check check
}{
	{"uid", checkUID},
	{"title and tags", checkTitleAndTags},
	{"no dashboard id", checkNoID},
	{"schema version", checkSchemaVersion},
	{"grid", checkGrid},
	{"panel ids", checkPanelIDs},
	{"datasources", checkDatasources},
	{"variables", checkVariables},
	{"promql", checkPromQL},
	{"units", checkUnits},
}

func TestDashboards(t *testing.T) {
	for _, d := range loadDashboards(t) {
		t.Run(d.file, func(t *testing.T) {
			for _, c := range checks {
				t.Run(c.name, func(t *testing.T) {
					for _, problem := range c.check(d) {
						t.Errorf("%s: %s", d.file, problem)
					}
				})
			}
		})
	}
}

func TestDashboardsUnique(t *testing.T) {
	uids := map[string]string{}
	titles := map[string]string{}
	for _, d := range loadDashboards(t) {
		if first, ok := uids[d.board.UID]; ok {
			t.Errorf("%s: uid %q is already used by %s", d.file, d.board.UID, first)
		}
		uids[d.board.UID] = d.file
		if first, ok := titles[d.board.Title]; ok {
			t.Errorf("%s: title %q is already used by %s", d.file, d.board.Title, first)
		}
		titles[d.board.Title] = d.file
	}
}

// TestChecksCatchMistakes feeds each check a dashboard with one mistake in it,
// so a check that stops finding anything fails here rather than passing every
// real dashboard silently.
func TestChecksCatchMistakes(t *testing.T) {
	const ts = `{"id": 1, "type": "timeseries", "title": "T", "datasource": {"type": "prometheus", "uid": "prometheus"},
		"gridPos": {"x": 0, "y": 0, "w": 12, "h": 8}, "fieldConfig": {"defaults": {"unit": "short"}},
		"targets": [{"refId": "A", "expr": "up"}]}`
	tests := []struct {
		name   string
		file   string
		json   string
		check  check  // nil runs every check
		want   string // a substring of the one problem expected
		decode string // when set, decoding must fail with this substring instead
	}{
		{name: "valid", json: board(`{"name": "cluster", "type": "query", "datasource": {"type": "prometheus", "uid": "prometheus"}, "query": "label_values(up, cluster)", "includeAll": true, "allValue": ".*"}`,
			strings.Replace(ts, `"expr": "up"`, `"expr": "sum(rate(up{cluster=~\"$cluster\"}[$__rate_interval]))"`, 1))},
		{name: "panel field of the wrong type", json: board("", strings.Replace(ts, `"refId": "A"`, `"refId": "A", "tags": "a=b"`, 1)), decode: `panels[0]: `},
		{name: "uid does not match file", file: "other.json", json: board("", ts), check: checkUID, want: `want "obsctl-other"`},
		{name: "missing obsctl tag", json: strings.Replace(board("", ts), `"tags": ["obsctl"]`, `"tags": []`, 1), check: checkTitleAndTags, want: `"obsctl"`},
		{name: "dashboard id", json: strings.Replace(board("", ts), `"uid"`, `"id": 7, "uid"`, 1), check: checkNoID, want: `"id"`},
		{name: "zero width", json: board("", strings.Replace(ts, `"w": 12`, `"w": 0`, 1)), check: checkGrid, want: "w=0"},
		{name: "past the grid", json: board("", strings.Replace(ts, `"x": 0`, `"x": 16`, 1)), check: checkGrid, want: "past the 24"},
		{name: "overlap", json: board("", ts, strings.Replace(strings.Replace(ts, `"y": 0`, `"y": 4`, 1), `"id": 1`, `"id": 2`, 1)), check: checkGrid, want: "overlaps"},
		{name: "duplicate panel id", json: board("", ts, strings.Replace(ts, `"y": 0`, `"y": 8`, 1)), check: checkPanelIDs, want: "id 1"},
		{name: "datasource by name", json: board("", strings.Replace(ts, `{"type": "prometheus", "uid": "prometheus"}`, `"Prometheus"`, 1)), check: checkDatasources, want: "by name"},
		{name: "default datasource", json: board("", strings.Replace(ts, `{"type": "prometheus", "uid": "prometheus"}`, `null`, 1)), check: checkDatasources, want: "default"},
		{name: "unknown uid", json: board("", strings.Replace(ts, `"uid": "prometheus"}`, `"uid": "thanos"}`, 1)), check: checkDatasources, want: "not one the stack provisions"},
		{name: "wrong type for uid", json: board("", strings.Replace(ts, `{"type": "prometheus", "uid": "prometheus"}`, `{"type": "loki", "uid": "prometheus"}`, 1)), check: checkDatasources, want: `type "loki"`},
		{name: "variable without datasource", json: board(`{"name": "cluster", "type": "query", "query": "label_values(up, cluster)", "includeAll": true, "allValue": ".*"}`, ts), check: checkVariables, want: "no datasource"},
		{name: "cluster variable without All", json: board(`{"name": "cluster", "type": "query", "datasource": {"type": "prometheus", "uid": "prometheus"}, "query": "label_values(up, cluster)"}`, ts), check: checkVariables, want: "allValue"},
		{name: "bad promql", json: board("", strings.Replace(ts, `"expr": "up"`, `"expr": "sum(up"`, 1)), check: checkPromQL, want: "parse error"},
		{name: "fixed rate window", json: board("", strings.Replace(ts, `"expr": "up"`, `"expr": "rate(up[5m])"`, 1)), check: checkPromQL, want: "$__rate_interval"},
		{name: "undefined variable", json: board("", strings.Replace(ts, `"expr": "up"`, `"expr": "up{job=\"$jbo\"}"`, 1)), check: checkPromQL, want: "$jbo"},
		{name: "bad variable promql", json: board(`{"name": "ns", "type": "query", "datasource": {"type": "prometheus", "uid": "prometheus"}, "query": {"query": "label_values(up{, namespace)"}}`, ts), check: checkPromQL, want: `variable "ns"`},
		{name: "no unit", json: board("", strings.Replace(ts, `"unit": "short"`, `"unit": ""`, 1)), check: checkUnits, want: "unit"},
		{name: "duplicate key", json: strings.Replace(board("", ts), `"title": "Board"`, `"title": "Board", "title": "Again"`, 1), decode: `duplicate key "title"`},
		{name: "syntax error", json: strings.Replace(board("", ts), `"tags": ["obsctl"],`, `"tags": ["obsctl"]`, 1), decode: "line 1"},
		{name: "wrong field type", json: strings.Replace(board("", ts), `"schemaVersion": 39`, `"schemaVersion": "39"`, 1), decode: "sdk.Board"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file == "" {
				file = "fixture.json"
			}
			d, err := decodeDashboard(file, []byte(tt.json))
			if tt.decode != "" {
				if err == nil || !strings.Contains(err.Error(), tt.decode) {
					t.Fatalf("decode error = %v, want one containing %q", err, tt.decode)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			var problems []string
			if tt.check != nil {
				problems = tt.check(d)
			} else {
				for _, c := range checks {
					problems = append(problems, c.check(d)...)
				}
			}
			if tt.want == "" {
				if len(problems) != 0 {
					t.Fatalf("problems = %q, want none", problems)
				}
				return
			}
			if len(problems) != 1 || !strings.Contains(problems[0], tt.want) {
				t.Fatalf("problems = %q, want one containing %q", problems, tt.want)
			}
		})
	}
}

// board returns a minimal dashboard, uid obsctl-fixture, with the given
// templating variable (if any) and panels.
func board(variable string, panels ...string) string {
	return `{"uid": "obsctl-fixture", "title": "Board", "tags": ["obsctl"], "schemaVersion": 39, ` +
		`"templating": {"list": [` + variable + `]}, "panels": [` + strings.Join(panels, ", ") + `]}`
}

// dashboard is one dashboard file decoded twice: into the Grafana SDK's model,
// which catches fields of the wrong type, and into plain values to walk.
type dashboard struct {
	file   string
	raw    map[string]any
	board  sdk.Board
	panels []panel
}

// panel is one panel with its place in the file, so problems can name it.
type panel struct {
	path  string // JSON path, e.g. panels[3] or panels[2].panels[0]
	layer string // panels in the same layer share the grid: the top level, or one row's children
	p     *sdk.Panel
	raw   map[string]any
}

func (p panel) String() string {
	return fmt.Sprintf("panel %q (%s)", p.p.Title, p.path)
}

func loadDashboards(t *testing.T) []*dashboard {
	t.Helper()
	files, err := fs.Glob(FS, "*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no *.json dashboard in the embedded FS: check the go:embed patterns in embed.go")
	}
	var out []*dashboard
	for _, file := range files {
		data, err := fs.ReadFile(FS, file)
		if err != nil {
			t.Fatal(err)
		}
		d, err := decodeDashboard(file, data)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		out = append(out, d)
	}
	if t.Failed() {
		t.FailNow()
	}
	return out
}

func decodeDashboard(file string, data []byte) (*dashboard, error) {
	if err := checkSyntax(data); err != nil {
		return nil, err
	}
	d := &dashboard{file: file}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&d.raw); err != nil {
		return nil, positioned(data, err)
	}
	if err := json.Unmarshal(data, &d.board); err != nil {
		return nil, fmt.Errorf("decode as sdk.Board: %w", boardError(data, err))
	}
	rawPanels, _ := d.raw["panels"].([]any)
	for i, p := range d.board.Panels {
		top := panel{path: fmt.Sprintf("panels[%d]", i), layer: "top level", p: p, raw: rawObject(rawPanels, i)}
		d.panels = append(d.panels, top)
		if p.RowPanel == nil {
			continue
		}
		children, _ := top.raw["panels"].([]any)
		for j := range p.RowPanel.Panels {
			d.panels = append(d.panels, panel{
				path:  fmt.Sprintf("%s.panels[%d]", top.path, j),
				layer: top.String(),
				p:     &p.RowPanel.Panels[j],
				raw:   rawObject(children, j),
			})
		}
	}
	return d, nil
}

func rawObject(list []any, i int) map[string]any {
	if i < len(list) {
		if m, ok := list[i].(map[string]any); ok {
			return m
		}
	}
	return map[string]any{}
}

// checkSyntax reports the first syntax error, or an object key given twice
// (encoding/json keeps the last of the two without a word), with its line
// and column.
func checkSyntax(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walkTokens(dec, data, "$"); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s: unexpected data after the dashboard object", lineCol(data, dec.InputOffset()))
	}
	return nil
}

func walkTokens(dec *json.Decoder, data []byte, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return positioned(data, err)
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch delim {
	case '{':
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return positioned(data, err)
			}
			key, _ := tok.(string)
			if seen[key] {
				return fmt.Errorf("%s: duplicate key %q in %s", lineCol(data, dec.InputOffset()), key, path)
			}
			seen[key] = true
			if err := walkTokens(dec, data, path+"."+key); err != nil {
				return err
			}
		}
	case '[':
		for i := 0; dec.More(); i++ {
			if err := walkTokens(dec, data, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return positioned(data, err)
	}
	return nil
}

// boardError places an error from decoding into sdk.Board. The SDK decodes
// each panel on its own, so the offset in an error from inside a panel counts
// from the start of that panel: name the panel instead.
func boardError(data []byte, err error) error {
	var top struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if json.Unmarshal(data, &top) == nil {
		for i, raw := range top.Panels {
			var p sdk.Panel
			if perr := json.Unmarshal(raw, &p); perr != nil {
				return fmt.Errorf("panels[%d]: %w", i, perr)
			}
		}
	}
	return positioned(data, err)
}

// positioned adds the line and column to a decoding error that knows its offset.
func positioned(data []byte, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("%s: %w", lineCol(data, syntax.Offset), err)
	case errors.As(err, &typ):
		return fmt.Errorf("%s: %w", lineCol(data, typ.Offset), err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%s: unexpected end of file", lineCol(data, int64(len(data))))
	}
	return err
}

func lineCol(data []byte, offset int64) string {
	offset = min(max(offset, 0), int64(len(data)))
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d col %d", line, col)
}

func checkUID(d *dashboard) []string {
	want := "obsctl-" + strings.TrimSuffix(d.file, ".json")
	if d.board.UID != want {
		return []string{fmt.Sprintf("uid is %q, want %q (the file name with the obsctl- prefix)", d.board.UID, want)}
	}
	return nil
}

func checkTitleAndTags(d *dashboard) []string {
	var problems []string
	if strings.TrimSpace(d.board.Title) == "" {
		problems = append(problems, "title is empty")
	}
	found := false
	for _, tag := range d.board.Tags {
		found = found || tag == "obsctl"
	}
	if !found {
		problems = append(problems, fmt.Sprintf(`tags %q lack "obsctl", which the dashboards' link menu lists them by`, d.board.Tags))
	}
	return problems
}

// checkNoID rejects a dashboard id: ids belong to one Grafana database, and a
// provisioned dashboard carrying another's id overwrites it.
func checkNoID(d *dashboard) []string {
	if id, ok := d.raw["id"]; ok && id != nil {
		return []string{fmt.Sprintf(`has "id": %v; leave it out (or null) and identify the dashboard by uid`, id)}
	}
	return nil
}

func checkSchemaVersion(d *dashboard) []string {
	if d.board.SchemaVersion == 0 {
		return []string{"schemaVersion is not set, so Grafana would migrate the dashboard from the oldest schema"}
	}
	return nil
}

type rect struct{ x, y, w, h int }

func (a rect) overlaps(b rect) bool {
	return a.x < b.x+b.w && b.x < a.x+a.w && a.y < b.y+b.h && b.y < a.y+a.h
}

func checkGrid(d *dashboard) []string {
	var problems []string
	if len(d.panels) == 0 {
		problems = append(problems, "has no panels")
	}
	placed := map[string][]panel{}
	rects := map[string]rect{}
	for _, p := range d.panels {
		g := p.p.GridPos
		if g.X == nil || g.Y == nil || g.W == nil || g.H == nil {
			problems = append(problems, fmt.Sprintf("%s: gridPos needs x, y, w and h", p))
			continue
		}
		r := rect{*g.X, *g.Y, *g.W, *g.H}
		switch {
		case r.w <= 0 || r.h <= 0:
			problems = append(problems, fmt.Sprintf("%s: gridPos w=%d h=%d, both must be positive", p, r.w, r.h))
			continue
		case r.x < 0 || r.y < 0:
			problems = append(problems, fmt.Sprintf("%s: gridPos x=%d y=%d is negative", p, r.x, r.y))
			continue
		case r.x+r.w > gridColumns:
			problems = append(problems, fmt.Sprintf("%s: gridPos x=%d w=%d reaches past the %d-column grid", p, r.x, r.w, gridColumns))
		}
		for _, other := range placed[p.layer] {
			if r.overlaps(rects[other.path]) {
				problems = append(problems, fmt.Sprintf("%s: gridPos %+v overlaps %s at %+v", p, r, other, rects[other.path]))
			}
		}
		placed[p.layer] = append(placed[p.layer], p)
		rects[p.path] = r
	}
	return problems
}

// checkPanelIDs wants a distinct id on every panel: links to a panel and
// panel-level state in Grafana are keyed by it.
func checkPanelIDs(d *dashboard) []string {
	var problems []string
	seen := map[uint]panel{}
	for _, p := range d.panels {
		if p.p.ID == 0 {
			problems = append(problems, fmt.Sprintf("%s: has no id", p))
			continue
		}
		if first, ok := seen[p.p.ID]; ok {
			problems = append(problems, fmt.Sprintf("%s: id %d is also the id of %s", p, p.p.ID, first))
			continue
		}
		seen[p.p.ID] = p
	}
	return problems
}

// checkDatasources walks every "datasource" value in the file, wherever it
// is, and wants each panel to name its datasource.
func checkDatasources(d *dashboard) []string {
	var problems []string
	walkDatasources(d.raw, "$", "dashboard", func(where, path string, v any) {
		if msg := datasourceProblem(v); msg != "" {
			problems = append(problems, fmt.Sprintf("%s: %s: %s", where, path, msg))
		}
	})
	for _, p := range d.panels {
		if p.p.Type == "row" {
			continue
		}
		if _, ok := p.raw["datasource"]; !ok {
			problems = append(problems, fmt.Sprintf("%s: has no datasource; Grafana would pick the default", p))
		}
	}
	return problems
}

// walkDatasources calls f for each "datasource" key under v, with the panel,
// variable or annotation it belongs to.
func walkDatasources(v any, path, where string, f func(where, path string, v any)) {
	switch v := v.(type) {
	case map[string]any:
		for _, key := range slices.Sorted(maps.Keys(v)) {
			if key == "datasource" {
				f(where, path+".datasource", v[key])
				continue
			}
			walkDatasources(v[key], path+"."+key, where, f)
		}
	case []any:
		for i, child := range v {
			childWhere := where
			if m, ok := child.(map[string]any); ok {
				switch {
				case strings.HasSuffix(path, ".panels"):
					childWhere = fmt.Sprintf("panel %q", m["title"])
				case strings.HasSuffix(path, ".templating.list"):
					childWhere = fmt.Sprintf("variable %q", m["name"])
				case strings.HasSuffix(path, ".annotations.list"):
					childWhere = fmt.Sprintf("annotation %q", m["name"])
				}
			}
			walkDatasources(child, fmt.Sprintf("%s[%d]", path, i), childWhere, f)
		}
	}
}

func datasourceProblem(v any) string {
	switch v := v.(type) {
	case nil:
		return "datasource is null, which means Grafana's default; reference one by uid"
	case string:
		return fmt.Sprintf("datasource %q is given by name; reference it as {\"type\": ..., \"uid\": ...}", v)
	case map[string]any:
		uid, _ := v["uid"].(string)
		typ, _ := v["type"].(string)
		want, ok := datasourceTypes[uid]
		switch {
		case !ok:
			return fmt.Sprintf("datasource uid %q is not one the stack provisions (%s)", uid, knownDatasources())
		case typ != want:
			return fmt.Sprintf("datasource uid %q has type %q, want %q", uid, typ, want)
		}
		return ""
	}
	return fmt.Sprintf("datasource is a %T, want an object with type and uid", v)
}

func knownDatasources() string {
	var out []string
	for _, uid := range []string{"prometheus", "alertmanager", "logs", "jaeger"} {
		out = append(out, datasourceTypes[uid]+"/"+uid)
	}
	return strings.Join(out, ", ")
}

func checkVariables(d *dashboard) []string {
	var problems []string
	seen := map[string]bool{}
	for _, v := range d.board.Templating.List {
		where := fmt.Sprintf("variable %q", v.Name)
		if v.Name == "" {
			problems = append(problems, "a templating variable has no name")
		}
		if seen[v.Name] {
			problems = append(problems, where+": defined twice")
		}
		seen[v.Name] = true
		if v.Type == "query" && v.Datasource == nil {
			problems = append(problems, where+": query variable has no datasource; Grafana would pick the default")
		}
		// Prometheus only has a cluster label where one is set (several
		// clusters behind one query endpoint), so "All" must also match
		// series without the label.
		if v.Name == "cluster" && (!v.IncludeAll || v.AllValue != ".*") {
			problems = append(problems, where+`: needs includeAll with allValue ".*", so that All also matches series without a cluster label`)
		}
	}
	return problems
}

// checkPromQL parses every Prometheus query, in panels and in variables, once
// Grafana's variables are replaced by values of the right kind.
func checkPromQL(d *dashboard) []string {
	defined := map[string]bool{}
	for _, v := range d.board.Templating.List {
		defined[v.Name] = true
	}
	var problems []string
	check := func(where, expr string) {
		for _, name := range referencedVariables(expr) {
			if !defined[name] && !strings.HasPrefix(name, "__") {
				problems = append(problems, fmt.Sprintf("%s: uses $%s, which no templating variable defines", where, name))
			}
		}
		expanded := expandVariables(expr)
		parsed, err := promql.ParseExpr(expanded)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v\n\texpression with variables replaced:\n\t%s", where, err, indent(expanded)))
			return
		}
		problems = append(problems, rateWindowProblems(where, parsed)...)
	}

	for _, p := range d.panels {
		targets, err := panelTargets(p.p)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: targets: %v", p, err))
			continue
		}
		for i, target := range targets {
			ds := target.Datasource
			if ds == nil {
				ds = p.p.Datasource
			}
			if dsType(ds) != "prometheus" {
				continue
			}
			where := fmt.Sprintf("%s target %s (targets[%d])", p, target.RefID, i)
			if strings.TrimSpace(target.Expr) == "" {
				problems = append(problems, where+": expr is empty")
				continue
			}
			check(where, target.Expr)
		}
	}
	for _, v := range d.board.Templating.List {
		if v.Type != "query" || dsType(v.Datasource) != "prometheus" {
			continue
		}
		if expr, ok := variableExpr(variableQuery(v.Query)); ok {
			check(fmt.Sprintf("variable %q", v.Name), expr)
		}
	}
	return problems
}

func indent(s string) string {
	return strings.ReplaceAll(s, "\n", "\n\t")
}

// rateWindowProblems finds rate, irate and increase over a fixed window.
func rateWindowProblems(where string, expr parser.Expr) []string {
	var problems []string
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		call, ok := node.(*parser.Call)
		if !ok || !rateFuncs[call.Func.Name] {
			return nil
		}
		for _, arg := range call.Args {
			ms, ok := arg.(*parser.MatrixSelector)
			if !ok || ms.Range == rateIntervalStandIn || ms.Range == rangeStandIn {
				continue
			}
			problems = append(problems, fmt.Sprintf("%s: %s() over a fixed window; use [$__rate_interval] (or [$__range] for a total over the time range)",
				where, call.Func.Name))
		}
		return nil
	})
	return problems
}

// panelTargets returns a panel's queries. The SDK types the common panels;
// the others (logs, alertlist, ...) it keeps as plain maps.
func panelTargets(p *sdk.Panel) ([]sdk.Target, error) {
	if targets := p.GetTargets(); targets != nil {
		return *targets, nil
	}
	if p.CustomPanel == nil {
		return nil, nil
	}
	raw, ok := (*p.CustomPanel)["targets"]
	if !ok {
		return nil, nil
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var targets []sdk.Target
	err = json.Unmarshal(data, &targets)
	return targets, err
}

func dsType(ds any) string {
	m, _ := ds.(map[string]any)
	typ, _ := m["type"].(string)
	return typ
}

// variableQuery returns a query variable's query, which Grafana stores either
// as a string or as an object holding it.
func variableQuery(q any) string {
	switch q := q.(type) {
	case string:
		return q
	case map[string]any:
		s, _ := q["query"].(string)
		return s
	}
	return ""
}

var (
	labelValuesCall = regexp.MustCompile(`(?s)^\s*label_values\((.*),\s*[A-Za-z_]\w*\s*\)\s*$`)
	queryResultCall = regexp.MustCompile(`(?s)^\s*query_result\((.*)\)\s*$`)
)

// variableExpr returns the PromQL inside a Prometheus variable query:
// label_values(expr, label) and query_result(expr) hold one.
func variableExpr(query string) (string, bool) {
	for _, re := range []*regexp.Regexp{labelValuesCall, queryResultCall} {
		if m := re.FindStringSubmatch(query); m != nil {
			return m[1], true
		}
	}
	return "", false
}

// grafanaVariable matches the variable syntaxes Grafana interpolates:
// ${name}, ${name:format}, $name and [[name]].
var grafanaVariable = regexp.MustCompile(`\$\{([A-Za-z_]\w*)(?::[^}]*)?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)(?::[^\]]*)?\]\]`)

func referencedVariables(expr string) []string {
	var names []string
	for _, m := range grafanaVariable.FindAllStringSubmatch(expr, -1) {
		names = append(names, m[1]+m[2]+m[3])
	}
	return names
}

// expandVariables replaces Grafana variables the way Grafana would, with
// values of the right kind: intervals by durations, numbers by numbers, and a
// variable inside a quoted string, a label matcher's value, by ".*".
func expandVariables(expr string) string {
	var out strings.Builder
	var quote byte
	last := 0
	for _, m := range grafanaVariable.FindAllStringSubmatchIndex(expr, -1) {
		quote = scanQuotes(expr[last:m[0]], quote)
		out.WriteString(expr[last:m[0]])
		var name string
		for g := 2; g < len(m); g += 2 {
			if m[g] >= 0 {
				name = expr[m[g]:m[g+1]]
			}
		}
		out.WriteString(variableValue(name, quote != 0))
		last = m[1]
	}
	out.WriteString(expr[last:])
	return out.String()
}

// scanQuotes reads s, entered inside the string opened by quote (0 for
// none), and returns the quote character of the string s ends inside, or 0.
func scanQuotes(s string, quote byte) byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == '\\' && quote != '`':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\'' || c == '`'):
			quote = c
		}
	}
	return quote
}

func variableValue(name string, quoted bool) string {
	if quoted {
		return ".*"
	}
	switch name {
	case "__rate_interval":
		return rateIntervalStandIn.String()
	case "__range":
		return rangeStandIn.String()
	case "__interval":
		return intervalStandIn.String()
	}
	// $__range_s, $__interval_ms and the like, or a numeric dashboard variable.
	return "1"
}

// checkUnits wants a unit on every panel that draws numbers, so values read
// as bytes, ratios or rates rather than bare numbers.
func checkUnits(d *dashboard) []string {
	var problems []string
	for _, p := range d.panels {
		switch p.p.Type {
		case "timeseries", "stat", "bargauge", "gauge":
		default:
			continue
		}
		fieldConfig, _ := p.raw["fieldConfig"].(map[string]any)
		defaults, _ := fieldConfig["defaults"].(map[string]any)
		if unit, _ := defaults["unit"].(string); unit == "" {
			problems = append(problems, fmt.Sprintf("%s: fieldConfig.defaults.unit is not set", p))
		}
	}
	return problems
}
