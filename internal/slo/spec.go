package slo

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/catalog"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
	"github.com/obsctl/obsctl/internal/spell"
)

// Dir is the repo folder of the SLO specs.
const Dir = "slos"

// The spec's apiVersion and kind.
const (
	APIVersion = "obsctl/v1"
	Kind       = "SLO"
)

// The names of the findings Load reports; lint registers them so that
// they can be explained and disabled (slos/schema excepted).
const (
	CheckSyntax    = "yaml/syntax"
	CheckSchema    = "slos/schema"
	CheckObjective = "slos/objective"
	CheckBurnRate  = "slos/burn-rate"
	CheckWindow    = "slos/window"
	CheckPromQL    = "slos/promql"
	CheckBucket    = "slos/latency-bucket"
	CheckName      = "slos/name-collision"
)

// DefaultWindow is the compliance window of an SLO that names none: the
// one the burn-rate windows and factors were worked out for.
const DefaultWindow = 30 * 24 * time.Hour

// SLO is one loaded spec.
type SLO struct {
	File *source.File
	// Ordinal numbers the SLO's panels in the SLOs' dashboard (Dashboard),
	// which its alerts link to: the repo's own SLOs count from 0, the
	// default content's (by name) from DefaultOrdinal, so that their ids
	// do not depend on what else the repo has.
	Ordinal int
	// Name names the SLO: its rule group (slo-NAME), the slo label of its
	// series and alerts, and its alert (UpperCamelCase of it, unless
	// alerting.name says otherwise).
	Name        string
	Service     string
	Description string
	// Objective is the share of good events, in percent (99.9); Budget
	// is 1 - Objective/100, as exact decimal text (0.001).
	Objective float64
	Budget    string
	// Window is the compliance window (30d when the spec names none).
	Window time.Duration
	SLI    SLI
	// Labels are added to every series and alert of the SLO.
	Labels   []KV
	Alerting Alerting

	// Spans of what was written, for findings; zero when not written.
	Span, NameSpan, ServiceSpan, ObjectiveSpan, WindowSpan, SLISpan diag.Span
	nameLoc, serviceLoc                                             source.Scalar
}

// SLI says which events are good.
type SLI struct {
	// Ratio or Latency is set.
	Ratio   *Ratio
	Latency *Latency
}

// Ratio is an SLI of two counters' selectors: good (or bad) events and
// all events.
type Ratio struct {
	// Exactly one of Good and Bad is set.
	Good, Bad *Selector
	Total     *Selector
}

// Latency is an SLI of a classic histogram: an event is good when it took
// at most Threshold, a bucket boundary of the histogram.
type Latency struct {
	// Histogram selects the histogram's _bucket series.
	Histogram *Selector
	// Threshold is the bucket boundary (le), in the histogram's unit.
	Threshold     float64
	ThresholdSpan diag.Span
}

// Selector is a series selector of the spec.
type Selector struct {
	Text string
	Span diag.Span
	// VS is the parsed selector; nil when it does not parse.
	VS *parser.VectorSelector
}

// Alerting says how the SLO's alerts page.
type Alerting struct {
	// Name is the alert's name.
	Name           string
	PageSeverity   string
	TicketSeverity string
	// Annotations are added to the alerts' summary and description,
	// runbook_url (alerting.runbookURL) among them.
	Annotations []KV

	NameSpan, PageSpan, TicketSpan diag.Span
	pageLoc, ticketLoc, nameLoc    source.Scalar
}

// KV is a label or annotation as written.
type KV struct {
	Key, Value string
	Span       diag.Span
	loc        source.Scalar
}

// Group returns the name of the SLO's rule group.
func (s *SLO) Group() string { return "slo-" + s.Name }

// Load reads one spec file. It returns nil when the file holds no spec
// it could start reading (a YAML syntax error, an empty file, a root that
// is not a mapping); else the SLO with a finding for each problem, which
// Compile must not be given when one of them is an error.
func Load(f *source.File) (*SLO, []diag.Finding) {
	docs, fd := f.ParseYAML(CheckSyntax)
	if fd != nil {
		return nil, []diag.Finding{*fd}
	}
	d := &decoder{f: f}
	var roots []*yaml.Node
	for _, doc := range docs {
		root := doc
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue
		}
		roots = append(roots, root)
	}
	switch {
	case len(roots) == 0:
		d.report(CheckSchema, f.Whole(), "start with: apiVersion: "+APIVersion+", kind: "+Kind, "SLO file is empty")
		return nil, d.out
	case len(roots) > 1:
		d.errorf(roots[1], "write one SLO per file", "an SLO file holds one SLO, found %d YAML documents", len(roots))
	}
	root := source.Resolve(roots[0])
	if root.Kind != yaml.MappingNode {
		d.errorf(roots[0], "an SLO file is a mapping that starts with apiVersion: "+APIVersion, "an SLO must be a mapping, not %s", source.KindName(roots[0]))
		return nil, d.out
	}
	s := &SLO{File: f, Window: DefaultWindow, Span: f.Span(root)}
	d.spec(root, s)
	return s, d.out
}

