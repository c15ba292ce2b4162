package ruletest

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

// CheckSchema names the findings about a test file that cannot be read as
// a rule unit test.
const CheckSchema = "test/schema"

// File is one parsed rule unit test file.
type File struct {
	Source *source.File
	// RuleFiles are the rule files (or globs) as written, relative to the
	// test file.
	RuleFiles []Str
	// EvaluationInterval is how often the rules are evaluated; one minute
	// when the file does not say.
	EvaluationInterval time.Duration
	// GroupEvalOrder names rule groups that are evaluated first, in order.
	GroupEvalOrder []Str
	// FuzzyCompare lets floats differ by one unit in the last place.
	FuzzyCompare bool
	Tests        []*Group
}

// Str is a string as written, with where.
type Str struct {
	Value string
	Span  diag.Span
}

// Group is one entry of tests: input series and what to expect of them.
type Group struct {
	// Name is the test group's name; "unnamed#N" (N counting from 0) when
	// the file gives none, as promtool names it.
	Name           string
	Span           diag.Span
	Interval       time.Duration
	InputSeries    []Series
	AlertTests     []*AlertTest
	ExprTests      []*ExprTest
	ExternalLabels map[string]string
	ExternalURL    string
	// Start is the time of the first sample and evaluation; the Unix
	// epoch when the file does not say.
	Start time.Time
}

// Series is one input series: its selector and its values in the
// expanding notation (`1+2x3 _ stale`).
type Series struct {
	Series, Values string
	Span           diag.Span
}

// AlertTest expects the firing alerts of one alert name at one time.
type AlertTest struct {
	EvalTime  time.Duration
	Alertname string
	ExpAlerts []ExpAlert
	Span      diag.Span
}

// ExpAlert is one expected firing alert. Labels do not hold alertname:
// the runner adds it.
type ExpAlert struct {
	Labels, Annotations map[string]string
}

// ExprTest expects the result of a PromQL expression at one time.
type ExprTest struct {
	Expr       string
	EvalTime   time.Duration
	ExpSamples []ExpSample
	Span       diag.Span
}

// ExpSample is one expected sample: its labels in PromQL notation
// (`up{job="x"}`) and a float value, or a native histogram in the series
// notation when Histogram is set.
type ExpSample struct {
	Labels    string
	Value     float64
	Histogram string
	Span      diag.Span

	lset labels.Labels
	hist *histogram.FloatHistogram
}

// maxEvalTime is the latest eval_time of the group's checks.
func (g *Group) maxEvalTime() time.Duration {
	var m time.Duration
	for _, a := range g.AlertTests {
		m = max(m, a.EvalTime)
	}
	for _, e := range g.ExprTests {
		m = max(m, e.EvalTime)
	}
	return m
}

// Parse reads a rule unit test file. Every problem is a finding at its
// position; a file with findings of severity error cannot be run.
func Parse(sf *source.File) (*File, []diag.Finding) {
	p := &fileParser{f: &File{Source: sf, EvaluationInterval: time.Minute}, Walker: Walker{Src: sf}}
	docs, fd := sf.ParseYAML("yaml/syntax")
	if fd != nil {
		return p.f, []diag.Finding{*fd}
	}
	switch {
	case len(docs) == 0 || len(docs[0].Content) == 0:
		p.Errorf(sf.Whole(), "the file is empty: a rule unit test has rule_files and tests")
		return p.f, p.Findings
	case len(docs) > 1:
		p.Errorf(sf.Span(docs[1]), "a rule unit test is one YAML document")
	}
	p.top(docs[0].Content[0])
	return p.f, p.Findings
}

type fileParser struct {
	Walker
	f *File
}

// mapping calls fn for each key of the mapping n, refusing keys that are
// not known (as promtool's strict decoding does) and keys written twice.
func (p *fileParser) mapping(n *yaml.Node, what string, known []string, fn func(key string, v *yaml.Node)) {
	n = Deref(n)
	if n.Kind != yaml.MappingNode {
		if n.Tag == "!!null" {
			return
		}
		p.Errorf(p.Span(n), "%s must be a mapping", what)
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(known, k.Value) {
			p.Errorf(p.Span(k), "unknown field %q in %s (known: %s)", k.Value, what, strings.Join(known, ", "))
			continue
		}
		if seen[k.Value] {
			p.Errorf(p.Span(k), "%s has %s twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		fn(k.Value, Deref(v))
	}
}

func (p *fileParser) duration(n *yaml.Node, what string) time.Duration {
	s := p.Str(n, what)
	if s == "" {
		return 0
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		p.Errorf(p.Span(n), "%s: %q is not a duration (such as 30s, 5m or 1h30m)", what, s)
		return 0
	}
	return time.Duration(d)
}

func (p *fileParser) labelMap(n *yaml.Node, what string) map[string]string {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.Errorf(p.Span(n), "%s must be a mapping of names to values", what)
		return nil
	}
	m := map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], Deref(n.Content[i+1])
		if _, dup := m[k.Value]; dup {
			p.Errorf(p.Span(k), "%s has %s twice", what, k.Value)
		}
		m[k.Value] = p.Str(v, what+"."+k.Value)
	}
	return m
}

