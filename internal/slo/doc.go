// Package slo reads service level objectives (slos/*.yaml, kind SLO) and
// compiles each into what Prometheus runs and obsctl tests: a rule group
// of recording rules (the error ratio over every window the alerts need,
// the error budget) and multi-window, multi-burn-rate alerts at a page
// and a ticket severity, rule unit tests in promtool's format that put
// every alert just above and just below its thresholds, and a Grafana
// dashboard of every SLO's error budget and burn rates.
//
// It sits in the load stage: package load reads the specs with Load and
// adds the compiled rule group to the repo's rule files under the spec's
// own path, so that lint, test, build and render see the rules as any
// other, and what they say about them points at the spec.
package slo
