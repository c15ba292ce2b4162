package render

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/compile"
)

// myComponents are the components of grafana.go, elasticsearch.go,
// kibana.go, fluentd.go and jaeger.go.
var myComponents = []string{"grafana", "elasticsearch", "kibana", "fluentd", "jaeger"}

// renderInput renders in, failing t on an error.
func renderInput(t *testing.T, in compile.Compiled) *Result {
	t.Helper()
	res, err := Render(&in, "")
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// workloadPod returns the pod template of a workload object, CronJobs
// included.
func workloadPod(t *testing.T, o *unstructured.Unstructured) (corev1.PodTemplateSpec, bool) {
	t.Helper()
	switch o.GetKind() {
	case "Deployment":
		return typed[appsv1.Deployment](t, o).Spec.Template, true
	case "StatefulSet":
		return typed[appsv1.StatefulSet](t, o).Spec.Template, true
	case "DaemonSet":
		return typed[appsv1.DaemonSet](t, o).Spec.Template, true
	case "CronJob":
		return typed[batchv1.CronJob](t, o).Spec.JobTemplate.Spec.Template, true
	}
	return corev1.PodTemplateSpec{}, false
}

// containerNamed returns the pod's container called name.
func containerNamed(t *testing.T, spec corev1.PodSpec, name string) corev1.Container {
	t.Helper()
	i := slices.IndexFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == name })
	if i < 0 {
		t.Fatalf("no container %q", name)
	}
	return spec.Containers[i]
}

// envOf returns the container's variable called name.
func envOf(t *testing.T, c corev1.Container, name string) corev1.EnvVar {
	t.Helper()
	i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
	if i < 0 {
		t.Fatalf("container %s has no variable %s", c.Name, name)
	}
	return c.Env[i]
}

// hasEnv reports whether the container has a variable called name.
func hasEnv(c corev1.Container, name string) bool {
	return slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == name })
}

// wantSecretRef fails t unless e is read from key of Secret secret.
func wantSecretRef(t *testing.T, e corev1.EnvVar, secret, key string) {
	t.Helper()
	if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
		e.ValueFrom.SecretKeyRef.Name != secret || e.ValueFrom.SecretKeyRef.Key != key {
		t.Errorf("%s: want Secret %s key %s, got %+v", e.Name, secret, key, e)
	}
}

// generated returns the generated Secret called name.
func generated(t *testing.T, res *Result, name string) GeneratedSecret {
	t.Helper()
	i := slices.IndexFunc(res.Generated, func(g GeneratedSecret) bool { return g.Name == name })
	if i < 0 {
		t.Fatalf("no generated Secret %s among %v", name, res.Generated)
	}
	return res.Generated[i]
}

// mine reports whether o belongs to one of myComponents.
func mine(o *unstructured.Unstructured) bool {
	return slices.Contains(myComponents, o.GetLabels()[LabelComponent])
}

func TestGeneratedSecretsAreNotRendered(t *testing.T) {
	for _, profile := range []string{"minimal", "ha"} {
		t.Run(profile, func(t *testing.T) {
			res := renderInput(t, compile.Compiled{Config: defaultConfig(t, "  profile: "+profile+"\n"), Dashboards: dashboardFiles(t, os.DirFS("../../dashboards"))})
			names := map[string][]string{}
			for _, g := range res.Generated {
				names[g.Name] = g.AllNamespaces()
			}
			want := map[string][]string{
				"elasticsearch-credentials": {"monitoring", "monitoring-agents"},
				"grafana-admin":             {"monitoring"},
				"kibana-encryption-keys":    {"monitoring"},
			}
			for name, ns := range want {
				if !slices.Equal(names[name], ns) {
					t.Errorf("generated Secret %s in %v, want %v", name, names[name], ns)
				}
			}
			for _, o := range res.Objects {
				if o.GetKind() == "Secret" && names[o.GetName()] != nil {
					t.Errorf("generated Secret %s/%s is rendered", o.GetNamespace(), o.GetName())
				}
				if o.GetKind() == "Secret" && mine(o) {
					t.Errorf("Secret %s/%s rendered by %s", o.GetNamespace(), o.GetName(), o.GetLabels()[LabelComponent])
				}
				tpl, ok := workloadPod(t, o)
				if !ok || !mine(o) {
					continue
				}
				for _, c := range slices.Concat(tpl.Spec.InitContainers, tpl.Spec.Containers) {
					for _, e := range c.Env {
						upper := strings.ToUpper(e.Name)
						// Passwords and keys, not settings naming key files.
						if !strings.Contains(upper, "PASSWORD") && !strings.HasSuffix(upper, "_KEY") && !strings.HasSuffix(upper, "ENCRYPTIONKEY") {
							continue
						}
						if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
							t.Errorf("%s %s: %s of container %s is not read from a Secret", o.GetKind(), o.GetName(), e.Name, c.Name)
						}
					}
				}
			}
		})
	}
}

// TestHelperContainersHaveResources checks what
// TestWorkloadsHaveResourcesAndProbes does not: the init containers and
// the CronJobs' containers.
func TestHelperContainersHaveResources(t *testing.T) {
	// minimal: the sysctl init container; ha: and Jaeger's curator.
	for profile, want := range map[string]int{"minimal": 1, "ha": 2} {
		t.Run(profile, func(t *testing.T) {
			res := render(t, "  profile: "+profile+"\n")
			seen := 0
			for _, o := range res.Objects {
				tpl, ok := workloadPod(t, o)
				if !ok || !mine(o) {
					continue
				}
				cs := tpl.Spec.InitContainers
				if o.GetKind() == "CronJob" {
					cs = append(cs, tpl.Spec.Containers...)
				}
				for _, c := range cs {
					seen++
					r := c.Resources
					if r.Requests.Cpu().IsZero() || r.Requests.Memory().IsZero() || r.Limits.Memory().IsZero() {
						t.Errorf("%s %s: container %s lacks requests or a memory limit: %+v", o.GetKind(), o.GetName(), c.Name, r)
					}
				}
			}
			if seen < want {
				t.Errorf("found %d init or job containers, want %d", seen, want)
			}
		})
	}
}

func TestStackNamespacePodsAreRestricted(t *testing.T) {
	for _, profile := range []string{"minimal", "ha"} {
		t.Run(profile, func(t *testing.T) {
			res := render(t, "  profile: "+profile+"\n")
			for _, o := range res.Objects {
				tpl, ok := workloadPod(t, o)
				if !ok || !mine(o) || o.GetNamespace() != "monitoring" {
					continue
				}
				ps := tpl.Spec.SecurityContext
				if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
					t.Errorf("%s %s: pod security context %+v", o.GetKind(), o.GetName(), ps)
				}
				for _, c := range slices.Concat(tpl.Spec.InitContainers, tpl.Spec.Containers) {
					sc := c.SecurityContext
					if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
						sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
						(sc.Privileged != nil && *sc.Privileged) || (sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot) {
						t.Errorf("%s %s: container %s is not restricted: %+v", o.GetKind(), o.GetName(), c.Name, sc)
					}
				}
			}
		})
	}
}

func TestRenderIsByteStable(t *testing.T) {
	in := func() compile.Compiled {
		return compile.Compiled{Config: defaultConfig(t, "  profile: ha\n"), Dashboards: dashboardFiles(t, os.DirFS("../../dashboards"))}
	}
	a, err := json.Marshal(renderInput(t, in()).Objects)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(renderInput(t, in()).Objects)
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Error("two renders of the same input differ")
	}
}
