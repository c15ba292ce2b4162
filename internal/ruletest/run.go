package ruletest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/layer"
	"github.com/obsctl/obsctl/internal/parallel"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/source"
)

// RuleFiles finds the rule files a test names.
type RuleFiles interface {
	// Glob returns the rule files whose path matches pattern: a
	// slash-separated path as the test file's own Path is written (relative
	// to the working folder, or absolute), which may hold glob characters.
	// A file the loader reported errors for comes with them.
	Glob(pattern string) ([]LoadedRules, error)
}

// LoadedRules is a rule file and the problems of loading it.
type LoadedRules struct {
	File *promrule.File
	// Errors are the loader's findings of severity error and above: the
	// file cannot be compiled as written.
	Errors []diag.Finding
}

// Options says how to run.
type Options struct {
	// Run, when set, keeps the checks whose test group's name, alert name
	// or expression it matches.
	Run *regexp.Regexp
	// ExternalLabels are the stack's external labels (obsctl.yaml's
	// prometheus.externalLabels): the rules' templates see them, as in the
	// stack; a test group's external_labels win over them.
	ExternalLabels map[string]string
	// Rules finds rule files.
	Rules RuleFiles
	// Coverage makes the run observe what its checks prove of the rules,
	// for Result.CoverageOf.
	Coverage bool

	observed *observations
	parser   *cachingParser
}

// Result is the outcome of a run.
type Result struct {
	Files []*FileResult
	// Routes are the routes of the alert routing, root first, and whether
	// a routing test case (see package routetest) reaches each; nil when
	// none ran.
	Routes []Route

	// Coverage is what the tests prove of the rules, for the reports; nil
	// leaves it out.
	Coverage *Coverage
	// RequireCoverage says the repo requires every rule covered: a gap in
	// Coverage fails the run.
	RequireCoverage bool

	// observed is what the checks showed of the rules, when
	// Options.Coverage is set.
	observed *observations
}

// Route is one route of the alert routing tree, for reports.
type Route struct {
	// Span is where obsctl.yaml declares it.
	Span diag.Span
	// Route says what it matches and where it sends: `{severity="info"}
	// receiver slack-info`, `default-route receiver slack-alerts`.
	Route string
	// Reached is set when a case's alert is delivered by the route.
	Reached bool
}

// Unreached returns the routes no routing test case reaches.
func (r *Result) Unreached() []Route {
	var out []Route
	for _, rt := range r.Routes {
		if !rt.Reached {
			out = append(out, rt)
		}
	}
	return out
}

// FileResult is the outcome of one test file.
type FileResult struct {
	Path string
	// Errors say why the file could not be run at all.
	Errors []diag.Finding
	Groups []*GroupResult
}

// GroupResult is the outcome of one test group.
type GroupResult struct {
	Name   string
	Span   diag.Span
	Checks []*Check
}

// Check kinds.
const (
	KindAlert = "alert"
	KindExpr  = "expr"
	// KindRoute is a routing test case (see package routetest).
	KindRoute = "route"
)

// Check is the outcome of one alert_rule_test or promql_expr_test.
type Check struct {
	// Kind is KindAlert or KindExpr.
	Kind string
	// Name is the alert name or the expression.
	Name     string
	EvalTime time.Duration
	Span     diag.Span
	Passed   bool
	// Error says why the check could not be evaluated (a rule or the
	// expression failed); Passed is then false.
	Error string
	// Expected and Got are the alerts of an alert check, sorted.
	Expected, Got []Alert
	// ExpectedSamples and GotSamples are the samples of an expression
	// check, sorted.
	ExpectedSamples, GotSamples []Sample
	// Labels are the labels of a route check's alert, and Firing the
	// other alerts that fire beside it.
	Labels string
	Firing []string
	// ExpectedReceivers and GotReceivers are the receivers of a route
	// check, in routing order; ExpectedReceivers is nil when the case
	// does not say (it is about inhibition only).
	ExpectedReceivers, GotReceivers []string
	// ExpectedInhibited and GotInhibited say whether the route check's
	// alert is, and should be, inhibited by the firing ones; InhibitedBy
	// names the firing alert that inhibits it.
	ExpectedInhibited, GotInhibited bool
	InhibitedBy                     string
}

