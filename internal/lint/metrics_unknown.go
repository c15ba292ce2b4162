package lint

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/obsctl/obsctl/internal/catalog"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/spell"
)

// unknownMetric reports a selector of a metric that nothing produces: no
// program the stack scrapes exposes it, no recording rule in the repo
// records it, and obsctl.yaml does not declare it as one of the repo's own
// (prometheus.metrics). The selector returns nothing, and an alert over
// nothing never fires: a misspelt name, a metric renamed by an exporter
// upgrade (node_memory_MemAvailable became node_memory_MemAvailable_bytes),
// a metric of one exporter asked of another's job.
//
// What the stack's programs expose is known from the programs: the
// families that the pinned kube-state-metrics, node-exporter, Prometheus,
// Alertmanager, Prometheus Operator and Jaeger expose, scraped from them
// running (`make generate`), and the documented ones of what the stack
// scrapes but obsctl cannot run (kubelet, cAdvisor, Elasticsearch's
// exporter, Fluentd, Grafana). Applications' metrics are not known, so by
// default only names that can be placed are judged:
//
//   - a name in the subsystem of a program the stack installs (its first
//     two words: kube_deployment_..., node_filesystem_..., prometheus_tsdb_...)
//     that the program does not expose at the pinned version;
//   - a name selected under the job of such a program (job="node-exporter")
//     that the program does not expose.
//
// A name that only a component obsctl.yaml turns off exposes (otelcol_*
// with stack.components.jaeger off) is reported too, unless declared in
// prometheus.metrics because another copy of the program is scraped.
//
// Names a program makes from what it reads (node-exporter's node_memory_*
// fields of /proc/meminfo, its textfile collector's) are not judged.
// With lint.strictMetrics every name is judged, so declare the
// applications' metrics in prometheus.metrics. Files linted with no
// obsctl.yaml have no stack: only a name within two edits of one a
// program exposes, in that program's subsystem, is reported there.
//
// A metric from somewhere obsctl does not see (another Prometheus,
// federated in) is fine: say so with `# obsctl:disable rules/unknown-metric`.
type unknownMetric struct{}

func (unknownMetric) Name() string { return "rules/unknown-metric" }

func (unknownMetric) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRepo, Summary: "An expression selects a metric that no scraped program, recording rule or declared target produces."}
}

func (unknownMetric) Check(p *Pass) {
	if p.Index.RecordsUnknown {
		return // the name may be recorded by what could not be read
	}
	for _, name := range slices.Sorted(maps.Keys(p.Index.Unknown)) {
		if len(p.Index.Records[name]) > 0 {
			continue
		}
		for _, u := range p.Index.Unknown[name] {
			p.ReportRef(u.Rule, u.Span(), u.hint, "%s", u.msg)
		}
	}
}

// dashboardUnknownMetric is rules/unknown-metric for the queries of the
// repo's dashboards.
type dashboardUnknownMetric struct{}

func (dashboardUnknownMetric) Name() string { return "dashboards/unknown-metric" }

func (dashboardUnknownMetric) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRepo, Summary: "A dashboard query selects a metric that no scraped program, recording rule or declared target produces."}
}

func (dashboardUnknownMetric) Check(p *Pass) {
	if p.Index.RecordsUnknown {
		return
	}
	mc := newMetricCheck(p)
	for _, d := range p.dashboards() {
		if d.err != nil {
			continue // dashboards/syntax reports it
		}
		for _, e := range d.exprs {
			if !e.prometheus {
				continue
			}
			expr, ok := grafanaExpr(e.text)
			if !ok {
				continue // a variable stands for part of a name: nothing to judge
			}
			x, err := promql.ParseExpr(expr)
			if err != nil {
				continue // not PromQL as written; dashboards do not check queries' syntax
			}
			parser.Inspect(x, func(n parser.Node, path []parser.Node) error {
				vs, ok := n.(*parser.VectorSelector)
				if !ok {
					return nil
				}
				if msg, hint, bad := mc.judge(vs, path); bad && len(p.Index.Records[vs.Name]) == 0 {
					start := e.at(int(vs.PosRange.Start))
					span := diag.Span{File: d.file.Path, Start: d.file.Pos(start), End: d.file.Pos(e.at(int(vs.PosRange.Start) + len(vs.Name)))}
					p.Report(span, hint, "%s", msg)
				}
				return nil
			})
		}
	}
}

