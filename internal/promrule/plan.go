package promrule

import (
	"cmp"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/apiyaml"
	"github.com/obsctl/obsctl/internal/source"
)

// MaxRuleFileBytes is the largest rule file the Prometheus Operator makes
// of one PrometheusRule. It mounts the rules of each PrometheusRule as one
// file of a ConfigMap, and a file over half of the 1 MiB a ConfigMap holds
// stops it from writing any (every rule of that Prometheus stays as it
// was). etcd's limit on an object, 1.5 MiB, is further away: what the
// operator takes, the API server stores.
const MaxRuleFileBytes = 512 << 10

// splitRuleFileBytes is how much of a set's rules compile packs into one
// PrometheusRule when the set is over MaxRuleFileBytes: room is left for
// what the operator adds (labels it enforces) and for the object's
// metadata and field ownership, which etcd stores with it.
const splitRuleFileBytes = 448 << 10

// ruleFileHead is how a rule file begins ("groups:\n"): the operator's
// rule file is its groups one after the other under it.
const ruleFileHead = len("groups:\n")

// PlannedRule is one PrometheusRule object the compile stage makes: one
// per source group set (a plain rule file, or one PrometheusRule object of
// a file), or, for a set whose rules are too big for one object, one per
// part of it.
type PlannedRule struct {
	// Name and Namespace are the object's.
	Name, Namespace string
	// Labels are the object's labels.
	Labels map[string]string
	// Path is the object's file under build's output folder:
	// prometheusrules/<set>.yaml, and <set>-<part>.yaml for the further
	// parts of a set split for size.
	Path string
	// File is the rule file the object comes from, and Object the
	// PrometheusRule object of the file (nil for a plain file).
	File   *File
	Object *Object
	// Groups are the object's rule groups, in file order.
	Groups []*Group
	// Part numbers the objects of one set from 1; Parts is how many there
	// are (1 for a set that is not split).
	Part, Parts int
	// Bytes is the size of the rule file the Prometheus Operator makes of
	// the object, exact when near MaxRuleFileBytes (an upper bound
	// otherwise). Over MaxRuleFileBytes, the object holds one group that
	// cannot be split.
	Bytes int
	// Unwritable is set when the object cannot be written as YAML at all
	// (a rule holds a character YAML refuses, such as DEL): the API
	// server refuses its server-side apply, and the operator could not
	// write its rule file. It says which group, and why.
	Unwritable string
	// UnwritableGroup is that group.
	UnwritableGroup *Group

	ruleGroups []monitoringv1.RuleGroup
	set        groupSet
}

// Source names where the object comes from, for messages: the rule file,
// its object, and which part of it.
func (p *PlannedRule) Source() string {
	s := describe(p.File, p.Object)
	if p.Parts > 1 {
		s += fmt.Sprintf(", part %d of %d", p.Part, p.Parts)
	}
	return s
}

// TooBig says why the object is too big, when Bytes is over
// MaxRuleFileBytes.
func (p *PlannedRule) TooBig() string {
	return fmt.Sprintf("rule group %q makes a rule file of %d bytes, over the %d the Prometheus Operator takes for one PrometheusRule; a group cannot be split across objects: split it into groups",
		p.Groups[0].Name, p.Bytes, MaxRuleFileBytes)
}

func (p *PlannedRule) header() string {
	h := header(p.set)
	if p.Parts > 1 {
		h += fmt.Sprintf("# Part %d of %d: the rules are split across PrometheusRules, each under the %d bytes the Prometheus Operator takes.\n", p.Part, p.Parts, MaxRuleFileBytes)
	}
	return h
}

