package lint

import (
	"slices"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
)

// requiredAnnotations reports alerts that lack an annotation every alert
// must carry, or carry it empty. By default these are `summary` and
// `description`; rules.requiredAnnotations in obsctl.yaml replaces them.
// With rules.requireRunbookURL: true an alert needs a runbook too: a
// `runbook_url` annotation, or any annotation rules.runbookAnnotations
// names as equivalent (for a project whose convention is `documentation`
// or `playbook`). Files linted with no obsctl.yaml require nothing: which
// annotations an alert carries is the repo's policy (a `message`
// annotation is another established convention), and there is none. The person paged at 3 a.m. reads the summary on their
// phone, the description to know what broke, and the runbook to know what
// to do.
type requiredAnnotations struct{}

func (requiredAnnotations) Name() string { return "rules/required-annotations" }

func (requiredAnnotations) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRule, Summary: "An alert lacks a required annotation (summary, description, and a runbook when required)."}
}

func (requiredAnnotations) Check(p *Pass) {
	r := p.Rule
	if !r.IsAlert() || r.Refused("annotations") {
		return // rules/schema reports the annotations it could not read
	}
	if p.Repo != nil && p.Repo.Neutral {
		return // no obsctl.yaml: no policy to hold the alert to
	}
	runbooks := p.Config.RunbookAnnotations()
	for _, name := range p.Config.RequiredAnnotations() {
		kv, ok := r.Annotation(name)
		if !ok && slices.Contains(runbooks, name) {
			// Any equivalent runbook annotation will do: the first one
			// written, empty or not, is judged.
			for _, alt := range runbooks {
				if kv, ok = r.Annotation(alt); ok {
					name = alt
					break
				}
			}
		}
		switch {
		case !ok && slices.Contains(runbooks, name) && len(runbooks) > 1:
			p.Report(r.NameSpan, "add one under annotations", "alert %q has no runbook annotation (%s)", r.Alert, strings.Join(runbooks, ", "))
		case !ok:
			p.Report(r.NameSpan, "add it under annotations", "alert %q has no %s annotation", r.Alert, name)
		case strings.TrimSpace(kv.Value) == "":
			p.Report(kv.ValueSpan(), "", "alert %q has an empty %s annotation", r.Alert, name)
		case name == "runbook_url" && !strings.Contains(kv.Value, "://") && !strings.Contains(kv.Value, "{{"):
			p.Report(kv.ValueSpan(), "use an absolute URL such as https://runbooks.example.com/...", "runbook_url of alert %q is not a URL", r.Alert)
		}
	}
}
