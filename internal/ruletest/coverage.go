package ruletest

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
)

// Coverage is what the tests of a run prove of the rules: an alert is
// covered when a passing test makes it fire and asserts its severity and
// every annotation the rule defines (a firing alert has been active for
// its `for`), and another shows it silent at a time its input matches
// every selector of its expression; a recording rule is covered when a
// passing expression test reads its series, or a covered alert does,
// directly or through other recording rules.
type Coverage struct {
	Alerts  []AlertCoverage
	Records []RecordCoverage
}

// AlertCoverage is the coverage of one alert (by rule file and name).
type AlertCoverage struct {
	File, Name string
	Span       diag.Span
	// Fires is set when a passing test makes it fire and asserts its
	// severity and every annotation.
	Fires bool
	// Silent is set when a passing test shows it silent on input that
	// matches every selector of its expression, or when the expression
	// has no selector (a Watchdog's vector(1)).
	Silent bool
	// Missing says what the tests lack, one reason each; empty when
	// covered.
	Missing []string
}

// RecordCoverage is the coverage of a recording rule (by rule file and
// recorded name).
type RecordCoverage struct {
	File, Name string
	Span       diag.Span
	Read       bool
}

// Covered reports whether every alert and recording rule is covered.
func (c *Coverage) Covered() bool { return c.Gaps() == 0 }

// Gaps counts the alerts and recording rules that are not covered.
func (c *Coverage) Gaps() int {
	n := 0
	for _, a := range c.Alerts {
		if len(a.Missing) > 0 {
			n++
		}
	}
	for _, r := range c.Records {
		if !r.Read {
			n++
		}
	}
	return n
}

// Counts returns how many alerts and recording rules there are and how
// many of each are covered.
func (c *Coverage) Counts() (alerts, alertsCovered, records, recordsRead int) {
	for _, a := range c.Alerts {
		if len(a.Missing) == 0 {
			alertsCovered++
		}
	}
	for _, r := range c.Records {
		if r.Read {
			recordsRead++
		}
	}
	return len(c.Alerts), alertsCovered, len(c.Records), recordsRead
}

// observations are what the checks of a run showed, by rule file and
// rule name.
type observations struct {
	// mu: files run at once observe one after the other.
	mu sync.Mutex
	// fired: a passing check made the alert fire; asserted: and asserted
	// its severity and every annotation. missingAsserted says what the
	// best firing check left out.
	fired, asserted map[ruleKey]bool
	missingAsserted map[ruleKey][]string
	// silent: a passing check expected no alert at a time every selector
	// matched; silentUnmatched names a selector that had no samples at a
	// passing silent check.
	silent          map[ruleKey]bool
	silentUnmatched map[ruleKey]string
	// read: a recorded series some passing check reads.
	read map[ruleKey]bool
	// loaded: the rule files a test loaded.
	loaded map[string]bool
}

// ruleKey names a rule: rules of one name in one group (an alert's
// warning and critical variants) are told apart by their order.
type ruleKey struct {
	file, group, name string
	n                 int
}

func newObservations() *observations {
	return &observations{
		fired: map[ruleKey]bool{}, asserted: map[ruleKey]bool{}, missingAsserted: map[ruleKey][]string{},
		silent: map[ruleKey]bool{}, silentUnmatched: map[ruleKey]string{},
		read: map[ruleKey]bool{}, loaded: map[string]bool{},
	}
}

// compiledPart is the suffix of a loader identifier naming one of
// several compiled outputs of a file.
var compiledPart = regexp.MustCompile(`#[0-9]+$`)

// ruleFile returns the rule file a rule group was loaded from.
func ruleFile(g *rules.Group) string { return compiledPart.ReplaceAllString(g.File(), "") }