// LoadFiles loads the spec files and checks them as a set: two SLOs of one
// name are one rule group written twice. It returns the SLOs without
// errors, in file order, and every finding.
func LoadFiles(files []*source.File) ([]*SLO, []diag.Finding) {
	var out []*SLO
	var fds []diag.Finding
	byName := map[string]*SLO{}
	for _, f := range files {
		s, sfds := Load(f)
		fds = append(fds, sfds...)
		if s == nil || diag.Max(sfds) >= diag.Error {
			continue
		}
		if prev, ok := byName[s.Name]; ok {
			fds = append(fds, diag.Finding{Check: CheckName, Severity: diag.Error, Span: s.NameSpan,
				Message: fmt.Sprintf("SLO name %q is already used by %s", s.Name, prev.NameSpan),
				Hint:    "SLO names must be unique: they name the rule group, the slo label and the alert"})
			continue
		}
		byName[s.Name] = s
		out = append(out, s)
	}
	return out, fds
}

type decoder struct {
	f   *source.File
	out []diag.Finding
}

func (d *decoder) report(check string, span diag.Span, hint, format string, args ...any) {
	d.out = append(d.out, diag.Finding{Check: check, Severity: diag.Error, Span: span, Message: fmt.Sprintf(format, args...), Hint: hint})
}

func (d *decoder) errorf(n *yaml.Node, hint, format string, args ...any) {
	d.report(CheckSchema, d.f.Span(n), hint, format, args...)
}

// fields calls fn for each known key of mapping n, reporting unknown and
// repeated keys, and then each required key that is missing.
func (d *decoder) fields(n *yaml.Node, what string, known, required []string, fn func(key string, k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "", "%s must be a mapping, not %s", what, source.KindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := source.Resolve(n.Content[i]), source.Resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "", "%s: keys must be strings", what)
			continue
		}
		if !slices.Contains(known, k.Value) {
			hint := ""
			if s := spell.Closest(k.Value, known); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			d.errorf(k, hint, "unknown key %q in %s", k.Value, what)
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "remove one of the two", "%s: key %q is written twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		fn(k.Value, k, v)
	}
	for _, r := range required {
		if !seen[r] {
			d.errorf(n, "", "%s: missing key %q", what, r)
		}
	}
}

// str returns the string value of scalar n, reporting anything else.
func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, "", "%s must be a string, not %s", what, source.KindName(n))
		return "", false
	}
	return n.Value, true
}

var (
	nameRE      = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	alertNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	// reservedLabels are the labels the compiled rules set themselves.
	reservedLabels = []string{"slo", "service", "severity", "alertname"}
)

var (
	specKeys     = []string{"apiVersion", "kind", "name", "service", "description", "objective", "window", "sli", "labels", "alerting"}
	specRequired = []string{"apiVersion", "kind", "name", "service", "objective", "sli"}
	alertingKeys = []string{"name", "pageSeverity", "ticketSeverity", "runbookURL", "annotations"}
)

