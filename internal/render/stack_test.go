package render

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl"
	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/compile"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/source"
)

// defaultConfig is the embedded default obsctl.yaml with extra appended
// under stack: (indented by the caller).
func defaultConfig(t *testing.T, stackYAML string) *config.Config {
	t.Helper()
	c, fs := config.Parse(source.NewFile(config.FileName, []byte(defaultConfigSource(stackYAML))))
	if len(fs) > 0 {
		t.Fatalf("config: %v", fs)
	}
	return c
}

// defaultConfigSource is defaultConfig's source.
func defaultConfigSource(stackYAML string) string {
	src := string(obsctl.DefaultConfig)
	if stackYAML != "" {
		src = strings.Replace(src, "\nstack:\n", "\nstack:\n"+stackYAML, 1)
		if !strings.Contains(string(obsctl.DefaultConfig), "\nstack:\n") {
			src += "\nstack:\n" + stackYAML
		}
	}
	return src
}

// parseLoosely parses an obsctl.yaml that has findings (which lint would
// report), for what Render makes of it all the same.
func parseLoosely(t *testing.T, src string) *config.Config {
	t.Helper()
	c, fs := config.Parse(source.NewFile(config.FileName, []byte(src)))
	if len(fs) == 0 {
		t.Fatalf("config: no finding in %s", src)
	}
	return c
}

