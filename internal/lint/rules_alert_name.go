package lint

import (
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
)

// alertName reports alert names that are not UpperCamelCase
// (^[A-Z][A-Za-z0-9]*$), such as `high_error_rate` or `api-down`.
//
// The alert name is what the on-call reads first in a page, searches for
// in runbooks and dashboards, and writes in silences and routes
// (`alertname="KubePodCrashLooping"`). One naming style across the repo,
// the one Prometheus' and the community mixins' alerts use, makes those
// searches and matchers work the first time at 3 a.m.
//
// Rename the alert (`HighErrorRate`, `ApiDown`), and update routes,
// inhibitions, silences and dashboards that match on the old name in the
// same change. Silence the check for one rule with
// `# obsctl:disable rules/alert-name`.
//
// It is a matter of house style, so it is off by default: enable it with
// `--enable rules/alert-name` or lint.enable. Public collections name
// alerts in other established styles (`etcdHighFsyncDurations`, a
// variant in parentheses).
type alertName struct{}

func (alertName) Name() string { return "rules/alert-name" }

func (alertName) Meta() Meta {
	return Meta{Severity: diag.Info, Scope: ScopeRule, Optional: true, Summary: "An alert name is not UpperCamelCase."}
}

func (alertName) Check(p *Pass) {
	r := p.Rule
	if !r.IsAlert() || isUpperCamel(r.Alert) {
		return
	}
	hint := "use UpperCamelCase, and update routes and silences that match the old name"
	if s := upperCamel(r.Alert); isUpperCamel(s) {
		hint = "rename it to " + s + ", and update routes and silences that match the old name"
	}
	p.Report(r.NameSpan, hint, "alert name %q is not UpperCamelCase", r.Alert)
}

// isUpperCamel reports whether s matches ^[A-Z][A-Za-z0-9]*$.
func isUpperCamel(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// upperCamel joins the words of s, capitalised: high_error-rate becomes
// HighErrorRate.
func upperCamel(s string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		b.WriteString(strings.ToUpper(w[:1]))
		b.WriteString(w[1:])
	}
	return b.String()
}