// PlanPrometheusRules says which PrometheusRule objects files compile to:
// their names, namespaces, labels and groups. A set whose rule file would
// be over MaxRuleFileBytes is split, between groups, into objects of the
// set's name followed by -2, -3... for the second, third... A group over
// the limit is planned alone in its object, whose Bytes say so. Two
// planned objects may be one (Clashes).
func PlanPrometheusRules(files []*File, opts ObjectOptions) []PlannedRule {
	var out []PlannedRule
	for _, s := range groupSets(files) {
		name, ns := objectName(opts.Stack, s.name), opts.Namespace
		labels := map[string]string{}
		if s.object != nil {
			// Prefixed too, unless the author did: two stacks with rules
			// in one namespace (the same repo, or the same object name)
			// must not declare one object, which each would relabel on
			// every apply and prune from under the other.
			name = s.object.Name
			if opts.Stack != "" && name != opts.Stack && !strings.HasPrefix(name, opts.Stack+"-") {
				name = objectName(opts.Stack, name)
			}
			if s.object.Namespace != "" {
				ns = s.object.Namespace
			}
			for k, v := range s.object.Labels {
				labels[k] = v
			}
		}
		for k, v := range opts.Labels {
			labels[k] = v
		}
		labels["app.kubernetes.io/managed-by"] = "obsctl"

		parts, rgs := splitGroups(s.groups)
		for i, pt := range parts {
			p := PlannedRule{
				Name: name, Namespace: ns, Labels: labels, Path: path.Join("prometheusrules", s.name+".yaml"),
				File: s.file, Object: s.object, Groups: s.groups[pt.from:pt.to],
				Part: i + 1, Parts: len(parts), Bytes: pt.bytes, set: s,
			}
			if pt.err != nil {
				p.UnwritableGroup = pt.err.group
				p.Unwritable = fmt.Sprintf("group %q cannot be written as YAML (%v): a rule holds a control character (such as DEL, \\x7f) that the API server's server-side apply and the Prometheus Operator refuse", pt.err.group.Name, pt.err.err)
			}
			if rgs != nil {
				p.ruleGroups = rgs[pt.from:pt.to]
			}
			if i > 0 {
				sfx := "-" + strconv.Itoa(i+1)
				p.Name = cutName(name, 253-len(sfx)) + sfx
				p.Path = path.Join("prometheusrules", s.name+sfx+".yaml")
				p.Labels = labels // the same labels: a selector takes every part
			}
			out = append(out, p)
		}
	}
	return out
}

// part is a run of a set's groups, [from, to), the size of its rule file,
// and the first of its groups the rule file cannot hold.
type part struct {
	from, to, bytes int
	err             *unwritable
}

// splitGroups cuts groups into runs whose rule files fit the operator's
// limit: all in one when the whole fits MaxRuleFileBytes, else runs of up
// to splitRuleFileBytes, a bigger group alone. When it had to measure the
// rule file exactly, it returns the groups as a PrometheusRule has them.
func splitGroups(groups []*Group) ([]part, []monitoringv1.RuleGroup) {
	// A cheap bound first, from the lengths of the strings alone, so that
	// most sets need no YAML at all (lint plans every run).
	bound, writable := ruleFileHead, true
	for _, g := range groups {
		n, ok := groupBound(g)
		bound, writable = bound+n, writable && ok
	}
	if bound <= MaxRuleFileBytes && writable {
		return []part{{0, len(groups), bound, nil}}, nil
	}
	rgs := make([]monitoringv1.RuleGroup, len(groups))
	sizes := make([]int, len(groups))
	errs := make([]*unwritable, len(groups))
	total := ruleFileHead
	for i, g := range groups {
		rgs[i] = ruleGroup(g)
		n, err := groupBytes(rgs[i])
		if err != nil {
			errs[i] = &unwritable{g, err}
		}
		sizes[i], total = n, total+n
	}
	if total <= MaxRuleFileBytes {
		p := part{0, len(groups), total, nil}
		for _, e := range errs {
			p.err = cmp.Or(p.err, e)
		}
		return []part{p}, rgs
	}
	var parts []part
	cur := part{bytes: ruleFileHead}
	for i, n := range sizes {
		if cur.to > cur.from && cur.bytes+n > splitRuleFileBytes {
			parts = append(parts, cur)
			cur = part{from: i, to: i, bytes: ruleFileHead}
		}
		cur.to, cur.bytes, cur.err = i+1, cur.bytes+n, cmp.Or(cur.err, errs[i])
	}
	return append(parts, cur), rgs
}

// unwritable is a group whose rule file YAML cannot write.
type unwritable struct {
	group *Group
	err   error
}