// Alert is a firing alert: its labels, alertname included, and its
// annotations.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// Sample is one sample of an expression's result.
type Sample struct {
	Labels string `json:"labels"`
	// Value is the float value, unless Histogram is set.
	Value     float64 `json:"value"`
	Histogram string  `json:"histogram,omitempty"`

	lset labels.Labels
	hist *histogram.FloatHistogram
}

// Counts returns how many checks ran, failed, and how many files could
// not be run.
func (r *Result) Counts() (checks, failed, broken int) {
	for _, f := range r.Files {
		if len(f.Errors) > 0 {
			broken++
		}
		for _, g := range f.Groups {
			for _, c := range g.Checks {
				checks++
				if !c.Passed {
					failed++
				}
			}
		}
	}
	return checks, failed, broken
}

var promqlParser = parser.NewParser(parser.Options{})

// Run runs the test files. Its error is operational (no temporary folder
// for the TSDB); what is wrong with a test file or a rule file it names
// is in the file's Errors.
func Run(ctx context.Context, files []*source.File, opts Options) (*Result, error) {
	res := &Result{}
	opts.parser = newCachingParser(promqlParser)
	if opts.Coverage {
		res.observed = newObservations()
		opts.observed = res.observed
	}
	// Each file has storage and rule groups of its own: the files run on
	// every core, and report in their order.
	res.Files = make([]*FileResult, len(files))
	errs := make([]error, len(files))
	parallel.Each(len(files), func(i int) { res.Files[i], errs[i] = runFile(ctx, files[i], opts) })
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return res, nil
}

func runFile(ctx context.Context, sf *source.File, opts Options) (*FileResult, error) {
	fr := &FileResult{Path: sf.Path}
	tf, fds := Parse(sf)
	for _, fd := range fds {
		if fd.Severity >= diag.Error {
			fr.Errors = append(fr.Errors, fd)
		}
	}
	if len(fr.Errors) > 0 {
		return fr, nil
	}
	compiled, ids, groupNames, errs := compileRules(tf, opts.Rules)
	if len(errs) > 0 {
		fr.Errors = errs
		return fr, nil
	}
	order := map[string]int{}
	for i, g := range tf.GroupEvalOrder {
		if !groupNames[g.Value] {
			fr.Errors = append(fr.Errors, diag.Finding{Check: CheckSchema, Severity: diag.Error, Span: g.Span,
				Message: fmt.Sprintf("group_eval_order names %q, a group none of the rule files has", g.Value)})
		}
		order[g.Value] = i
	}
	inputs := make([][]input, len(tf.Tests))
	for i, g := range tf.Tests {
		if g.Interval == 0 {
			g.Interval = tf.EvaluationInterval
		}
		var errs []diag.Finding
		inputs[i], errs = parseInputs(g)
		fr.Errors = append(fr.Errors, errs...)
	}
	if len(fr.Errors) > 0 {
		return fr, nil
	}
	loader := &compiledLoader{groups: compiled, index: map[string]int{}}
	for _, id := range ids {
		for _, g := range compiled[id].Groups {
			loader.index[rules.GroupKey(id, g.Name)] = len(loader.index)
		}
	}
	for i, g := range tf.Tests {
		if !selected(g, opts.Run) {
			continue
		}
		gr, err := runGroup(ctx, tf, g, inputs[i], loader, ids, order, opts)
		if err != nil {
			return nil, err
		}
		fr.Groups = append(fr.Groups, gr)
	}
	return fr, nil
}

// selected reports whether the group has a check --run keeps, and drops
// those it does not.
func selected(g *Group, run *regexp.Regexp) bool {
	if run == nil || run.MatchString(g.Name) {
		return true
	}
	g.AlertTests = slices.DeleteFunc(g.AlertTests, func(a *AlertTest) bool { return !run.MatchString(a.Alertname) })
	g.ExprTests = slices.DeleteFunc(g.ExprTests, func(e *ExprTest) bool { return !run.MatchString(e.Expr) })
	return len(g.AlertTests)+len(g.ExprTests) > 0
}

