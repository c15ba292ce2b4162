// Package layer puts obsctl's default content under a repo's own: it
// changes the default rules, dashboards and pipelines as obsctl.yaml's
// overrides say, checks that no item of the repo takes a default item's
// name, and fits the default rule tests to the alerts as overridden.
//
// The loader (internal/load) calls it, so that lint, test, build, render
// and apply all see one layered repo.
package layer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/fluentd"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/source"
	"github.com/obsctl/obsctl/internal/spell"
)

// The checks of layering's findings.
const (
	// CheckOverride: an override names no default item, or a parameter
	// the alert does not declare.
	CheckOverride = "defaults/override"
	// CheckShadow: an item of the repo has a default item's name.
	CheckShadow = "defaults/shadow"
	// CheckTest: an override changes what a default alert's tests
	// assume, and the repo has no test of its own for it.
	CheckTest = "defaults/test"
	// CheckParameter: a parameter the default content declares is not
	// one number of the rule's expression.
	CheckParameter = "defaults/parameter"
)

var promql = parser.NewParser(parser.Options{})

// SLODashboardUID is the uid of the dashboard the SLOs compile into
// (slo.DashboardUID): overrides.dashboards may disable it.
const SLODashboardUID = "obsctl-slos"

// Dir is the folder the default content is shown under, in findings and
// in the provenance of what is rendered from it: not a folder of the
// repo.
const Dir = "@defaults"

// ControlPlaneRules, ControlPlaneTests and ControlPlaneDashboard are the
// default rule file on the parts of a self-hosted control plane a
// managed one keeps out of reach (etcd, kube-scheduler,
// kube-controller-manager, kube-proxy), its tests and its dashboard: a
// repo whose stack.controlPlane is managed builds on the defaults without
// them (see ManagedOut).
const (
	ControlPlaneRules     = "rules/control-plane.yaml"
	ControlPlaneTests     = "rules/control-plane_test.yaml"
	ControlPlaneDashboard = "dashboards/control-plane.json"
)

// ManagedOut reports whether the default file at rel (its place in the
// default repo, under Dir or not) is left out of a repo on a managed
// control plane.
func ManagedOut(cfg *config.Config, rel string) bool {
	rel = strings.TrimPrefix(rel, Dir+"/")
	return cfg.ManagedControlPlane() && (rel == ControlPlaneRules || rel == ControlPlaneTests || rel == ControlPlaneDashboard)
}

// Content is one side of the layering: the repo's own, or the default's.
type Content struct {
	RuleFiles  []*promrule.File
	RuleTests  []*source.File
	Dashboards []*source.File
	Pipelines  []*fluentd.Pipeline
}

// Result is what Apply did.
type Result struct {
	// Findings are the problems it met.
	Findings []diag.Finding
	// Changed are the default alerts an override changed, by name: the
	// default tests of those whose evaluation changed are left out, and
	// the others' expectations follow the overrides (see Tests).
	Changed map[string][]Change
	// Removed are the default rules (alerts and records) the overrides
	// disabled, by name, when none of the name is left.
	Removed map[string]bool
	// Dropped are the labels, as written, of each default alert the
	// overrides disabled, by name: a test's expected alert that has them
	// is the disabled one's.
	Dropped map[string][]map[string]string
	// Groups are the default rule groups the overrides disabled; Broken
	// the default rules left that read what they recorded, whose tests
	// are left out.
	Groups, Broken []string
}

// Change is an override applied to a default alert.
type Change struct {
	Override *config.AlertOverride
	// Labels are the alert's labels as the default wrote them: an
	// expected alert of a default test is the alert's when it has them.
	Labels map[string]string
	// At is the override's key in obsctl.yaml.
	At diag.Span
}

