package lint

import "github.com/obsctl/obsctl/internal/diag"

// absentFor reports alerts built on absent() or absent_over_time() that
// have no `for` (or `for: 0`).
//
// absent() is true whenever the series is missing from a single
// evaluation: while Prometheus restarts and has not scraped yet, while a
// target is being redeployed, after one failed scrape, or when a label on
// the series changes. Without `for` each of those pages someone, and the
// page has resolved itself before they have opened a laptop. That is how
// "metric missing" alerts end up muted and then miss the real outage.
//
// Give the alert a `for` longer than a restart or a rollout plus a few
// scrape intervals, for example `for: 10m`, or use absent_over_time() with
// a window of that length. rules/for-missing also reports alerts without
// `for`; this check adds the reason it matters most here, and also reports
// an explicit `for: 0`.
//
// Silence it for one rule with `# obsctl:disable rules/absent-for`.
type absentFor struct{}

func (absentFor) Name() string { return "rules/absent-for" }

func (absentFor) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRule, Summary: "An absent() alert has no `for`, so it fires on every restart or scrape gap."}
}

func (absentFor) Check(p *Pass) {
	r := p.Rule
	if !r.IsAlert() || r.For > 0 || r.Refused("for") || p.Expr() == nil {
		return
	}
	fn := absentCall(p.Expr())
	if fn == "" {
		return
	}
	span, what := r.NameSpan, "has no `for`"
	if r.ForSet {
		span, what = r.ForSpan, "has `for: 0`"
	}
	p.Report(span, "add a `for` longer than a restart or rollout, for example `for: 10m`",
		"alert %q uses %s() and %s: it fires on every restart, rollout or missed scrape", r.Alert, fn, what)
}
