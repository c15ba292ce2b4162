package ruletest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/obsctl/obsctl/internal/diag"
)

// Formats are the output formats of Write.
var Formats = []string{"text", "json", "junit"}

// Write writes the result in format (one of Formats).
func Write(w io.Writer, format string, res *Result) error {
	switch format {
	case "json":
		return writeJSON(w, res)
	case "junit":
		return writeJUnit(w, res)
	}
	return writeText(w, res)
}

// Title names a check for people: `alert NodeDown at 10m`.
func (c *Check) Title() string {
	switch c.Kind {
	case KindRoute:
		if c.Name == c.Labels { // unnamed
			return "route case " + c.Name
		}
		return "route case " + strconv.Quote(c.Name)
	case KindAlert:
		return fmt.Sprintf("alert %s at %s", c.Name, duration(c.EvalTime))
	}
	return fmt.Sprintf("expr %s at %s", c.Name, duration(c.EvalTime))
}

func duration(d time.Duration) string { return model.Duration(d).String() }

// Diff says how the check failed, one line each, indented by two spaces;
// empty for a check that passed.
func (c *Check) Diff() string {
	if c.Passed {
		return ""
	}
	var b strings.Builder
	if c.Error != "" {
		fmt.Fprintf(&b, "  error: %s\n", c.Error)
		return b.String()
	}
	switch c.Kind {
	case KindRoute:
		routeDiff(&b, c)
	case KindAlert:
		alertDiff(&b, c.Expected, c.Got)
	default:
		sampleDiff(&b, c.ExpectedSamples, c.GotSamples)
	}
	return b.String()
}

// routeDiff says which receivers a routing case expected and got, and
// how its inhibition differs.
func routeDiff(b *strings.Builder, c *Check) {
	fmt.Fprintf(b, "  alert %s\n", c.Labels)
	if c.ExpectedReceivers != nil && !slices.Equal(c.ExpectedReceivers, c.GotReceivers) {
		fmt.Fprintf(b, "  expected receivers: %s\n", receiverList(c.ExpectedReceivers))
		fmt.Fprintf(b, "  got receivers:      %s\n", receiverList(c.GotReceivers))
	}
	switch {
	case c.ExpectedInhibited == c.GotInhibited:
	case c.GotInhibited:
		fmt.Fprintf(b, "  inhibited by firing alert %s; expected not inhibited\n", c.InhibitedBy)
	case len(c.Firing) == 0:
		fmt.Fprintf(b, "  not inhibited: no other alert is firing; expected inhibited\n")
	default:
		fmt.Fprintf(b, "  not inhibited by the firing alerts; expected inhibited:\n")
		for _, f := range c.Firing {
			fmt.Fprintf(b, "    - %s\n", f)
		}
	}
}

// receiverList writes receivers as amtool config routes test does.
func receiverList(rs []string) string {
	if len(rs) == 0 {
		return "(none)"
	}
	return strings.Join(rs, ",")
}

// alertDiff pairs the expected alerts that did not fire as written with
// the firing alerts that were not expected, each with the one it shares
// most labels with, and names the labels and annotations that differ.
func alertDiff(b *strings.Builder, exp, got []Alert) {
	exp, got = slices.Clone(exp), slices.Clone(got)
	// Alerts found on both sides are not news.
	for i := 0; i < len(exp); {
		if j := slices.IndexFunc(got, func(g Alert) bool { return alertEqual(exp[i], g) }); j >= 0 {
			exp = slices.Delete(exp, i, i+1)
			got = slices.Delete(got, j, j+1)
			continue
		}
		i++
	}
	if len(exp) == 0 && len(got) == 0 {
		return
	}
	if len(got) == 0 && len(exp) > 0 {
		fmt.Fprintf(b, "  no alert is firing; expected %d:\n", len(exp))
		for _, e := range exp {
			writeAlert(b, "    - ", e)
		}
		return
	}
	for len(exp) > 0 {
		e := exp[0]
		exp = exp[1:]
		best, score := -1, 0
		for j, g := range got {
			if s := shared(e.Labels, g.Labels); s > score {
				best, score = j, s
			}
		}
		// alertname alone makes no pair, unless each side has one left.
		if best < 0 || (score <= 1 && (len(exp) > 0 || len(got) > 1)) {
			fmt.Fprintf(b, "  expected alert not firing:\n")
			writeAlert(b, "    - ", e)
			continue
		}
		g := got[best]
		got = slices.Delete(got, best, best+1)
		fmt.Fprintf(b, "  alert %s differs:\n", labels.FromMap(common(e.Labels, g.Labels)))
		kvDiff(b, "label", e.Labels, g.Labels)
		kvDiff(b, "annotation", e.Annotations, g.Annotations)
	}
	for _, g := range got {
		fmt.Fprintf(b, "  firing alert not expected:\n")
		writeAlert(b, "    + ", g)
	}
}