// Apply changes def as cfg's overrides say and reports, at the override,
// one that names nothing; own is the repo's own content, which no
// override changes.
func Apply(cfg *config.Config, cfgFile *source.File, own, def *Content) *Result {
	res := &Result{Changed: map[string][]Change{}, Removed: map[string]bool{}, Dropped: map[string][]map[string]string{}}
	o := &cfg.Overrides
	report := func(check string, sev diag.Severity, at diag.Span, hint, format string, args ...any) {
		res.Findings = append(res.Findings, diag.Finding{Check: check, Severity: sev, Span: at, Message: fmt.Sprintf(format, args...), Hint: hint})
	}

	// Every selector is matched against an alert's labels as the default
	// content writes them, whatever an override changed before it.
	orig := map[*promrule.Rule]map[string]string{}
	for _, f := range def.RuleFiles {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				orig[r] = staticLabels(g, r)
			}
		}
	}
	// What the overrides of an alert set themselves, which the ones for
	// every default alert leave alone.
	type keys struct{ labels, annotations map[string]bool }
	explicit := map[*promrule.Rule]keys{}

	// Alerts.
	for _, key := range slices.Sorted(maps.Keys(o.Alerts)) {
		ov := o.Alerts[key]
		at := o.Entry("alerts", key)
		name, matchers, err := Selector(key)
		if err != nil {
			report(CheckOverride, diag.Error, at, `key an override by the alert's name, or by its name and labels: NodeFilesystemAlmostFull{severity="critical"}`, "overrides.alerts: %q is not an alert name or selector: %v", key, err)
			continue
		}
		var hits []*promrule.Rule
		for _, f := range def.RuleFiles {
			for _, g := range f.Groups {
				for _, r := range g.Rules {
					if r.Alert == name && matches(matchers, orig[r]) {
						hits = append(hits, r)
					}
				}
			}
		}
		if len(hits) == 0 {
			hint := closest(name, alertNames(def.RuleFiles))
			if slices.Contains(alertNames(own.RuleFiles), name) {
				hint = "overrides change the default content; change the repo's own alert " + name + " where it is written"
			}
			what := "alert " + strconv.Quote(name)
			if len(matchers) > 0 {
				what += " with the labels " + key[len(name):]
			}
			report(CheckOverride, diag.Error, at, hint, "overrides.alerts: the default content has no %s", what)
			continue
		}
		if ov == nil {
			continue // config/schema says so
		}
		for _, r := range hits {
			if ov.Disabled {
				res.Removed[r.Alert] = true
				res.Dropped[r.Alert] = append(res.Dropped[r.Alert], orig[r])
				r.Group.Rules = slices.DeleteFunc(r.Group.Rules, func(x *promrule.Rule) bool { return x == r })
				continue
			}
			k, ok := explicit[r]
			if !ok {
				k = keys{map[string]bool{}, map[string]bool{}}
				explicit[r] = k
			}
			for l := range ov.Labels {
				k.labels[l] = true
			}
			if ov.Severity != "" {
				k.labels["severity"] = true
			}
			for a := range ov.Annotations {
				k.annotations[a] = true
			}
			if !override(cfgFile, r, ov, report) {
				continue
			}
			res.Changed[r.Alert] = append(res.Changed[r.Alert], Change{Override: ov, Labels: orig[r], At: at})
		}
	}

	// Groups, after the alerts, so that an alert of a disabled group is
	// still found.
	for _, name := range slices.Sorted(maps.Keys(o.Groups)) {
		found := false
		for _, f := range def.RuleFiles {
			for _, g := range f.Groups {
				if g.Name == name {
					found = true
					for _, r := range g.Rules {
						res.Removed[r.Name()] = true
					}
					g.Rules = nil
					res.Groups = append(res.Groups, name)
				}
			}
		}
		if !found {
			report(CheckOverride, diag.Error, o.Entry("groups", name), closest(name, groupNames(def.RuleFiles)), "overrides.groups: the default content has no rule group %q", name)
		}
	}
	// What every default alert gets (severities mapped, labels and
	// annotations set), but where an override of the alert says
	// otherwise.
	used := map[string]bool{}
	for _, f := range def.RuleFiles {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if !r.IsAlert() {
					continue
				}
				static := orig[r]
				k := explicit[r]
				ov := &config.AlertOverride{}
				at := o.Span("labels")
				if to, ok := o.Severities[static["severity"]]; ok && to != "" {
					used[static["severity"]] = true
					// An SLO's alerts were compiled at the repo's own
					// severities already.
					if !k.labels["severity"] && !r.Compiled {
						ov.Severity, at = to, o.Entry("severities", static["severity"])
					}
				}
				for l, v := range o.Labels {
					if !k.labels[l] {
						if ov.Labels == nil {
							ov.Labels = map[string]string{}
						}
						ov.Labels[l] = v
					}
				}
				for a, v := range o.Annotations {
					if !k.annotations[a] {
						if ov.Annotations == nil {
							ov.Annotations = map[string]string{}
						}
						ov.Annotations[a] = v
					}
				}
				if ov.Severity == "" && len(ov.Labels)+len(ov.Annotations) == 0 {
					continue
				}
				if ov.Severity == "" && len(ov.Labels) == 0 {
					at = o.Span("annotations")
				}
				override(cfgFile, r, ov, report)
				res.Changed[r.Alert] = append(res.Changed[r.Alert], Change{Override: ov, Labels: static, At: at})
			}
		}
	}
	for _, from := range slices.Sorted(maps.Keys(o.Severities)) {
		if !used[from] {
			report(CheckOverride, diag.Error, o.Entry("severities", from), "", "overrides.severities: no default alert has the severity %q", from)
		}
	}

	// A name is removed only when no rule of that name is left.
	for _, f := range def.RuleFiles {
		for _, r := range f.Rules() {
			delete(res.Removed, r.Name())
		}
	}
	// A default rule that reads what a disabled group recorded can no
	// longer work: it is said, and its tests are left out.
	if groups := slices.Sorted(maps.Keys(o.Groups)); len(groups) > 0 && len(res.Removed) > 0 {
		for _, f := range def.RuleFiles {
			for _, r := range f.Rules() {
				if reads(r.Expr, res.Removed) && !slices.Contains(res.Broken, r.Name()) {
					res.Broken = append(res.Broken, r.Name())
				}
			}
		}
		if len(res.Broken) > 0 {
			report(CheckOverride, diag.Error, o.Entry("groups", groups[0]), "disable them too (overrides.alerts), or keep the group",
				"overrides.groups: %s read what a disabled group records, and would never fire", strings.Join(res.Broken, ", "))
		}
	}

	// Dashboards, by uid.
	for _, uid := range slices.Sorted(maps.Keys(o.Dashboards)) {
		if uid == SLODashboardUID {
			continue // compiled from the SLOs, after the layering (load.Repo.addSLODashboard)
		}
		n := len(def.Dashboards)
		def.Dashboards = slices.DeleteFunc(def.Dashboards, func(d *source.File) bool { return DashboardUID(d.Src) == uid })
		if len(def.Dashboards) == n {
			var uids []string
			for _, d := range def.Dashboards {
				uids = append(uids, DashboardUID(d.Src))
			}
			report(CheckOverride, diag.Error, o.Entry("dashboards", uid), closest(uid, uids), "overrides.dashboards: the default content has no dashboard of uid %q", uid)
		}
	}
	// Pipelines, by name.
	for _, name := range slices.Sorted(maps.Keys(o.Pipelines)) {
		n := len(def.Pipelines)
		def.Pipelines = slices.DeleteFunc(def.Pipelines, func(p *fluentd.Pipeline) bool { return p.Name == name })
		if len(def.Pipelines) == n {
			var names []string
			for _, p := range def.Pipelines {
				names = append(names, p.Name)
			}
			report(CheckOverride, diag.Error, o.Entry("pipelines", name), closest(name, names), "overrides.pipelines: the default content has no pipeline %q", name)
		}
	}

	// Drop what the overrides emptied: a group without rules, a file
	// without groups.
	for _, f := range def.RuleFiles {
		f.Groups = slices.DeleteFunc(f.Groups, func(g *promrule.Group) bool { return len(g.Rules) == 0 })
	}
	def.RuleFiles = slices.DeleteFunc(def.RuleFiles, func(f *promrule.File) bool { return len(f.Groups) == 0 })

	shadows(own, def, report)
	return res
}

