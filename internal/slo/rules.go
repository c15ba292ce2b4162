package slo

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/source"
)

// Burn is one window pair of a multi-window, multi-burn-rate alert: it
// holds when the error ratio over both Long and Short is above Factor
// times the error budget. Long says the budget is really being spent;
// Short, a twelfth of it, that it still is, so the alert resolves soon
// after the spending stops.
type Burn struct {
	// Severity is "page" or "ticket": which of the SLO's severities.
	Severity    string
	Long, Short time.Duration
	Factor      float64
}

// workbook are the window pairs and factors of the Google SRE workbook
// ("Alerting on SLOs") for a 30-day window: a page when 2% of the budget
// is spent in an hour or 5% in six hours, a ticket when 10% is spent in a
// day or in three days.
var workbook = []Burn{
	{"page", time.Hour, 5 * time.Minute, 14.4},
	{"page", 6 * time.Hour, 30 * time.Minute, 6},
	{"ticket", 24 * time.Hour, 2 * time.Hour, 3},
	{"ticket", 72 * time.Hour, 6 * time.Hour, 1},
}

// Burns returns the SLO's window pairs: the workbook's, scaled to its
// window (each pair still spends the same share of the budget) and
// rounded to the minute.
func (s *SLO) Burns() []Burn {
	out := make([]Burn, len(workbook))
	for i, b := range workbook {
		b.Long, b.Short = s.scale(b.Long), s.scale(b.Short)
		out[i] = b
	}
	return out
}

func (s *SLO) scale(d time.Duration) time.Duration {
	if s.Window == DefaultWindow {
		return d
	}
	scaled := time.Duration(float64(d) * float64(s.Window) / float64(DefaultWindow))
	return max(scaled.Round(time.Minute), time.Minute)
}

// Windows returns every window the SLO's error ratio is recorded over,
// shortest first.
func (s *SLO) Windows() []time.Duration {
	var ws []time.Duration
	for _, b := range s.Burns() {
		ws = append(ws, b.Long, b.Short)
	}
	slices.Sort(ws)
	return slices.Compact(ws)
}

// The names of the series an SLO records; its slo label tells them apart.
const (
	RecordErrors  = "slo:sli_errors:rate5m"
	RecordTotal   = "slo:sli_requests:rate5m"
	RecordBudget  = "slo:error_budget:ratio"
	recordRatioOf = "slo:sli_error:ratio_rate"
)

// RecordRatio names the recorded error ratio over w.
func RecordRatio(w time.Duration) string { return recordRatioOf + model.Duration(w).String() }

// Options are what the repo says of every SLO.
type Options struct {
	// Severities are the severities obsctl.yaml declares, highest first:
	// an SLO that names no page or ticket severity takes its defaults
	// from them (see Severities).
	Severities []string
}

// Severities returns the page and ticket severities of the SLO: those
// its spec names, else from the repo's declared ones, highest first: the
// highest pages; a ticket takes the one before the lowest when there are
// three or more (the lowest is often info, which nobody is asked to act
// on), else the lowest. With none declared, critical and warning.
func (s *SLO) Severities(declared []string) (page, ticket string) {
	switch n := len(declared); {
	case n == 0:
		page, ticket = "critical", "warning"
	case n <= 2:
		page, ticket = declared[0], declared[n-1]
	default:
		page, ticket = declared[0], declared[n-2]
	}
	if s.Alerting.PageSeverity != "" {
		page = s.Alerting.PageSeverity
	}
	if s.Alerting.TicketSeverity != "" {
		ticket = s.Alerting.TicketSeverity
	}
	return page, ticket
}

// PageFor and TicketFor are how long the page and the ticket conditions
// hold before the alerts fire: the short windows already keep a blip
// from alerting, so the wait only rides out an evaluation or two.
const (
	PageFor   = 2 * time.Minute
	TicketFor = 15 * time.Minute
)

