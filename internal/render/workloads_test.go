package render

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestWorkloadsHaveResourcesAndProbes checks every Deployment,
// StatefulSet and DaemonSet the stack renders, whichever component it
// belongs to: each container requests CPU and memory, limits memory (the
// scheduler and the OOM killer need both) and has a liveness and a
// readiness probe.
func TestWorkloadsHaveResourcesAndProbes(t *testing.T) {
	for _, profile := range profiles {
		t.Run(profile, func(t *testing.T) {
			res, _ := renderRepo(t, "  profile: "+profile+"\n", nil)
			n := 0
			for _, o := range res.Objects {
				tpl := podTemplateOf(t, o)
				if tpl == nil {
					continue
				}
				n++
				for _, c := range tpl.Spec.Containers {
					what := o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName() + " container " + c.Name
					for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
						if q, ok := c.Resources.Requests[r]; !ok || q.IsZero() {
							t.Errorf("%s requests no %s", what, r)
						}
					}
					if q, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || q.IsZero() {
						t.Errorf("%s has no memory limit", what)
					}
					if c.LivenessProbe == nil {
						t.Errorf("%s has no liveness probe", what)
					}
					if c.ReadinessProbe == nil {
						t.Errorf("%s has no readiness probe", what)
					}
				}
			}
			if n == 0 {
				t.Fatal("no workload rendered")
			}
		})
	}
}

// podTemplateOf returns the pod template of a workload, or nil for other
// kinds.
func podTemplateOf(t *testing.T, o *unstructured.Unstructured) *corev1.PodTemplateSpec {
	t.Helper()
	if o.GroupVersionKind().Group != "apps" {
		return nil
	}
	switch o.GetKind() {
	case "Deployment":
		return &typed[appsv1.Deployment](t, o).Spec.Template
	case "StatefulSet":
		return &typed[appsv1.StatefulSet](t, o).Spec.Template
	case "DaemonSet":
		return &typed[appsv1.DaemonSet](t, o).Spec.Template
	}
	return nil
}