func closest(s string, names []string) string {
	if c := spell.Closest(s, names); c != "" {
		return fmt.Sprintf("did you mean %q?", c)
	}
	return ""
}

// Selector parses an override's key: an alert name, or a name and label
// matchers (Name{severity="critical"}).
func Selector(key string) (string, []*labels.Matcher, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return "", nil, fmt.Errorf("empty")
	}
	if !strings.Contains(key, "{") {
		return key, nil, nil
	}
	ms, err := promql.ParseMetricSelector(key)
	if err != nil {
		return "", nil, err
	}
	var name string
	var rest []*labels.Matcher
	for _, m := range ms {
		if m.Name == labels.MetricName {
			if m.Type != labels.MatchEqual {
				return "", nil, fmt.Errorf("name the alert exactly, not by a pattern")
			}
			name = m.Value
			continue
		}
		rest = append(rest, m)
	}
	if name == "" {
		return "", nil, fmt.Errorf("no alert name before the labels")
	}
	return name, rest, nil
}

func matches(ms []*labels.Matcher, ls map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(ls[m.Name]) {
			return false
		}
	}
	return true
}

// staticLabels returns the labels an alert of r carries as written: its
// group's, then its own.
func staticLabels(g *promrule.Group, r *promrule.Rule) map[string]string {
	m := map[string]string{}
	for _, kv := range g.Labels {
		m[kv.Key] = kv.Value
	}
	for _, kv := range r.Labels {
		m[kv.Key] = kv.Value
	}
	return m
}