// Compile compiles the SLO into its rule group, as a rule file of the
// spec's own path: what lint, test, build and render say of the rules
// points at the spec. s must have loaded without errors.
func Compile(s *SLO, opts Options) *promrule.File {
	f := &promrule.File{File: s.File, Disabled: promrule.FileDisables(s.File.Src)}
	g := &promrule.Group{File: f, Name: s.Group(), NameSpan: s.NameSpan, Span: s.Span}
	f.Groups = []*promrule.Group{g}
	c := &compiler{s: s, f: f, g: g}
	bad, total := s.events()
	sliSpan := s.SLISpan
	if bad != "" {
		c.record(RecordErrors, fmt.Sprintf("sum(rate(%s[5m])) or vector(0)", bad), sliSpan)
	} else {
		c.record(RecordErrors, fmt.Sprintf("sum(rate(%s[5m]))\n-\n(sum(rate(%s[5m])) or vector(0))", total, s.goodSelector()), sliSpan)
	}
	c.record(RecordTotal, fmt.Sprintf("sum(rate(%s[5m]))", total), sliSpan)
	for _, w := range s.Windows() {
		c.record(RecordRatio(w), s.ratioExpr(w), sliSpan)
	}
	sel := fmt.Sprintf(`{slo=%q}`, s.Name)
	c.record(RecordRatio(s.Window), fmt.Sprintf("sum_over_time(%s%s[%s])\n/\nsum_over_time(%s%s[%s])",
		RecordErrors, sel, model.Duration(s.Window), RecordTotal, sel, model.Duration(s.Window)), sliSpan)
	c.record(RecordBudget, "vector("+s.Budget+")", s.ObjectiveSpan)
	page, ticket := s.Severities(opts.Severities)
	c.alert("page", page, s.Alerting.pageLoc, PageFor)
	c.alert("ticket", ticket, s.Alerting.ticketLoc, TicketFor)
	return f
}

// events returns the selectors of the bad events and of all events, as
// PromQL. A good-events selector is turned into the bad ones by
// subtraction in ratioExpr; here bad is then "".
func (s *SLO) events() (bad, total string) {
	switch {
	case s.SLI.Ratio != nil && s.SLI.Ratio.Bad != nil:
		return s.SLI.Ratio.Bad.Text, s.SLI.Ratio.Total.Text
	case s.SLI.Ratio != nil:
		return "", s.SLI.Ratio.Total.Text
	}
	return "", s.countSelector()
}

// goodSelector returns the selector of the good events of a good-ratio
// or latency SLI.
func (s *SLO) goodSelector() string {
	if s.SLI.Ratio != nil {
		return s.SLI.Ratio.Good.Text
	}
	vs := s.SLI.Latency.Histogram.VS
	return selectorText(vs.Name, append(slices.Clone(vs.LabelMatchers), leMatcher(s.SLI.Latency.Threshold)))
}

// countSelector returns the selector of the latency histogram's _count.
func (s *SLO) countSelector() string {
	vs := s.SLI.Latency.Histogram.VS
	return selectorText(strings.TrimSuffix(vs.Name, "_bucket")+"_count", vs.LabelMatchers)
}

// leMatcher matches the bucket of boundary v however it is written:
// Prometheus 3 writes a whole number as 1.0 on ingestion, where a client
// exposes 1 (and Prometheus 2 kept it so).
func leMatcher(v float64) *labels.Matcher {
	short := formatLe(v)
	if v == math.Trunc(v) {
		return labels.MustNewMatcher(labels.MatchRegexp, "le", short+"|"+short+`\.0`)
	}
	return labels.MustNewMatcher(labels.MatchEqual, "le", short)
}

func selectorText(name string, ms []*labels.Matcher) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, m.Name+m.Type.String()+strconv.Quote(m.Value))
	}
	if len(parts) == 0 {
		return name
	}
	return name + "{" + strings.Join(parts, ", ") + "}"
}

// ratioExpr is the share of bad events over w. With no bad events in w,
// the bad side has no series: it counts as none.
func (s *SLO) ratioExpr(w time.Duration) string {
	bad, total := s.events()
	win := model.Duration(w).String()
	if bad != "" {
		return fmt.Sprintf("(sum(rate(%s[%s])) or vector(0))\n/\nsum(rate(%s[%s]))", bad, win, total, win)
	}
	return fmt.Sprintf("1 - (sum(rate(%s[%s])) or vector(0))\n/\nsum(rate(%s[%s]))", s.goodSelector(), win, total, win)
}

type compiler struct {
	s *SLO
	f *promrule.File
	g *promrule.Group
}

