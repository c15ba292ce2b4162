package config

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/diag"
)

// Defaults says which parts of obsctl's embedded default content a repo
// builds on: all of them unless obsctl.yaml says otherwise. `defaults:
// false` takes none; a mapping turns parts off one by one.
type Defaults struct {
	Fields
	// Rules are the default alerting and recording rules, with their
	// unit tests.
	Rules *bool `yaml:"rules"`
	// Dashboards are the default Grafana dashboards.
	Dashboards *bool `yaml:"dashboards"`
	// Pipelines are the default Fluentd pipelines (after the repo's own).
	Pipelines *bool `yaml:"pipelines"`
	// SLOs are the default service level objectives.
	SLOs *bool `yaml:"slos"`
	// Routing is the routing skeleton: the default severities, notification
	// grouping and timing where the repo's alerting leaves them out.
	Routing *bool `yaml:"routing"`
	// off is set by `defaults: false`.
	off bool
}

func (df *Defaults) decodeNode(d *decoder, n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!bool" {
		b, _ := strconv.ParseBool(n.Value)
		df.off = !b
		df.At = d.span(n)
		return
	}
	d.decodeStruct(n, reflectValue(df), "defaults")
}

// DefaultsOn reports whether part (rules, dashboards, pipelines, slos,
// routing) of the default content comes in under the repo's own.
func (c *Config) DefaultsOn(part string) bool {
	if c == nil || c.Defaults.off {
		return false
	}
	var b *bool
	switch part {
	case "rules":
		b = c.Defaults.Rules
	case "dashboards":
		b = c.Defaults.Dashboards
	case "pipelines":
		b = c.Defaults.Pipelines
	case "slos":
		b = c.Defaults.SLOs
	case "routing":
		b = c.Defaults.Routing
	default:
		panic("config: no default content " + part)
	}
	return b == nil || *b
}

// AnyDefaults reports whether any part of the default content comes in.
func (c *Config) AnyDefaults() bool {
	return slices.ContainsFunc(DefaultParts, c.DefaultsOn)
}

// DefaultParts are the parts of the default content, as defaults: names them.
var DefaultParts = []string{"rules", "dashboards", "pipelines", "slos", "routing"}

// Overrides change the default content item by item, in the manner of
// kube-prometheus-stack's values but per item: an alert, a group, a
// dashboard or a pipeline is disabled, and an alert's for, severity,
// labels, annotations and declared parameters are changed. They apply to
// the default content only: the repo's own is changed where it is.
type Overrides struct {
	Fields
	// Alerts are keyed by alert name, or by a selector of the alert's
	// name and its labels, such as NodeFilesystemAlmostFull{severity="critical"},
	// when the defaults have several alerts of one name.
	Alerts map[string]*AlertOverride `yaml:"alerts"`
	// Groups are keyed by rule group name.
	Groups map[string]*Toggle `yaml:"groups"`
	// Dashboards are keyed by the dashboard's uid.
	Dashboards map[string]*Toggle `yaml:"dashboards"`
	// Pipelines are keyed by pipeline name.
	Pipelines map[string]*Toggle `yaml:"pipelines"`
	// Severities map the default content's severities to the repo's
	// (page: critical): every default alert of the one has the other,
	// unless an override of the alert sets its severity.
	Severities map[string]string `yaml:"severities"`
	// Labels are set on every default alert (added, or replacing the
	// default's), unless an override of the alert sets the label: the
	// team or cluster a route or a receiver's template reads.
	Labels map[string]string `yaml:"labels"`
	// Annotations are set on every default alert, unless an override of
	// the alert sets the annotation.
	Annotations map[string]string `yaml:"annotations"`
	// RunbookBaseURL is where the links to obsctl's runbooks lead, in
	// what obsctl builds and applies: a site of the team's that serves
	// obsctl's docs/runbooks/*.md under it (an air-gapped cluster cannot
	// reach GitHub). Default: obsctl's source on GitHub, at the version of
	// the obsctl that builds the stack. It applies with defaults: false
	// too, to the alerts of a repo that copied the default content.
	RunbookBaseURL string `yaml:"runbookBaseURL"`
}

// Toggle disables a default item.
type Toggle struct {
	Fields
	// Disabled leaves the default item out.
	Disabled bool `yaml:"disabled"`
}

// AlertOverride changes a default alert.
type AlertOverride struct {
	Fields
	// Disabled drops the alert.
	Disabled bool `yaml:"disabled"`
	// For replaces the alert's for.
	For Duration `yaml:"for"`
	// Severity replaces the alert's severity label.
	Severity string `yaml:"severity"`
	// Labels are set on the alert (added, or replacing the default's).
	Labels map[string]string `yaml:"labels"`
	// Annotations are set on the alert (added, or replacing the default's).
	Annotations map[string]string `yaml:"annotations"`
	// Parameters set the values of the parameters the alert declares
	// (# obsctl:parameter NAME=VALUE in the default rule file): the
	// thresholds of its expression, changed without rewriting it.
	Parameters map[string]string `yaml:"parameters"`
}

// Changes reports whether o changes the alert's evaluation (for or a
// parameter): a test written for the default then no longer says
// anything about it.
func (o *AlertOverride) Changes() bool {
	return o.For.Set || len(o.Parameters) > 0
}

// Empty reports whether the overrides say nothing of the default items
// (RunbookBaseURL aside: it leads obsctl's runbook links wherever they are,
// also in a repo that copied the default content rather than layering it).
func (o *Overrides) Empty() bool {
	return len(o.Alerts)+len(o.Groups)+len(o.Dashboards)+len(o.Pipelines)+len(o.Severities)+len(o.Labels)+len(o.Annotations) == 0
}

