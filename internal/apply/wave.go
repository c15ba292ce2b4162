package apply

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Wave is a step of an apply: every object of a wave is applied before any
// object of the next, so that what objects depend on exists first.
type Wave int

// The waves, in the order they are applied.
const (
	// WaveCRDs holds CustomResourceDefinitions; the engine waits until they
	// are Established before the next wave.
	WaveCRDs Wave = iota
	// WaveNamespaces holds Namespaces and the cluster-wide objects pods
	// refer to by name (PriorityClasses, StorageClasses, RuntimeClasses).
	WaveNamespaces
	// WaveRBAC holds ServiceAccounts, Roles and ClusterRoles.
	WaveRBAC
	// WaveBindings holds RoleBindings and ClusterRoleBindings, after the
	// roles they bind: an identity that may not escalate can bind a role
	// only once the API server can read the role's rules and see that it
	// holds them all.
	WaveBindings
	// WaveConfig holds ConfigMaps, Secrets and the other namespaced objects
	// pods consume or are constrained by (PersistentVolumeClaims,
	// LimitRanges, ResourceQuotas).
	WaveConfig
	// WaveServices holds Services.
	WaveServices
	// WaveWorkloads holds Deployments, StatefulSets, DaemonSets, Jobs,
	// CronJobs, PodDisruptionBudgets and HorizontalPodAutoscalers.
	WaveWorkloads
	// WaveOther holds custom resources (Prometheus, Alertmanager,
	// ServiceMonitor, PrometheusRule...) and every kind not named above.
	WaveOther
)

var waveNames = [...]string{
	WaveCRDs:       "crds",
	WaveNamespaces: "namespaces",
	WaveRBAC:       "rbac",
	WaveBindings:   "bindings",
	WaveConfig:     "config",
	WaveServices:   "services",
	WaveWorkloads:  "workloads",
	WaveOther:      "other",
}

// String returns the wave's short name, as progress output shows it.
func (w Wave) String() string {
	if w >= 0 && int(w) < len(waveNames) {
		return waveNames[w]
	}
	return fmt.Sprintf("wave(%d)", int(w))
}

// waveOfKind places the built-in kinds; everything else is WaveOther.
var waveOfKind = map[schema.GroupKind]Wave{
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}: WaveCRDs,

	{Kind: "Namespace"}: WaveNamespaces,
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}: WaveNamespaces,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:     WaveNamespaces,
	{Group: "node.k8s.io", Kind: "RuntimeClass"}:        WaveNamespaces,

	{Kind: "ServiceAccount"}:                                         WaveRBAC,
	{Group: "rbac.authorization.k8s.io", Kind: "Role"}:               WaveRBAC,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:        WaveRBAC,
	{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}:        WaveBindings,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}: WaveBindings,

	{Kind: "ConfigMap"}:             WaveConfig,
	{Kind: "Secret"}:                WaveConfig,
	{Kind: "PersistentVolume"}:      WaveConfig,
	{Kind: "PersistentVolumeClaim"}: WaveConfig,
	{Kind: "LimitRange"}:            WaveConfig,
	{Kind: "ResourceQuota"}:         WaveConfig,

	{Kind: "Service"}: WaveServices,

	{Group: "apps", Kind: "Deployment"}:                     WaveWorkloads,
	{Group: "apps", Kind: "StatefulSet"}:                    WaveWorkloads,
	{Group: "apps", Kind: "DaemonSet"}:                      WaveWorkloads,
	{Group: "apps", Kind: "ReplicaSet"}:                     WaveWorkloads,
	{Group: "batch", Kind: "Job"}:                           WaveWorkloads,
	{Group: "batch", Kind: "CronJob"}:                       WaveWorkloads,
	{Group: "policy", Kind: "PodDisruptionBudget"}:          WaveWorkloads,
	{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}: WaveWorkloads,
	{Kind: "Pod"}:                   WaveWorkloads,
	{Kind: "ReplicationController"}: WaveWorkloads,
}

// WaveOf returns the wave objects of kind gk are applied in.
func WaveOf(gk schema.GroupKind) Wave {
	if w, ok := waveOfKind[gk]; ok {
		return w
	}
	return WaveOther
}

// Batch is the objects of one wave, in the order they were given.
type Batch struct {
	Wave    Wave
	Objects []*unstructured.Unstructured
}

// Waves splits objs into the waves they are applied in, in order, leaving
// out empty waves. Within a batch the objects keep their input order, so the
// split is deterministic and `obsctl diff` shows objects in apply order.
func Waves(objs []*unstructured.Unstructured) []Batch {
	var by [WaveOther + 1][]*unstructured.Unstructured
	for _, o := range objs {
		w := WaveOf(o.GroupVersionKind().GroupKind())
		by[w] = append(by[w], o)
	}
	var out []Batch
	for w, list := range by {
		if len(list) > 0 {
			out = append(out, Batch{Wave: Wave(w), Objects: list})
		}
	}
	return out
}