// compileRules finds the rule files the test names and compiles each as
// build does. It returns the compiled groups by identifier, the
// identifiers in order, and the names of the groups.
func compileRules(tf *File, rf RuleFiles) (map[string]*rulefmt.RuleGroups, []string, map[string]bool, []diag.Finding) {
	out := map[string]*rulefmt.RuleGroups{}
	names := map[string]bool{}
	var ids []string
	var errs []diag.Finding
	fail := func(at diag.Span, format string, args ...any) {
		errs = append(errs, diag.Finding{Check: CheckSchema, Severity: diag.Error, Span: at, Message: fmt.Sprintf(format, args...)})
	}
	dir := path.Dir(tf.Source.Path)
	seen := map[string]bool{}
	for _, name := range tf.RuleFiles {
		pattern := name.Value
		// @defaults/... names a file of the default content the repo
		// builds on, wherever the test is.
		if !strings.HasPrefix(pattern, "/") && !layer.IsDefault(pattern) {
			pattern = path.Join(dir, pattern)
		}
		var found []LoadedRules
		var err error
		if rf != nil {
			found, err = rf.Glob(pattern)
		}
		switch {
		case err != nil:
			fail(name.Span, "rule file %s: %v", name.Value, err)
			continue
		case len(found) == 0:
			fail(name.Span, "rule file %s: no such rule file", name.Value)
			continue
		}
		for _, lr := range found {
			if seen[lr.File.Path] {
				continue
			}
			seen[lr.File.Path] = true
			if len(lr.Errors) > 0 {
				for _, e := range lr.Errors {
					fail(name.Span, "rule file %s cannot be compiled: %s: %s", lr.File.Path, e.Span, e.Message)
				}
				continue
			}
			broken := false
			for _, r := range lr.File.Rules() {
				if _, err := promqlParser.ParseExpr(r.Expr); err != nil {
					at := r.ExprSpan
					if at.File == "" {
						at = r.Span
					}
					fail(at, "%s %s: the expression does not parse: %v", ruleKind(r), r.Name(), err)
					broken = true
				}
			}
			if broken {
				continue
			}
			outs, err := promrule.CompileRuleFiles([]*promrule.File{lr.File})
			if err != nil {
				fail(name.Span, "%v", err)
				continue
			}
			for i, o := range outs {
				id := lr.File.Path
				if len(outs) > 1 {
					id = fmt.Sprintf("%s#%d", lr.File.Path, i+1)
				}
				rgs, perrs := rulefmt.Parse(o.Data, false, model.UTF8Validation, promqlParser, nil)
				if len(perrs) > 0 {
					fail(name.Span, "rule file %s: Prometheus refuses its compiled rules: %v", lr.File.Path, errors.Join(perrs...))
					continue
				}
				for _, g := range rgs.Groups {
					names[g.Name] = true
				}
				out[id] = rgs
				ids = append(ids, id)
			}
		}
	}
	return out, ids, names, errs
}

// compiledLoader hands the rule manager the compiled rule groups.
type compiledLoader struct {
	groups map[string]*rulefmt.RuleGroups
	// index is where each group (by rules.GroupKey) stands among all.
	index map[string]int
}

func (l *compiledLoader) Load(id string, _ bool, _ model.ValidationScheme) (*rulefmt.RuleGroups, []error) {
	rgs, ok := l.groups[id]
	if !ok {
		return nil, []error{fmt.Errorf("no compiled rules for %s", id)}
	}
	return rgs, nil
}

func (*compiledLoader) Parse(q string) (parser.Expr, error) { return promqlParser.ParseExpr(q) }

// input is one parsed input series.
type input struct {
	lset    labels.Labels
	samples []promql.Sample
}

