package fluentd

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/obsctl/obsctl/internal/diag"
)

func quote(s string) string { return strconv.Quote(s) }

// reservedFields are record fields the collection itself sets or relies
// on; a decoration must not overwrite them.
var reservedFields = map[string]string{
	"log":        "it holds the raw log line",
	"stream":     "it holds stdout or stderr",
	"time":       "the container runtime's timestamp is read from it",
	"@timestamp": "Elasticsearch reads the event time from it",
	"kubernetes": "it holds the pod metadata the pipelines route on",
	"docker":     "it holds the container id",
	"logtag":     "it marks CRI partial lines and is removed before output",
}

// fieldNameRE is what a decoration may name a record field: it becomes a
// key of Fluentd's <record> section, a top-level Elasticsearch field and
// a Ruby hash key, and must be all three without quoting. A leading _ is
// refused because Elasticsearch keeps those names for metadata fields
// (_id, _index, _source); a dot because Elasticsearch reads it as an
// object path that may collide with another field.
var fieldNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

const maxFieldName = 128

// validator collects the findings of one pipeline's own checks.
type validator struct {
	p        *Pipeline
	findings []diag.Finding
}

func (v *validator) report(check string, sev diag.Severity, span diag.Span, hint, format string, args ...any) {
	v.findings = append(v.findings, diag.Finding{
		Check: check, Severity: sev, Span: span,
		Message: fmt.Sprintf(format, args...), Hint: hint,
	})
}

// Validate runs the checks that need only the pipeline itself: everything
// but duplicate names, catch-alls and overlaps, which need the whole set.
// Load runs it on every file; CompileFluentd runs it again and refuses a
// pipeline with an error, so that a pipeline built in code cannot bypass it.
func Validate(p *Pipeline) []diag.Finding {
	v := &validator{p: p}
	v.schema()
	v.match()
	v.decorate()
	v.parse()
	v.output()
	return v.findings
}

func (v *validator) schema() {
	p := v.p
	if p.Has("apiVersion") && p.APIVersion != APIVersion {
		v.report(CheckSchema, diag.Error, p.Span("apiVersion"), "this obsctl reads "+APIVersion,
			"unsupported apiVersion %q", p.APIVersion)
	}
	if p.Has("kind") && p.Kind != Kind {
		v.report(CheckSchema, diag.Error, p.Span("kind"), "a pipeline file declares kind: "+Kind,
			"kind is %q, not %s", p.Kind, Kind)
	}
	switch {
	case p.Name == "" && p.Has("name"):
		v.report(CheckSchema, diag.Error, p.Span("name"), "", "pipeline name is empty")
	case p.Name != "" && len(validation.IsDNS1123Label(p.Name)) > 0:
		v.report(CheckSchema, diag.Error, p.Span("name"),
			"use lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit",
			"invalid pipeline name %q: it names Fluentd labels, plugin ids and the buffer folder", p.Name)
	}
}

func (v *validator) match() {
	m := &v.p.Match
	v.names(m.Namespaces, "namespace")
	v.names(m.ExcludeNamespaces, "namespace")
	v.names(m.Containers, "container name")
	v.duplicates(m.Namespaces, "namespace", "namespaces")
	v.duplicates(m.ExcludeNamespaces, "namespace", "excludeNamespaces")
	v.duplicates(m.Containers, "container", "containers")
	for _, ex := range m.ExcludeNamespaces {
		for _, ns := range m.Namespaces {
			if ns.Value == ex.Value {
				v.report(CheckSchema, diag.Error, ex.Span, "remove it from one of the two lists",
					"namespace %q is both matched and excluded", ex.Value)
				break
			}
		}
	}
	for _, kv := range m.PodLabels {
		v.labelKey(kv, "pod label")
		if errs := validation.IsValidLabelValue(kv.Value); len(errs) > 0 {
			v.report(CheckKubernetesName, diag.Error, kv.ValueSpan, "",
				"pod label %q: %q is not a valid label value, so no pod can match: %s", kv.Key, kv.Value, errs[0])
		}
	}
}

// names checks that each entry is an RFC 1123 label, as namespace and
// container names are.
func (v *validator) names(list []Str, what string) {
	for _, s := range list {
		if errs := validation.IsDNS1123Label(s.Value); len(errs) > 0 {
			v.report(CheckKubernetesName, diag.Error, s.Span, "",
				"%q is not a valid Kubernetes %s, so it can never match: %s", s.Value, what, errs[0])
		}
	}
}

func (v *validator) duplicates(list []Str, what, key string) {
	seen := map[string]bool{}
	for _, s := range list {
		if seen[s.Value] {
			v.report(CheckSchema, diag.Error, s.Span, "remove the second one", "%s %q is listed twice in %s", what, s.Value, key)
		}
		seen[s.Value] = true
	}
}

func (v *validator) labelKey(kv Pair, what string) {
	if errs := validation.IsQualifiedName(kv.Key); len(errs) > 0 {
		v.report(CheckKubernetesName, diag.Error, kv.KeySpan, "a label key is an optional DNS-subdomain prefix and '/', then a name of letters, digits, '-', '_' and '.'",
			"%s key %q is not a valid Kubernetes label key: %s", what, kv.Key, errs[0])
	}
}

