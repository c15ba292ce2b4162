package promrule

import (
	"slices"
	"strings"
	"time"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

// File is one loaded rules file.
type File struct {
	*source.File
	// Objects are the PrometheusRule objects of the file, empty for a
	// plain rule file.
	Objects []*Object
	// Groups are every rule group of the file, in order.
	Groups []*Group
	// Disabled lists checks turned off for the whole file with a
	// "# obsctl:disable-file CHECK" comment.
	Disabled []string
}

// Object is the metadata of a PrometheusRule object.
type Object struct {
	Name      string
	Namespace string
	Labels    map[string]string
	Span      diag.Span
	// NameSpan and NamespaceSpan are where metadata.name and
	// metadata.namespace are written; zero when they are not.
	NameSpan, NamespaceSpan diag.Span
	// LabelKVs are metadata.labels as written, with their positions.
	LabelKVs []KV
}

// Group is a rule group.
type Group struct {
	// File is the file the group was read from.
	File *File
	// Object is the PrometheusRule holding the group, nil in plain files.
	Object      *Object
	Name        string
	NameSpan    diag.Span
	Interval    time.Duration
	QueryOffset *time.Duration
	Limit       int
	Labels      []KV
	Rules       []*Rule
	Span        diag.Span
	// refused lists the keys written with a value the loader refused
	// (reported as rules/schema).
	refused []string
}

// Refused reports whether key was written with a value the loader
// refused and reported: the checks take such a value as unknown, not as
// missing, so that one mistake is one finding.
func (g *Group) Refused(key string) bool { return g != nil && slices.Contains(g.refused, key) }

// Rule is one alerting or recording rule.
type Rule struct {
	Group *Group
	// Alert or Record holds the rule's name; exactly one is set in a
	// valid rule.
	Alert, Record string
	NameSpan      diag.Span
	Expr          string
	// ExprLoc locates the scalar holding Expr, to map positions inside the
	// expression back to the file; it is zero when the rule has no expr.
	ExprLoc       source.Scalar
	ExprSpan      diag.Span
	For           time.Duration
	ForSet        bool
	ForSpan       diag.Span
	KeepFiringFor time.Duration
	Labels        []KV
	Annotations   []KV
	// Span is the rule's first line.
	Span diag.Span
	// Disabled lists checks turned off for this rule with a
	// "# obsctl:disable CHECK" comment.
	Disabled []string
	// Compiled is set on a rule obsctl compiled from another source (an
	// SLO spec): its expression is not written in the file, so ExprLoc is
	// zero and ExprSpan is the part of the source it was compiled from.
	Compiled bool
	// Params are the parameters the rule declares with
	// "# obsctl:parameter NAME=VALUE" comments: numbers of its
	// expression that overrides change by name.
	Params []Param
	// refused lists the keys written with a value the loader refused.
	refused []string
}

// Refused reports whether key (for, labels, record...) was written with
// a value the loader refused and reported as rules/schema: a bad `for:`
// is not a missing one, nor labels written as a list no severity label.
func (r *Rule) Refused(key string) bool { return slices.Contains(r.refused, key) }

// KV is a label or annotation. It keeps where its key and value were
// written in compact form; KeySpan and ValueSpan work out the spans when a
// finding needs one.
type KV struct {
	Key, Value       string
	KeyLoc, ValueLoc source.Scalar
	File             *source.File
}

// KeySpan returns the span of the key.
func (kv KV) KeySpan() diag.Span { return kv.File.ScalarSpan(kv.KeyLoc, kv.Key) }

// ValueSpan returns the span of the value.
func (kv KV) ValueSpan() diag.Span { return kv.File.ScalarSpan(kv.ValueLoc, kv.Value) }

// Name returns the alert or record name.
func (r *Rule) Name() string {
	if r.Alert != "" {
		return r.Alert
	}
	return r.Record
}

// IsAlert reports whether r is an alerting rule.
func (r *Rule) IsAlert() bool { return r.Alert != "" }

// Label returns the value of label key and whether the rule sets it.
func (r *Rule) Label(key string) (KV, bool) { return lookup(r.Labels, key) }

// Label returns the value of group label key and whether the group sets it.
func (g *Group) Label(key string) (KV, bool) { return lookup(g.Labels, key) }

// Annotation returns annotation key and whether the rule sets it.
func (r *Rule) Annotation(key string) (KV, bool) { return lookup(r.Annotations, key) }

func lookup(kvs []KV, key string) (KV, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv, true
		}
	}
	return KV{}, false
}

// DisabledFor reports whether check was disabled for this rule, by a
// comment on the rule or on its file. A comment may name one check,
// a whole area ("rules/*") or "all".
func (f *File) DisabledFor(r *Rule, check string) bool {
	return matchesAny(f.Disabled, check) || (r != nil && matchesAny(r.Disabled, check))
}

func matchesAny(names []string, check string) bool {
	for _, n := range names {
		if n == check || n == "all" || (strings.HasSuffix(n, "/*") && strings.HasPrefix(check, n[:len(n)-1])) {
			return true
		}
	}
	return false
}

// Rules returns every rule of the file in order.
func (f *File) Rules() []*Rule {
	var rs []*Rule
	for _, g := range f.Groups {
		rs = append(rs, g.Rules...)
	}
	return rs
}

// MatchesAny reports whether the disable comments names (as File.Disabled
// and Rule.Disabled hold them) turn check off.
func MatchesAny(names []string, check string) bool { return matchesAny(names, check) }

// Param is a number of a rule's expression declared changeable by name.
type Param struct {
	// Name names it in overrides; Value is the number as the expression
	// has it; Doc says what it is. Bad is set when the comment is not
	// NAME=VALUE.
	Name, Value, Doc string
	Bad              bool
}