// override changes r as ov says; it reports false when a parameter could
// not be set (the finding says why).
func override(cfgFile *source.File, r *promrule.Rule, ov *config.AlertOverride, report func(string, diag.Severity, diag.Span, string, string, ...any)) bool {
	// The parameters first: an override that cannot be carried out whole
	// changes nothing, so that the default tests still hold.
	expr, params := r.Expr, slices.Clone(r.Params)
	ok := true
	for _, name := range slices.Sorted(maps.Keys(ov.Parameters)) {
		pat := ov.Entry("parameters", name)
		i := slices.IndexFunc(params, func(p promrule.Param) bool { return p.Name == name })
		if i < 0 {
			var names []string
			for _, p := range params {
				names = append(names, p.Name)
			}
			hint := "it declares none: change the alert with for, severity, labels or annotations, or disable it and write the repo's own"
			if len(names) > 0 {
				hint = "it declares: " + strings.Join(names, ", ")
			}
			report(CheckOverride, diag.Error, pat, hint, "overrides.alerts: %s declares no parameter %q", r.Alert, name)
			ok = false
			continue
		}
		e, err := SetParam(expr, params[i].Value, ov.Parameters[name])
		if err != nil {
			report(CheckOverride, diag.Error, pat, "", "overrides.alerts: %s's parameter %s cannot be set: %v", r.Alert, name, err)
			ok = false
			continue
		}
		expr = e
		params[i].Value = ov.Parameters[name] // as the expression now has it
	}
	if !ok {
		return false
	}
	if len(ov.Parameters) > 0 {
		r.Expr, r.Params = expr, params
	}
	if ov.For.Set {
		r.For, r.ForSet, r.ForSpan = ov.For.D, true, ov.Span("for")
	}
	set := func(kvs []promrule.KV, k, v string) []promrule.KV {
		kv := promrule.KV{Key: k, Value: v, File: cfgFile}
		if i := slices.IndexFunc(kvs, func(x promrule.KV) bool { return x.Key == k }); i >= 0 {
			kvs = slices.Clone(kvs)
			kvs[i] = kv
			return kvs
		}
		return append(slices.Clip(kvs), kv)
	}
	if ov.Severity != "" {
		r.Labels = set(r.Labels, "severity", ov.Severity)
	}
	for _, k := range slices.Sorted(maps.Keys(ov.Labels)) {
		r.Labels = set(r.Labels, k, ov.Labels[k])
	}
	for _, k := range slices.Sorted(maps.Keys(ov.Annotations)) {
		r.Annotations = set(r.Annotations, k, ov.Annotations[k])
	}
	return ok
}

// reads reports whether expr selects a series of one of names.
func reads(expr string, names map[string]bool) bool {
	if len(names) == 0 || expr == "" {
		return false
	}
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return false
	}
	found := false
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok && names[vs.Name] {
			found = true
		}
		return nil
	})
	return found
}

// SetParam returns expr with the one number literal of value old written
// as value new, the rest of the expression byte for byte as it was.
func SetParam(expr, old, new string) (string, error) {
	ov, err := strconv.ParseFloat(old, 64)
	if err != nil {
		return "", fmt.Errorf("%q is not a number", old)
	}
	if _, err := strconv.ParseFloat(new, 64); err != nil {
		return "", fmt.Errorf("%q is not a number", new)
	}
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return "", err
	}
	var hits []*parser.NumberLiteral
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if nl, ok := n.(*parser.NumberLiteral); ok && (nl.Val == ov || math.Abs(nl.Val-ov) <= 1e-12*math.Abs(ov)) {
			hits = append(hits, nl)
		}
		return nil
	})
	if len(hits) != 1 {
		return "", fmt.Errorf("the expression has %d numbers of value %s, not one", len(hits), old)
	}
	pr := hits[0].PosRange
	return expr[:pr.Start] + new + expr[pr.End:], nil
}

// DashboardUID returns a dashboard's uid, "" when it has none or is not
// JSON.
func DashboardUID(src []byte) string {
	var d struct {
		UID string `json:"uid"`
	}
	_ = json.Unmarshal(src, &d)
	return d.UID
}

func groupNames(files []*promrule.File) []string {
	var out []string
	for _, f := range files {
		for _, g := range f.Groups {
			out = append(out, g.Name)
		}
	}
	return out
}

