package lint

import (
	"strings"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/obsctl/obsctl/internal/diag"
)

// forMissing reports alerting rules without `for`. Such an alert fires on
// the first evaluation that matches, so a single slow scrape, a restart or
// a one-off spike notifies someone. A `for` of a few evaluation intervals
// makes the alert wait until the condition has held.
//
// Alerts that are right to fire at once are left alone: an expression
// that selects no series (a constant such as the Watchdog's vector(1));
// one that measures elapsed time itself (`time() - last_success > 86400`
// holds for a day before it fires); one over ALERTS, whose alerts waited
// their own `for` already (an inhibitor of info alerts); and a countdown
// to a deadline (a TTL or expiry metric such as
// `cert_ttl_seconds < 604800`), which does not flap back once it
// crosses its threshold.
// Silence the check for one rule with `# obsctl:disable rules/for-missing`.
type forMissing struct{}

func (forMissing) Name() string { return "rules/for-missing" }

func (forMissing) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRule, Summary: "An alert has no `for`, so one bad scrape notifies someone."}
}

func (forMissing) Check(p *Pass) {
	r := p.Rule
	if !r.IsAlert() || r.ForSet || r.Refused("for") || p.Expr() == nil || isConstant(p.Expr()) || firesAtOnce(p.Expr()) {
		return
	}
	p.Report(r.NameSpan, "add `for:` of a few evaluation intervals, for example `for: 5m`",
		"alert %q has no `for`: it fires on the first matching evaluation", r.Alert)
}

// firesAtOnce reports whether expression e is one an alert may fire on at
// once: it calls time(), selects ALERTS or ALERTS_FOR_STATE, or selects a
// countdown metric (a name holding "ttl" or "expir").
func firesAtOnce(e parser.Expr) bool {
	found := false
	eachNode(e, func(n parser.Node) bool {
		switch n := n.(type) {
		case *parser.Call:
			found = found || n.Func.Name == "time"
		case *parser.VectorSelector:
			name := strings.ToLower(n.Name)
			found = found || name == "alerts" || name == "alerts_for_state" ||
				strings.Contains(name, "_ttl") || strings.HasPrefix(name, "ttl") || strings.Contains(name, "expir")
		}
		return !found
	})
	return found
}
