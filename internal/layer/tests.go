package layer

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

// Tests fits the default rule tests to the default alerts as overridden:
// a case of a disabled alert, or of a recording rule a disabled group
// took, is left out; the expected labels and annotations of a changed
// alert follow its overrides; a case of an alert whose for or parameters
// were changed is left out, since it was written for the default's
// timing and thresholds, and unless the repo's own tests (own) test the
// alert, a defaults/test finding at the override asks for one. Routing
// tests are left out whole: they test the default routing, not the
// repo's. A file nothing changes is returned as it is.
func Tests(res *Result, own, def []*source.File) ([]*source.File, []diag.Finding) {
	tested := map[string]bool{}
	for _, f := range own {
		for _, a := range testedAlerts(f) {
			tested[a] = true
		}
	}
	var out []*source.File
	var findings []diag.Finding
	asked := map[string]bool{}
	for _, f := range def {
		root := document(f)
		if root == nil {
			out = append(out, f)
			continue
		}
		if source.Value(root, "route_tests") != nil {
			continue
		}
		changed := false
		if order := source.Value(root, "group_eval_order"); order != nil && order.Kind == yaml.SequenceNode && len(res.Groups) > 0 {
			n := len(order.Content)
			order.Content = slices.DeleteFunc(order.Content, func(g *yaml.Node) bool { return slices.Contains(res.Groups, g.Value) })
			changed = len(order.Content) != n
		}
		tests := source.Value(root, "tests")
		if tests == nil || tests.Kind != yaml.SequenceNode {
			out = append(out, f)
			continue
		}
		tests.Content = slices.DeleteFunc(tests.Content, func(t *yaml.Node) bool {
			if t.Kind != yaml.MappingNode {
				return false
			}
			n := 0
			if art := source.Value(t, "alert_rule_test"); art != nil && art.Kind == yaml.SequenceNode {
				art.Content = slices.DeleteFunc(art.Content, func(c *yaml.Node) bool {
					name := scalar(source.Value(c, "alertname"))
					drop, edit := res.fit(name, c)
					if drop {
						for _, ch := range res.Changed[name] {
							if !tested[name] && !asked[name] && !res.Removed[name] {
								asked[name] = true
								findings = append(findings, diag.Finding{Check: CheckTest, Severity: diag.Warning, Span: ch.At,
									Message: fmt.Sprintf("the overrides of %s (%s) change what its default tests assume: they are left out", name, ch.Override),
									Hint:    "write a test of the repo's own that makes " + name + " fire as overridden (obsctl test)"})
							}
						}
					}
					changed = changed || drop || edit
					return drop
				})
				n += len(art.Content)
			}
			if pet := source.Value(t, "promql_expr_test"); pet != nil && pet.Kind == yaml.SequenceNode {
				pet.Content = slices.DeleteFunc(pet.Content, func(c *yaml.Node) bool {
					drop := res.readsRemoved(scalar(source.Value(c, "expr")))
					changed = changed || drop
					return drop
				})
				n += len(pet.Content)
			}
			return n == 0
		})
		if !changed {
			out = append(out, f)
			continue
		}
		if len(tests.Content) == 0 {
			continue // nothing of it is left to test
		}
		var b bytes.Buffer
		b.WriteString("# " + f.Path + " as the overrides of obsctl.yaml leave it.\n")
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(root); err != nil {
			out = append(out, f) // cannot happen with a tree yaml decoded; the tests then say what fails
			continue
		}
		nf := source.NewFile(f.Path, b.Bytes())
		nf.Rel = f.Rel
		out = append(out, nf)
	}
	return out, findings
}

