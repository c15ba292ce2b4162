package lint

import (
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
)

// emptyFile reports rule files that define no rule groups and no
// PrometheusRule objects: an empty file, one holding only comments, or
// one with `groups: []`.
//
// Such a file loads as nothing. Most often it is what is left after its
// rules were moved, or a file whose content was commented out during an
// incident and never restored: the alerts it used to hold are gone, and
// nothing says so. That is why this is an error that stops CI rather than
// a warning. Delete the file, or restore its rules. A file that does not
// parse is reported by yaml/syntax or rules/schema instead.
//
// This is a file check: silence it for a file with
// `# obsctl:disable-file rules/empty-file`.
type emptyFile struct{}

func (emptyFile) Name() string { return "rules/empty-file" }

func (emptyFile) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeFile, Summary: "A rule file defines no groups."}
}

func (emptyFile) Check(p *Pass) {
	f := p.File
	if len(f.Groups) > 0 || len(f.Objects) > 0 {
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
	p.Report(f.Whole(), "delete the file, or add `groups:` with rules", "rule file defines no rule groups")
}
