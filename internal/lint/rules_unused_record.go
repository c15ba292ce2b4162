package lint

import "github.com/obsctl/obsctl/internal/diag"

// unusedRecord reports recording rules whose series no expression in the
// repo selects.
//
// Every recording rule is evaluated, and its series stored, whether or
// not anything reads it. An unused one is often the leftover of an alert
// that was deleted or moved to another name, or the sign that an alert
// selects a misspelt name instead (see rules/undefined-record). Delete it,
// or point the alert that should use it at it.
//
// Recorded series are also read by dashboards and ad-hoc queries, which
// obsctl does not see, so this is only information. Mark a rule kept for
// them with `# obsctl:disable rules/unused-record`.
type unusedRecord struct{}

func (unusedRecord) Name() string { return "rules/unused-record" }

func (unusedRecord) Meta() Meta {
	return Meta{Severity: diag.Info, Scope: ScopeRepo, Summary: "A recording rule is used by no rule in the repo."}
}

func (unusedRecord) Check(p *Pass) {
	if p.Index.UsesUnknown {
		return // a use may be in what could not be read
	}
	for _, r := range p.Index.Rules {
		if r.Record == "" || r.IsAlert() || len(p.Index.Uses[r.Record]) > 0 {
			continue
		}
		p.ReportRef(r, r.NameSpan, "delete it, or mark a series read by dashboards with `# obsctl:disable rules/unused-record`",
			"recording rule %q is not used by any rule in the repo", r.Record)
	}
}
