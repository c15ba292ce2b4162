package lint

import (
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/load"
)

// unusedRecord reports recording rules whose series nothing in the repo
// reads: no rule's expression, no alert's annotation (a template's
// query), no dashboard (a panel's or variable's query), no rule unit test
// (a promql_expr_test's query, in a *_test.yaml under the rule paths).
//
// Every recording rule is evaluated, and its series stored, whether or
// not anything reads it. An unused one is often the leftover of an alert
// that was deleted or moved to another name, or the sign that an alert
// selects a misspelt name instead (see rules/undefined-record). Delete it,
// or point the alert that should use it at it.
//
// Recorded series are also read by ad-hoc queries and by dashboards kept
// elsewhere, which obsctl does not see, so this is only information, and
// nothing is reported when only some of the repo's files were loaded.
// Mark a rule kept for them with `# obsctl:disable rules/unused-record`.
type unusedRecord struct{}

func (unusedRecord) Name() string { return "rules/unused-record" }

func (unusedRecord) Meta() Meta {
	return Meta{Severity: diag.Info, Scope: ScopeRepo, Summary: "A recording rule is read by no rule, annotation or dashboard in the repo."}
}

func (unusedRecord) Check(p *Pass) {
	if p.Index.UsesUnknown || p.Repo == nil || p.Repo.Partial {
		return // a use may be in what could not be read, or was not loaded
	}
	var read map[string]bool // recorded names read outside rule expressions
	for _, r := range p.Index.Rules {
		if r.Record == "" || r.IsAlert() || len(p.Index.Uses[r.Record]) > 0 {
			continue
		}
		if read == nil {
			read = recordedNamesRead(p.Repo, p.Index)
		}
		if read[r.Record] {
			continue
		}
		p.ReportRef(r, r.NameSpan(), "delete it, or mark a series read outside the repo with `# obsctl:disable rules/unused-record`",
			"recording rule %q is not read by any rule, annotation or dashboard in the repo", r.Record)
	}
}

// recordedNamesRead returns the recorded series names (names with a colon)
// that the repo's dashboards, rule unit tests and alert annotations
// mention. They are found as words of metric-name characters, not by
// parsing: a dashboard's queries hold Grafana variables
// ($__rate_interval, $cluster) and an annotation's queries are template
// strings, which PromQL does not parse.
func recordedNamesRead(r *load.Repo, idx *Index) map[string]bool {
	out := map[string]bool{}
	for _, d := range r.Dashboards {
		colonWords(d.Src, out)
	}
	for _, t := range r.RuleTests {
		colonWords(t.Src, out) // promql_expr_test queries
	}
	for _, t := range r.SLOTests {
		colonWords(t.Src, out) // an SLO's generated tests read every series it records
	}
	for w := range idx.annotationReads {
		out[w] = true
	}
	return out
}

// colonWords adds to out every maximal run of metric-name characters in
// src that holds a colon.
func colonWords(src []byte, out map[string]bool) {
	for i := 0; i < len(src); {
		if src[i] == '\\' {
			i += 2 // an escape such as \n in a JSON string: not part of a name
			continue
		}
		if !isMetricNameByte(src[i]) {
			i++
			continue
		}
		j, colon := i, false
		for j < len(src) && isMetricNameByte(src[j]) {
			colon = colon || src[j] == ':'
			j++
		}
		if colon {
			out[string(src[i:j])] = true
		}
		i = j
	}
}

func isMetricNameByte(c byte) bool {
	return c == ':' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
