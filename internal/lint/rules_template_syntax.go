package lint

import (
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
)

// templateSyntax reports alert labels and annotations whose Go template
// does not parse with Prometheus' template functions: an unclosed `{{`, an
// unknown function such as `humanise`, a stray `}}`. Prometheus refuses
// the whole rule file over it, and where it does not (a label template is
// only expanded when the alert fires) the notification shows an error
// instead of the text.
type templateSyntax struct{}

func (templateSyntax) Name() string { return "rules/template-syntax" }

func (templateSyntax) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRule, Summary: "A label or annotation template does not parse."}
}

func (templateSyntax) Check(p *Pass) {
	for _, t := range p.Templates() {
		if t.Err == nil {
			continue
		}
		kind := "annotation"
		if t.IsLabel {
			kind = "label"
		}
		msg := t.Err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "template: ") {
			msg = msg[i+2:]
		}
		p.Report(t.Span(p.Rule, t.ErrOffset), "", "%s %q of alert %q: invalid template: %s", kind, t.KV.Key, p.Rule.Alert, msg)
	}
}
