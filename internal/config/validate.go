package config

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"

	"github.com/obsctl/obsctl/internal/diag"
)

func reflectValue(p any) reflect.Value { return reflect.ValueOf(p).Elem() }

var (
	labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	stackNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$`)
)

// validate checks what the schema alone cannot: versions, names and
// references inside the file.
func validate(d *decoder, c *Config) {
	report := func(span diag.Span, hint, format string, args ...any) {
		d.findings = append(d.findings, diag.Finding{Check: CheckSchema, Severity: diag.Error, Span: span,
			Message: fmt.Sprintf(format, args...), Hint: hint})
	}
	if c.Fields.Has("apiVersion") && c.APIVersion != APIVersion {
		report(c.Span("apiVersion"), "this obsctl reads "+APIVersion,
			"unsupported apiVersion %q", c.APIVersion)
	}
	if c.Name != "" && !stackNameRE.MatchString(c.Name) {
		report(c.Span("name"), "use lower-case letters, digits and dashes, at most 40 characters",
			"invalid stack name %q", c.Name)
	}
	for _, k := range slices.Sorted(maps.Keys(c.Prometheus.ExternalLabels)) { // map order is random
		if !labelNameRE.MatchString(k) {
			report(c.Prometheus.Span("externalLabels"), "", "invalid label name %q", k)
		}
	}
	validateStack(report, c)
	if v := c.Lint.FailOn; v != "" {
		if _, err := diag.ParseSeverity(v); err != nil {
			report(c.Lint.Span("failOn"), "", "%v", err)
		}
	}
	a := &c.Alerting
	seenSev := map[string]bool{}
	for _, s := range a.Severities {
		if seenSev[s] {
			report(a.Span("severities"), "", "severity %q is declared twice", s)
		}
		seenSev[s] = true
	}
	for _, l := range append(append([]string{}, a.GroupBy...), a.Inhibit.Equal...) {
		if l != "..." && !labelNameRE.MatchString(l) {
			report(a.Span("groupBy"), "", "invalid label name %q", l)
		}
	}
	seenRecv := map[string]bool{}
	for i := range a.Receivers {
		r := &a.Receivers[i]
		if r.Name == "" {
			continue
		}
		if seenRecv[r.Name] {
			report(r.Span("name"), "receiver names must be unique", "receiver %q is declared twice", r.Name)
		}
		seenRecv[r.Name] = true
	}
}