// observe records what the group's passing checks show, while its
// storage still holds the input and the recorded series. It runs at the
// end of the group: an evaluation appends only samples later than those
// of earlier ones, so a query of a window ending at an earlier time sees
// what the rules saw then.
func (o *observations) observe(ctx context.Context, gr *GroupResult, groups []*rules.Group, db storage.Queryable, mint time.Time, evalInterval time.Duration) error {
	var alerts []*rules.AlertingRule
	records := map[string][]ruleKey{}    // recorded name -> rules
	recordReads := map[string][]string{} // recorded name -> names its rules read
	alertKey := map[*rules.AlertingRule]ruleKey{}
	for _, rg := range groups {
		f := ruleFile(rg)
		o.loaded[f] = true
		seen := map[string]int{}
		for _, r := range rg.Rules() {
			switch r := r.(type) {
			case *rules.AlertingRule:
				alerts = append(alerts, r)
				alertKey[r] = ruleKey{f, rg.Name(), r.Name(), seen[r.Name()]}
				seen[r.Name()]++
			case *rules.RecordingRule:
				records[r.Name()] = append(records[r.Name()], ruleKey{f, rg.Name(), r.Name(), 0})
				recordReads[r.Name()] = append(recordReads[r.Name()], selectorNames(r.Query())...)
			}
		}
	}
	reads := map[string]bool{}
	for _, c := range gr.Checks {
		if !c.Passed {
			continue
		}
		switch c.Kind {
		case KindExpr:
			if expr, err := promqlParser.ParseExpr(c.Name); err == nil {
				for _, n := range selectorNames(expr) {
					reads[n] = true
				}
			}
		case KindAlert:
			for _, ar := range alerts {
				if ar.Name() != c.Name {
					continue
				}
				k := alertKey[ar]
				counted := false
				if len(c.Expected) > 0 {
					counted = o.observeFiring(k, ar, c.Expected)
				} else {
					at := mint.Add(c.EvalTime.Truncate(evalInterval))
					unmatched, err := unmatchedSelector(ctx, db, ar.Query(), at)
					if err != nil {
						return err
					}
					if unmatched == "" {
						o.silent[k], counted = true, true
					} else if _, ok := o.silentUnmatched[k]; !ok {
						o.silentUnmatched[k] = unmatched
					}
				}
				if counted {
					for _, n := range selectorNames(ar.Query()) {
						reads[n] = true
					}
				}
			}
		}
	}
	// What a read recorded series reads is read too.
	for changed := true; changed; {
		changed = false
		for n := range reads {
			for _, m := range recordReads[n] {
				if !reads[m] {
					reads[m], changed = true, true
				}
			}
		}
	}
	for n := range reads {
		for _, k := range records[n] {
			o.read[k] = true
		}
	}
	return nil
}

// observeFiring records a passing check that expected the alert firing,
// when the rule's own labels are among an expected alert's (the rule
// fired it, not another of the same name). It reports whether it did.
func (o *observations) observeFiring(k ruleKey, ar *rules.AlertingRule, expected []Alert) bool {
	static := map[string]string{}
	ar.Labels().Range(func(l labels.Label) {
		if !strings.Contains(l.Value, "{{") {
			static[l.Name] = l.Value
		}
	})
	var annotations []string
	ar.Annotations().Range(func(l labels.Label) { annotations = append(annotations, l.Name) })
	fired := false
	for _, e := range expected {
		if !subset(static, e.Labels) {
			continue
		}
		fired = true
		var missing []string
		if _, ok := e.Labels["severity"]; !ok {
			missing = append(missing, "the severity label")
		}
		for _, a := range annotations {
			if _, ok := e.Annotations[a]; !ok {
				missing = append(missing, "annotation "+a)
			}
		}
		if len(missing) == 0 {
			o.asserted[k] = true
		} else if prev, ok := o.missingAsserted[k]; !ok || len(missing) < len(prev) {
			o.missingAsserted[k] = missing
		}
	}
	if fired {
		o.fired[k] = true
	}
	return fired
}

func subset(a, b map[string]string) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// selectorNames returns the metric names the expression's selectors
// name.
func selectorNames(expr parser.Expr) []string {
	var out []string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
					out = append(out, m.Value)
				}
			}
		}
		return nil
	})
	return out
}

// HasSelector reports whether the expression reads any series: an alert
// whose expression reads none (vector(1), a Watchdog's) needs no test of
// it silent.
func HasSelector(expr parser.Expr) bool {
	found := false
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if _, ok := n.(*parser.VectorSelector); ok {
			found = true
		}
		return nil
	})
	return found
}

// lookback is how far back an instant selector looks, the PromQL
// engine's default.
const lookback = 5 * time.Minute

