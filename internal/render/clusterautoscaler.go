package render

import (
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The Kubernetes cluster-autoscaler, which the stack does not install but
// scrapes where the cluster runs one in kube-system (rules/
// cluster-autoscaler.yaml alerts on it).
const (
	clusterAutoscalerJob = "cluster-autoscaler"
	// clusterAutoscalerPort is the port of its --address flag's default
	// (:8085), where it serves /metrics; the Helm chart and the example
	// manifests keep it.
	clusterAutoscalerPort = "8085"
)

// clusterAutoscalerPods matches the pods' labels, app and
// app.kubernetes.io/name joined by a semicolon: the example manifests
// (kubernetes/autoscaler cluster-autoscaler/cloudprovider/*/examples)
// label them app: cluster-autoscaler; the Helm chart gives them
// app.kubernetes.io/name: <cloudProvider>-cluster-autoscaler
// (aws-cluster-autoscaler, clusterapi-cluster-autoscaler...).
const clusterAutoscalerPods = `cluster-autoscaler;.*|.*;(.+-)?cluster-autoscaler`

// clusterAutoscalerScrape returns the PodMonitor that scrapes the
// cluster-autoscaler's pods in kube-system, if there are any: a cluster
// without one gives no target, and its rules ask nothing of a target
// that is absent. A PodMonitor, not a ServiceMonitor: the example
// manifests make no Service, and the chart's is named after the release.
// The two label their pods differently, which one label selector cannot
// say, so the PodMonitor selects the pods of every Deployment in
// kube-system (both run it as one; an empty selector would not survive
// monAdd, and the CRD requires one) and its relabelings keep the
// autoscaler's. The chart declares the container port 8085 and the
// example manifests declare none: the target kept is the container's
// 8085, or the port-free one, and its address is the pod's on 8085. Only the leader registers its metrics (the others serve
// none of the families the rules query), so standbys alert on nothing.
func (b *builder) clusterAutoscalerScrape(prom *resolved) *monitoringv1.PodMonitor {
	meta := []monitoringv1.LabelName{"__meta_kubernetes_pod_label_app", "__meta_kubernetes_pod_label_app_kubernetes_io_name"}
	ep := monitoringv1.PodMetricsEndpoint{
		Path: "/metrics",
		RelabelConfigs: []monitoringv1.RelabelConfig{
			{Action: "keep", SourceLabels: meta, Regex: clusterAutoscalerPods},
			{Action: "drop", SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_pod_container_init"}, Regex: "true"},
			{Action: "keep", SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_pod_container_port_number"}, Regex: clusterAutoscalerPort + "|"},
			// The pod's IP on the port, bracketed for IPv6, as the
			// annotation scrape does.
			{
				Action: "replace", SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_pod_ip"},
				Regex: `(\d+\.\d+\.\d+\.\d+)`, Replacement: ptr.To("$1:" + clusterAutoscalerPort), TargetLabel: "__address__",
			},
			{
				Action: "replace", SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_pod_ip"},
				Regex: `([0-9a-fA-F]*:[0-9a-fA-F:]*)`, Replacement: ptr.To("[$1]:" + clusterAutoscalerPort), TargetLabel: "__address__",
			},
			{Action: "replace", TargetLabel: "job", Replacement: ptr.To(clusterAutoscalerJob)},
		},
	}
	return &monitoringv1.PodMonitor{
		TypeMeta:   monTypeMeta("PodMonitor"),
		ObjectMeta: prom.meta(clusterAutoscalerJob, b.ns, clusterAutoscalerJob),
		Spec: monitoringv1.PodMonitorSpec{
			// The Deployment controller's label: the relabelings choose.
			Selector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "pod-template-hash", Operator: metav1.LabelSelectorOpExists},
			}},
			NamespaceSelector:   monitoringv1.NamespaceSelector{MatchNames: []string{controlPlaneNamespace}},
			PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{ep},
		},
	}
}