// metricCheck judges selectors against the catalog, the repo's declared
// metrics and its mode.
type metricCheck struct {
	cat      *catalog.Catalog
	declared []*regexp.Regexp
	mode     metricMode
	// off maps the catalog's sources whose component obsctl.yaml turns
	// off to the component's key.
	off map[*catalog.Source]string
}

// sourceComponents maps the catalog's sources that the stack installs to
// their stack.components keys; the others (the kubelet, cAdvisor, the API
// server, Prometheus' own series) are the cluster's.
var sourceComponents = map[string]string{
	"kube-state-metrics": "kubeStateMetrics", "node-exporter": "nodeExporter", "prometheus": "prometheus",
	"alertmanager": "alertmanager", "prometheus-operator": "prometheusOperator", "jaeger": "jaeger",
	"elasticsearch-exporter": "elasticsearch", "fluentd": "fluentd", "grafana": "grafana",
}

type metricMode int

const (
	// metricsNeutral: files linted with no obsctl.yaml; only likely
	// misspellings of a program's names are reported.
	metricsNeutral metricMode = iota
	// metricsPlaced: names in a pinned program's subsystem or job.
	metricsPlaced
	// metricsStrict: every name (lint.strictMetrics).
	metricsStrict
)

func newMetricCheck(p *Pass) *metricCheck {
	mc := &metricCheck{cat: catalog.Default(), mode: metricsPlaced}
	switch {
	case p.Repo != nil && p.Repo.Neutral:
		mc.mode = metricsNeutral
	case p.Config != nil && p.Config.Lint.StrictMetrics:
		mc.mode = metricsStrict
	}
	if p.Config != nil {
		mc.declared = p.Config.Prometheus.MetricPatterns()
	}
	if mc.mode != metricsNeutral && p.Config != nil {
		on := p.Config.ComponentsOn()
		for _, s := range mc.cat.Sources {
			if key, ok := sourceComponents[s.Name]; ok && !on[key] {
				if mc.off == nil {
					mc.off = map[*catalog.Source]string{}
				}
				mc.off[s] = key
			}
		}
	}
	return mc
}

// judge returns what is wrong with a selector, found at path in its
// expression, if anything is. Recorded series (names with a colon) are
// rules/undefined-record's, and a selector with no name, or a name
// matched by __name__, is not judged. Neither is one side of an `or`
// whose other side selects a known metric: that is how queries keep
// working across an exporter's renames (new_name or old_name).
func (mc *metricCheck) judge(vs *parser.VectorSelector, path []parser.Node) (msg, hint string, bad bool) {
	name := vs.Name
	if name == "" || strings.Contains(name, ":") || mc.known(name) {
		return "", "", false
	}
	if mc.fallback(vs, path) {
		return "", "", false
	}
	produced := mc.cat.Produces(name)
	// Under the job of a program the stack installs: the program must
	// expose it.
	if job := equalJob(vs.LabelMatchers); job != "" && mc.mode != metricsNeutral {
		if srcs := mc.cat.ByJob(job); pinned(srcs) != nil && !anyHas(srcs, name) && !anyHas(mc.cat.ByJob("-"), name) {
			src := pinned(srcs)
			msg = fmt.Sprintf("%q is not a metric that %s exposes, and job %q is its: the selector returns nothing", name, src, job)
			if len(produced) > 0 {
				msg += fmt.Sprintf(" (%s exposes it)", produced[0])
			}
			return msg, suggest(name, src), true
		}
	}
	if len(produced) > 0 {
		for _, src := range produced {
			if _, off := mc.off[src]; !off {
				return "", "", false
			}
		}
		key := mc.off[produced[0]]
		return fmt.Sprintf("%q is exposed only by %s, which this stack does not install (stack.components.%s is off): the selector returns nothing", name, produced[0], key),
			fmt.Sprintf("enable stack.components.%s, or declare the metric in prometheus.metrics when another %s is scraped", key, produced[0].Name), true
	}
	owner := mc.cat.Owner(name)
	switch mc.mode {
	case metricsNeutral:
		if owner == nil {
			return "", "", false
		}
		near := spell.Closest(name, owner.SeriesNames())
		if near == "" || spell.Distance(name, near) > 2 {
			return "", "", false
		}
		return fmt.Sprintf("%q is not a metric that %s exposes, but %q is: the selector returns nothing", name, owner, near), fmt.Sprintf("did you mean %q?", near), true
	case metricsPlaced:
		if owner == nil {
			return "", "", false
		}
		return fmt.Sprintf("%q is not a metric that %s exposes, and no recording rule records it: the selector returns nothing", name, owner),
			suggest(name, owner), true
	}
	hint = "check the spelling; declare a metric of the repo's own targets in obsctl.yaml (prometheus.metrics), or mark a series from elsewhere with `# obsctl:disable rules/unknown-metric`"
	if owner != nil {
		hint = suggest(name, owner)
	} else if near := spell.Closest(name, mc.cat.Names()); near != "" && spell.Distance(name, near) <= 2 {
		hint = fmt.Sprintf("did you mean %q?", near)
	}
	return fmt.Sprintf("%q is exposed by no program the stack scrapes, recorded by no rule and not declared in prometheus.metrics: the selector returns nothing", name), hint, true
}

