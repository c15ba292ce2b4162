package config

import (
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"regexp"
	"slices"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/obsctl/obsctl/internal/apiyaml"
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

// namespaceHint says what a namespace name is.
const namespaceHint = "a namespace is lower-case letters, digits and dashes, at most 63 characters"

// validate checks what the schema alone cannot: versions, names and
// references inside the file, and the values Kubernetes would refuse in
// what obsctl renders from them. root is the file's root mapping, for
// positions inside maps.
func validate(d *decoder, c *Config, root *yaml.Node) {
	report := func(span diag.Span, hint, format string, args ...any) {
		d.findings = append(d.findings, diag.Finding{Check: CheckSchema, Severity: diag.Error, Span: span,
			Message: fmt.Sprintf(format, args...), Hint: hint})
	}
	entry := func(fallback diag.Span, key string, path ...string) diag.Span {
		return entrySpan(d, root, fallback, key, path...)
	}
	validateLayer(report, c)
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
			report(entry(c.Prometheus.Span("externalLabels"), k, "prometheus", "externalLabels"), "", "invalid label name %q", k)
		}
	}
	for _, job := range slices.Sorted(maps.Keys(c.Prometheus.ScrapeIntervals)) {
		sp := entry(c.Prometheus.Span("scrapeIntervals"), job, "prometheus", "scrapeIntervals")
		if job == "" {
			report(sp, "key each interval by the job label value of the targets", "prometheus.scrapeIntervals: empty job name")
		}
		if d := c.Prometheus.ScrapeIntervals[job]; d.Set && d.D <= 0 {
			report(sp, "", "prometheus.scrapeIntervals.%s must be longer than zero", job)
		}
	}
	for i, m := range c.Prometheus.Metrics {
		if _, err := regexp.Compile("^(?:" + m + ")$"); err != nil || m == "" {
			why := "empty"
			if err != nil {
				why = err.Error()
			}
			report(c.Prometheus.Item("metrics", i), "a metric name, or a regular expression (RE2) matching whole names", "prometheus.metrics: %q is not a pattern: %s", m, why)
		}
	}
	if u := c.Elasticsearch.URL; u != "" {
		if why := CheckElasticsearchURL(u); why != "" {
			report(c.Elasticsearch.Span("url"), "an http or https URL with a host, such as https://logs.example.com:9200, and no credentials", "elasticsearch.url: %s", why)
		}
	}
	if u := c.Kibana.URL; u != "" {
		if why := CheckElasticsearchURL(u); why != "" {
			report(c.Kibana.Span("url"), "an http or https URL with a host, such as https://kibana.example.com, and no credentials", "kibana.url: %s", why)
		}
	}
	if d := c.Prometheus.ScrapeInterval; d.Set && d.D <= 0 {
		report(c.Prometheus.Span("scrapeInterval"), "", "prometheus.scrapeInterval must be longer than zero")
	}
	for i, a := range c.Rules.RunbookAnnotations {
		if !labelNameRE.MatchString(a) {
			report(c.Rules.Item("runbookAnnotations", i), "an annotation name is letters, digits and _, not starting with a digit", "invalid annotation name %q", a)
		}
	}
	if ns := c.Rules.Namespace; ns != "" {
		if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
			report(c.Rules.Span("namespace"), namespaceHint, "invalid rules.namespace %q: %s", ns, errs[0])
		}
	}
	if ReservedNamespace(c.Rules.Namespace) {
		report(c.Rules.Span("namespace"), reservedHint, "rules.namespace %q is reserved for Kubernetes itself", c.Rules.Namespace)
	}
	// Every PrometheusRule carries rules.labels: the API server refuses
	// them all for one bad key or value.
	for _, k := range slices.Sorted(maps.Keys(c.Rules.Labels)) {
		sp := entry(c.Rules.Span("labels"), k, "rules", "labels")
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			report(sp, "a label key is a name of at most 63 letters, digits, '-', '_' and '.', with an optional DNS prefix and '/'", "rules.labels: invalid label key %q: %s", k, errs[0])
		}
		if v := c.Rules.Labels[k]; len(validation.IsValidLabelValue(v)) > 0 {
			report(sp, "a label value is at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit", "rules.labels.%s: invalid label value %q: %s", k, v, validation.IsValidLabelValue(v)[0])
		}
	}
	validateStack(report, entry, c)
	validateGrafana(d, report, c)
	refusedText(report, d, root)
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
	seenSilent := map[string]bool{}
	for i, s := range a.SilentSeverities {
		if seenSilent[s] {
			report(a.Item("silentSeverities", i), "", "silent severity %q is listed twice", s)
		}
		seenSilent[s] = true
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

// entrySpan returns the span of the entry key of the mapping at path in
// obsctl.yaml, from its key to its value, or fallback when the file does
// not have it there (config.Fields records keys, not map entries).
func entrySpan(d *decoder, root *yaml.Node, fallback diag.Span, key string, path ...string) diag.Span {
	n := resolve(root)
	steps := append(path, key)
	for i, step := range steps {
		if n == nil || n.Kind != yaml.MappingNode {
			return fallback
		}
		var k, v *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if c := resolve(n.Content[j]); c != nil && c.Kind == yaml.ScalarNode && c.Value == step {
				k, v = c, resolve(n.Content[j+1])
			}
		}
		if k == nil || v == nil {
			return fallback
		}
		if i == len(steps)-1 {
			ks, vs := d.file.Span(k), d.file.Span(v)
			return diag.Span{File: ks.File, Start: ks.Start, End: vs.End}
		}
		n = v
	}
	return fallback
}

// refusedText reports every key or value of obsctl.yaml holding a
// character Kubernetes' YAML reader refuses (DEL, a C1 control: YAML
// takes them only as escapes, such as "\x7f"): the API server would
// refuse the object that carries it. The message names the character,
// never the value, which may be a secret.
func refusedText(report reportFunc, d *decoder, n *yaml.Node) {
	for stack := []*yaml.Node{n}; len(stack) > 0; {
		n, stack = stack[len(stack)-1], stack[:len(stack)-1]
		if n == nil {
			continue
		}
		if n.Kind == yaml.ScalarNode {
			if r, refused := apiyaml.Refused(n.Value); refused {
				report(d.file.Span(n), "remove the character; it was written as an escape such as \\x7f", "the text holds the control character U+%04X, which Kubernetes refuses in what obsctl applies", r)
			}
			continue
		}
		stack = append(stack, n.Content...) // aliases are walked where they are defined
	}
}

// CheckElasticsearchURL says what is wrong with an Elasticsearch (or
// Kibana) URL, or
// "": it is http or https with a host, and holds no credentials (they
// would be kept in the repo, and printed).
func CheckElasticsearchURL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "not a URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("scheme %q: want http or https", u.Scheme)
	case u.Host == "":
		return "no host"
	case u.User != nil:
		return "credentials in the URL: give them in OBSCTL_ELASTICSEARCH_USERNAME and OBSCTL_ELASTICSEARCH_PASSWORD"
	}
	return ""
}
