package lint

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/spell"
)

// undefinedRecord reports expressions that select a recorded series (a
// name with a colon, level:metric:operations) that no recording rule in
// the repo defines.
//
// A selector for a series that does not exist returns nothing, and an
// alert over nothing never fires. That is what happens when a recording
// rule is renamed or deleted and its users are not updated, or when a
// name is misspelt: the alert looks fine in review and stays silent
// through the outage it was written for. Fix the name, or add the
// recording rule.
//
// Files linted with no obsctl.yaml are not known to be all there is: the
// series may be recorded by rules elsewhere (another collection the
// project depends on, or an exporter whose own metric names hold colons),
// so only a name one or two edits away from a recorded one, a likely
// misspelling, is reported then.
//
// A series recorded outside this repo (by another Prometheus and
// federated in, for example) is a legitimate use: say so for the rule with
// `# obsctl:disable rules/undefined-record`, or for the whole file with
// `# obsctl:disable-file rules/undefined-record`.
type undefinedRecord struct{}

func (undefinedRecord) Name() string { return "rules/undefined-record" }

func (undefinedRecord) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRepo, Summary: "An expression selects a recorded series (level:metric:op) that no recording rule defines."}
}

func (undefinedRecord) Check(p *Pass) {
	if p.Index.RecordsUnknown {
		return // a definition may be in what could not be read
	}
	partial := p.Repo != nil && p.Repo.Partial
	var defined []string
	if partial {
		defined = slices.Sorted(maps.Keys(p.Index.Records))
	}
	for name, uses := range p.Index.Uses {
		if len(p.Index.Records[name]) > 0 {
			continue
		}
		hint, msg := "check the spelling, or add the recording rule; a series recorded elsewhere can be marked with `# obsctl:disable rules/undefined-record`",
			"%q is not defined by any recording rule: the selector returns nothing"
		if partial {
			near := spell.Closest(name, defined)
			if near == "" || spell.Distance(name, near) > 2 {
				continue // may be recorded by what was not given
			}
			hint, msg = fmt.Sprintf("did you mean %q?", near), "%q is not defined by any recording rule, but "+strconv.Quote(near)+" is: the selector returns nothing"
		}
		for _, u := range uses {
			p.ReportRef(u.Rule, u.Span(), hint, msg, name)
		}
	}
}