// known reports whether name is declared by the repo, or under a prefix
// where a program makes names of what it reads; not whether a program
// exposes it.
func (mc *metricCheck) known(name string) bool {
	for _, re := range mc.declared {
		if re.MatchString(name) {
			return true
		}
	}
	for _, s := range mc.cat.Sources {
		for _, p := range s.Dynamic {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
	}
	return false
}

// fallback reports whether vs is one side of an `or` (an ancestor in
// path) whose other side selects a metric that some program exposes.
func (mc *metricCheck) fallback(vs *parser.VectorSelector, path []parser.Node) bool {
	for i, n := range path {
		be, ok := n.(*parser.BinaryExpr)
		if !ok || be.Op != parser.LOR {
			continue
		}
		var mine parser.Node = vs
		if i+1 < len(path) {
			mine = path[i+1]
		}
		other := be.RHS
		if mine == parser.Node(be.RHS) {
			other = be.LHS
		}
		found := false
		parser.Inspect(other, func(n parser.Node, _ []parser.Node) error {
			if o, ok := n.(*parser.VectorSelector); ok && (len(mc.cat.Produces(o.Name)) > 0 || mc.known(o.Name)) {
				found = true
			}
			return nil
		})
		if found {
			return true
		}
	}
	return false
}

// suggest is the hint for a name src does not expose.
func suggest(name string, src *catalog.Source) string {
	if near := spell.Closest(name, src.SeriesNames()); near != "" && spell.Distance(name, near) <= max(2, len(name)/5) {
		return fmt.Sprintf("did you mean %q?", near)
	}
	return "check the name against what " + src.String() + " exposes (`curl` its /metrics), or mark a series from elsewhere with `# obsctl:disable` and the check's name"
}

// equalJob returns the value of a job="..." matcher, or "".
func equalJob(ms []*labels.Matcher) string {
	for _, m := range ms {
		if m.Name == "job" && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// pinned returns the scraped source of a program the stack installs among
// srcs, or nil.
func pinned(srcs []*catalog.Source) *catalog.Source {
	for _, s := range srcs {
		if s.Scraped && !s.Unpinned {
			return s
		}
	}
	return nil
}

func anyHas(srcs []*catalog.Source, name string) bool {
	for _, s := range srcs {
		if s.Has(name) {
			return true
		}
		for _, p := range s.Dynamic {
			if strings.HasPrefix(name, p) {
				return true
			}
		}
	}
	return false
}

// unknownUse is a selector of a rule's expression that rules/unknown-metric
// reports unless a recording rule records the name.
type unknownUse struct {
	Use
	msg, hint string
}

// grafanaExpr returns a dashboard query with Grafana's variables replaced
// by text of the same length that PromQL parses ($__rate_interval in a
// range becomes 5m and spaces, a label name in by (...) a, after an
// operand the operator and, $n elsewhere 1 and spaces), so that
// positions in it are positions in the query. Variables inside quoted
// strings are label values and stay. ok is false when a variable is part
// of a name (http_${code}_total): what the query selects is not known.
func grafanaExpr(q string) (string, bool) {
	b := []byte(q)
	var quote byte
	labels := 0 // label names filled in so far: each gets its own
	for i := 0; i < len(b); i++ {
		c := b[i]
		if quote != 0 {
			switch c {
			case '\\':
				i++
			case quote:
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'', '`':
			quote = c
			continue
		case '#':
			// A comment, to the end of the line: "we're" in it opens no
			// string, and what precedes a variable is read without it.
			for i < len(b) && b[i] != '\n' {
				b[i] = ' '
				i++
			}
			continue
		case '$', '[':
		default:
			continue
		}
		n := grafanaVarLen(q[i:])
		if n == 0 {
			continue
		}
		if (i > 0 && isMetricNameByte(b[i-1])) || (i+n < len(b) && isMetricNameByte(b[i+n])) {
			return "", false
		}
		fill := "1"
		prev := strings.TrimRight(string(b[:i]), " \t\n")
		if strings.HasSuffix(prev, "[") || strings.HasSuffix(prev, ":") || strings.HasSuffix(prev, "offset") || strings.HasSuffix(prev, "@") {
			fill = "5m"
		} else if labelListRE.MatchString(prev) {
			// A label name (sum by ($group)), another for each:
			// on ($a) group_left ($b) must not name one label twice.
			fill = string(rune('a' + labels%26))
			labels++
		} else if prev != "" && (strings.ContainsRune(")}]", rune(prev[len(prev)-1])) || isMetricNameByte(prev[len(prev)-1])) && !endsWithKeyword(prev) {
			// After an operand, where a binary operator goes: a
			// variable chooses one (x $op on (a) y).
			fill = "and"
		}
		if n < len(fill) {
			return "", false
		}
		copy(b[i:], fill+strings.Repeat(" ", n-len(fill)))
		i += n - 1
	}
	return string(b), true
}

// endsWithKeyword reports whether s ends with a PromQL keyword that an
// operand follows (x unless $y, x > bool $t).
func endsWithKeyword(s string) bool {
	i := len(s)
	for i > 0 && isMetricNameByte(s[i-1]) {
		i--
	}
	switch strings.ToLower(s[i:]) {
	case "and", "or", "unless", "bool", "atan2":
		return true
	}
	return false
}

// labelListRE matches text that a label name follows: an open list of
// by, without, on, ignoring, group_left or group_right.
var labelListRE = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\(([\w\s,$.{}:]*,)?\s*$`)

// grafanaVarLen returns the length of the Grafana variable s starts with
// ($name, ${name...}, [[name]]), or 0.
func grafanaVarLen(s string) int {
	switch {
	case strings.HasPrefix(s, "${"):
		if end := strings.IndexByte(s, '}'); end > 2 {
			return end + 1
		}
	case strings.HasPrefix(s, "[["):
		if end := strings.Index(s, "]]"); end > 2 && isWord(s[2:end]) {
			return end + 2
		}
	case strings.HasPrefix(s, "$"):
		n := 1
		for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9') {
			n++
		}
		if n > 1 {
			return n
		}
	}
	return 0
}

func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// dashboardExpr is a query string of a dashboard: a target's expr.
type dashboardExpr struct {
	text string
	// offsets maps each byte of text to its offset in the file (the JSON
	// string's escapes make them differ), with one more entry for the end.
	offsets []int
	// prometheus is set unless the target's or its panel's datasource is
	// known to be something else (Loki's queries are also exprs).
	prometheus bool
	// ds is the datasource the query goes to, in its scan's refs; -1 for
	// the dashboard's default.
	ds int
}

func (e *dashboardExpr) at(i int) int {
	if i >= len(e.offsets) {
		i = len(e.offsets) - 1
	}
	return e.offsets[i]
}

// jsonStringOffsets decodes a JSON string literal (raw, quotes included,
// at offset start of the file) and maps each decoded byte to the offset of
// what it was decoded from: itself, or the escape that made it.
func jsonStringOffsets(raw []byte, start int) (string, []int, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", nil, false
	}
	out := make([]byte, 0, len(raw))
	offs := make([]int, 0, len(raw))
	end := len(raw) - 1
	for i := 1; i < end; {
		if raw[i] != '\\' {
			out = append(out, raw[i])
			offs = append(offs, start+i)
			i++
			continue
		}
		n := 2
		if i+1 < end && raw[i+1] == 'u' {
			n = 6
			if i+12 <= end && raw[i+6] == '\\' && raw[i+7] == 'u' {
				if r, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 32); err == nil && r >= 0xD800 && r < 0xDC00 {
					n = 12 // a surrogate pair is one character
				}
			}
		}
		n = min(n, end-i)
		var piece string
		if err := json.Unmarshal(append(append([]byte{'"'}, raw[i:i+n]...), '"'), &piece); err != nil {
			return "", nil, false
		}
		for range len(piece) {
			offs = append(offs, start+i)
		}
		out = append(out, piece...)
		i += n
	}
	offs = append(offs, start+end)
	return string(out), offs, true
}