func writeAlert(b *strings.Builder, prefix string, a Alert) {
	fmt.Fprintf(b, "%slabels: %s\n", prefix, labels.FromMap(a.Labels))
	if len(a.Annotations) > 0 {
		fmt.Fprintf(b, "%sannotations: %s\n", strings.Repeat(" ", len(prefix)), labels.FromMap(a.Annotations))
	}
}

func shared(a, b map[string]string) int {
	n := 0
	for k, v := range a {
		if w, ok := b[k]; ok && w == v {
			n++
		}
	}
	return n
}

func common(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		if w, ok := b[k]; ok && w == v {
			out[k] = v
		}
	}
	return out
}

// kvDiff names the keys of exp and got that differ, in key order.
func kvDiff(b *strings.Builder, what string, exp, got map[string]string) {
	keys := slices.Sorted(maps.Keys(exp))
	for k := range got {
		if _, ok := exp[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		e, inExp := exp[k]
		g, inGot := got[k]
		switch {
		case inExp && inGot && e != g:
			fmt.Fprintf(b, "      %s %s: expected %s, got %s\n", what, k, strconv.Quote(e), strconv.Quote(g))
		case inExp && !inGot:
			fmt.Fprintf(b, "      missing %s %s=%s\n", what, k, strconv.Quote(e))
		case !inExp && inGot:
			fmt.Fprintf(b, "      extra %s %s=%s\n", what, k, strconv.Quote(g))
		}
	}
}

// MarshalJSON writes a value JSON has no number for (NaN, +Inf, -Inf)
// as a string, as Prometheus' HTTP API writes sample values.
func (s Sample) MarshalJSON() ([]byte, error) {
	type plain Sample
	if !math.IsNaN(s.Value) && !math.IsInf(s.Value, 0) {
		return json.Marshal(plain(s))
	}
	return json.Marshal(struct {
		Labels    string `json:"labels"`
		Value     string `json:"value"`
		Histogram string `json:"histogram,omitempty"`
	}{s.Labels, strconv.FormatFloat(s.Value, 'g', -1, 64), s.Histogram})
}

func (s Sample) value() string {
	if s.Histogram != "" {
		return s.Histogram
	}
	return strconv.FormatFloat(s.Value, 'g', -1, 64)
}

// sampleDiff pairs samples by labels: a sample of the same labels with
// another value is one line.
func sampleDiff(b *strings.Builder, exp, got []Sample) {
	gotBy := map[string]Sample{}
	for _, g := range got {
		gotBy[g.Labels] = g
	}
	expBy := map[string]bool{}
	for _, e := range exp {
		expBy[e.Labels] = true
		g, ok := gotBy[e.Labels]
		switch {
		case !ok:
			fmt.Fprintf(b, "  - missing sample %s %s\n", e.Labels, e.value())
		case !sampleEqual(e, g, false) && g.value() != e.value():
			fmt.Fprintf(b, "  ~ %s: expected %s, got %s\n", e.Labels, e.value(), g.value())
		}
	}
	for _, g := range got {
		if !expBy[g.Labels] {
			fmt.Fprintf(b, "  + extra sample %s %s\n", g.Labels, g.value())
		}
	}
	if len(exp) == 0 && len(got) > 0 {
		fmt.Fprintf(b, "  (expected no samples)\n")
	}
}

func writeText(w io.Writer, res *Result) error {
	var b strings.Builder
	for _, f := range res.Files {
		if len(f.Errors) > 0 {
			fmt.Fprintf(&b, "ERROR %s: cannot run\n", f.Path)
			for _, e := range f.Errors {
				fmt.Fprintf(&b, "%s: %s\n", e.Span, e.Message)
			}
			continue
		}
		n, failed := 0, 0
		for _, g := range f.Groups {
			for _, c := range g.Checks {
				n++
				if !c.Passed {
					failed++
				}
			}
		}
		if failed == 0 {
			fmt.Fprintf(&b, "ok   %s (%s)\n", f.Path, plural(n, "check"))
			continue
		}
		fmt.Fprintf(&b, "FAIL %s (%d of %s failed)\n", f.Path, failed, plural(n, "check"))
		for _, g := range f.Groups {
			for _, c := range g.Checks {
				if c.Passed {
					continue
				}
				fmt.Fprintf(&b, "%s: %s (test %s)\n", c.Span, c.Title(), strconv.Quote(g.Name))
				b.WriteString(c.Diff())
			}
		}
	}
	if len(res.Routes) > 0 {
		un := res.Unreached()
		fmt.Fprintf(&b, "routing coverage: %d of %s reached\n", len(res.Routes)-len(un), plural(len(res.Routes), "route"))
		for _, r := range un {
			fmt.Fprintf(&b, "%s: no case reaches route %s\n", r.Span, r.Route)
		}
	}
	if c := res.Coverage; c != nil {
		writeCoverage(&b, c)
	}
	checks, failed, broken := res.Counts()
	switch {
	case broken > 0:
		fmt.Fprintf(&b, "ERROR: %s could not run; %d of %s failed\n", plural(broken, "test file"), failed, plural(checks, "check"))
	case failed > 0:
		fmt.Fprintf(&b, "FAIL: %d of %s failed\n", failed, plural(checks, "check"))
	case res.CoverageFailed():
		gaps, verb := res.Coverage.Gaps(), "are"
		if gaps == 1 {
			verb = "is"
		}
		fmt.Fprintf(&b, "FAIL: %s passed, but %s %s not covered and the repo requires coverage (tests.requireCoverage)\n",
			plural(checks, "check"), plural(gaps, "rule"), verb)
	default:
		fmt.Fprintf(&b, "PASS: %s in %s\n", plural(checks, "check"), plural(len(res.Files), "test file"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// CoverageFailed reports whether the repo requires coverage and some
// rule is not covered.
func (r *Result) CoverageFailed() bool {
	return r.RequireCoverage && r.Coverage != nil && !r.Coverage.Covered()
}

func writeCoverage(b *strings.Builder, c *Coverage) {
	alerts, alertsCovered, records, recordsRead := c.Counts()
	fmt.Fprintf(b, "alerts covered: %d of %d, recording rules: %d of %d\n", alertsCovered, alerts, recordsRead, records)
	for _, a := range c.Alerts {
		for _, m := range a.Missing {
			fmt.Fprintf(b, "%s: alert %s: %s\n", a.Span, a.Name, m)
		}
	}
	for _, r := range c.Records {
		if !r.Read {
			fmt.Fprintf(b, "%s: recording rule %s: no test reads it\n", r.Span, r.Name)
		}
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

type jsonReport struct {
	Passed bool       `json:"passed"`
	Checks int        `json:"checks"`
	Failed int        `json:"failed"`
	Broken int        `json:"brokenFiles"`
	Files  []jsonFile `json:"files"`
	// Routes are set when routing tests ran.
	Routes []jsonRoute `json:"routes,omitempty"`
	// Coverage is set when asked for.
	Coverage *jsonCoverage `json:"coverage,omitempty"`
}

type jsonCoverage struct {
	// Covered is false when a rule is not covered.
	Covered       bool `json:"covered"`
	Required      bool `json:"required"`
	Alerts        int  `json:"alerts"`
	AlertsCovered int  `json:"alertsCovered"`
	Records       int  `json:"recordingRules"`
	RecordsRead   int  `json:"recordingRulesCovered"`
	// Gaps are the rules not covered and what each lacks.
	Gaps []jsonGap `json:"gaps"`
}

type jsonGap struct {
	Position string   `json:"position"`
	Kind     string   `json:"kind"`
	Name     string   `json:"name"`
	Missing  []string `json:"missing"`
}

type jsonRoute struct {
	Position string `json:"position"`
	Route    string `json:"route"`
	Reached  bool   `json:"reached"`
}

type jsonFile struct {
	Path   string      `json:"path"`
	Errors []string    `json:"errors,omitempty"`
	Groups []jsonGroup `json:"groups"`
}

type jsonGroup struct {
	Name   string      `json:"name"`
	Checks []jsonCheck `json:"checks"`
}

type jsonCheck struct {
	Kind            string   `json:"kind"`
	Name            string   `json:"name"`
	EvalTime        string   `json:"evalTime,omitempty"`
	Position        string   `json:"position"`
	Passed          bool     `json:"passed"`
	Error           string   `json:"error,omitempty"`
	Expected        []Alert  `json:"expectedAlerts,omitempty"`
	Got             []Alert  `json:"gotAlerts,omitempty"`
	ExpectedSamples []Sample `json:"expectedSamples,omitempty"`
	GotSamples      []Sample `json:"gotSamples,omitempty"`
	// The fields of a route check.
	Labels            string   `json:"labels,omitempty"`
	Firing            []string `json:"firing,omitempty"`
	ExpectedReceivers []string `json:"expectedReceivers,omitempty"`
	GotReceivers      []string `json:"gotReceivers,omitempty"`
	ExpectedInhibited *bool    `json:"expectedInhibited,omitempty"`
	GotInhibited      *bool    `json:"gotInhibited,omitempty"`
	InhibitedBy       string   `json:"inhibitedBy,omitempty"`
	Diff              string   `json:"diff,omitempty"`
}

func writeJSON(w io.Writer, res *Result) error {
	checks, failed, broken := res.Counts()
	out := jsonReport{Passed: failed == 0 && broken == 0 && !res.CoverageFailed(), Checks: checks, Failed: failed, Broken: broken, Files: []jsonFile{}}
	for _, f := range res.Files {
		jf := jsonFile{Path: f.Path, Groups: []jsonGroup{}}
		for _, e := range f.Errors {
			jf.Errors = append(jf.Errors, fmt.Sprintf("%s: %s", e.Span, e.Message))
		}
		for _, g := range f.Groups {
			jg := jsonGroup{Name: g.Name, Checks: []jsonCheck{}}
			for _, c := range g.Checks {
				jc := jsonCheck{Kind: c.Kind, Name: c.Name, EvalTime: duration(c.EvalTime), Position: c.Span.String(),
					Passed: c.Passed, Error: c.Error, Diff: c.Diff()}
				if c.Kind == KindRoute {
					jc.EvalTime = ""
					jc.Labels, jc.Firing, jc.ExpectedReceivers, jc.InhibitedBy = c.Labels, c.Firing, c.ExpectedReceivers, c.InhibitedBy
					jc.GotReceivers = c.GotReceivers
					if jc.GotReceivers == nil {
						jc.GotReceivers = []string{}
					}
					jc.ExpectedInhibited, jc.GotInhibited = &c.ExpectedInhibited, &c.GotInhibited
				}
				if !c.Passed {
					jc.Expected, jc.Got, jc.ExpectedSamples, jc.GotSamples = c.Expected, c.Got, c.ExpectedSamples, c.GotSamples
				}
				jg.Checks = append(jg.Checks, jc)
			}
			jf.Groups = append(jf.Groups, jg)
		}
		out.Files = append(out.Files, jf)
	}
	for _, r := range res.Routes {
		out.Routes = append(out.Routes, jsonRoute{Position: r.Span.String(), Route: r.Route, Reached: r.Reached})
	}
	if c := res.Coverage; c != nil {
		jc := &jsonCoverage{Covered: c.Covered(), Required: res.RequireCoverage, Gaps: []jsonGap{}}
		jc.Alerts, jc.AlertsCovered, jc.Records, jc.RecordsRead = c.Counts()
		for _, a := range c.Alerts {
			if len(a.Missing) > 0 {
				jc.Gaps = append(jc.Gaps, jsonGap{Position: a.Span.String(), Kind: "alert", Name: a.Name, Missing: a.Missing})
			}
		}
		for _, r := range c.Records {
			if !r.Read {
				jc.Gaps = append(jc.Gaps, jsonGap{Position: r.Span.String(), Kind: "record", Name: r.Name, Missing: []string{"no test reads it"}})
			}
		}
		out.Coverage = jc
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	ClassName string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitProblem `xml:"skipped,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",cdata"`
}

// writeJUnit writes one test suite per test file and one test case per
// alert or expression check, in the test group's class; a file that could
// not run is one test case in error. Coverage, when asked for or required,
// is a suite of its own, a test case per alert and recording rule (see
// junitCoverage), and the routes, when routing tests ran, another: a
// route no case reaches is skipped, as it does not fail the run.
func writeJUnit(w io.Writer, res *Result) error {
	out := junitSuites{Name: "obsctl test"}
	for _, f := range res.Files {
		s := junitSuite{Name: f.Path}
		if len(f.Errors) > 0 {
			var body []string
			for _, e := range f.Errors {
				body = append(body, fmt.Sprintf("%s: %s", e.Span, e.Message))
			}
			s.Cases = append(s.Cases, junitCase{ClassName: f.Path, Name: "load",
				Error: &junitProblem{Message: "the test file cannot run", Body: strings.Join(body, "\n")}})
			s.Tests, s.Errors = 1, 1
		}
		for _, g := range f.Groups {
			for _, c := range g.Checks {
				jc := junitCase{ClassName: f.Path + ": " + g.Name, Name: c.Title()}
				if !c.Passed {
					jc.Failure = &junitProblem{Message: fmt.Sprintf("%s: %s failed", c.Span, c.Title()), Body: c.Diff()}
					s.Failures++
				}
				s.Tests++
				s.Cases = append(s.Cases, jc)
			}
		}
		out.add(s)
	}
	if c := res.Coverage; c != nil {
		out.add(junitCoverage(c, res.RequireCoverage))
	}
	if len(res.Routes) > 0 {
		s := junitSuite{Name: "routing coverage"}
		for _, r := range res.Routes {
			jc := junitCase{ClassName: "routing coverage", Name: r.Route}
			if !r.Reached {
				jc.Skipped = &junitProblem{Message: fmt.Sprintf("%s: no routing case reaches this route", r.Span)}
			}
			s.Tests++
			s.Cases = append(s.Cases, jc)
		}
		out.add(s)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func (s *junitSuites) add(suite junitSuite) {
	s.Tests += suite.Tests
	s.Failures += suite.Failures
	s.Errors += suite.Errors
	s.Suites = append(s.Suites, suite)
}

// junitCoverage is the coverage suite: a test case per alert and recording
// rule, one that is not covered failed when the repo requires coverage and
// skipped when it does not, so that a CI report fails where the run does.
func junitCoverage(c *Coverage, required bool) junitSuite {
	s := junitSuite{Name: "coverage"}
	gap := func(jc junitCase, at diag.Span, why []string) junitCase {
		p := &junitProblem{Message: fmt.Sprintf("%s: %s is not covered", at, jc.Name), Body: strings.Join(why, "\n")}
		if required {
			jc.Failure = p
			s.Failures++
		} else {
			jc.Skipped = p
		}
		return jc
	}
	for _, a := range c.Alerts {
		jc := junitCase{ClassName: "coverage: alerts", Name: a.Name}
		if len(a.Missing) > 0 {
			jc = gap(jc, a.Span, a.Missing)
		}
		s.Tests++
		s.Cases = append(s.Cases, jc)
	}
	for _, r := range c.Records {
		jc := junitCase{ClassName: "coverage: recording rules", Name: r.Name}
		if !r.Read {
			jc = gap(jc, r.Span, []string{"no test reads it"})
		}
		s.Tests++
		s.Cases = append(s.Cases, jc)
	}
	return s
}
