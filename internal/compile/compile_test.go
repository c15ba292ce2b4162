package compile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/amroute"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/promrule"
)

func loadDefault(t *testing.T) *load.Repo {
	t.Helper()
	r, err := load.Load(load.Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Embedded() {
		t.Fatal("not the embedded default repo")
	}
	return r
}

// TestPrometheusRulesAreTheBuildObjects: the objects render ships are the
// ones build writes, value for value, though they are never written as
// YAML and parsed back on the way to render.
func TestPrometheusRulesAreTheBuildObjects(t *testing.T) {
	r := loadDefault(t)
	c, err := Compile(r)
	if err != nil {
		t.Fatal(err)
	}
	built, err := promrule.CompileObjects(r.RuleFiles, promrule.ObjectOptions{
		Stack: r.Config.Name, Namespace: r.Config.Namespace(), Labels: r.Config.Rules.Labels,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.PrometheusRules) != len(built) || len(built) == 0 {
		t.Fatalf("%d objects, build writes %d", len(c.PrometheusRules), len(built))
	}
	for i, o := range built {
		got := c.PrometheusRules[i]
		if got.Path != o.Path {
			t.Errorf("object %d: path %s, build writes %s", i, got.Path, o.Path)
		}
		var want map[string]any
		if err := yaml.Unmarshal(o.Data, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalize(t, got.Object.Object), want) {
			t.Errorf("%s: the object differs from the file build writes", o.Path)
		}
	}
}

// normalize gives m the types a YAML or JSON decoder gives (float64
// numbers), so that values compare, not representations.
func normalize(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// compileOutputs compiles r and returns what build would write.
func compileOutputs(t *testing.T, r *load.Repo) (*Compiled, []promrule.Output) {
	t.Helper()
	c, err := Compile(r)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := c.Outputs()
	if err != nil {
		t.Fatal(err)
	}
	return c, outs
}

// TestOutputs: build's files are the rule files, the objects with their
// source header and the routing, in that order; the objects' bytes are
// those promrule writes.
func TestOutputs(t *testing.T) {
	r := loadDefault(t)
	c, outs := compileOutputs(t, r)
	files, _ := promrule.CompileRuleFiles(r.RuleFiles)
	objs, _ := promrule.CompileObjects(r.RuleFiles, promrule.ObjectOptions{
		Stack: r.Config.Name, Namespace: r.Config.Namespace(), Labels: r.Config.Rules.Labels,
	})
	am, err := amroute.Compile(r.Config)
	if err != nil {
		t.Fatal(err)
	}
	amFile := append([]byte(promrule.Header("obsctl.yaml")), am.YAML...)
	want := append(append(files, objs...), promrule.Output{Path: AlertmanagerPath, Data: amFile})
	if len(outs) != len(want) {
		t.Fatalf("%d outputs, want %d", len(outs), len(want))
	}
	for i := range want {
		if outs[i].Path != want[i].Path || string(outs[i].Data) != string(want[i].Data) {
			t.Errorf("output %d: %s differs from %s", i, outs[i].Path, want[i].Path)
		}
	}
	if len(c.Fluentd) == 0 || len(c.Dashboards) == 0 {
		t.Errorf("the default repo's pipelines or dashboards are missing: %d bytes of fluent.conf, %d dashboards", len(c.Fluentd), len(c.Dashboards))
	}
}

// TestRulesOnlyRepo: without routing or pipelines there is no
// Alertmanager configuration and no fluent.conf, and build writes no
// alertmanager.yaml.
func TestRulesOnlyRepo(t *testing.T) {
	dir := t.TempDir()
	for p, data := range map[string]string{
		"obsctl.yaml":  "apiVersion: obsctl/v1\nname: team\ndefaults: false\nrules:\n  namespace: team-a\n",
		"rules/a.yaml": "groups:\n- name: a\n  rules:\n  - record: a:b:sum\n    expr: sum(b)\n",
	} {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := load.Load(load.Options{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Compile(r)
	if err != nil {
		t.Fatal(err)
	}
	if c.Alertmanager != nil || len(c.Fluentd) != 0 || len(c.Dashboards) != 0 {
		t.Errorf("a rules-only repo compiled routing, fluent.conf or dashboards")
	}
	if len(c.PrometheusRules) != 1 || c.PrometheusRules[0].Object.GetName() != "team-rules-a" || c.PrometheusRules[0].Object.GetNamespace() != "team-a" {
		t.Fatalf("objects %+v", c.PrometheusRules)
	}
	outs, err := c.Outputs()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		if o.Path == AlertmanagerPath {
			t.Error("build would write an Alertmanager configuration")
		}
	}
}

func TestFluentdOutput(t *testing.T) {
	r := loadDefault(t)
	out := FluentdOutput(r.Config)
	if out.Host != "elasticsearch."+r.Config.StackNamespace()+".svc" || out.Port != ElasticsearchPort || out.PasswordEnv != FluentdPasswordEnv {
		t.Errorf("output %+v", out)
	}
}
