package lint

import "github.com/obsctl/obsctl/internal/diag"

// forMissing reports alerting rules without `for`. Such an alert fires on
// the first evaluation that matches, so a single slow scrape, a restart or
// a one-off spike notifies someone. A `for` of a few evaluation intervals
// makes the alert wait until the condition has held.
//
// Alerts whose expression selects no series (a constant such as the
// Watchdog's vector(1)) are left alone: they are meant to fire at once.
// Silence the check for one rule with `# obsctl:disable rules/for-missing`.
type forMissing struct{}

func (forMissing) Name() string { return "rules/for-missing" }

func (forMissing) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRule, Summary: "An alert has no `for`, so one bad scrape notifies someone."}
}

func (forMissing) Check(p *Pass) {
	r := p.Rule
	if !r.IsAlert() || r.ForSet || r.Refused("for") || p.Expr() == nil || isConstant(p.Expr()) {
		return
	}
	p.Report(r.NameSpan, "add `for:` of a few evaluation intervals, for example `for: 5m`",
		"alert %q has no `for`: it fires on the first matching evaluation", r.Alert)
}
