package lint

import (
	"regexp"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/source"
)

// emptyFile reports rule files whose rules are all commented out: a file
// that defines no rule groups and no PrometheusRule objects, and whose
// comments hold what reads as rules (`# - alert:`, `#   expr:`,
// `# groups:`).
//
// Such a file loads as nothing. Most often its content was commented out
// during an incident and never restored: the alerts it used to hold are
// gone, and nothing says so. Restore the rules, or delete the file.
//
// A file that is empty on purpose is left alone: an empty file, `{}`,
// `null` or `groups: []`, as the generators of monitoring mixins write
// for a mixin without recording rules; Prometheus and promtool load them
// as no rules, and so does obsctl. A file that does not parse is reported
// by yaml/syntax or rules/schema instead.
//
// This is a file check: silence it for a file with
// `# obsctl:disable-file rules/empty-file`.
type emptyFile struct{}

func (emptyFile) Name() string { return "rules/empty-file" }

func (emptyFile) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeFile, Summary: "A rule file's rules are all commented out."}
}

func (emptyFile) Check(p *Pass) {
	f := p.File
	if len(f.Groups) > 0 || len(f.Objects) > 0 {
		return
	}
	at, ok := commentedRule(f.File)
	if !ok {
		return
	}
	// An empty file is rare, so looking through the load findings here
	// costs nothing in the common case.
	if p.Repo != nil {
		for _, fd := range p.Repo.Findings {
			if fd.File == f.Path && (fd.Check == promrule.CheckSyntax || fd.Check == promrule.CheckSchema) {
				return
			}
		}
	}
	p.Report(at, "restore the rules, or delete the file", "rule file defines no rule groups: its rules are commented out")
}

// commentedRuleRE is a comment line that reads as part of a rule file.
var commentedRuleRE = regexp.MustCompile(`^\s*#+\s*(?:-\s*)?(?:groups|alert|record|expr|rules)\s*:`)

// commentedRule returns where the first line of f that is a
// commented-out piece of a rule file starts.
func commentedRule(f *source.File) (diag.Span, bool) {
	for n := 1; n <= f.NumLines(); n++ {
		if l := f.Line(n); commentedRuleRE.MatchString(l) {
			return f.At(n, 1+strings.IndexByte(l, '#')), true
		}
	}
	return diag.Span{}, false
}