func (v *validator) decorate() {
	d := &v.p.Decorate
	for _, kv := range d.PodLabels {
		v.labelKey(kv, "pod label")
	}
	for _, kv := range d.NamespaceLabels {
		v.labelKey(kv, "namespace label")
	}
	seen := map[string]bool{}
	for _, s := range d.NamespaceFields {
		if _, ok := NamespaceFieldNames[s.Value]; !ok {
			v.report(CheckSchema, diag.Error, s.Span, "namespaceFields takes name and uid",
				"unknown namespace field %q", s.Value)
			continue
		}
		if seen[s.Value] {
			v.report(CheckSchema, diag.Error, s.Span, "remove the second one", "namespace field %q is listed twice", s.Value)
		}
		seen[s.Value] = true
	}
	first := map[string]RecordField{}
	for _, f := range v.p.RecordFields() {
		if why, ok := reservedFields[f.Name]; ok {
			v.report(CheckFieldName, diag.Error, f.Span, "choose another field name",
				"record field %q (from %s) is reserved: %s", f.Name, f.From, why)
			continue
		}
		if !fieldNameRE.MatchString(f.Name) || len(f.Name) > maxFieldName {
			v.report(CheckFieldName, diag.Error, f.Span,
				fmt.Sprintf("use letters, digits and '_', starting with a letter, at most %d characters", maxFieldName),
				"invalid record field name %q (from %s)", f.Name, f.From)
			continue
		}
		if prev, ok := first[f.Name]; ok {
			v.report(CheckFieldName, diag.Error, f.Span, "each decoration needs its own field",
				"record field %q is set from both %s (line %d) and %s; one would overwrite the other",
				f.Name, prev.From, prev.Span.Start.Line, f.From)
			continue
		}
		first[f.Name] = f
	}
}

func (v *validator) parse() {
	ps := &v.p.Parse
	format := ps.EffectiveFormat()
	switch format {
	case FormatPlain, FormatJSON, FormatRegexp:
	default:
		v.report(CheckSchema, diag.Error, ps.Span("format"), "use json, plain or regexp", "unknown parse format %q", ps.Format)
		return
	}
	var groups []string
	switch {
	case format == FormatRegexp && ps.Regexp == "":
		v.report(CheckRegexp, diag.Error, ps.Span("format"), "add parse.regexp with named groups, such as (?<level>[A-Z]+)",
			"format regexp needs a regexp")
	case format != FormatRegexp && ps.Has("regexp"):
		v.report(CheckRegexp, diag.Error, ps.Span("regexp"), "set format: regexp, or remove the regexp",
			"regexp is only used with format regexp, not %s", format)
	case format == FormatRegexp:
		var msg, hint string
		groups, msg, hint = checkRegexp(ps.Regexp)
		if msg != "" {
			v.report(CheckRegexp, diag.Error, ps.Span("regexp"), hint, "%s", msg)
		}
	}
	if format == FormatPlain {
		for _, k := range []string{"timeKey", "timeFormat"} {
			if ps.Has(k) {
				v.report(CheckSchema, diag.Error, ps.Span(k), "remove it, or parse the line as json or regexp",
					"%s has no effect with format plain: the line is not parsed", k)
			}
		}
		if ps.KeepOriginal {
			v.report(CheckSchema, diag.Warning, ps.Span("keepOriginal"), "remove it",
				"keepOriginal has no effect with format plain: the line is always kept")
		}
		return
	}
	if ps.TimeFormat != "" && ps.TimeKey == "" {
		v.report(CheckSchema, diag.Error, ps.Span("timeFormat"), "name the parsed field that holds the time with timeKey",
			"timeFormat needs timeKey")
	}
	for _, k := range []struct{ key, val string }{{"timeKey", ps.TimeKey}, {"timeFormat", ps.TimeFormat}} {
		if ps.Has(k.key) && k.val == "" {
			v.report(CheckSchema, diag.Error, ps.Span(k.key), "remove it", "%s is empty", k.key)
		}
		if hasControl(k.val) {
			v.report(CheckSchema, diag.Error, ps.Span(k.key), "", "%s contains a line break or control character", k.key)
		}
	}
	if format == FormatRegexp && groups != nil && ps.TimeKey != "" && !slices.Contains(groups, ps.TimeKey) {
		v.report(CheckRegexp, diag.Error, ps.Span("timeKey"), "named groups: "+strings.Join(groups, ", "),
			"timeKey %q is not a named group of the regexp", ps.TimeKey)
	}
}

func (v *validator) output() {
	o := &v.p.Output
	if !o.Has("index") {
		// A missing output is reported by the decoder; an output written
		// empty (output: with no value) is not decoded as a mapping.
		if v.p.Has("output") && o.Keys == nil {
			v.report(CheckSchema, diag.Error, v.p.Span("output"), "add index: logs-<pipeline>",
				"pipeline.output: missing required key \"index\"")
		}
		return
	}
	if msg, hint := indexProblem(o.Index, o.Dated()); msg != "" {
		v.report(CheckIndexName, diag.Error, o.Span("index"), hint, "%s", msg)
		return
	}
	if !strings.HasPrefix(o.Index, "logs-") {
		v.report(CheckIndexPrefix, diag.Warning, o.Span("index"), "name the index logs-<something>",
			"index %q is outside logs-*: the Grafana Elasticsearch datasource reads logs-*, so these logs would not show in Grafana", o.Index)
	}
}

// hasControl reports whether s holds a character that must not reach a
// one-line Fluentd value or comment: a control character, a Unicode line
// or paragraph separator, or a character Go cannot print.
func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == unicode.ReplacementChar
	}) >= 0
}
