package lint

import (
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
)

// ReportSecret is ReportRule for a finding whose span covers a secret
// value: the finding is marked Secret, so that reporters never print the
// source text under it. The message and hint must not quote the secret
// either.
func (p *Pass) ReportSecret(f *promrule.File, r *promrule.Rule, span diag.Span, hint, format string, args ...any) {
	n := len(*p.out)
	p.ReportRule(f, r, span, hint, format, args...)
	if len(*p.out) > n {
		(*p.out)[n].Secret = true
	}
}