func (d *decoder) spec(root *yaml.Node, s *SLO) {
	d.fields(root, "SLO", specKeys, specRequired, func(key string, k, v *yaml.Node) {
		switch key {
		case "apiVersion":
			if x, ok := d.str(v, "apiVersion"); ok && x != APIVersion {
				d.errorf(v, "write apiVersion: "+APIVersion, "unsupported apiVersion %q", x)
			}
		case "kind":
			if x, ok := d.str(v, "kind"); ok && x != Kind {
				d.errorf(v, "write kind: "+Kind, "unsupported kind %q in an SLO file", x)
			}
		case "name":
			s.NameSpan, s.nameLoc = d.f.Span(v), source.ScalarOf(v)
			if x, ok := d.str(v, "name"); ok {
				if len(x) > 63 || !nameRE.MatchString(x) {
					d.errorf(v, "use lower-case letters, digits and dashes, as a Kubernetes name", "SLO name %q is not a DNS label", x)
				} else {
					s.Name = x
				}
			}
		case "service":
			s.ServiceSpan, s.serviceLoc = d.f.Span(v), source.ScalarOf(v)
			if x, ok := d.str(v, "service"); ok {
				if x == "" {
					d.errorf(v, "name the service the SLO is about", "service is empty")
				}
				s.Service = x
			}
		case "description":
			s.Description, _ = d.str(v, "description")
		case "objective":
			s.ObjectiveSpan = d.f.Span(v)
			d.objective(v, s)
		case "window":
			s.WindowSpan = d.f.Span(v)
			d.window(v, s)
		case "sli":
			s.SLISpan = d.f.Span(k)
			d.sli(v, s)
		case "labels":
			s.Labels = d.kvs(v, "label")
			for _, kv := range s.Labels {
				switch {
				case !model.LabelName(kv.Key).IsValidLegacy():
					d.report(CheckSchema, kv.Span, "use letters, digits and _, not starting with a digit", "label name %q is not valid", kv.Key)
				case slices.Contains(reservedLabels, kv.Key):
					d.report(CheckSchema, kv.Span, "obsctl sets it: drop it", "label %q is set by obsctl on every rule of an SLO", kv.Key)
				}
			}
		case "alerting":
			d.alerting(v, s)
		}
	})
	if s.Alerting.Name == "" && s.Name != "" {
		s.Alerting.Name = upperCamel(s.Name) + "BudgetBurn"
	}
}

// objective reads the objective, a percentage in (0, 100), and works out
// the error budget exactly from the decimal text.
func (d *decoder) objective(v *yaml.Node, s *SLO) {
	r, ok := new(big.Rat).SetString(v.Value)
	if v.Kind != yaml.ScalarNode || !ok || strings.ContainsAny(v.Value, "/eE") {
		d.report(CheckObjective, d.f.Span(v), "write a percentage such as 99.9", "objective must be a number, not %s", source.KindName(v))
		return
	}
	hundred := big.NewRat(100, 1)
	if r.Sign() <= 0 || r.Cmp(hundred) >= 0 {
		d.report(CheckObjective, d.f.Span(v), "an objective is a percentage of good events above 0 and below 100 (100 leaves no error budget to alert on)",
			"objective %s is not between 0 and 100", v.Value)
		return
	}
	s.Objective, _ = r.Float64()
	budget := new(big.Rat).Quo(new(big.Rat).Sub(hundred, r), hundred)
	s.Budget = ratText(budget)
	// A burn rate whose threshold is an error ratio of 1 or more never
	// holds: that window pair of the alert can never fire.
	var dead []string
	for _, b := range workbook {
		threshold, _ := new(big.Rat).Mul(budget, new(big.Rat).SetFloat64(b.Factor)).Float64()
		if threshold >= 1 {
			dead = append(dead, fmt.Sprintf("the %s alert's %sx over %s and %s (an error ratio of %.3g)", b.Severity, formatFactor(b.Factor), humanDuration(b.Long), humanDuration(b.Short), threshold))
		}
	}
	if len(dead) > 0 {
		d.out = append(d.out, diag.Finding{Check: CheckBurnRate, Severity: diag.Warning, Span: d.f.Span(v),
			Message: fmt.Sprintf("objective %s leaves so large an error budget that %s can never fire: more than every event would have to fail", v.Value, strings.Join(dead, " and ")),
			Hint:    "an objective above 93.06% keeps every window pair able to fire; below it, alert on this SLI with rules of the repo's own"})
	}
}

// ratText writes r, a terminating decimal, without trailing zeros.
func ratText(r *big.Rat) string {
	t := strings.TrimRight(r.FloatString(20), "0")
	return strings.TrimSuffix(t, ".")
}

func (d *decoder) window(v *yaml.Node, s *SLO) {
	w, err := model.ParseDuration(v.Value)
	if v.Kind != yaml.ScalarNode || err != nil {
		d.report(CheckWindow, d.f.Span(v), "write a duration such as 30d or 28d", "window must be a duration, not %s", source.KindName(v))
		return
	}
	if time.Duration(w) < 24*time.Hour {
		d.report(CheckWindow, d.f.Span(v), "SLOs are kept over days or weeks; 30d or 28d is usual",
			"window %s is shorter than a day: its burn-rate windows would be shorter than a minute", v.Value)
		return
	}
	s.Window = time.Duration(w)
}