// labels are the static labels of every recorded series of the SLO.
func (c *compiler) labels() []promrule.KV {
	s := c.s
	out := []promrule.KV{
		{Key: "slo", Value: s.Name, KeyLoc: s.nameLoc, ValueLoc: s.nameLoc, File: s.File},
		{Key: "service", Value: s.Service, KeyLoc: s.serviceLoc, ValueLoc: s.serviceLoc, File: s.File},
	}
	for _, kv := range s.Labels {
		out = append(out, promrule.KV{Key: kv.Key, Value: kv.Value, KeyLoc: kv.loc, ValueLoc: kv.loc, File: s.File})
	}
	return out
}

func (c *compiler) record(name, expr string, at diag.Span) {
	c.g.Rules = append(c.g.Rules, &promrule.Rule{Group: c.g, Record: name, NameSpan: at, Expr: expr, ExprSpan: at,
		Labels: c.labels(), Span: at, Compiled: true})
}

// alert adds the alert of one severity: either of its window pairs.
func (c *compiler) alert(kind, severity string, loc source.Scalar, wait time.Duration) {
	s := c.s
	var conds []string
	var burns []Burn
	for _, b := range s.Burns() {
		if b.Severity != kind {
			continue
		}
		burns = append(burns, b)
		conds = append(conds, fmt.Sprintf("(\n  %s{slo=%q} > %s * %s\nand\n  %s{slo=%q} > %s * %s\n)",
			RecordRatio(b.Long), s.Name, formatFactor(b.Factor), s.Budget, RecordRatio(b.Short), s.Name, formatFactor(b.Factor), s.Budget))
	}
	at := s.Alerting.NameSpan
	if at.File == "" {
		at = s.NameSpan
	}
	if loc.IsZero() {
		loc = s.nameLoc // a default severity: reported at the SLO's name
	}
	r := &promrule.Rule{Group: c.g, Alert: s.Alerting.Name, NameSpan: at, Expr: strings.Join(conds, "\nor\n"), ExprSpan: s.SLISpan,
		For: wait, ForSet: true, ForSpan: at, Span: at, Compiled: true,
		Labels: []promrule.KV{{Key: "severity", Value: severity, KeyLoc: loc, ValueLoc: loc, File: s.File}}}
	r.Annotations = []promrule.KV{
		{Key: "summary", Value: s.summary(kind, burns), File: s.File},
		{Key: "description", Value: s.description(kind, burns), File: s.File},
	}
	for _, kv := range s.Alerting.Annotations {
		r.Annotations = append(r.Annotations, promrule.KV{Key: kv.Key, Value: kv.Value, KeyLoc: kv.loc, ValueLoc: kv.loc, File: s.File})
	}
	if !slices.ContainsFunc(s.Alerting.Annotations, func(kv KV) bool { return kv.Key == dashboard.LinkAnnotation }) {
		// The burn rates over the alert's windows, where the SLOs'
		// dashboard shows them.
		r.Annotations = append(r.Annotations, promrule.KV{Key: dashboard.LinkAnnotation, Value: dashboard.PanelLink(DashboardUID, int64(BurnPanel(s))), File: s.File})
	}
	c.g.Rules = append(c.g.Rules, r)
}

func formatFactor(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// Objective text: 99.9 as written, without trailing zeros.
func (s *SLO) objectiveText() string { return strconv.FormatFloat(s.Objective, 'f', -1, 64) }

func (s *SLO) summary(kind string, burns []Burn) string {
	speed := "fast"
	if kind == "ticket" {
		speed = "steadily"
	}
	return fmt.Sprintf("The %s SLO of %s is spending its error budget %s.", s.Name, s.Service, speed)
}

func (s *SLO) description(kind string, burns []Burn) string {
	var pairs []string
	for _, b := range burns {
		exhaust := time.Duration(float64(s.Window) / b.Factor)
		pairs = append(pairs, fmt.Sprintf("%s times the sustainable rate over the last %s and %s (the whole budget gone in %s)",
			formatFactor(b.Factor), humanDuration(b.Long), humanDuration(b.Short), humanDuration(exhaust.Round(time.Hour))))
	}
	what := s.Description
	if what == "" {
		what = fmt.Sprintf("%s%% of %s's events are good over %s", s.objectiveText(), s.Service, humanDuration(s.Window))
	}
	return fmt.Sprintf("%s (objective: %s). Errors are burning the budget at %s.", strings.TrimSuffix(what, "."), s.objectiveText()+"% over "+humanDuration(s.Window), strings.Join(pairs, ", or "))
}

// humanDuration writes d as Prometheus does (1d, 2h30m).
func humanDuration(d time.Duration) string {
	return model.Duration(d).String()
}
