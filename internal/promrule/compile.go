package promrule

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"go.yaml.in/yaml/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	sigsyaml "sigs.k8s.io/yaml"
)

// Output is one compiled file, by its path relative to the output folder.
type Output struct {
	Path string
	Data []byte
}

// ObjectOptions says how to name and label the PrometheusRule objects.
type ObjectOptions struct {
	// Stack prefixes the names of the objects: those built from plain
	// rule files, and PrometheusRule objects whose name does not start
	// with it already.
	Stack string
	// Namespace receives objects that do not name one.
	Namespace string
	// Labels are added to every object so that the Prometheus rule
	// selector picks them up.
	Labels map[string]string
}

// groupSet is one unit of compiled output: a plain file, or one
// PrometheusRule object of a file.
type groupSet struct {
	name   string // flattened; unique in a repo that lints clean
	file   *File
	object *Object
	groups []*Group
}

// groupSets returns the group sets of files, in order. Two sets may have
// the same name (rules/a-b.yaml and rules/a/b.yaml): lint's
// rules/object-name reports it, and the compile functions refuse it.
func groupSets(files []*File) []groupSet {
	var sets []groupSet
	for _, f := range files {
		base := flatten(f.Rel)
		if len(f.Objects) == 0 {
			sets = append(sets, groupSet{name: base, file: f, groups: f.Groups})
			continue
		}
		for _, obj := range f.Objects {
			var gs []*Group
			for _, g := range f.Groups {
				if g.Object == obj {
					gs = append(gs, g)
				}
			}
			name := base
			if len(f.Objects) > 1 {
				name = cutName(base+"-"+obj.Name, maxSetName)
			}
			sets = append(sets, groupSet{name: name, file: f, object: obj, groups: gs})
		}
	}
	return sets
}

// uniqueSets refuses two sets of one name: their outputs would be one file.
func uniqueSets(sets []groupSet) error {
	seen := map[string]string{}
	for _, s := range sets {
		if prev, ok := seen[s.name]; ok {
			return fmt.Errorf("compile %s: output name %q is also used by %s; rename one of them", s.file.Rel, s.name, prev)
		}
		seen[s.name] = s.file.Rel
	}
	return nil
}

// maxSetName bounds a set's name, which names the files build writes
// (prometheus/rules/<set>.yaml, prometheusrules/<set>-<part>.yaml): a file
// name has at most 255 bytes.
const maxSetName = 240

var invalidNameChars = regexp.MustCompile(`[^a-z0-9-]+`)

// flatten turns rules/team-a/api.yaml into rules-team-a-api, cut to
// maxSetName.
func flatten(p string) string {
	p = strings.TrimSuffix(p, path.Ext(p))
	p = strings.Trim(invalidNameChars.ReplaceAllString(strings.ToLower(p), "-"), "-")
	if p == "" {
		p = "rules"
	}
	return cutName(p, maxSetName)
}

// cutName cuts name to n bytes, and then any dash or dot it ends with: a
// Kubernetes name (and a set name) ends with a letter or digit.
func cutName(name string, n int) string {
	if len(name) <= n {
		return name
	}
	return strings.TrimRight(name[:n], "-.")
}

// ruleLabels merges group labels into the rule's own (the rule wins), so
// that the output loads in Prometheus versions without group labels.
func ruleLabels(g *Group, r *Rule) map[string]string {
	if len(g.Labels) == 0 && len(r.Labels) == 0 {
		return nil
	}
	m := make(map[string]string, len(g.Labels)+len(r.Labels))
	for _, kv := range g.Labels {
		m[kv.Key] = kv.Value
	}
	for _, kv := range r.Labels {
		m[kv.Key] = kv.Value
	}
	return m
}

func kvMap(kvs []KV) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// CompileRuleFiles writes one Prometheus rule file per source group set
// (a plain file, or one PrometheusRule object), under prometheus/rules/.
func CompileRuleFiles(files []*File) ([]Output, error) {
	sets := groupSets(files)
	if err := uniqueSets(sets); err != nil {
		return nil, err
	}
	out := make([]Output, 0, len(sets))
	for _, s := range sets {
		rg := rulefmt.RuleGroups{Groups: make([]rulefmt.RuleGroup, 0, len(s.groups))}
		for _, g := range s.groups {
			fg := rulefmt.RuleGroup{Name: g.Name, Interval: model.Duration(g.Interval), Limit: g.Limit}
			if g.QueryOffset != nil {
				d := model.Duration(*g.QueryOffset)
				fg.QueryOffset = &d
			}
			fg.Rules = make([]rulefmt.Rule, 0, len(g.Rules))
			for _, r := range g.Rules {
				fg.Rules = append(fg.Rules, rulefmt.Rule{
					Record: r.Record, Alert: r.Alert, Expr: r.Expr,
					For: model.Duration(r.For), KeepFiringFor: model.Duration(r.KeepFiringFor),
					Labels: ruleLabels(g, r), Annotations: kvMap(r.Annotations),
				})
			}
			rg.Groups = append(rg.Groups, fg)
		}
		var b bytes.Buffer
		b.WriteString(header(s))
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(rg); err != nil {
			return nil, fmt.Errorf("compile %s: %w", s.file.Path, err)
		}
		if err := enc.Close(); err != nil {
			return nil, fmt.Errorf("compile %s: %w", s.file.Path, err)
		}
		out = append(out, Output{Path: path.Join("prometheus", "rules", s.name+".yaml"), Data: b.Bytes()})
	}
	return out, nil
}