// unmatchedSelector returns the first selector of expr that selects no
// sample when the expression is evaluated at t (its range, the ranges of
// the subqueries around it and their offsets taken into account), or ""
// when each selects some.
func unmatchedSelector(ctx context.Context, db storage.Queryable, expr parser.Expr, t time.Time) (string, error) {
	type window struct {
		sel        *parser.VectorSelector
		mint, maxt int64
	}
	var windows []window
	parser.Inspect(expr, func(n parser.Node, path []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		end, span := t, lookback
		if vs.Timestamp != nil {
			end = time.UnixMilli(*vs.Timestamp)
		}
		end = end.Add(-vs.OriginalOffset)
		for _, p := range path {
			switch p := p.(type) {
			case *parser.MatrixSelector:
				span = p.Range
			case *parser.SubqueryExpr:
				end = end.Add(-p.OriginalOffset)
				span += p.Range
			}
		}
		windows = append(windows, window{vs, end.Add(-span).UnixMilli(), end.UnixMilli()})
		return nil
	})
	for _, w := range windows {
		ok, err := selects(ctx, db, w.sel.LabelMatchers, w.mint, w.maxt)
		if err != nil {
			return "", err
		}
		if !ok {
			return w.sel.String(), nil
		}
	}
	return "", nil
}

// selects reports whether a series the matchers select has a sample in
// (mint, maxt] that is not a staleness marker.
func selects(ctx context.Context, db storage.Queryable, ms []*labels.Matcher, mint, maxt int64) (bool, error) {
	q, err := db.Querier(mint, maxt)
	if err != nil {
		return false, fmt.Errorf("coverage: %w", err)
	}
	defer q.Close()
	ss := q.Select(ctx, false, &storage.SelectHints{Start: mint, End: maxt}, ms...)
	var it chunkenc.Iterator
	for ss.Next() {
		it = ss.At().Iterator(it)
		for vt := it.Seek(mint + 1); vt != chunkenc.ValNone; vt = it.Next() {
			ts := it.AtT()
			if ts > maxt {
				break
			}
			if vt == chunkenc.ValFloat {
				if _, v := it.At(); value.IsStaleNaN(v) {
					continue
				}
			}
			return true, nil
		}
	}
	return false, ss.Err()
}

// CoverageOf works out the coverage of the rule files' alerts and
// recording rules from what the run observed; nil when the run did not
// observe (Options.Coverage unset). With onlyLoaded, the rule files no
// test loaded are left out (a run of some tests only).
func (r *Result) CoverageOf(files []*promrule.File, onlyLoaded bool) *Coverage {
	o := r.observed
	if o == nil {
		return nil
	}
	cov := &Coverage{}
	for _, f := range files {
		if onlyLoaded && !o.loaded[f.Path] {
			continue
		}
		var g *promrule.Group
		var seen map[string]int
		for _, rule := range f.Rules() {
			if rule.Group != g {
				g, seen = rule.Group, map[string]int{}
			}
			k := ruleKey{f.Path, g.Name, rule.Name(), 0}
			if !rule.IsAlert() {
				cov.Records = append(cov.Records, RecordCoverage{File: f.Path, Name: rule.Name(), Span: rule.Span, Read: o.read[k]})
				continue
			}
			k.n = seen[rule.Name()]
			seen[rule.Name()]++
			a := AlertCoverage{File: f.Path, Name: rule.Name(), Span: rule.Span, Fires: o.asserted[k], Silent: o.silent[k]}
			if expr, err := promqlParser.ParseExpr(rule.Expr); err == nil && !HasSelector(expr) {
				a.Silent = true
			}
			switch {
			case a.Fires:
			case o.fired[k]:
				a.Missing = append(a.Missing, "tests make it fire but none asserts "+strings.Join(o.missingAsserted[k], ", "))
			default:
				a.Missing = append(a.Missing, "no test makes it fire")
			}
			switch {
			case a.Silent:
			case o.silentUnmatched[k] != "":
				a.Missing = append(a.Missing, "no test shows it silent on input every selector matches ("+o.silentUnmatched[k]+" selects nothing)")
			default:
				a.Missing = append(a.Missing, "no test shows it silent")
			}
			cov.Alerts = append(cov.Alerts, a)
		}
	}
	sort.SliceStable(cov.Alerts, func(i, j int) bool { return cov.Alerts[i].File < cov.Alerts[j].File })
	sort.SliceStable(cov.Records, func(i, j int) bool { return cov.Records[i].File < cov.Records[j].File })
	// Several recording rules may record one name: list it once.
	seen := map[[2]string]bool{}
	cov.Records = slices.DeleteFunc(cov.Records, func(r RecordCoverage) bool {
		k := [2]string{r.File, r.Name}
		defer func() { seen[k] = true }()
		return seen[k]
	})
	return cov
}
