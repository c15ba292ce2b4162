package fluentd

import (
	"cmp"
	"slices"
	"strings"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

// APIVersion and Kind are what every pipeline file declares.
const (
	APIVersion = "obsctl/v1"
	Kind       = "Pipeline"
)

// Dir is the repo folder pipelines are read from.
const Dir = "pipelines"

// Names of the findings Load reports. A YAML syntax error is reported as
// yaml/syntax, like every other loader's.
const (
	CheckSyntax = "yaml/syntax"
	// CheckRead: a pipeline folder or file could not be read.
	CheckRead = "pipelines/read"
	// CheckSchema: the file's shape: unknown keys, wrong types, missing
	// required keys, apiVersion, kind, the pipeline name, parse options.
	CheckSchema = "pipelines/schema"
	// CheckKubernetesName: a namespace, container name, label key or label
	// value Kubernetes would never accept, so the selector or decoration
	// could never apply.
	CheckKubernetesName = "pipelines/kubernetes-name"
	// CheckFieldName: a decoration's record field name is invalid, reserved
	// or set twice.
	CheckFieldName = "pipelines/field-name"
	// CheckIndexName: an index name Elasticsearch would refuse.
	CheckIndexName = "pipelines/index-name"
	// CheckIndexPrefix: an index outside logs-*, which the Grafana
	// datasource does not read (a warning).
	CheckIndexPrefix = "pipelines/index-prefix"
	// CheckRegexp: the parse regexp is missing, misplaced, does not compile
	// or has no named group.
	CheckRegexp = "pipelines/regexp"
	// CheckDuplicateName: two pipeline files declare the same name.
	CheckDuplicateName = "pipelines/duplicate-name"
	// CheckCatchAll: more than one pipeline has no match constraints.
	CheckCatchAll = "pipelines/catch-all"
	// CheckOverlap: two pipelines' selectors can take the same logs (a
	// warning: the first in routing order wins).
	CheckOverlap = "pipelines/overlap"
)

// Parse formats.
const (
	FormatPlain  = "plain"
	FormatJSON   = "json"
	FormatRegexp = "regexp"
)

// Pipeline is one decoded pipelines/<name>.yaml. Every struct embeds
// config.Fields, so each key written keeps the span of its value.
type Pipeline struct {
	config.Fields
	// Rel is the file's path relative to the repo, set by the loader; ""
	// means the file's own path.
	Rel string `yaml:"-"`
	// APIVersion must be obsctl/v1.
	APIVersion string `yaml:"apiVersion" obsctl:"required"`
	// Kind must be Pipeline.
	Kind string `yaml:"kind" obsctl:"required"`
	// Name is a DNS label, unique across files; it names the Fluentd
	// label, plugin ids and buffer folder of the pipeline.
	Name string `yaml:"name" obsctl:"required"`
	// Description says which logs the pipeline is for.
	Description string `yaml:"description"`
	// Match selects the container logs the pipeline takes.
	Match Match `yaml:"match"`
	// Decorate says what is lifted into each record.
	Decorate Decorate `yaml:"decorate"`
	// Parse says how the log line is parsed.
	Parse Parse `yaml:"parse"`
	// Output names the Elasticsearch index.
	Output Output `yaml:"output" obsctl:"required"`

	// File is the file the pipeline was read from; nil for a pipeline
	// built in code.
	File *source.File `yaml:"-"`
}

// Match is a pipeline's selector. All constraints written must hold; an
// empty list or mapping does not constrain.
type Match struct {
	config.Fields
	// Namespaces the logs must come from; empty means any namespace.
	Namespaces []Str `yaml:"namespaces"`
	// ExcludeNamespaces the logs must not come from.
	ExcludeNamespaces []Str `yaml:"excludeNamespaces"`
	// PodLabels the pod must carry, with these values.
	PodLabels Pairs `yaml:"podLabels"`
	// Containers are the container names taken; empty means any.
	Containers []Str `yaml:"containers"`
}

// Empty reports whether the selector has no constraint at all: the
// pipeline is then the catch-all.
func (m *Match) Empty() bool {
	return len(m.Namespaces) == 0 && len(m.ExcludeNamespaces) == 0 && len(m.PodLabels) == 0 && len(m.Containers) == 0
}

// Decorate lists the fields lifted into each record.
type Decorate struct {
	config.Fields
	// PodLabels maps a pod label key to the record field that receives
	// its value.
	PodLabels Pairs `yaml:"podLabels"`
	// NamespaceLabels maps a namespace label key to a record field.
	NamespaceLabels Pairs `yaml:"namespaceLabels"`
	// NamespaceFields lists namespace metadata to lift: name (into the
	// field "namespace") and uid (into "namespace_uid").
	NamespaceFields []Str `yaml:"namespaceFields"`
	// Static maps record fields to constant values.
	Static Pairs `yaml:"static"`
}

// NamespaceFieldNames maps each namespaceFields entry to the record field
// it fills.
var NamespaceFieldNames = map[string]string{"name": "namespace", "uid": "namespace_uid"}

// Parse says how the container's log line (the record's "log" field) is
// parsed.
type Parse struct {
	config.Fields
	// Format is json, plain or regexp (default plain: not parsed).
	Format string `yaml:"format"`
	// Regexp is the Ruby regexp with named groups for format regexp.
	Regexp string `yaml:"regexp"`
	// TimeKey names the parsed field holding the event time; without it the
	// container runtime's timestamp is kept.
	TimeKey string `yaml:"timeKey"`
	// TimeFormat is the strptime format of TimeKey's value.
	TimeFormat string `yaml:"timeFormat"`
	// KeepOriginal keeps the raw line in "log" when parsing succeeds too
	// (a line that fails to parse is always kept).
	KeepOriginal bool `yaml:"keepOriginal"`
}

// EffectiveFormat returns the format, plain when none was written.
func (p *Parse) EffectiveFormat() string {
	if p.Format == "" {
		return FormatPlain
	}
	return p.Format
}

// Output names where the pipeline's records are written.
type Output struct {
	config.Fields
	// Index is the Elasticsearch index, or the index prefix when
	// DateSuffix is on.
	Index string `yaml:"index" obsctl:"required"`
	// DateSuffix appends -YYYY.MM.DD to Index (default true).
	DateSuffix *bool `yaml:"dateSuffix"`
}

// Dated reports whether a date suffix is appended to the index.
func (o *Output) Dated() bool { return o.DateSuffix == nil || *o.DateSuffix }

// DateSuffixLen is the length in bytes of the suffix "-%Y.%m.%d" once
// formatted, such as "-2024.05.31".
const DateSuffixLen = len("-2006.01.02")

// IndexPattern returns the index, or the pattern its dated indices match.
func (o *Output) IndexPattern() string {
	if o.Dated() {
		return o.Index + "-*"
	}
	return o.Index
}

// Overlaps reports whether an index o writes can also be one that q writes
// or its pattern matches: the same index; an undated index that q's
// pattern (q's index followed by "-") matches; or two dated indices one of
// which, followed by "-", begins the other's (logs-app-* and logs-app-web-*
// both match logs-app-web-2024.05.31). It is the overlap Elasticsearch
// finds between two templates' patterns, for the shapes obsctl writes.
func (o *Output) Overlaps(q *Output) bool {
	switch a, b := o.Index, q.Index; {
	case a == "" || b == "":
		return false
	case o.Dated() && q.Dated():
		return strings.HasPrefix(a+"-", b+"-") || strings.HasPrefix(b+"-", a+"-")
	case o.Dated():
		return strings.HasPrefix(b, a+"-")
	case q.Dated():
		return strings.HasPrefix(a, b+"-")
	default:
		return a == b
	}
}

// Str is a string scalar with the span it was written at.
type Str struct {
	Value string
	Span  diag.Span
}

// Pair is one entry of a string-to-string mapping, in file order, with the
// spans of its key and value.
type Pair struct {
	Key, Value         string
	KeySpan, ValueSpan diag.Span
}

// Pairs is a mapping kept in file order, so that everything compiled from
// it is byte-stable.
type Pairs []Pair

// Get returns the value of key and whether it is present.
func (ps Pairs) Get(key string) (string, bool) {
	for _, p := range ps {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// CatchAll reports whether the pipeline takes every log no other pipeline
// takes: its match has no constraint.
func (p *Pipeline) CatchAll() bool { return p.Match.Empty() }

// Path returns the path of the pipeline's file, or "" for a pipeline built
// in code.
func (p *Pipeline) Path() string {
	if p.File == nil {
		return ""
	}
	return p.File.Path
}

// RelPath returns the pipeline file's path relative to the repo, as
// compiled artifacts name it: the same from whichever folder obsctl runs.
func (p *Pipeline) RelPath() string {
	if p.Rel != "" {
		return p.Rel
	}
	return p.Path()
}

// NameSpan returns where the pipeline's name was written (the whole file
// when it was not).
func (p *Pipeline) NameSpan() diag.Span {
	sp := p.Span("name")
	if sp.File == "" && p.File != nil {
		return p.File.Whole()
	}
	return sp
}

// RecordField is one field a pipeline's decoration sets on every record.
type RecordField struct {
	// Name is the record field.
	Name string
	// From says where the value comes from, such as `pod label "team"`.
	From string
	// Span is where the field name was written.
	Span diag.Span
}

// RecordFields returns the fields the decoration sets, in the order they
// are set: pod labels, namespace labels, namespace fields, static fields.
// A field set twice appears twice (Load reports it).
func (p *Pipeline) RecordFields() []RecordField {
	d := &p.Decorate
	var out []RecordField
	for _, kv := range d.PodLabels {
		out = append(out, RecordField{Name: kv.Value, From: "pod label " + quote(kv.Key), Span: kv.ValueSpan})
	}
	for _, kv := range d.NamespaceLabels {
		out = append(out, RecordField{Name: kv.Value, From: "namespace label " + quote(kv.Key), Span: kv.ValueSpan})
	}
	for _, s := range d.NamespaceFields {
		if f, ok := NamespaceFieldNames[s.Value]; ok {
			out = append(out, RecordField{Name: f, From: "namespace " + s.Value, Span: s.Span})
		}
	}
	for _, kv := range d.Static {
		out = append(out, RecordField{Name: kv.Key, From: "static value", Span: kv.KeySpan})
	}
	return out
}

// Sort puts pipelines in routing order: the specific ones by name (then by
// file), the catch-alls last. CompileFluentd expects this order.
func Sort(ps []*Pipeline) {
	slices.SortStableFunc(ps, func(a, b *Pipeline) int {
		ac, bc := a.CatchAll(), b.CatchAll()
		if ac != bc {
			if ac {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Path(), b.Path()))
	})
}
