package kube

import (
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Wave is a step of an apply: every object of a wave is applied before any
// object of the next, so that what objects depend on exists first. Prune
// goes through the waves backwards.
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

// String returns the wave's name: crds, namespaces, rbac, bindings, config,
// services, workloads or other.
func (w Wave) String() string {
	if w >= 0 && int(w) < len(waveNames) {
		return waveNames[w]
	}
	return "wave(" + strconv.Itoa(int(w)) + ")"
}

// Kind is what obsctl knows of one built-in or Prometheus Operator kind
// without asking a cluster.
type Kind struct {
	schema.GroupKind
	// Resource is the kind's plural resource name.
	Resource string
	// ClusterScoped kinds have no namespace.
	ClusterScoped bool
	// Wave is the wave objects of the kind are applied in.
	Wave Wave
	// Managed kinds are the ones the stack renders: obsctl rbac grants
	// obsctl what it needs on them, whatever manifests it is given
	// (Secrets, Namespaces and CRDs narrowed to the stack's own).
	Managed bool
}

// Kinds is the one table of the kinds obsctl knows by heart: the apply
// waves, obsctl rbac, the client dry run's guess at namespaces and the
// prune order all read it. Kinds not in it are custom resources (or kinds
// obsctl has no reason to know): they go in WaveOther, and their scope and
// resource come from discovery or from a CustomResourceDefinition.
var Kinds = []Kind{
	{gk("apiextensions.k8s.io", "CustomResourceDefinition"), "customresourcedefinitions", true, WaveCRDs, true},

	{gk("", "Namespace"), "namespaces", true, WaveNamespaces, true},
	{gk("scheduling.k8s.io", "PriorityClass"), "priorityclasses", true, WaveNamespaces, false},
	{gk("storage.k8s.io", "StorageClass"), "storageclasses", true, WaveNamespaces, false},
	{gk("node.k8s.io", "RuntimeClass"), "runtimeclasses", true, WaveNamespaces, false},

	{gk("", "ServiceAccount"), "serviceaccounts", false, WaveRBAC, true},
	{gk("rbac.authorization.k8s.io", "Role"), "roles", false, WaveRBAC, true},
	{gk("rbac.authorization.k8s.io", "ClusterRole"), "clusterroles", true, WaveRBAC, true},
	{gk("rbac.authorization.k8s.io", "RoleBinding"), "rolebindings", false, WaveBindings, true},
	{gk("rbac.authorization.k8s.io", "ClusterRoleBinding"), "clusterrolebindings", true, WaveBindings, true},

	{gk("", "ConfigMap"), "configmaps", false, WaveConfig, true},
	{gk("", "Secret"), "secrets", false, WaveConfig, true},
	{gk("", "PersistentVolume"), "persistentvolumes", true, WaveConfig, false},
	{gk("", "PersistentVolumeClaim"), "persistentvolumeclaims", false, WaveConfig, false},
	{gk("", "LimitRange"), "limitranges", false, WaveConfig, false},
	{gk("", "ResourceQuota"), "resourcequotas", false, WaveConfig, false},

	{gk("", "Service"), "services", false, WaveServices, true},

	{gk("apps", "Deployment"), "deployments", false, WaveWorkloads, true},
	{gk("apps", "StatefulSet"), "statefulsets", false, WaveWorkloads, true},
	{gk("apps", "DaemonSet"), "daemonsets", false, WaveWorkloads, true},
	{gk("apps", "ReplicaSet"), "replicasets", false, WaveWorkloads, false},
	{gk("batch", "Job"), "jobs", false, WaveWorkloads, false},
	{gk("batch", "CronJob"), "cronjobs", false, WaveWorkloads, true},
	{gk("policy", "PodDisruptionBudget"), "poddisruptionbudgets", false, WaveWorkloads, true},
	{gk("autoscaling", "HorizontalPodAutoscaler"), "horizontalpodautoscalers", false, WaveWorkloads, false},
	{gk("", "Pod"), "pods", false, WaveWorkloads, false},
	{gk("", "ReplicationController"), "replicationcontrollers", false, WaveWorkloads, false},

	{gk("", "Endpoints"), "endpoints", false, WaveOther, false},
	{gk("", "Node"), "nodes", true, WaveOther, false},
	{gk("discovery.k8s.io", "EndpointSlice"), "endpointslices", false, WaveOther, false},
	{gk("networking.k8s.io", "NetworkPolicy"), "networkpolicies", false, WaveOther, true},
	{gk("networking.k8s.io", "Ingress"), "ingresses", false, WaveOther, true},
	{gk("networking.k8s.io", "IngressClass"), "ingressclasses", true, WaveOther, false},
	{gk("storage.k8s.io", "CSIDriver"), "csidrivers", true, WaveOther, false},
	{gk("apiregistration.k8s.io", "APIService"), "apiservices", true, WaveOther, false},
	{gk("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"), "validatingwebhookconfigurations", true, WaveOther, false},
	{gk("admissionregistration.k8s.io", "MutatingWebhookConfiguration"), "mutatingwebhookconfigurations", true, WaveOther, false},
	{gk("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"), "validatingadmissionpolicies", true, WaveOther, false},
	{gk("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"), "validatingadmissionpolicybindings", true, WaveOther, false},

	{gk("monitoring.coreos.com", "Prometheus"), "prometheuses", false, WaveOther, true},
	{gk("monitoring.coreos.com", "PrometheusAgent"), "prometheusagents", false, WaveOther, false},
	{gk("monitoring.coreos.com", "Alertmanager"), "alertmanagers", false, WaveOther, true},
	{gk("monitoring.coreos.com", "ServiceMonitor"), "servicemonitors", false, WaveOther, true},
	{gk("monitoring.coreos.com", "PodMonitor"), "podmonitors", false, WaveOther, true},
	{gk("monitoring.coreos.com", "PrometheusRule"), "prometheusrules", false, WaveOther, true},
	{gk("monitoring.coreos.com", "Probe"), "probes", false, WaveOther, true},
	{gk("monitoring.coreos.com", "AlertmanagerConfig"), "alertmanagerconfigs", false, WaveOther, true},
	{gk("monitoring.coreos.com", "ThanosRuler"), "thanosrulers", false, WaveOther, false},
	{gk("monitoring.coreos.com", "ScrapeConfig"), "scrapeconfigs", false, WaveOther, false},
}

func gk(group, kind string) schema.GroupKind { return schema.GroupKind{Group: group, Kind: kind} }

var kindIndex = func() map[schema.GroupKind]*Kind {
	m := make(map[schema.GroupKind]*Kind, len(Kinds))
	for i := range Kinds {
		if _, dup := m[Kinds[i].GroupKind]; dup {
			panic("kube: kind listed twice: " + Kinds[i].GroupKind.String()) // a programming error
		}
		m[Kinds[i].GroupKind] = &Kinds[i]
	}
	return m
}()

// KindOf returns what the table knows of gk, or nil for a kind it does not
// list.
func KindOf(gk schema.GroupKind) *Kind { return kindIndex[gk] }

// WaveOf returns the wave objects of kind gk are applied in: custom
// resources and every kind the table does not list go last.
func WaveOf(gk schema.GroupKind) Wave {
	if k := kindIndex[gk]; k != nil {
		return k.Wave
	}
	return WaveOther
}

// Well-known kinds the release decides about by name.
var (
	GKCRD         = gk("apiextensions.k8s.io", "CustomResourceDefinition")
	GKNamespace   = gk("", "Namespace")
	GKSecret      = gk("", "Secret")
	GKConfigMap   = gk("", "ConfigMap")
	GKPVC         = gk("", "PersistentVolumeClaim")
	GKStatefulSet = gk("apps", "StatefulSet")
	GKDeployment  = gk("apps", "Deployment")
	GKDaemonSet   = gk("apps", "DaemonSet")
)

// Namespaced reports whether objects of gk live in a namespace, from the
// table; known is false for kinds it does not list (ask discovery).
func Namespaced(gk schema.GroupKind) (namespaced, known bool) {
	k := kindIndex[gk]
	if k == nil {
		return false, false
	}
	return !k.ClusterScoped, true
}

// ScopeOf returns the REST scope of a RESTMapping, as Namespaced would: true
// for namespaced resources.
func ScopeOf(m *meta.RESTMapping) bool { return m.Scope.Name() == meta.RESTScopeNameNamespace }