// validateLayer checks defaults: and overrides:.
func validateLayer(report func(diag.Span, string, string, ...any), c *Config) {
	o := &c.Overrides
	if !c.AnyDefaults() && !o.Empty() {
		report(c.Span("overrides"), "remove overrides, or take the default content (defaults:)", "overrides change the default content, which this repo does not take (defaults: false)")
	}
	for _, k := range slices.Sorted(maps.Keys(o.Alerts)) {
		a := o.Alerts[k]
		at := o.Entry("alerts", k)
		if strings.TrimSpace(k) == "" {
			report(at, "key each override by the alert's name", "overrides.alerts: empty alert name")
		}
		if a == nil {
			report(at, "say what to change: disabled, for, severity, labels, annotations or parameters", "overrides.alerts.%s says nothing", k)
			continue
		}
		if a.Disabled && len(a.Fields.Keys) > 1 {
			report(a.Span("disabled"), "keep either disabled or the changes", "overrides.alerts.%s is disabled and changed", k)
		}
		if a.For.Set && a.For.D < 0 {
			report(a.Span("for"), "", "overrides.alerts.%s.for must not be negative", k)
		}
		if a.Fields.Has("severity") && a.Severity == "" {
			report(a.Span("severity"), "", "overrides.alerts.%s.severity is empty", k)
		}
		if a.Severity != "" && len(c.Alerting.Severities) > 0 && !slices.Contains(c.Alerting.Severities, a.Severity) && !c.SilentSeverity(a.Severity) {
			report(a.Span("severity"), "declare it in alerting.severities: "+strings.Join(c.Alerting.Severities, ", "), "overrides.alerts.%s.severity %q is not declared", k, a.Severity)
		}
		for _, name := range slices.Sorted(maps.Keys(a.Labels)) {
			if !labelNameRE.MatchString(name) {
				report(a.Entry("labels", name), "", "invalid label name %q", name)
			}
			if name == "severity" && a.Severity != "" {
				report(a.Entry("labels", name), "keep one of them", "overrides.alerts.%s sets severity twice (severity and labels.severity)", k)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(a.Annotations)) {
			if !labelNameRE.MatchString(name) {
				report(a.Entry("annotations", name), "", "invalid annotation name %q", name)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(a.Parameters)) {
			if _, err := strconv.ParseFloat(a.Parameters[name], 64); err != nil {
				report(a.Entry("parameters", name), "give a number, such as 0.05 or 90", "overrides.alerts.%s.parameters.%s: %q is not a number", k, name, a.Parameters[name])
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(o.Labels)) {
		switch {
		case !labelNameRE.MatchString(name):
			report(o.Entry("labels", name), "", "invalid label name %q", name)
		case name == "severity":
			report(o.Entry("labels", name), "map the default severities to the repo's in overrides.severities", "overrides.labels would give every default alert one severity")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(o.Annotations)) {
		if !labelNameRE.MatchString(name) {
			report(o.Entry("annotations", name), "", "invalid annotation name %q", name)
		}
	}
	if o.RunbookBaseURL != "" {
		if u, err := url.Parse(o.RunbookBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			report(o.Span("runbookBaseURL"), "give the http(s) URL under which docs/runbooks/*.md are served, such as https://wiki.example.com/obsctl/runbooks", "overrides.runbookBaseURL %q is not an http(s) base URL", o.RunbookBaseURL)
		}
	}
	for _, from := range slices.Sorted(maps.Keys(o.Severities)) {
		to := o.Severities[from]
		at := o.Entry("severities", from)
		switch {
		case to == "":
			report(at, "", "overrides.severities.%s is empty", from)
		case len(c.Alerting.Severities) > 0 && !slices.Contains(c.Alerting.Severities, to) && !c.SilentSeverity(to):
			report(at, "declare it in alerting.severities: "+strings.Join(c.Alerting.Severities, ", "), "overrides.severities.%s: %q is not declared", from, to)
		}
	}
	for _, sec := range []struct {
		key string
		m   map[string]*Toggle
	}{{"groups", o.Groups}, {"dashboards", o.Dashboards}, {"pipelines", o.Pipelines}} {
		for _, k := range slices.Sorted(maps.Keys(sec.m)) {
			if t := sec.m[k]; t == nil || !t.Disabled {
				report(o.Entry(sec.key, k), "write disabled: true, or remove the entry", "overrides.%s.%s changes nothing: only disabling is supported", sec.key, k)
			}
		}
	}
}

// String formats the override's key and changes for messages.
func (o *AlertOverride) String() string {
	var parts []string
	if o.Disabled {
		return "disabled"
	}
	if o.For.Set {
		parts = append(parts, "for "+model.Duration(o.For.D).String())
	}
	if o.Severity != "" {
		parts = append(parts, "severity "+o.Severity)
	}
	for _, k := range slices.Sorted(maps.Keys(o.Labels)) {
		parts = append(parts, fmt.Sprintf("label %s=%q", k, o.Labels[k]))
	}
	for _, k := range slices.Sorted(maps.Keys(o.Annotations)) {
		parts = append(parts, "annotation "+k)
	}
	for _, k := range slices.Sorted(maps.Keys(o.Parameters)) {
		parts = append(parts, fmt.Sprintf("%s=%s", k, o.Parameters[k]))
	}
	return strings.Join(parts, ", ")
}
