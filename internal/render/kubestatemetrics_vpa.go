package render

import (
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// kube-state-metrics v2 has no VerticalPodAutoscaler collector (v2.9.0
// dropped it): the VPA's recommendations come from its custom resource
// state, configured by a file in this ConfigMap.
const (
	kubeStateCRSConfigMap = "kube-state-metrics-customresourcestate"
	kubeStateCRSDir       = "/etc/kube-state-metrics"
	kubeStateCRSFile      = "custom-resource-state.yaml"
)

// vpaMetricPrefix is what kube-state-metrics puts, with an underscore,
// before each metric's name (its default; written out so that the config
// says the names the rules select).
const vpaMetricPrefix = "kube_customresource"

// vpaBound is one resource list of a VerticalPodAutoscaler's containers:
// the list's field (under each element of path) and the start of its
// families' names after the prefix.
type vpaBound struct {
	path  []string
	field string
	name  string
	help  string
}

var (
	vpaRecommendations = []string{"status", "recommendation", "containerRecommendations"}
	vpaPolicies        = []string{"spec", "resourcePolicy", "containerPolicies"}
)

// vpaBounds are the resource lists the config reads.
var vpaBounds = []vpaBound{
	{vpaRecommendations, "target", "verticalpodautoscaler_recommendation_target",
		"Target %s the VerticalPodAutoscaler recommends for the container."},
	{vpaRecommendations, "lowerBound", "verticalpodautoscaler_recommendation_lowerbound",
		"Minimum %s the container can use before the VerticalPodAutoscaler updater evicts it."},
	{vpaRecommendations, "upperBound", "verticalpodautoscaler_recommendation_upperbound",
		"Maximum %s the container can use before the VerticalPodAutoscaler updater evicts it."},
	{vpaRecommendations, "uncappedTarget", "verticalpodautoscaler_recommendation_uncappedtarget",
		"Target %s the VerticalPodAutoscaler recommends for the container, ignoring its resource policy's bounds."},
	{vpaPolicies, "minAllowed", "verticalpodautoscaler_containerpolicy_minallowed",
		"Minimum %s the VerticalPodAutoscaler can recommend for the containers its policy names (container=\"*\": every other one)."},
	{vpaPolicies, "maxAllowed", "verticalpodautoscaler_containerpolicy_maxallowed",
		"Maximum %s the VerticalPodAutoscaler can recommend for the containers its policy names (container=\"*\": every other one)."},
}

// vpaResources are the resources of a list, each a family of its own:
// the key in the list, the family's name's suffix, and the words for its
// help. kube-state-metrics reads a quantity ("250m", "256Mi") as a number
// of the resource's base unit (resource.ParseQuantity).
var vpaResources = []struct{ key, suffix, words string }{
	{"cpu", "cpu_cores", "CPU in cores"},
	{"memory", "memory_bytes", "memory in bytes"},
}

// vpaGenerationMetric has a series for every VerticalPodAutoscaler, with
// or without a status: what "no recommendation" is measured against.
const vpaGenerationMetric = "verticalpodautoscaler_metadata_generation"

// kubeStateCRSConfig returns kube-state-metrics' custom resource state
// config for autoscaling.k8s.io/v1 VerticalPodAutoscalers.
//
// One generator per family, and a family per resource of a list: the
// generator walks the containers' list, labels each series with the
// container and reads one resource's quantity (valueFrom [target, cpu]).
// kube-state-metrics v2.18.0 (seen scraping it in test/e2ecatalog) works
// with neither of the usual alternatives: two generators of one family
// name, one per resource, make it write every family's samples under the
// next family's header and drop the last families; and a whole resource
// list as the value (valueFrom [target], labelFromKey resource) is
// refused, a map not being a number.
func kubeStateCRSConfig() (string, error) {
	metrics := []any{map[string]any{
		"name": vpaGenerationMetric,
		"help": "Sequence number representing a specific generation of the desired state of the VerticalPodAutoscaler.",
		"each": map[string]any{
			"type":  "Gauge",
			"gauge": map[string]any{"path": []string{"metadata", "generation"}},
		},
	}}
	for _, b := range vpaBounds {
		for _, r := range vpaResources {
			metrics = append(metrics, map[string]any{
				"name": b.name + "_" + r.suffix,
				"help": fmt.Sprintf(b.help, r.words),
				"each": map[string]any{
					"type": "Gauge",
					"gauge": map[string]any{
						"path":           b.path,
						"labelsFromPath": map[string][]string{"container": {"containerName"}},
						"valueFrom":      []string{b.field, r.key},
					},
				},
			})
		}
	}
	conf := map[string]any{
		"kind": "CustomResourceStateMetrics",
		"spec": map[string]any{"resources": []any{map[string]any{
			"groupVersionKind": map[string]string{"group": "autoscaling.k8s.io", "version": "v1", "kind": "VerticalPodAutoscaler"},
			"metricNamePrefix": vpaMetricPrefix,
			"labelsFromPath": map[string][]string{
				"namespace":             {"metadata", "namespace"},
				"verticalpodautoscaler": {"metadata", "name"},
				"target_api_version":    {"spec", "targetRef", "apiVersion"},
				"target_kind":           {"spec", "targetRef", "kind"},
				"target_name":           {"spec", "targetRef", "name"},
				// Off only recommends: the rules leave such VPAs out.
				"update_mode": {"spec", "updatePolicy", "updateMode"},
			},
			"metrics": metrics,
		}}},
	}
	out, err := yaml.Marshal(conf)
	if err != nil {
		return "", fmt.Errorf("kube-state-metrics custom resource state config: %w", err)
	}
	return string(out), nil
}

// kubeStateCRSRules are the ClusterRole rules the custom resource state
// needs. kube-state-metrics finds the kinds it is configured for by
// watching every CustomResourceDefinition: on a cluster without the VPA's
// it builds no collector and serves no VPA series, and it starts one when
// the definition appears.
func kubeStateCRSRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"autoscaling.k8s.io"}, Resources: []string{"verticalpodautoscalers"}, Verbs: []string{"list", "watch"}},
	}
}