// render renders the default repo's config with stackYAML added.
func render(t *testing.T, stackYAML string) *Result {
	t.Helper()
	res, err := Render(&compile.Compiled{Config: defaultConfig(t, stackYAML)}, "")
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// find returns the rendered object of kind (Kind or group/Kind) in
// namespace ns called name, or nil.
func find(res *Result, kind, ns, name string) *unstructured.Unstructured {
	for _, o := range res.Objects {
		gk := o.GroupVersionKind().GroupKind()
		if (gk.Kind == kind || gk.Group+"/"+gk.Kind == kind) && o.GetNamespace() == ns && o.GetName() == name {
			return o
		}
	}
	return nil
}

// mustFind is find, failing t when the object is missing.
func mustFind(t *testing.T, res *Result, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	o := find(res, kind, ns, name)
	if o == nil {
		t.Fatalf("no %s %s/%s rendered", kind, ns, name)
	}
	return o
}

func TestRenderLabelsAndOrder(t *testing.T) {
	for _, profile := range []string{"minimal", "ha"} {
		t.Run(profile, func(t *testing.T) {
			res := render(t, "  profile: "+profile+"\n")
			if len(res.Objects) == 0 {
				t.Fatal("nothing rendered")
			}
			for i, o := range res.Objects {
				l := o.GetLabels()
				if l[apply.LabelManagedBy] != apply.FieldManager || l[apply.LabelStack] != "obsctl" || l[LabelPartOf] != partOf {
					t.Errorf("%s %s/%s lacks the ownership labels: %v", o.GetKind(), o.GetNamespace(), o.GetName(), l)
				}
				if i > 0 && compareObjects(res.Objects[i-1], o) >= 0 {
					t.Errorf("objects out of order at %d: %s %s after %s %s", i, o.GetKind(), o.GetName(), res.Objects[i-1].GetKind(), res.Objects[i-1].GetName())
				}
			}
			ns := mustFind(t, res, "Namespace", "", "monitoring")
			if ns.GetLabels()["pod-security.kubernetes.io/enforce"] != "restricted" {
				t.Errorf("namespace monitoring is not restricted: %v", ns.GetLabels())
			}
		})
	}
}

func TestImageRegistryOverride(t *testing.T) {
	b := &builder{registry: "registry.example.com:5000/mirror"}
	for in, want := range map[image]string{
		{"quay.io/prometheus/prometheus", "v1"}:          "registry.example.com:5000/mirror/prometheus/prometheus:v1",
		{"docker.io/grafana/grafana", "12"}:              "registry.example.com:5000/mirror/grafana/grafana:12",
		{"registry.k8s.io/kube-state-metrics/ksm", "v2"}: "registry.example.com:5000/mirror/kube-state-metrics/ksm:v2",
		{"localhost/thing", "1"}:                         "registry.example.com:5000/mirror/thing:1",
	} {
		if got := b.imageRef(in); got != want {
			t.Errorf("imageRef(%v) = %q, want %q", in, got, want)
		}
	}
	if got := (&builder{}).imageRef(image{"quay.io/prometheus/prometheus", "v1"}); got != "quay.io/prometheus/prometheus:v1" {
		t.Errorf("without a registry: %q", got)
	}
}

func TestComponentOverrides(t *testing.T) {
	res := render(t, `  profile: ha
  components:
    kubeStateMetrics:
      version: v9.9.9
      replicas: 3
      resources: {requests: {cpu: 300m}, limits: {memory: 1Gi}}
      nodeSelector: {pool: infra}
      tolerations: [{key: dedicated, operator: Equal, value: infra, effect: NoSchedule}]
`)
	d := mustFind(t, res, "Deployment", "monitoring", "kube-state-metrics")
	spec := d.Object["spec"].(map[string]any)
	if spec["replicas"] != int64(3) {
		t.Errorf("replicas %v", spec["replicas"])
	}
	pod := spec["template"].(map[string]any)["spec"].(map[string]any)
	c := pod["containers"].([]any)[0].(map[string]any)
	if c["image"] != "registry.k8s.io/kube-state-metrics/kube-state-metrics:v9.9.9" {
		t.Errorf("image %v", c["image"])
	}
	res2 := c["resources"].(map[string]any)
	if res2["requests"].(map[string]any)["cpu"] != "300m" || res2["limits"].(map[string]any)["memory"] != "1Gi" {
		t.Errorf("resources %v", res2)
	}
	if pod["nodeSelector"].(map[string]any)["pool"] != "infra" || len(pod["tolerations"].([]any)) != 1 {
		t.Errorf("scheduling %v %v", pod["nodeSelector"], pod["tolerations"])
	}
	if len(pod["topologySpreadConstraints"].([]any)) != 2 {
		t.Errorf("ha spreads over nodes and zones: %v", pod["topologySpreadConstraints"])
	}
	mustFind(t, res, "PodDisruptionBudget", "monitoring", "kube-state-metrics")

	off := render(t, "  components: {kubeStateMetrics: {enabled: false}}\n")
	if find(off, "Deployment", "monitoring", "kube-state-metrics") != nil {
		t.Error("a disabled component is rendered")
	}
}

// TestDependencies: the one table of dependencies is what the render
// does: a component whose hard dependency is off is left out, one whose
// soft dependency is off is still rendered. Every component named is one
// obsctl.yaml has.
func TestDependencies(t *testing.T) {
	keys := map[string]bool{}
	for _, nc := range defaultConfig(t, "").ComponentsByName() {
		keys[nc.Name] = true
	}
	deps := Dependencies()
	if len(deps) == 0 {
		t.Fatal("no dependencies")
	}
	for _, d := range deps {
		t.Run(d.Component+"-"+d.Needs, func(t *testing.T) {
			if !keys[d.Component] || !keys[d.Needs] || d.Why == "" {
				t.Fatalf("bad entry %+v", d)
			}
			res := render(t, "  components: {"+d.Needs+": {enabled: false}}\n")
			rendered := 0
			for _, o := range res.Objects {
				if o.GetLabels()[LabelComponent] == d.Component {
					rendered++
				}
			}
			if d.Hard && rendered > 0 {
				t.Errorf("%s is rendered (%d objects) without %s", d.Component, rendered, d.Needs)
			}
			if !d.Hard && rendered == 0 {
				t.Errorf("%s is left out without %s, which it only uses", d.Component, d.Needs)
			}
		})
	}
	deps[0].Component = "changed"
	if Dependencies()[0].Component == "changed" {
		t.Error("Dependencies returns the table itself")
	}
}

// TestCreateOnlyNamespaces: a namespace the stack's objects live in but
// the stack does not own (rules.namespace, a PrometheusRule's own) is
// rendered create-only, without the PodSecurity labels of the stack's
// own; Kubernetes' namespaces are not rendered at all.
func TestCreateOnlyNamespaces(t *testing.T) {
	// stack.namespace set: it defaults to rules.namespace.
	_, in := renderRepo(t, "  namespace: monitoring\n", func(c *config.Config) { c.Rules.Namespace = "team-rules" })
	rule := in.PrometheusRules[0].Object.DeepCopy()
	rule.SetNamespace("team-a")
	rule.SetName("team-a-rules")
	in.PrometheusRules = append(in.PrometheusRules, compile.RuleObject{Path: "prometheusrules/team-a.yaml", Object: rule})
	res, err := Render(in, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"team-rules", "team-a"} {
		ns := mustFind(t, res, "Namespace", "", n)
		if ns.GetAnnotations()[AnnotationCreateOnly] != "true" {
			t.Errorf("namespace %s is not create-only: %v", n, ns.GetAnnotations())
		}
		for k := range ns.GetLabels() {
			if strings.HasPrefix(k, "pod-security.kubernetes.io/") {
				t.Errorf("namespace %s, which the stack does not own, gets %s", n, k)
			}
		}
	}
	for _, n := range []string{"monitoring", "monitoring-agents"} {
		if ns := mustFind(t, res, "Namespace", "", n); ns.GetAnnotations()[AnnotationCreateOnly] != "" {
			t.Errorf("the stack's own namespace %s is create-only", n)
		}
	}
	if find(res, "Role", "kube-system", "obsctl-prometheus-operator") == nil {
		t.Fatal("the test expects objects in kube-system")
	}
	for _, n := range []string{"kube-system", "default"} {
		if find(res, "Namespace", "", n) != nil {
			t.Errorf("Kubernetes' namespace %s is rendered", n)
		}
	}
	if plain := render(t, ""); len(ofKind(plain, "Namespace")) != 2 {
		t.Errorf("the default repo renders %d Namespaces, want the stack's two", len(ofKind(plain, "Namespace")))
	}
}
