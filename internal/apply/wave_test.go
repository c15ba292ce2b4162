package apply

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestWaveOf(t *testing.T) {
	tests := []struct {
		group, kind string
		want        Wave
	}{
		{"apiextensions.k8s.io", "CustomResourceDefinition", WaveCRDs},
		{"", "Namespace", WaveNamespaces},
		{"scheduling.k8s.io", "PriorityClass", WaveNamespaces},
		{"", "ServiceAccount", WaveRBAC},
		{"rbac.authorization.k8s.io", "ClusterRole", WaveRBAC},
		{"rbac.authorization.k8s.io", "ClusterRoleBinding", WaveBindings},
		{"rbac.authorization.k8s.io", "RoleBinding", WaveBindings},
		{"", "ConfigMap", WaveConfig},
		{"", "Secret", WaveConfig},
		{"", "Service", WaveServices},
		{"apps", "Deployment", WaveWorkloads},
		{"apps", "StatefulSet", WaveWorkloads},
		{"apps", "DaemonSet", WaveWorkloads},
		{"batch", "Job", WaveWorkloads},
		{"policy", "PodDisruptionBudget", WaveWorkloads},
		{"monitoring.coreos.com", "Prometheus", WaveOther},
		{"monitoring.coreos.com", "ServiceMonitor", WaveOther},
		{"monitoring.coreos.com", "PrometheusRule", WaveOther},
		{"networking.k8s.io", "Ingress", WaveOther},
		// The group matters: a Deployment of another group is a custom resource.
		{"example.com", "Deployment", WaveOther},
		{"example.com", "Namespace", WaveOther},
	}
	for _, tt := range tests {
		t.Run(tt.group+"/"+tt.kind, func(t *testing.T) {
			if got := WaveOf(schema.GroupKind{Group: tt.group, Kind: tt.kind}); got != tt.want {
				t.Errorf("WaveOf = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestWaves(t *testing.T) {
	mk := func(apiVersion, kind, name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(apiVersion)
		u.SetKind(kind)
		u.SetName(name)
		return u
	}
	objs := []*unstructured.Unstructured{
		mk("monitoring.coreos.com/v1", "Prometheus", "k8s"),
		mk("apps/v1", "Deployment", "operator"),
		mk("v1", "ConfigMap", "b"),
		mk("apiextensions.k8s.io/v1", "CustomResourceDefinition", "prometheuses.monitoring.coreos.com"),
		mk("v1", "ConfigMap", "a"),
		mk("v1", "Namespace", "monitoring"),
		mk("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "operator"),
		mk("rbac.authorization.k8s.io/v1", "ClusterRole", "operator"),
		mk("v1", "Service", "operator"),
	}
	got := Waves(objs)
	want := []struct {
		wave  Wave
		names []string
	}{
		{WaveCRDs, []string{"prometheuses.monitoring.coreos.com"}},
		{WaveNamespaces, []string{"monitoring"}},
		{WaveRBAC, []string{"operator"}},
		{WaveBindings, []string{"operator"}}, // after the role it binds
		{WaveConfig, []string{"b", "a"}},     // input order kept
		{WaveServices, []string{"operator"}},
		{WaveWorkloads, []string{"operator"}},
		{WaveOther, []string{"k8s"}},
	}
	if len(got) != len(want) {
		t.Fatalf("%d batches, want %d", len(got), len(want))
	}
	for i, b := range got {
		if b.Wave != want[i].wave {
			t.Errorf("batch %d: wave %s, want %s", i, b.Wave, want[i].wave)
		}
		var names []string
		for _, o := range b.Objects {
			names = append(names, o.GetName())
		}
		if len(names) != len(want[i].names) {
			t.Errorf("batch %s: %v, want %v", b.Wave, names, want[i].names)
			continue
		}
		for j := range names {
			if names[j] != want[i].names[j] {
				t.Errorf("batch %s: %v, want %v", b.Wave, names, want[i].names)
				break
			}
		}
	}
	if len(Waves(nil)) != 0 {
		t.Error("Waves(nil) is not empty")
	}
}

func TestWaveString(t *testing.T) {
	if got := WaveCRDs.String(); got != "crds" {
		t.Errorf("WaveCRDs = %q", got)
	}
	if got := WaveOther.String(); got != "other" {
		t.Errorf("WaveOther = %q", got)
	}
	if got := Wave(42).String(); got != "wave(42)" {
		t.Errorf("Wave(42) = %q", got)
	}
}