// parseInputs expands the group's input series into samples, and checks
// the labels of its expected samples.
func parseInputs(g *Group) ([]input, []diag.Finding) {
	var out []input
	var errs []diag.Finding
	// A series given twice is the later one, as in promtool (whose test
	// loader keeps one definition per series).
	at := map[string]int{}
	for _, s := range g.InputSeries {
		lset, vals, err := promqlParser.ParseSeriesDesc(s.Series + " " + s.Values)
		if err != nil {
			errs = append(errs, diag.Finding{Check: CheckSchema, Severity: diag.Error, Span: s.Span,
				Message: fmt.Sprintf("input series %s %q: %v", s.Series, s.Values, err)})
			continue
		}
		in := input{lset: lset}
		for i, v := range vals {
			if v.Omitted {
				continue
			}
			ts := g.Start.Add(time.Duration(i) * g.Interval)
			in.samples = append(in.samples, promql.Sample{T: ts.UnixMilli(), F: v.Value, H: v.Histogram})
		}
		if i, ok := at[lset.String()]; ok {
			out[i] = in
			continue
		}
		at[lset.String()] = len(out)
		out = append(out, in)
	}
	for _, e := range g.ExprTests {
		for i := range e.ExpSamples {
			s := &e.ExpSamples[i]
			lset, err := promqlParser.ParseMetric(s.Labels)
			if err != nil && strings.TrimSpace(s.Labels) == "" {
				lset, err = labels.EmptyLabels(), nil
			}
			if err != nil {
				errs = append(errs, diag.Finding{Check: CheckSchema, Severity: diag.Error, Span: s.Span,
					Message: fmt.Sprintf("expected sample labels %q: %v", s.Labels, err)})
				continue
			}
			s.lset = lset
			if s.Histogram != "" {
				_, vals, err := promqlParser.ParseSeriesDesc("{} " + s.Histogram)
				switch {
				case err == nil && (len(vals) != 1 || vals[0].Histogram == nil):
					err = errors.New("want one native histogram, such as {{schema:0 sum:5 count:4 buckets:[1 2 1]}}")
				}
				if err != nil {
					errs = append(errs, diag.Finding{Check: CheckSchema, Severity: diag.Error, Span: s.Span,
						Message: fmt.Sprintf("expected histogram %q: %v", s.Histogram, err)})
					continue
				}
				s.hist = vals[0].Histogram
			}
		}
	}
	return out, errs
}

// storageFor opens an empty TSDB in a temporary folder, removed by the
// returned function.
func storageFor() (*tsdb.DB, func(), error) {
	dir, err := os.MkdirTemp("", "obsctl-test-")
	if err != nil {
		return nil, nil, fmt.Errorf("rule tests: %w", err)
	}
	opts := tsdb.DefaultOptions()
	// The series are appended in order, over a window of any length.
	opts.MinBlockDuration = int64(24 * time.Hour / time.Millisecond)
	opts.MaxBlockDuration = opts.MinBlockDuration
	opts.RetentionDuration = 0
	opts.OutOfOrderTimeWindow = 0
	opts.WALSegmentSize = -1 // nothing outlives the run
	// A test group has a handful of series: the default 16,384 stripes of
	// the series map took a sixth of a run's CPU to make and to sweep.
	opts.StripeSize = 64
	db, err := tsdb.Open(dir, nil, nil, opts, tsdb.NewDBStats())
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("rule tests: open storage: %w", err)
	}
	return db, func() { db.Close(); os.RemoveAll(dir) }, nil
}

// appendTill appends the samples at or before t that are not appended
// yet, advancing each input past them.
func appendTill(ctx context.Context, db storage.Appendable, ins []input, t int64) error {
	app := db.Appender(ctx)
	for i := range ins {
		in := &ins[i]
		n := 0
		for _, s := range in.samples {
			if s.T > t {
				break
			}
			var err error
			if s.H != nil {
				_, err = app.AppendHistogram(0, in.lset, s.T, nil, s.H)
			} else {
				_, err = app.Append(0, in.lset, s.T, s.F)
			}
			if err != nil {
				_ = app.Rollback()
				return fmt.Errorf("input series %s: %w", in.lset, err)
			}
			n++
		}
		in.samples = in.samples[n:]
	}
	return app.Commit()
}

