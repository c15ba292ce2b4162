package lint

import "github.com/obsctl/obsctl/internal/diag"

// The checks below report through the SLO loader (internal/slo), which
// reads slos/*.yaml and compiles each spec into a rule group. They are
// registered so that they can be explained, listed and disabled like any
// other (slos/schema excepted: it cannot be disabled); their names are the
// loader's Check constants. An SLO with an error is not compiled: its
// rules, tests and dashboard rows are missing until it is fixed.
//
// What an SLO's compiled rules select is judged by the rule checks, at
// the spec: a metric no program of the stack exposes is
// rules/unknown-metric at the SLI, a severity obsctl.yaml does not declare
// alerting/undeclared-severity at the severity, a rate window under four
// scrape intervals rules/rate-window.

// sloSchema reports an SLO file whose shape is wrong: an unknown or
// misspelt key (with the closest valid key as a hint), a wrong type, a
// missing required key (apiVersion, kind, name, service, objective, sli),
// an SLI that is neither one ratio (good or bad, and total) nor one
// latency, a name that is not a DNS label, a label obsctl sets itself
// (slo, service, severity), a summary or description annotation (obsctl
// writes them), or an annotation written as a template (the generated
// tests check every annotation as written). Specs are decoded strictly so
// that a typo never silently changes what pages.
//
// It cannot be disabled: lint.disable, --disable (by name, slos/* or all)
// leave it on.
type sloSchema struct{}

func (sloSchema) Name() string { return "slos/schema" }

func (sloSchema) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Required: true, Summary: "An SLO file has an unknown key, a wrong type or a missing key."}
}

func (sloSchema) Check(*Pass) {}

// sloObjective reports an objective that is not a number strictly between
// 0 and 100 (a percentage of good events: 99.9). At 100 there is no error
// budget to burn, so no alert could ever be written.
type sloObjective struct{}

func (sloObjective) Name() string { return "slos/objective" }

func (sloObjective) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Summary: "An SLO's objective is not a percentage between 0 and 100."}
}

func (sloObjective) Check(*Pass) {}

// sloBurnRate reports an objective so low that a window pair of its
// burn-rate alert can never fire: the pair holds when the error ratio is
// above its factor times the error budget, and at an objective of 90% the
// page's 14.4x over an hour is an error ratio of 1.44, more than every
// event failing. Objectives above 93.06% keep every pair able to fire;
// below, alert on the SLI with rules of the repo's own.
type sloBurnRate struct{}

func (sloBurnRate) Name() string { return "slos/burn-rate" }

func (sloBurnRate) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeLoad, Summary: "An SLO's objective leaves a burn-rate alert that can never fire."}
}

func (sloBurnRate) Check(*Pass) {}

// sloWindow reports a compliance window that is not a duration (30d, 4w),
// or is shorter than a day: the burn-rate windows, scaled from the 30-day
// ones, would be shorter than a minute.
type sloWindow struct{}

func (sloWindow) Name() string { return "slos/window" }

func (sloWindow) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Summary: "An SLO's window is not a duration of a day or more."}
}

func (sloWindow) Check(*Pass) {}

// sloPromQL reports an SLI selector that does not parse, or is not a
// series selector of a named metric (obsctl takes its rate over each
// window itself, so an expression, a range or an offset has no place
// there); a latency histogram that is not a _bucket series or matches le
// (the threshold chooses the bucket); and SLI selectors for which no
// series can be both a bad and a counted event, or no event good: then
// every event is bad (or none is), and obsctl cannot write the SLO's tests.
type sloPromQL struct{}

func (sloPromQL) Name() string { return "slos/promql" }

func (sloPromQL) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Summary: "An SLI selector does not parse, or is not a counter's series selector."}
}

func (sloPromQL) Check(*Pass) {}

// sloLatencyBucket reports a latency threshold that is not a bucket
// boundary of its histogram, where obsctl knows the boundaries (the API
// server's request latencies). A classic histogram only counts events at
// or under its boundaries: no series has the threshold's le, so every
// event would count as slow and the SLO would page for ever.
type sloLatencyBucket struct{}

func (sloLatencyBucket) Name() string { return "slos/latency-bucket" }

func (sloLatencyBucket) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Summary: "A latency SLO's threshold is not a bucket boundary of its histogram."}
}

func (sloLatencyBucket) Check(*Pass) {}

// sloNameCollision reports two SLOs of one name, which would compile to
// one rule group and one slo label twice, and an SLO whose alert name is
// an alert of the repo's rules too: the two would share notifications,
// silences and inhibitions.
type sloNameCollision struct{}

func (sloNameCollision) Name() string { return "slos/name-collision" }

func (sloNameCollision) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "Two SLOs share a name, or an SLO's alert name is a rule's."}
}

func (sloNameCollision) Check(p *Pass) {
	if p.Repo == nil || p.Index == nil {
		return
	}
	for _, s := range p.Repo.SLOs {
		for _, ref := range p.Index.Alerts[s.Alerting.Name] {
			if ref.NameSpan().File == s.File.Path {
				continue
			}
			at := s.Alerting.NameSpan
			if at.File == "" {
				at = s.NameSpan
			}
			p.Report(at, "name the SLO's alert with alerting.name", "alert %s of SLO %s is also the alert at %s", s.Alerting.Name, s.Name, ref.NameSpan())
			break
		}
	}
}