func (p *fileParser) top(n *yaml.Node) {
	known := []string{"rule_files", "evaluation_interval", "group_eval_order", "tests", "fuzzy_compare"}
	p.mapping(n, "a rule unit test file", known, func(key string, v *yaml.Node) {
		switch key {
		case "rule_files":
			p.Seq(v, "rule_files", func(_ int, item *yaml.Node) {
				p.f.RuleFiles = append(p.f.RuleFiles, Str{p.Str(item, "a rule file"), p.Span(item)})
			})
		case "evaluation_interval":
			if d := p.duration(v, key); d > 0 {
				p.f.EvaluationInterval = d
			}
		case "group_eval_order":
			seen := map[string]bool{}
			p.Seq(v, key, func(_ int, item *yaml.Node) {
				s := Str{p.Str(item, "a group name"), p.Span(item)}
				if seen[s.Value] {
					p.Errorf(s.Span, "group name repeated in group_eval_order: %s", s.Value)
				}
				seen[s.Value] = true
				p.f.GroupEvalOrder = append(p.f.GroupEvalOrder, s)
			})
		case "fuzzy_compare":
			if v.Kind != yaml.ScalarNode || (v.Value != "true" && v.Value != "false") {
				p.Errorf(p.Span(v), "fuzzy_compare must be true or false")
			}
			p.f.FuzzyCompare = v.Value == "true"
		case "tests":
			p.Seq(v, key, func(i int, item *yaml.Node) { p.group(i, item) })
		}
	})
}

func (p *fileParser) group(i int, n *yaml.Node) {
	g := &Group{Name: fmt.Sprintf("unnamed#%d", i), Span: p.Span(n), Start: time.Unix(0, 0).UTC()}
	known := []string{"name", "interval", "input_series", "alert_rule_test", "promql_expr_test", "external_labels", "external_url", "start_timestamp"}
	p.mapping(n, "a test group", known, func(key string, v *yaml.Node) {
		switch key {
		case "name":
			if s := p.Str(v, key); s != "" {
				g.Name = s
			}
		case "interval":
			g.Interval = p.duration(v, key)
		case "external_labels":
			g.ExternalLabels = p.labelMap(v, key)
		case "external_url":
			g.ExternalURL = p.Str(v, key)
		case "start_timestamp":
			s := p.Str(v, key)
			t, err := parseTime(s)
			if err != nil {
				p.Errorf(p.Span(v), "start_timestamp: %q is neither Unix seconds nor an RFC 3339 time", s)
			} else {
				g.Start = t
			}
		case "input_series":
			p.Seq(v, key, func(_ int, item *yaml.Node) {
				s := Series{Span: p.Span(item)}
				p.mapping(item, "an input series", []string{"series", "values"}, func(key string, v *yaml.Node) {
					if key == "series" {
						s.Series = p.Str(v, key)
					} else {
						s.Values = p.Str(v, key)
					}
				})
				g.InputSeries = append(g.InputSeries, s)
			})
		case "alert_rule_test":
			p.Seq(v, key, func(_ int, item *yaml.Node) { g.AlertTests = append(g.AlertTests, p.alertTest(item)) })
		case "promql_expr_test":
			p.Seq(v, key, func(_ int, item *yaml.Node) { g.ExprTests = append(g.ExprTests, p.exprTest(item)) })
		}
	})
	p.f.Tests = append(p.f.Tests, g)
}

func (p *fileParser) alertTest(n *yaml.Node) *AlertTest {
	a := &AlertTest{Span: p.Span(n)}
	p.mapping(n, "an alert_rule_test", []string{"eval_time", "alertname", "exp_alerts"}, func(key string, v *yaml.Node) {
		switch key {
		case "eval_time":
			a.EvalTime = p.duration(v, key)
		case "alertname":
			a.Alertname = p.Str(v, key)
		case "exp_alerts":
			p.Seq(v, key, func(_ int, item *yaml.Node) {
				var e ExpAlert
				p.mapping(item, "an expected alert", []string{"exp_labels", "exp_annotations"}, func(key string, v *yaml.Node) {
					if key == "exp_labels" {
						e.Labels = p.labelMap(v, key)
					} else {
						e.Annotations = p.labelMap(v, key)
					}
				})
				a.ExpAlerts = append(a.ExpAlerts, e)
			})
		}
	})
	if a.Alertname == "" {
		p.Errorf(a.Span, "an alert_rule_test needs alertname")
	}
	return a
}

func (p *fileParser) exprTest(n *yaml.Node) *ExprTest {
	e := &ExprTest{Span: p.Span(n)}
	p.mapping(n, "a promql_expr_test", []string{"expr", "eval_time", "exp_samples"}, func(key string, v *yaml.Node) {
		switch key {
		case "expr":
			e.Expr = p.Str(v, key)
		case "eval_time":
			e.EvalTime = p.duration(v, key)
		case "exp_samples":
			p.Seq(v, key, func(_ int, item *yaml.Node) {
				s := ExpSample{Span: p.Span(item)}
				p.mapping(item, "an expected sample", []string{"labels", "value", "histogram"}, func(key string, v *yaml.Node) {
					switch key {
					case "labels":
						s.Labels = p.Str(v, key)
					case "histogram":
						s.Histogram = p.Str(v, key)
					case "value":
						s.Value = p.float(v, key)
					}
				})
				e.ExpSamples = append(e.ExpSamples, s)
			})
		}
	})
	if e.Expr == "" {
		p.Errorf(e.Span, "a promql_expr_test needs expr")
	}
	return e
}

func (p *fileParser) float(n *yaml.Node, what string) float64 {
	s := p.Str(n, what)
	switch strings.ToLower(s) {
	case ".inf", "+.inf", "inf", "+inf":
		return math.Inf(1)
	case "-.inf", "-inf":
		return math.Inf(-1)
	case ".nan", "nan":
		return math.NaN()
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		p.Errorf(p.Span(n), "%s: %q is not a number", what, s)
	}
	return f
}

// parseTime reads Unix seconds (with a fraction) or an RFC 3339 time.
func parseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*float64(time.Second))).UTC(), nil
	}
	return time.Parse(time.RFC3339Nano, s)
}
