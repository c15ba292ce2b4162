package lint

import "github.com/obsctl/obsctl/internal/diag"

// forZero reports an alert with an explicit zero `for` (`for: 0s`, `for:
// 0m`). Zero is what an alert without `for` gets: the line says nothing,
// yet reads as a decision that the alert must fire on the first matching
// evaluation, and it hides the alert from rules/for-missing, which would
// otherwise ask whether one bad scrape should notify someone. Often it is
// a template default left in place.
//
// Write the wait that was meant (`for: 5m`). Alerts that rules/for-missing
// leaves alone, being right to fire at once (a constant such as the
// Watchdog's, elapsed time measured with time(), ALERTS, a TTL or expiry
// countdown, an expression read over a window such as `rate(x[5m]) > 1`,
// where the window is the wait), are left alone here too; an alert on absent() with `for: 0`
// is reported by rules/absent-for instead.
type forZero struct{}

func (forZero) Name() string { return "rules/for-zero" }

func (forZero) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRule, Summary: "An alert has an explicit `for: 0s`, which says nothing and hides a missing `for`."}
}

func (forZero) Check(p *Pass) {
	r := p.Rule
	if !r.IsAlert() || !r.ForSet || r.For != 0 || r.Refused("for") {
		return
	}
	e := p.Expr()
	if e == nil || absentCall(e) != "" || isConstant(e) || firesAtOnce(e) {
		return // rules/absent-for; or an alert right to fire at once (see rules/for-missing)
	}
	p.Report(r.ForSpan, "write the wait that was meant, such as `for: 5m`, or drop the line",
		"alert %q has `for: 0`, the same as no `for`: it fires on the first matching evaluation", r.Alert)
}
