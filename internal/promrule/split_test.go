package promrule

import (
	"fmt"
	"strings"
	"testing"

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
	f := bigFile(t, "rules/mid.yaml", 500, 400) // ~420 KB
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
