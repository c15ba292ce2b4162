package lint

import (
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/routetest"
	"github.com/obsctl/obsctl/internal/ruletest"
	"slices"
)

// untested reports, in a repo that requires coverage
// (`tests.requireCoverage: true` in obsctl.yaml), the alerts no rule unit
// test makes fire (no alert_rule_test names the alert with exp_alerts)
// and those no test expects silent (none names it with no exp_alerts;
// an alert whose expression reads no series, such as a Watchdog's
// `vector(1)`, needs none).
//
// `obsctl test --coverage` judges the same by running the tests: that a
// firing test passes and asserts the alert's severity and every
// annotation, and that the silent one runs on input every selector of the
// expression matches. Lint cannot run tests, so it only sees whether
// they exist; a test file that cannot be read leaves it silent, as does a
// run on some of the repo's files only.
//
// A repo that does not ask for coverage, such as a public rule
// collection without tests, is not judged.
type untested struct{}

func (untested) Name() string { return "rules/untested" }

func (untested) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRepo, Summary: "An alert no rule unit test makes fire or expects silent, in a repo that requires coverage."}
}

// readsAlertExprs: Check reads the expressions of untested alerts when
// the repo requires coverage (lint keeps them for it then).
func (untested) readsAlertExprs(p *Pass) bool {
	return p.Config != nil && p.Config.Tests.RequireCoverage
}

func (untested) Check(p *Pass) {
	if p.Repo == nil || p.Repo.Partial || p.Config == nil || !p.Config.Tests.RequireCoverage {
		return
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	// An SLO's generated tests count as its rules' tests.
	for _, t := range append(slices.Clone(p.Repo.RuleTests), p.Repo.SLOTests...) {
		if routetest.IsRouteTest(t.Src) {
			continue
		}
		tf, fds := ruletest.Parse(t)
		for _, fd := range fds {
			if fd.Severity >= diag.Error {
				return // what it tests is unknown
			}
		}
		for _, g := range tf.Tests {
			for _, a := range g.AlertTests {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname] = true
				} else {
					silent[a.Alertname] = true
				}
			}
		}
	}
	const hint = "add an alert_rule_test (obsctl test --coverage says what a test must show)"
	for _, r := range p.Index.Rules {
		if !r.IsAlert() {
			continue
		}
		switch {
		case !fires[r.Alert] && !silent[r.Alert]:
			p.ReportRef(r, r.NameSpan(), hint, "no rule unit test makes alert %q fire or expects it silent", r.Alert)
		case !fires[r.Alert]:
			p.ReportRef(r, r.NameSpan(), hint, "no rule unit test makes alert %q fire", r.Alert)
		case !silent[r.Alert] && readsSeries(p.RuleExpr(r)):
			p.ReportRef(r, r.NameSpan(), hint, "no rule unit test expects alert %q silent", r.Alert)
		}
	}
}

// readsSeries reports whether the expression selects any series; one
// that does not parse is taken to.
func readsSeries(expr string) bool {
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return true
	}
	return ruletest.HasSelector(e)
}