func runGroup(ctx context.Context, tf *File, g *Group, ins []input, loader *compiledLoader, ids []string, order map[string]int, opts Options) (*GroupResult, error) {
	gr := &GroupResult{Name: g.Name, Span: g.Span}
	evalInterval := tf.EvaluationInterval

	db, done, err := storageFor()
	if err != nil {
		return nil, err
	}
	defer done()
	engine := promql.NewEngine(promql.EngineOpts{
		MaxSamples:               50000000,
		Timeout:                  100 * time.Second,
		NoStepSubqueryIntervalFn: func(int64) int64 { return evalInterval.Milliseconds() },
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
		Parser:                   opts.parser,
	})
	defer engine.Close()

	ext := map[string]string{}
	for k, v := range opts.ExternalLabels {
		ext[k] = v
	}
	for k, v := range g.ExternalLabels {
		ext[k] = v
	}
	m := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:   rules.EngineQueryFunc(engine, db),
		Appendable:  db,
		Queryable:   db,
		Context:     ctx,
		NotifyFunc:  func(context.Context, string, ...*rules.Alert) {},
		GroupLoader: loader,
		Parser:      promqlParser,
	})
	groupsMap, errs := m.LoadGroups(g.Interval, labels.FromMap(ext), g.ExternalURL, nil, false, ids...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("rule tests: load rules: %w", errors.Join(errs...))
	}
	groups := orderGroups(groupsMap, loader, order)
	alertNames := map[string]bool{}
	for _, rg := range groups {
		for _, r := range rg.Rules() {
			if ar, ok := r.(*rules.AlertingRule); ok {
				// As if Prometheus had been running: ALERTS is written
				// from the first evaluation on.
				ar.SetRestored(true)
				alertNames[ar.Name()] = true
			}
		}
	}

	// The alert checks, by eval_time, in the order written.
	var times []time.Duration
	byTime := map[time.Duration][]*AlertTest{}
	for _, a := range g.AlertTests {
		if _, ok := byTime[a.EvalTime]; !ok {
			times = append(times, a.EvalTime)
		}
		byTime[a.EvalTime] = append(byTime[a.EvalTime], a)
	}
	slices.Sort(times)
	results := map[*AlertTest]*Check{}

	mint := g.Start
	maxt := mint.Add(g.maxEvalTime())
	next := 0
	var evalErr string
	for ts := mint; !ts.After(maxt); ts = ts.Add(evalInterval) {
		if err := appendTill(ctx, db, ins, ts.UnixMilli()); err != nil {
			evalErr = err.Error()
			break
		}
		var failed []string
		for _, rg := range groups {
			rg.Eval(ctx, ts)
			for _, r := range rg.Rules() {
				if err := r.LastError(); err != nil {
					failed = append(failed, fmt.Sprintf("rule %s failed at %s: %v", r.Name(), model.Duration(ts.Sub(mint)), err))
				}
			}
		}
		if len(failed) > 0 {
			evalErr = strings.Join(failed, "; ")
			break
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// An eval_time between two evaluations sees the earlier one.
		for next < len(times) && times[next] < ts.Add(evalInterval).Sub(mint) {
			at := times[next]
			got := firingAlerts(groups)
			for _, a := range byTime[at] {
				c := alertCheck(a, got[a.Alertname])
				if !alertNames[a.Alertname] {
					c.Passed, c.Error = false, fmt.Sprintf("no alerting rule is named %s in the rule files", a.Alertname)
				}
				results[a] = c
			}
			next++
		}
	}
	for _, a := range g.AlertTests {
		c := results[a]
		if c == nil {
			c = &Check{Kind: KindAlert, Name: a.Alertname, EvalTime: a.EvalTime, Span: a.Span, Error: "not evaluated: " + evalErr}
		}
		gr.Checks = append(gr.Checks, c)
	}
	for _, e := range g.ExprTests {
		if evalErr != "" {
			gr.Checks = append(gr.Checks, &Check{Kind: KindExpr, Name: e.Expr, EvalTime: e.EvalTime, Span: e.Span, Error: "not evaluated: " + evalErr})
			continue
		}
		gr.Checks = append(gr.Checks, exprCheck(ctx, engine, db, mint, e, tf.FuzzyCompare))
	}
	if opts.observed != nil {
		opts.observed.mu.Lock()
		defer opts.observed.mu.Unlock()
		if err := opts.observed.observe(ctx, gr, groups, db, mint, evalInterval); err != nil {
			return nil, err
		}
	}
	return gr, nil
}

// orderGroups puts the groups named in group_eval_order in that order;
// the others take the place of the first, as in promtool, and keep the
// order of the rule files and of the groups in them among themselves.
func orderGroups(gm map[string]*rules.Group, l *compiledLoader, order map[string]int) []*rules.Group {
	out := make([]*rules.Group, 0, len(gm))
	for _, g := range gm {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if oa, ob := order[a.Name()], order[b.Name()]; oa != ob {
			return oa < ob
		}
		return l.index[rules.GroupKey(a.File(), a.Name())] < l.index[rules.GroupKey(b.File(), b.Name())]
	})
	return out
}

// firingAlerts returns the firing alerts of every alerting rule by name:
// one name may be used by rules in several groups.
func firingAlerts(groups []*rules.Group) map[string][]Alert {
	out := map[string][]Alert{}
	for _, rg := range groups {
		for _, r := range rg.Rules() {
			ar, ok := r.(*rules.AlertingRule)
			if !ok {
				continue
			}
			for _, a := range ar.ActiveAlerts() {
				if a.State == rules.StateFiring {
					out[ar.Name()] = append(out[ar.Name()], Alert{Labels: a.Labels.Map(), Annotations: a.Annotations.Map()})
				}
			}
		}
	}
	return out
}