func header(s groupSet) string {
	return Header(describe(s.file, s.object))
}

// GeneratedMark starts every file obsctl build writes: build removes a
// file only when it starts with it, so that the files of others in its
// output folders are never touched.
// SourceAnnotation says, on what obsctl renders from a file of the repo,
// which file: its path in the repo, or under @defaults/ for the default
// content the repo builds on.
const SourceAnnotation = "obsctl.dev/source"

const GeneratedMark = "# Generated by obsctl from "

// Header returns the comment line that starts a file build writes from
// src.
func Header(src string) string {
	// A line break in a file name would end the comment early.
	src = strings.NewReplacer("\n", " ", "\r", " ").Replace(src)
	return GeneratedMark + src + ". Do not edit.\n"
}

// describe names a rule file, or an object of one, for messages.
func describe(f *File, obj *Object) string {
	if obj != nil {
		return f.Rel + " (PrometheusRule " + obj.Name + ")"
	}
	return f.Rel
}

// CompiledRule is one PrometheusRule object compiled from a source group
// set, with the file build writes it to.
type CompiledRule struct {
	// Path is the object's file under the output folder:
	// prometheusrules/<set>.yaml.
	Path string
	// Header is the comment that starts the file, naming the source.
	Header string
	// Rule is the object.
	Rule *monitoringv1.PrometheusRule
}

// CompileObjects writes one PrometheusRule object per source group set,
// under prometheusrules/.
func CompileObjects(files []*File, opts ObjectOptions) ([]Output, error) {
	rules, err := CompilePrometheusRules(files, opts)
	if err != nil {
		return nil, err
	}
	out := make([]Output, 0, len(rules))
	for _, r := range rules {
		data, err := sigsyaml.Marshal(r.Rule)
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", r.Path, err)
		}
		out = append(out, Output{Path: r.Path, Data: append([]byte(r.Header), data...)})
	}
	return out, nil
}

// CompilePrometheusRules builds the PrometheusRule objects of the plan
// (PlanPrometheusRules): one per source group set, or several when the
// set is too big for one, as typed objects. The render stage ships them
// without writing and parsing YAML, and CompileObjects writes them for
// build. It refuses two outputs that are one (lint's rules/object-name
// reports them, with positions). A group too big for any object is
// compiled all the same, alone in its object: lint's rules/object-size,
// which cannot be disabled, stops build and render before they ship it.
func CompilePrometheusRules(files []*File, opts ObjectOptions) ([]CompiledRule, error) {
	plan := PlanPrometheusRules(files, opts)
	for _, c := range Clashes(plan) {
		return nil, fmt.Errorf("compile %s: %s; rename one of them", c.Second.File.Rel, c)
	}
	out := make([]CompiledRule, 0, len(plan))
	for _, p := range plan {
		rgs := p.ruleGroups
		if rgs == nil {
			for _, g := range p.Groups {
				rgs = append(rgs, ruleGroup(g))
			}
		}
		pr := monitoringv1.PrometheusRule{
			TypeMeta: metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "PrometheusRule"},
			ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels,
				Annotations: map[string]string{SourceAnnotation: p.set.file.Rel}},
			Spec: monitoringv1.PrometheusRuleSpec{Groups: rgs},
		}
		out = append(out, CompiledRule{Path: p.Path, Header: p.header(), Rule: &pr})
	}
	return out, nil
}

// ruleGroup is g as a PrometheusRule's group.
func ruleGroup(g *Group) monitoringv1.RuleGroup {
	mg := monitoringv1.RuleGroup{Name: g.Name}
	if g.Interval > 0 {
		d := monitoringv1.Duration(model.Duration(g.Interval).String())
		mg.Interval = &d
	}
	if g.QueryOffset != nil {
		d := monitoringv1.Duration(model.Duration(*g.QueryOffset).String())
		mg.QueryOffset = &d
	}
	if g.Limit > 0 {
		l := g.Limit
		mg.Limit = &l
	}
	for _, r := range g.Rules {
		mr := monitoringv1.Rule{Record: r.Record, Alert: r.Alert, Expr: intstr.FromString(r.Expr),
			Labels: ruleLabels(g, r), Annotations: kvMap(r.Annotations)}
		if r.For > 0 {
			d := monitoringv1.Duration(model.Duration(r.For).String())
			mr.For = &d
		}
		if r.KeepFiringFor > 0 {
			d := monitoringv1.NonEmptyDuration(model.Duration(r.KeepFiringFor).String())
			mr.KeepFiringFor = &d
		}
		mg.Rules = append(mg.Rules, mr)
	}
	return mg
}

// objectName derives a valid object name from the stack and group set.
func objectName(stack, set string) string {
	n := set
	if stack != "" {
		n = stack + "-" + set
	}
	return cutName(n, validation.DNS1123SubdomainMaxLength)
}