func alertNames(files []*promrule.File) []string {
	var out []string
	for _, f := range files {
		for _, r := range f.Rules() {
			if r.IsAlert() {
				out = append(out, r.Alert)
			}
		}
	}
	return out
}

// shadows reports each dashboard and pipeline of the repo's own that has
// the uid or name of one the default content still has (lint's
// defaults/shadow says the same of rules, as it reads them). One the
// overrides disabled may be replaced by the repo's own of its name: that
// is said, not implied.
func shadows(own, def *Content, report func(string, diag.Severity, diag.Span, string, string, ...any)) {
	defUIDs := map[string]string{}
	for _, d := range def.Dashboards {
		if uid := DashboardUID(d.Src); uid != "" {
			defUIDs[uid] = d.Path
		}
	}
	for _, d := range own.Dashboards {
		if p, ok := defUIDs[DashboardUID(d.Src)]; ok {
			report(CheckShadow, diag.Error, d.Whole(), ShadowHint+" (overrides.dashboards)", "dashboard uid %q is also the uid of a default dashboard (%s): a repo's dashboard does not replace a default of its uid", DashboardUID(d.Src), p)
		}
	}
	defPipes := map[string]string{}
	for _, p := range def.Pipelines {
		defPipes[p.Name] = p.Path()
	}
	for _, p := range own.Pipelines {
		if dp, ok := defPipes[p.Name]; ok {
			report(CheckShadow, diag.Error, p.NameSpan(), ShadowHint+" (overrides.pipelines)", "pipeline %q is also a default pipeline (%s): a repo's pipeline does not replace a default of its name", p.Name, dp)
		}
	}
}

// ShadowHint is what a defaults/shadow finding asks.
const ShadowHint = "rename it, or disable the default's in obsctl.yaml's overrides and keep yours as its replacement"

// IsDefault reports whether a path shown is of the default content.
func IsDefault(path string) bool { return strings.HasPrefix(path, Dir+"/") }

// Pipelines returns the routing order of the layered pipelines: the
// repo's own that take some logs, then the default's that do, then the
// catch-alls, the repo's own first. The default catch-all is left out
// when the repo has one: nothing would reach it.
func Pipelines(own, def []*fluentd.Pipeline) []*fluentd.Pipeline {
	var out, all []*fluentd.Pipeline
	for _, p := range own {
		if p.CatchAll() {
			all = append(all, p)
		} else {
			out = append(out, p)
		}
	}
	ownAll := len(all) > 0
	for _, p := range def {
		if !p.CatchAll() {
			out = append(out, p)
		} else if !ownAll {
			all = append(all, p)
		}
	}
	return append(out, all...)
}

// Items returns the default content's items as shipped, each by a key
// (rule GROUP/NAME, dashboard UID, pipeline NAME) with a digest of what
// it is: recorded with each revision, so that an obsctl that brings other
// defaults can say which items it changes (Changes).
func Items(files []*promrule.File, dashboards []*source.File, pipelines []*fluentd.Pipeline) map[string]string {
	out := map[string]string{}
	add := func(key string, parts ...string) {
		h := sha256.New()
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
		k := key
		for i := 2; out[k] != ""; i++ {
			k = fmt.Sprintf("%s#%d", key, i)
		}
		out[k] = hex.EncodeToString(h.Sum(nil))[:12]
	}
	for _, f := range files {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				kind := "record"
				if r.IsAlert() {
					kind = "alert"
				}
				parts := []string{r.Expr, r.For.String()}
				for _, kv := range append(slices.Clone(g.Labels), r.Labels...) {
					parts = append(parts, "l", kv.Key, kv.Value)
				}
				for _, kv := range r.Annotations {
					parts = append(parts, "a", kv.Key, kv.Value)
				}
				add(kind+" "+g.Name+"/"+r.Name(), parts...)
			}
		}
	}
	for _, d := range dashboards {
		add("dashboard "+DashboardUID(d.Src), string(d.Src))
	}
	for _, p := range pipelines {
		if p.File != nil {
			add("pipeline "+p.Name, string(p.File.Src))
		}
	}
	if len(out) == 0 {
		return nil // as a revision stores none
	}
	return out
}

// ItemChanges says what moved between two sets of Items: the keys added,
// removed and changed, each sorted.
func ItemChanges(old, new map[string]string) (added, removed, changed []string) {
	for k, v := range new {
		switch ov, ok := old[k]; {
		case !ok:
			added = append(added, k)
		case ov != v:
			changed = append(changed, k)
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			removed = append(removed, k)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	slices.Sort(changed)
	return added, removed, changed
}