func (d *decoder) sli(v *yaml.Node, s *SLO) {
	n := 0
	d.fields(v, "sli", []string{"ratio", "latency"}, nil, func(key string, k, v *yaml.Node) {
		n++
		switch key {
		case "ratio":
			r := &Ratio{}
			s.SLI.Ratio = r
			d.fields(v, "sli.ratio", []string{"good", "bad", "total"}, []string{"total"}, func(key string, k, v *yaml.Node) {
				sel := d.selector(v, "sli.ratio."+key)
				switch key {
				case "good":
					r.Good = sel
				case "bad":
					r.Bad = sel
				case "total":
					r.Total = sel
				}
			})
			if (r.Good == nil) == (r.Bad == nil) && v.Kind == yaml.MappingNode {
				d.errorf(v, "give the good events or the bad ones, and the total", "sli.ratio needs exactly one of good and bad")
			}
		case "latency":
			l := &Latency{}
			s.SLI.Latency = l
			d.fields(v, "sli.latency", []string{"histogram", "threshold"}, []string{"histogram", "threshold"}, func(key string, k, v *yaml.Node) {
				switch key {
				case "histogram":
					l.Histogram = d.selector(v, "sli.latency.histogram")
					if vs := l.Histogram.VS; vs != nil {
						if !strings.HasSuffix(vs.Name, "_bucket") {
							d.report(CheckPromQL, l.Histogram.Span, "select the histogram's buckets, such as http_request_duration_seconds_bucket{job=\"api\"}",
								"sli.latency.histogram must select a classic histogram's _bucket series, not %s", vs.Name)
							l.Histogram.VS = nil
						}
						for _, m := range vs.LabelMatchers {
							if m.Name == "le" {
								d.report(CheckPromQL, l.Histogram.Span, "drop the le matcher: threshold chooses the bucket", "sli.latency.histogram must not match le")
								l.Histogram.VS = nil
							}
						}
					}
				case "threshold":
					l.ThresholdSpan = d.f.Span(v)
					l.Threshold = d.threshold(v)
				}
			})
			d.bucket(l)
		}
	})
	if n != 1 && v.Kind == yaml.MappingNode {
		d.errorf(v, "an SLI is a ratio of two counters or a latency threshold on a histogram", "sli needs exactly one of ratio and latency")
	}
}

// threshold reads a latency threshold: a duration (0.5s, 300ms), taken
// in seconds, or a number, taken as it is (a histogram of another unit).
func (d *decoder) threshold(v *yaml.Node) float64 {
	if v.Kind == yaml.ScalarNode {
		if f, err := strconv.ParseFloat(v.Value, 64); err == nil && f > 0 && !math.IsInf(f, 0) {
			return f
		}
		if t, err := time.ParseDuration(v.Value); err == nil && t > 0 {
			return t.Seconds()
		}
		if t, err := model.ParseDuration(v.Value); err == nil && t > 0 {
			return time.Duration(t).Seconds()
		}
	}
	d.errorf(v, "write a duration such as 500ms or 1s, a bucket boundary of the histogram", "threshold must be a positive duration, not %s", source.KindName(v))
	return 0
}

// bucket reports a threshold that is not one of the histogram's bucket
// boundaries, when the metric catalog knows them: no series counts the
// events under it, so every event would be counted bad.
func (d *decoder) bucket(l *Latency) {
	if l.Histogram == nil || l.Histogram.VS == nil || l.Threshold == 0 {
		return
	}
	family := strings.TrimSuffix(l.Histogram.VS.Name, "_bucket")
	bs, ok := catalog.Buckets(family)
	if !ok || slices.Contains(bs, l.Threshold) {
		return
	}
	var texts []string
	for _, b := range bs {
		texts = append(texts, formatLe(b))
	}
	d.report(CheckBucket, l.ThresholdSpan, "choose one of its boundaries: "+strings.Join(texts, ", "),
		"threshold %s is not a bucket boundary of %s: no series counts the events under it", formatLe(l.Threshold), family)
}

