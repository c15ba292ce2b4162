package promrule

import (
	"fmt"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/source"
)

// operatorRuleFileLimit is the largest rule file the Prometheus Operator
// makes of one PrometheusRule (half of a ConfigMap's 1 MiB); it refuses
// a bigger one, for the whole Prometheus.
const operatorRuleFileLimit = 512 << 10

// bigFile returns a plain rule file of n groups of two alerts, each alert
// with a description of pad bytes.
func bigFile(t *testing.T, path string, n, pad int) *File {
	t.Helper()
	var b strings.Builder
	b.WriteString("groups:\n")
	for i := range n {
		fmt.Fprintf(&b, "- name: g%d\n  rules:\n", i)
		for _, a := range []string{"High", "Low"} {
			fmt.Fprintf(&b, "  - alert: %sLoad%d\n    expr: up == 0\n    for: 5m\n    labels: {severity: warning}\n    annotations: {summary: s, description: %s}\n", a, i, strings.Repeat("d", pad))
		}
	}
	f, fds := Load(source.NewFile(path, []byte(b.String())))
	if len(fds) > 0 {
		t.Fatalf("load: %v", fds)
	}
	return f
}

// TestSplitBigFile: a rule file whose PrometheusRule would be over what the
// operator takes (and etcd stores) is compiled into several objects, each
// under the limit, holding every group once, in order.
func TestSplitBigFile(t *testing.T) {
	f := bigFile(t, "rules/big.yaml", 2000, 400) // ~1.7 MB of rules
	rules, err := CompilePrometheusRules([]*File{f}, ObjectOptions{Stack: "prod", Namespace: "monitoring"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) < 4 {
		t.Fatalf("%d PrometheusRules, want the 1.7 MB file split in at least 4", len(rules))
	}
	var groups []string
	for i, r := range rules {
		content, err := sigsyaml.Marshal(r.Rule.Spec) // as the operator writes the rule file
		if err != nil {
			t.Fatal(err)
		}
		if len(content) > operatorRuleFileLimit {
			t.Errorf("%s: rule file of %d bytes, over the operator's %d", r.Rule.Name, len(content), operatorRuleFileLimit)
		}
		want := "prod-rules-big"
		if i > 0 {
			want = fmt.Sprintf("prod-rules-big-%d", i+1)
		}
		if r.Rule.Name != want || r.Path != "prometheusrules/"+strings.TrimPrefix(want, "prod-")+".yaml" {
			t.Errorf("object %d: %s at %s, want %s", i, r.Rule.Name, r.Path, want)
		}
		for _, g := range r.Rule.Spec.Groups {
			groups = append(groups, g.Name)
		}
	}
	if len(groups) != 2000 || groups[0] != "g0" || groups[1999] != "g1999" {
		t.Errorf("%d groups from g0 to g1999 across the objects, want 2000 in order", len(groups))
	}
	// The plain rule file for build's prometheus/rules/ is not split:
	// Prometheus reads a file of any size.
	files, err := CompileRuleFiles([]*File{f})
	if err != nil || len(files) != 1 {
		t.Errorf("rule files: %d, %v; want 1", len(files), err)
	}
}

// TestSmallFileNotSplit: a file under the limit stays one object.
func TestSmallFileNotSplit(t *testing.T) {
	f := bigFile(t, "rules/mid.yaml", 400, 400) // a rule file of ~440 KB
	rules, err := CompilePrometheusRules([]*File{f}, ObjectOptions{Stack: "prod", Namespace: "monitoring"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || rules[0].Rule.Name != "prod-rules-mid" {
		t.Fatalf("%d objects, want prod-rules-mid alone", len(rules))
	}
}

// TestObjectNameCut: a long name cut to 253 characters is still a name
// the API server takes: it must not end with a dot or a dash.
func TestObjectNameCut(t *testing.T) {
	for _, name := range []string{
		strings.Repeat("c", 247) + "." + strings.Repeat("d", 5), // "prod-" and the name cut to 253 ends with the dot
		strings.Repeat("c", 247) + "-" + strings.Repeat("d", 5),
	} {
		f, fds := Load(source.NewFile("rules/o.yaml", []byte("apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: "+name+"}\nspec:\n  groups:\n  - name: g\n    rules:\n    - record: a:b:c\n      expr: up\n")))
		if len(fds) > 0 {
			t.Fatalf("load: %v", fds)
		}
		rules, err := CompilePrometheusRules([]*File{f}, ObjectOptions{Stack: "prod", Namespace: "monitoring"})
		if err != nil {
			t.Fatal(err)
		}
		if got := rules[0].Rule.Name; len(validation.IsDNS1123Subdomain(got)) > 0 {
			t.Errorf("object name %q (%d characters): %v", got, len(got), validation.IsDNS1123Subdomain(got))
		}
	}
}

// TestLongPathOutputs: the files build writes for a rule file under a long
// path have names the file system takes (at most 255 bytes).
func TestLongPathOutputs(t *testing.T) {
	dir := strings.Repeat("l", 100)
	f, _ := Load(source.NewFile("rules/"+dir+"/"+dir+"/"+dir+"/x.yaml", []byte("groups:\n- name: g\n  rules:\n  - record: a:b:c\n    expr: up\n")))
	files, err := CompileRuleFiles([]*File{f})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := CompileObjects([]*File{f}, ObjectOptions{Stack: "prod", Namespace: "monitoring"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range append(files, objs...) {
		base := o.Path[strings.LastIndex(o.Path, "/")+1:]
		if len(base) > 255 {
			t.Errorf("%s: file name of %d bytes", o.Path, len(base))
		}
	}
}

// TestRuleFileBytes: the sizes the plan gives are the operator's rule
// file's: exact near the limit, an upper bound under it.
func TestRuleFileBytes(t *testing.T) {
	for _, n := range []int{3, 400, 2000} {
		f := bigFile(t, "rules/f.yaml", n, 400)
		for _, p := range PlanPrometheusRules([]*File{f}, ObjectOptions{Stack: "prod"}) {
			var rgs []monitoringv1.RuleGroup
			for _, g := range p.Groups {
				rgs = append(rgs, ruleGroup(g))
			}
			content, err := sigsyaml.Marshal(monitoringv1.PrometheusRuleSpec{Groups: rgs})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case p.Bytes < len(content):
				t.Errorf("%d groups, %s: %d bytes planned, the rule file has %d", n, p.Source(), p.Bytes, len(content))
			case p.Bytes > MaxRuleFileBytes/2 && p.Bytes != len(content):
				t.Errorf("%d groups, %s: %d bytes planned near the limit, the rule file has %d", n, p.Source(), p.Bytes, len(content))
			}
		}
	}
}

// TestGroupBound: the cheap bound is above what YAML writes, for the
// strings YAML writes longest.
func TestGroupBound(t *testing.T) {
	for _, src := range []string{
		"groups:\n- name: g\n  rules:\n  - alert: A\n    expr: |\n" + strings.Repeat("      x\n", 300) + "    annotations:\n      d: \"" + strings.Repeat("\\u200b: #", 300) + "\"\n",
		"groups:\n- name: g\n  labels: {" + strings.Repeat("a: b, ", 1) + "c: \"\\x01\\x02\\x03\"}\n  rules:\n" + strings.Repeat("  - record: a:b:c\n    expr: up\n", 200),
		"groups:\n- name: g\n  interval: 1m\n  limit: 10\n  query_offset: 1m\n  rules:\n  - alert: A\n    expr: \"" + strings.Repeat("\\x01", 500) + "\"\n    for: 1h\n    keep_firing_for: 1h\n    labels: {a: \"\", b: \" \"}\n",
	} {
		f, fds := Load(source.NewFile("rules/b.yaml", []byte(src)))
		if len(fds) > 0 {
			t.Fatal(fds)
		}
		for _, g := range f.Groups {
			b, err := groupBytes(ruleGroup(g))
			bound, ok := groupBound(g)
			if err != nil || !ok {
				t.Fatalf("%v, writable %v:\n%s", err, ok, src)
			}
			if bound < b {
				t.Errorf("group of %d bytes of YAML bounded by %d:\n%s", b, bound, src)
			}
		}
	}
}

// TestUnwritable: a rule holding a character the operator's YAML cannot
// write (DEL) makes a PrometheusRule the operator skips: the plan says
// which group, small or big, and compile does not fail on it.
func TestUnwritable(t *testing.T) {
	for _, n := range []int{1, 1300} {
		var b strings.Builder
		b.WriteString("groups:\n- name: fine\n  rules:\n  - record: a:b:c\n    expr: up\n- name: odd\n  rules:\n  - record: a:b:d\n    expr: up\n    labels: {x: \"a\\x7fb\"}\n")
		for i := range n {
			fmt.Fprintf(&b, "  - record: a:b%d:c\n    expr: up\n    labels: {note: %s}\n", i, strings.Repeat("n", 400))
		}
		f, fds := Load(source.NewFile("rules/odd.yaml", []byte(b.String())))
		if len(fds) > 0 {
			t.Fatal(fds)
		}
		var odd []string
		for _, p := range PlanPrometheusRules([]*File{f}, ObjectOptions{Stack: "prod"}) {
			if p.Unwritable != "" {
				odd = append(odd, p.UnwritableGroup.Name)
			}
		}
		if fmt.Sprint(odd) != "[odd]" {
			t.Errorf("%d rules: unwritable groups %v, want [odd]", n, odd)
		}
		if _, err := CompilePrometheusRules([]*File{f}, ObjectOptions{Stack: "prod"}); err != nil {
			t.Errorf("compile: %v", err)
		}
	}
}

// TestGroupTooBig: a group over the limit is planned and compiled alone,
// its Bytes saying so (lint's rules/object-size reports it).
func TestGroupTooBig(t *testing.T) {
	var b strings.Builder
	b.WriteString("groups:\n- name: small\n  rules:\n  - record: a:b:c\n    expr: up\n- name: huge\n  rules:\n")
	for i := range 1300 {
		fmt.Fprintf(&b, "  - record: a:b%d:c\n    expr: up\n    labels: {note: %s}\n", i, strings.Repeat("n", 400))
	}
	b.WriteString("- name: after\n  rules:\n  - record: a:b:d\n    expr: up\n")
	f, fds := Load(source.NewFile("rules/huge.yaml", []byte(b.String())))
	if len(fds) > 0 {
		t.Fatal(fds)
	}
	plan := PlanPrometheusRules([]*File{f}, ObjectOptions{Stack: "prod", Namespace: "monitoring"})
	var names []string
	for _, p := range plan {
		names = append(names, fmt.Sprintf("%s:%d", p.Name, len(p.Groups)))
		if p.Bytes > MaxRuleFileBytes && (len(p.Groups) != 1 || p.Groups[0].Name != "huge") {
			t.Errorf("%s over the limit with groups %v", p.Name, p.Groups)
		}
	}
	if want := "[prod-rules-huge:1 prod-rules-huge-2:1 prod-rules-huge-3:1]"; fmt.Sprint(names) != want {
		t.Errorf("plan %v, want %s", names, want)
	}
	rules, err := CompilePrometheusRules([]*File{f}, ObjectOptions{Stack: "prod", Namespace: "monitoring"})
	if err != nil || len(rules) != 3 || len(rules[1].Rule.Spec.Groups) != 1 || rules[1].Rule.Spec.Groups[0].Name != "huge" {
		t.Errorf("compile: %d objects, %v; want the huge group alone in the second of three", len(rules), err)
	}
}

// TestClashes: two planned objects that are one object, or one file of
// build's output, are reported with both sources, and compile refuses
// them.
func TestClashes(t *testing.T) {
	plain := "groups:\n- name: g\n  rules:\n  - record: a:b:c\n    expr: up\n"
	obj := func(name, ns string) string {
		return "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec:\n  groups:\n  - name: g\n    rules:\n    - record: a:b:c\n      expr: up\n"
	}
	for _, tc := range []struct {
		name  string
		files [][2]string
		want  string // the clash, "" for none
	}{
		{"dash and folder", [][2]string{{"rules/a-b.yaml", plain}, {"rules/a/b.yaml", plain}},
			"rules/a/b.yaml compiles to PrometheusRule monitoring/prod-rules-a-b, as rules/a-b.yaml does"},
		{"two objects", [][2]string{{"rules/x.yaml", obj("shared", "monitoring")}, {"rules/y.yaml", obj("shared", "monitoring")}},
			"rules/y.yaml (PrometheusRule shared) compiles to PrometheusRule monitoring/prod-shared, as rules/x.yaml (PrometheusRule shared) does"},
		{"two namespaces", [][2]string{{"rules/x.yaml", obj("shared", "monitoring")}, {"rules/y.yaml", obj("shared", "team")}}, ""},
		{"object and file", [][2]string{{"rules/a.yaml", obj("rules-b", "monitoring")}, {"rules/b.yaml", plain}},
			"rules/b.yaml compiles to PrometheusRule monitoring/prod-rules-b, as rules/a.yaml (PrometheusRule rules-b) does"},
		{"object elsewhere, same file", [][2]string{{"rules/a-b.yaml", obj("one", "team")}, {"rules/a/b.yaml", plain}},
			"rules/a/b.yaml compiles to prometheusrules/rules-a-b.yaml, as rules/a-b.yaml (PrometheusRule one) does"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var files []*File
			for _, f := range tc.files {
				lf, fds := Load(source.NewFile(f[0], []byte(f[1])))
				if len(fds) > 0 {
					t.Fatal(fds)
				}
				files = append(files, lf)
			}
			opts := ObjectOptions{Stack: "prod", Namespace: "monitoring"}
			var got []string
			for _, c := range Clashes(PlanPrometheusRules(files, opts)) {
				got = append(got, c.String())
			}
			_, err := CompilePrometheusRules(files, opts)
			switch {
			case tc.want == "" && (len(got) > 0 || err != nil):
				t.Errorf("clashes %v, compile %v; want none", got, err)
			case tc.want != "" && (len(got) != 1 || got[0] != tc.want):
				t.Errorf("clashes %q, want %q", got, tc.want)
			case tc.want != "" && err == nil:
				t.Error("compile: no error")
			}
		})
	}
}