// groupBound bounds what group g adds to the operator's rule file. YAML
// writes a string in at most six bytes a byte (an escape such as \x01 is
// four; folding and the indentation of block lines add less than two),
// and each key, item and duration in a bounded number: the per-field
// constants are above what sigs.k8s.io/yaml writes. A group's labels are
// written into each of its rules. It reports false when a string holds a
// character the operator's YAML cannot write.
func groupBound(g *Group) (int, bool) {
	const perString, perField = 6, 32
	ok := true
	str := func(s string) int {
		if _, refused := apiyaml.Refused(s); refused {
			ok = false
		}
		return perString*len(s) + perField
	}
	n := 4*perField + str(g.Name)
	var groupLabels int
	for _, kv := range g.Labels {
		groupLabels += str(kv.Key) + str(kv.Value)
	}
	for _, r := range g.Rules {
		n += 4*perField + str(r.Alert) + str(r.Record) + str(r.Expr) + groupLabels
		for _, kvs := range [][]KV{r.Labels, r.Annotations} {
			for _, kv := range kvs {
				n += str(kv.Key) + str(kv.Value)
			}
		}
	}
	return n, ok
}

// groupBytes is what group g adds to the rule file the operator writes,
// which is the YAML (sigs.k8s.io/yaml) of the PrometheusRule's spec: the
// groups one after the other under "groups:".
func groupBytes(g monitoringv1.RuleGroup) (int, error) {
	b, err := sigsyaml.Marshal(monitoringv1.PrometheusRuleSpec{Groups: []monitoringv1.RuleGroup{g}})
	if err != nil {
		// The operator fails the same way, and skips the PrometheusRule.
		// What the group would weigh is still bounded, for the split.
		return 6*jsonLen(g) + 64, err
	}
	return len(b) - ruleFileHead, nil
}

// jsonLen is the length of g's JSON, which cannot fail (strings, numbers).
func jsonLen(g monitoringv1.RuleGroup) int {
	b, _ := json.Marshal(g)
	return len(b)
}

// Clash is two planned objects that are one: the same PrometheusRule (the
// same namespace and name), or the same file of build's output. Apply
// would write the second over the first.
type Clash struct {
	First, Second *PlannedRule
	// Object is set when they are the same object; else they are the
	// same output file.
	Object bool
}

// String says what clashes, naming both sources.
func (c Clash) String() string {
	if c.Object {
		return fmt.Sprintf("%s compiles to PrometheusRule %s/%s, as %s does", c.Second.Source(), c.Second.Namespace, c.Second.Name, c.First.Source())
	}
	return fmt.Sprintf("%s compiles to %s, as %s does", c.Second.Source(), c.Second.Path, c.First.Source())
}

// Clashes returns, in plan order, each planned object that is one planned
// earlier, with the first.
func Clashes(plan []PlannedRule) []Clash {
	var out []Clash
	byName, byPath := map[string]int{}, map[string]int{}
	for i := range plan {
		p := &plan[i]
		if j, ok := byName[p.Namespace+"/"+p.Name]; ok {
			out = append(out, Clash{First: &plan[j], Second: p, Object: true})
			continue
		}
		if j, ok := byPath[p.Path]; ok {
			out = append(out, Clash{First: &plan[j], Second: p})
			continue
		}
		byName[p.Namespace+"/"+p.Name], byPath[p.Path] = i, i
	}
	return out
}

// Detached returns a copy of p that holds only what names and places the
// object (for Clashes, Source, TooBig and the spans of findings): its
// file, object, first group and UnwritableGroup without their rules or
// source text. Lint keeps
// the plans of every rule file while it lets each file go once checked.
func (p PlannedRule) Detached() PlannedRule {
	d := p
	d.ruleGroups, d.set, d.Labels = nil, groupSet{}, nil
	if p.File != nil {
		d.File = &File{File: &source.File{Path: p.File.Path, Rel: p.File.Rel}, Disabled: p.File.Disabled}
	}
	if p.Object != nil {
		o := *p.Object
		o.LabelKVs = nil
		d.Object = &o
	}
	// Of the groups, the first names and places a part (TooBig, the
	// spans of findings); the others are left out.
	d.Groups = nil
	detach := func(g *Group) *Group {
		return &Group{File: d.File, Object: d.Object, Name: g.Name, NameSpan: g.NameSpan, Span: g.Span}
	}
	if len(p.Groups) > 0 {
		d.Groups = []*Group{detach(p.Groups[0])}
	}
	if p.UnwritableGroup != nil {
		d.UnwritableGroup = detach(p.UnwritableGroup)
	}
	return d
}
