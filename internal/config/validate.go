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

// reservedNamespaces are the namespaces Kubernetes creates and runs in.
// A stack there would relabel one (PodSecurity restricted under the
// control plane's pods), prune what it holds, or mix its objects with
// everyone's (default).
var reservedNamespaces = []string{"default", "kube-node-lease", "kube-public", "kube-system"}

// ReservedNamespace reports whether ns is one of the namespaces Kubernetes
// owns, which no stack, rule set or lock may take: obsctl.yaml refuses it
// (config/schema) and the CLI refuses it as -n.
func ReservedNamespace(ns string) bool { return slices.Contains(reservedNamespaces, ns) }

// reservedHint says what to do about a reserved namespace.
const reservedHint = "choose a namespace of the stack's own, such as monitoring: obsctl labels, restricts and may prune its namespaces"

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
			report(c.Prometheus.Entry("externalLabels", k), "", "invalid label name %q", k)
		}
	}
	if ReservedNamespace(c.Rules.Namespace) {
		report(c.Rules.Span("namespace"), reservedHint, "rules.namespace %q is reserved for Kubernetes itself", c.Rules.Namespace)
	}
	validateStack(report, c)
	if v := c.Lint.FailOn; v != "" {
		if _, err := diag.ParseSeverity(v); err != nil {
			report(c.Lint.Span("failOn"), "", "%v", err)
		}
	}
	a := &c.Alerting
	seenSev := map[string]bool{}
	for i, s := range a.Severities {
		if seenSev[s] {
			report(a.Item("severities", i), "", "severity %q is declared twice", s)
		}
		seenSev[s] = true
	}
	for i, l := range a.GroupBy {
		if l != "..." && !labelNameRE.MatchString(l) {
			report(a.Item("groupBy", i), "", "invalid label name %q", l)
		}
	}
	for i, l := range a.Inhibit.Equal {
		if !labelNameRE.MatchString(l) {
			report(a.Inhibit.Item("equal", i), "", "invalid label name %q", l)
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