// selector parses a series selector of the SLI.
func (d *decoder) selector(v *yaml.Node, what string) *Selector {
	sel := &Selector{Span: d.f.Span(v)}
	text, ok := d.str(v, what)
	if !ok {
		return sel
	}
	sel.Text = strings.TrimSpace(text)
	expr, err := promql.ParseExpr(sel.Text)
	if err != nil {
		d.report(CheckPromQL, sel.Span, "write a series selector such as http_requests_total{job=\"api\"}", "%s does not parse: %v", what, err)
		return sel
	}
	vs, ok := expr.(*parser.VectorSelector)
	if !ok || vs.Name == "" || vs.OriginalOffset != 0 || vs.Timestamp != nil || vs.StartOrEnd != 0 {
		d.report(CheckPromQL, sel.Span, "write the series selector alone, such as http_requests_total{job=\"api\", code=~\"5..\"}: obsctl takes its rate over each window",
			"%s must be a series selector of a named metric, not %s", what, describe(expr))
		return sel
	}
	vs.LabelMatchers = slices.DeleteFunc(vs.LabelMatchers, func(m *labels.Matcher) bool { return m.Name == labels.MetricName })
	sel.VS = vs
	return sel
}

func describe(e parser.Expr) string {
	switch e := e.(type) {
	case *parser.VectorSelector:
		if e.Name == "" {
			return "a selector with no metric name"
		}
		return "a selector with an offset or @"
	case *parser.MatrixSelector:
		return "a range selector"
	case *parser.Call:
		return "a call of " + e.Func.Name + "()"
	case *parser.AggregateExpr:
		return "an aggregation"
	case *parser.BinaryExpr:
		return "a binary expression"
	}
	return "an expression"
}

func (d *decoder) kvs(n *yaml.Node, what string) []KV {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "", "%ss must be a mapping, not %s", what, source.KindName(n))
		return nil
	}
	var out []KV
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := source.Resolve(n.Content[i]), source.Resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "", "%s: keys must be strings", what)
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "remove one of the two", "%s %q is written twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		if v.Kind != yaml.ScalarNode {
			d.errorf(v, "quote the value if it is meant as text", "%s %q must be a string, not %s", what, k.Value, source.KindName(v))
			continue
		}
		out = append(out, KV{Key: k.Value, Value: v.Value, Span: d.f.Span(k), loc: source.ScalarOf(v)})
	}
	return out
}

func (d *decoder) alerting(v *yaml.Node, s *SLO) {
	a := &s.Alerting
	d.fields(v, "alerting", alertingKeys, nil, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			a.NameSpan, a.nameLoc = d.f.Span(v), source.ScalarOf(v)
			if x, ok := d.str(v, "alerting.name"); ok {
				if !alertNameRE.MatchString(x) {
					d.errorf(v, "use letters, digits and _, such as CheckoutAvailabilityBudgetBurn", "alert name %q is not valid", x)
				} else {
					a.Name = x
				}
			}
		case "pageSeverity":
			a.PageSpan, a.pageLoc = d.f.Span(v), source.ScalarOf(v)
			a.PageSeverity, _ = d.str(v, "pageSeverity")
		case "ticketSeverity":
			a.TicketSpan, a.ticketLoc = d.f.Span(v), source.ScalarOf(v)
			a.TicketSeverity, _ = d.str(v, "ticketSeverity")
		case "runbookURL":
			if x, ok := d.str(v, "runbookURL"); ok {
				a.Annotations = append(a.Annotations, KV{Key: "runbook_url", Value: x, Span: d.f.Span(k), loc: source.ScalarOf(v)})
			}
		case "annotations":
			for _, kv := range d.kvs(v, "annotation") {
				switch {
				case kv.Key == "summary" || kv.Key == "description":
					d.report(CheckSchema, kv.Span, "obsctl writes them from the spec: use description: for what the SLO means", "annotation %q is written by obsctl", kv.Key)
				case kv.Key == "runbook_url" && slices.ContainsFunc(a.Annotations, func(x KV) bool { return x.Key == "runbook_url" }):
					d.report(CheckSchema, kv.Span, "keep one of the two", "runbook_url is given twice: as runbookURL and as an annotation")
				case strings.Contains(kv.Value, "{{"):
					// The generated tests check every annotation of a
					// firing alert as written: a template of the value
					// would make them guess Prometheus' float formatting.
					d.report(CheckSchema, kv.Span, "write the annotation as plain text: the alert's labels say which SLO fires, and its summary its burn rate",
						"annotation %q of an SLO alert must not be a template", kv.Key)
				default:
					a.Annotations = append(a.Annotations, kv)
				}
			}
		}
	})
}

// upperCamel turns api-server-availability into ApiServerAvailability.
func upperCamel(s string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// formatLe writes a bucket boundary as Go's Prometheus client exposes it
// (1, 0.5).
func formatLe(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// promql parses with Prometheus' default options, as lint does.
var promql = parser.NewParser(parser.Options{})