func alertCheck(a *AlertTest, got []Alert) *Check {
	c := &Check{Kind: KindAlert, Name: a.Alertname, EvalTime: a.EvalTime, Span: a.Span}
	for _, e := range a.ExpAlerts {
		lbls := map[string]string{}
		for k, v := range e.Labels {
			lbls[k] = v
		}
		lbls[labels.AlertName] = a.Alertname
		ann := e.Annotations
		if ann == nil {
			ann = map[string]string{}
		}
		c.Expected = append(c.Expected, Alert{Labels: lbls, Annotations: ann})
	}
	c.Got = slices.Clone(got)
	sortAlerts(c.Expected)
	sortAlerts(c.Got)
	c.Passed = slices.EqualFunc(c.Expected, c.Got, alertEqual)
	return c
}

func alertKey(a Alert) string {
	return labels.FromMap(a.Labels).String() + labels.FromMap(a.Annotations).String()
}

func sortAlerts(as []Alert) {
	slices.SortFunc(as, func(a, b Alert) int {
		if c := labels.Compare(labels.FromMap(a.Labels), labels.FromMap(b.Labels)); c != 0 {
			return c
		}
		return labels.Compare(labels.FromMap(a.Annotations), labels.FromMap(b.Annotations))
	})
}

func alertEqual(a, b Alert) bool { return alertKey(a) == alertKey(b) }

func exprCheck(ctx context.Context, engine *promql.Engine, db storage.Queryable, mint time.Time, e *ExprTest, fuzzy bool) *Check {
	c := &Check{Kind: KindExpr, Name: e.Expr, EvalTime: e.EvalTime, Span: e.Span}
	for _, s := range e.ExpSamples {
		es := Sample{lset: s.lset, Labels: s.lset.String(), Value: s.Value, hist: s.hist}
		if s.hist != nil {
			es.Histogram = s.hist.TestExpression()
		}
		c.ExpectedSamples = append(c.ExpectedSamples, es)
	}
	q, err := engine.NewInstantQuery(ctx, db, nil, e.Expr, mint.Add(e.EvalTime))
	if err != nil {
		c.Error = err.Error()
		return c
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		c.Error = res.Err.Error()
		return c
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		for _, s := range v {
			gs := Sample{lset: s.Metric, Labels: s.Metric.String(), Value: s.F, hist: s.H}
			if s.H != nil {
				gs.Histogram = s.H.TestExpression()
			}
			c.GotSamples = append(c.GotSamples, gs)
		}
	case promql.Scalar:
		c.GotSamples = append(c.GotSamples, Sample{lset: labels.EmptyLabels(), Labels: "{}", Value: v.V})
	default:
		c.Error = fmt.Sprintf("the expression returns a %s, not an instant vector or a scalar", res.Value.Type())
		return c
	}
	sortSamples(c.ExpectedSamples)
	sortSamples(c.GotSamples)
	c.Passed = slices.EqualFunc(c.ExpectedSamples, c.GotSamples, func(a, b Sample) bool { return sampleEqual(a, b, fuzzy) })
	return c
}

func sortSamples(ss []Sample) {
	slices.SortStableFunc(ss, func(a, b Sample) int { return labels.Compare(a.lset, b.lset) })
}

func sampleEqual(a, b Sample, fuzzy bool) bool {
	if !labels.Equal(a.lset, b.lset) {
		return false
	}
	if a.hist != nil || b.hist != nil {
		// The counter reset hint too, as promtool compares histograms
		// by their test expression, which writes it.
		return a.hist != nil && b.hist != nil && a.hist.Equals(b.hist) && a.hist.CounterResetHint == b.hist.CounterResetHint
	}
	return floatEqual(a.Value, b.Value, fuzzy)
}

func floatEqual(x, y float64, fuzzy bool) bool {
	switch {
	case x == y, math.IsNaN(x) && math.IsNaN(y):
		return true
	case fuzzy:
		return math.Nextafter(x, math.Inf(-1)) == y || math.Nextafter(x, math.Inf(1)) == y
	}
	return false
}

func ruleKind(r *promrule.Rule) string {
	if r.IsAlert() {
		return "alert"
	}
	return "recording rule"
}
