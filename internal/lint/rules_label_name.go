package lint

import (
	"strconv"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
)

// labelName reports label and annotation names that will cause trouble:
//
//   - names that are not [a-zA-Z_][a-zA-Z0-9_]*, such as `team-name` or
//     `app.kubernetes.io/name`. Older Prometheus versions refuse the file;
//     newer ones accept them only with UTF-8 names enabled, and even then
//     Alertmanager matchers and templates (`.Labels.team-name`) need
//     quoting that is easy to get wrong, so routes stop matching;
//   - names starting with `__`, which Prometheus reserves for itself
//     (`__name__` on a recording rule renames the series it writes);
//   - an alert label, or group label, named `alertname`, which replaces
//     the alert's own name: routes, silences, inhibitions and the on-call's
//     search for the alert all use the wrong one.
//
// Rule labels and annotations are checked with their rule, group labels
// with the group's first rule. Use snake_case names such as `team_name`,
// and keep the alert's name in `alert:`. Silence the check for one rule
// with `# obsctl:disable rules/label-name`; group labels only with
// `# obsctl:disable-file rules/label-name`.
type labelName struct{}

func (labelName) Name() string { return "rules/label-name" }

func (labelName) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRule, Summary: "A label or annotation name is invalid, reserved (__*) or overrides alertname."}
}

func (labelName) Check(p *Pass) {
	r := p.Rule
	for _, kv := range r.Labels {
		if msg, hint := badLabelName(kv.Key, "label", r.IsAlert()); msg != "" {
			p.Report(kv.KeySpan(), hint, "%s", msg)
		}
	}
	for _, kv := range r.Annotations {
		if msg, hint := badLabelName(kv.Key, "annotation", false); msg != "" {
			p.Report(kv.KeySpan(), hint, "%s", msg)
		}
	}
	// Group labels are checked once, with the group's first rule, and
	// only a file-wide disable comment silences them.
	if g := r.Group; g != nil && len(g.Rules) > 0 && g.Rules[0] == r {
		for _, kv := range g.Labels {
			if msg, hint := badLabelName(kv.Key, "group label", true); msg != "" {
				p.ReportRule(p.File, nil, kv.KeySpan(), hint, "%s", msg)
			}
		}
	}
}

// badLabelName says what is wrong with label or annotation name n, if
// anything; what names the kind of name, and alert tells whether
// `alertname` is forbidden.
func badLabelName(n, what string, alert bool) (msg, hint string) {
	switch {
	case !validLabelName(n):
		return what + " name " + strconv.Quote(n) + " is not a valid Prometheus label name",
			"use letters, digits and underscores, not starting with a digit, for example " + strconv.Quote(snakeLabelName(n))
	case strings.HasPrefix(n, "__"):
		return what + " name " + strconv.Quote(n) + " is reserved: names starting with __ are Prometheus' own",
			"use a name that does not start with __"
	case alert && n == "alertname":
		return what + " `alertname` replaces the alert's name, so routes, silences and inhibitions see another alert",
			"drop the label; the alert's name is set by `alert:`"
	}
	return "", ""
}

// validLabelName reports whether n is [a-zA-Z_][a-zA-Z0-9_]*.
func validLabelName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// snakeLabelName turns n into a valid label name by replacing every other
// character with an underscore.
func snakeLabelName(n string) string {
	var b strings.Builder
	for i, c := range n {
		switch {
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' && i > 0:
			b.WriteRune(c)
		case c >= '0' && c <= '9':
			b.WriteString("_")
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "name"
	}
	return b.String()
}
