package render

import (
	"maps"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// crsConfig is the part of kube-state-metrics' custom resource state
// config (pkg/customresourcestate, v2.18.0) the test reads; decoding it
// strictly catches a misspelt field, which kube-state-metrics would
// ignore.
type crsConfig struct {
	Kind string `json:"kind"`
	Spec struct {
		Resources []struct {
			GroupVersionKind struct {
				Group   string `json:"group"`
				Version string `json:"version"`
				Kind    string `json:"kind"`
			} `json:"groupVersionKind"`
			MetricNamePrefix *string             `json:"metricNamePrefix"`
			LabelsFromPath   map[string][]string `json:"labelsFromPath"`
			Metrics          []struct {
				Name         string            `json:"name"`
				Help         string            `json:"help"`
				CommonLabels map[string]string `json:"commonLabels"`
				Each         struct {
					Type  string `json:"type"`
					Gauge struct {
						Path           []string            `json:"path"`
						LabelsFromPath map[string][]string `json:"labelsFromPath"`
						ValueFrom      []string            `json:"valueFrom"`
						LabelFromKey   string              `json:"labelFromKey"`
					} `json:"gauge"`
				} `json:"each"`
			} `json:"metrics"`
		} `json:"resources"`
	} `json:"spec"`
}

func TestKubeStateMetricsVPA(t *testing.T) {
	res := render(t, "")
	cm := typed[corev1.ConfigMap](t, mustFind(t, res, "ConfigMap", "monitoring", kubeStateCRSConfigMap))
	var conf crsConfig
	if err := yaml.UnmarshalStrict([]byte(cm.Data[kubeStateCRSFile]), &conf); err != nil {
		t.Fatalf("%s: %v", kubeStateCRSFile, err)
	}
	if conf.Kind != "CustomResourceStateMetrics" || len(conf.Spec.Resources) != 1 {
		t.Fatalf("config %+v", conf)
	}
	rsc := conf.Spec.Resources[0]
	if g := rsc.GroupVersionKind; g.Group != "autoscaling.k8s.io" || g.Version != "v1" || g.Kind != "VerticalPodAutoscaler" {
		t.Errorf("groupVersionKind %+v", g)
	}
	for label, path := range map[string]string{"namespace": "metadata.namespace", "verticalpodautoscaler": "metadata.name", "target_name": "spec.targetRef.name"} {
		if got := strings.Join(rsc.LabelsFromPath[label], "."); got != path {
			t.Errorf("label %s from %q, want %q", label, got, path)
		}
	}
	// kube-state-metrics names a family <metricNamePrefix>_<name>
	// (fullName in pkg/customresourcestate/registry_factory.go).
	if rsc.MetricNamePrefix == nil {
		t.Fatal("no metricNamePrefix")
	}
	// One generator per family, each reading one resource of one list per
	// container: kube-state-metrics writes a header per generator, and
	// two of one name shift every family's samples under the next
	// family's header; a whole list as the value is refused.
	got := map[string]string{} // family -> valueFrom
	var order []string
	for _, m := range rsc.Metrics {
		name := *rsc.MetricNamePrefix + "_" + m.Name
		if m.Each.Type != "Gauge" {
			t.Errorf("%s: type %s", name, m.Each.Type)
		}
		if _, ok := got[name]; ok {
			t.Errorf("%s: two generators", name)
		}
		if m.Help == "" {
			t.Errorf("%s: no help", name)
		}
		if m.Each.Gauge.LabelFromKey != "" || len(m.CommonLabels) > 0 {
			t.Errorf("%s: labels from a key %q or common %v", name, m.Each.Gauge.LabelFromKey, m.CommonLabels)
		}
		order = append(order, name)
		got[name] = strings.Join(m.Each.Gauge.Path, ".") + ":" + strings.Join(m.Each.Gauge.ValueFrom, ".")
		if len(m.Each.Gauge.ValueFrom) > 0 && strings.Join(m.Each.Gauge.LabelsFromPath["container"], ".") != "containerName" {
			t.Errorf("%s: container from %v", name, m.Each.Gauge.LabelsFromPath["container"])
		}
	}
	const (
		rec    = "status.recommendation.containerRecommendations:"
		policy = "spec.resourcePolicy.containerPolicies:"
		vpa    = "kube_customresource_verticalpodautoscaler_"
	)
	want := map[string]string{
		vpa + "metadata_generation":                        "metadata.generation:",
		vpa + "recommendation_target_cpu_cores":            rec + "target.cpu",
		vpa + "recommendation_target_memory_bytes":         rec + "target.memory",
		vpa + "recommendation_lowerbound_cpu_cores":        rec + "lowerBound.cpu",
		vpa + "recommendation_lowerbound_memory_bytes":     rec + "lowerBound.memory",
		vpa + "recommendation_upperbound_cpu_cores":        rec + "upperBound.cpu",
		vpa + "recommendation_upperbound_memory_bytes":     rec + "upperBound.memory",
		vpa + "recommendation_uncappedtarget_cpu_cores":    rec + "uncappedTarget.cpu",
		vpa + "recommendation_uncappedtarget_memory_bytes": rec + "uncappedTarget.memory",
		vpa + "containerpolicy_minallowed_cpu_cores":       policy + "minAllowed.cpu",
		vpa + "containerpolicy_minallowed_memory_bytes":    policy + "minAllowed.memory",
		vpa + "containerpolicy_maxallowed_cpu_cores":       policy + "maxAllowed.cpu",
		vpa + "containerpolicy_maxallowed_memory_bytes":    policy + "maxAllowed.memory",
	}
	if !maps.Equal(got, want) {
		t.Errorf("families %v:\n got %v\nwant %v", order, got, want)
	}

	d := typed[appsv1.Deployment](t, mustFind(t, res, "Deployment", "monitoring", "kube-state-metrics"))
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if !slices.Contains(c.Args, "--custom-resource-state-config-file=/etc/kube-state-metrics/custom-resource-state.yaml") {
		t.Errorf("args %v", c.Args)
	}
	i := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/etc/kube-state-metrics" })
	if i < 0 || !c.VolumeMounts[i].ReadOnly {
		t.Fatalf("mounts %+v", c.VolumeMounts)
	}
	v := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == c.VolumeMounts[i].Name })
	if v < 0 || pod.Volumes[v].ConfigMap == nil || pod.Volumes[v].ConfigMap.Name != kubeStateCRSConfigMap {
		t.Errorf("volumes %+v", pod.Volumes)
	}
	if d.Spec.Template.Annotations[annotationConfigHash] == "" {
		t.Error("no config hash: a changed config would not restart kube-state-metrics")
	}

	var role *rbacv1.ClusterRole
	for _, o := range res.Objects {
		if o.GetKind() == "ClusterRole" && strings.HasSuffix(o.GetName(), "-kube-state-metrics") {
			role = typed[rbacv1.ClusterRole](t, o)
		}
	}
	if role == nil {
		t.Fatal("no ClusterRole of kube-state-metrics")
	}
	for _, want := range []struct{ group, resource string }{
		{"autoscaling.k8s.io", "verticalpodautoscalers"},
		{"apiextensions.k8s.io", "customresourcedefinitions"},
	} {
		if !slices.ContainsFunc(role.Rules, func(r rbacv1.PolicyRule) bool {
			return slices.Contains(r.APIGroups, want.group) && slices.Contains(r.Resources, want.resource) &&
				slices.Contains(r.Verbs, "list") && slices.Contains(r.Verbs, "watch")
		}) {
			t.Errorf("ClusterRole lacks list and watch on %s.%s: %+v", want.resource, want.group, role.Rules)
		}
	}
}