// fit fits the case c of alert name to the overrides: drop when it no
// longer applies, edit when its expectations were changed.
func (res *Result) fit(name string, c *yaml.Node) (drop, edit bool) {
	if res.Removed[name] || slices.Contains(res.Broken, name) {
		return true, false
	}
	changes := res.Changed[name]
	for _, ch := range changes {
		if ch.Override.Changes() {
			// Written for the default's timing and thresholds: a case that
			// expects it silent may not hold either.
			return true, false
		}
		for _, v := range ch.Override.Labels {
			if strings.Contains(v, "{{") {
				return true, false // the case cannot say what the template gives
			}
		}
	}
	exp := source.Value(c, "exp_alerts")
	if exp == nil || exp.Kind != yaml.SequenceNode {
		return false, false
	}
	if dropped := res.Dropped[name]; len(dropped) > 0 {
		// Some alerts of the name are disabled: they are no longer
		// expected.
		n := len(exp.Content)
		exp.Content = slices.DeleteFunc(exp.Content, func(a *yaml.Node) bool {
			written := labelMap(source.Value(a, "exp_labels"))
			return slices.ContainsFunc(dropped, func(ls map[string]string) bool { return hasAll(written, ls) })
		})
		edit = len(exp.Content) != n
	}
	if len(changes) == 0 {
		return false, edit
	}
	for _, a := range exp.Content {
		// Each change is the change of the alerts of its labels as the
		// default wrote them, not as another change left them.
		written := labelMap(source.Value(a, "exp_labels"))
		for _, ch := range changes {
			if !hasAll(written, ch.Labels) {
				continue
			}
			ov := ch.Override
			if ov.Severity != "" {
				setKey(a, "exp_labels", "severity", ov.Severity)
				edit = true
			}
			for _, k := range slices.Sorted(maps.Keys(ov.Labels)) {
				setKey(a, "exp_labels", k, ov.Labels[k])
				edit = true
			}
			ann := source.Value(a, "exp_annotations")
			for _, k := range slices.Sorted(maps.Keys(ov.Annotations)) {
				v := ov.Annotations[k]
				if strings.Contains(v, "{{") {
					return true, false // the case cannot say what the template gives
				}
				if ann != nil {
					setKey(a, "exp_annotations", k, v)
					edit = true
				}
			}
		}
	}
	return false, edit
}

// readsRemoved reports whether the expression selects a series a
// disabled recording rule recorded, or one that read it.
func (res *Result) readsRemoved(expr string) bool {
	names := maps.Clone(res.Removed)
	for _, b := range res.Broken {
		names[b] = true // a record that read one records nothing now
	}
	return reads(expr, names)
}

// labelMap returns the mapping ls (a case's exp_labels) as a map.
func labelMap(ls *yaml.Node) map[string]string {
	m := map[string]string{}
	if ls == nil || ls.Kind != yaml.MappingNode {
		return m
	}
	for i := 0; i+1 < len(ls.Content); i += 2 {
		m[ls.Content[i].Value] = scalar(ls.Content[i+1])
	}
	return m
}

// hasAll reports whether got has every label of want.
func hasAll(got, want map[string]string) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// setKey sets key k of the mapping under key m of a to v.
func setKey(a *yaml.Node, m, k, v string) {
	mn := source.Value(a, m)
	if mn == nil {
		mn = &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		a.Content = append(a.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: m}, mn)
	}
	if vn := source.Value(mn, k); vn != nil {
		vn.Value, vn.Tag, vn.Style, vn.Kind = v, "!!str", 0, yaml.ScalarNode
		return
	}
	mn.Content = append(mn.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &yaml.Node{Kind: yaml.ScalarNode, Value: v, Tag: "!!str"})
}

// testedAlerts returns the alerts a rule test file's cases test.
func testedAlerts(f *source.File) []string {
	root := document(f)
	var out []string
	for _, t := range source.Items(source.Value(root, "tests")) {
		for _, c := range source.Items(source.Value(t, "alert_rule_test")) {
			if a := scalar(source.Value(c, "alertname")); a != "" {
				out = append(out, a)
			}
		}
	}
	return out
}

// document returns the top-level mapping of a YAML file, nil when it is
// not one.
func document(f *source.File) *yaml.Node {
	var doc yaml.Node
	if err := yaml.Unmarshal(f.Src, &doc); err != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	return doc.Content[0]
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}
