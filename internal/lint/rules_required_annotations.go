package lint

import (
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
)

// requiredAnnotations reports alerts that lack an annotation every alert
// must carry, or carry it empty. By default these are `summary` and
// `description`, plus `runbook_url` unless rules.requireRunbookURL is
// false; rules.requiredAnnotations in obsctl.yaml replaces the first two.
// The person paged at 3 a.m. reads the summary on their phone, the
// description to know what broke, and the runbook to know what to do.
type requiredAnnotations struct{}

func (requiredAnnotations) Name() string { return "rules/required-annotations" }

func (requiredAnnotations) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRule, Summary: "An alert lacks a required annotation (summary, description, runbook_url)."}
}

func (requiredAnnotations) Check(p *Pass) {
	r := p.Rule
	if !r.IsAlert() || r.Refused("annotations") {
		return // rules/schema reports the annotations it could not read
	}
	for _, name := range p.Config.RequiredAnnotations() {
		kv, ok := r.Annotation(name)
		switch {
		case !ok:
			p.Report(r.NameSpan, "add it under annotations", "alert %q has no %s annotation", r.Alert, name)
		case strings.TrimSpace(kv.Value) == "":
			p.Report(kv.ValueSpan(), "", "alert %q has an empty %s annotation", r.Alert, name)
		case name == "runbook_url" && !strings.Contains(kv.Value, "://") && !strings.Contains(kv.Value, "{{"):
			p.Report(kv.ValueSpan(), "use an absolute URL such as https://runbooks.example.com/...", "runbook_url of alert %q is not a URL", r.Alert)
		}
	}
}
