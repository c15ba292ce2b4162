package render

import (
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// The Prometheus custom resource: its name, and the labels the operator
// puts on its pods (reserved: podMetadata cannot change them).
const (
	prometheusName = "k8s"
	prometheusApp  = "prometheus"
)

// prometheusPods selects the pods of the Prometheus resource.
var prometheusPods = map[string]string{LabelName: prometheusApp, "prometheus": prometheusName}

// additionalScrapeKey is the key of the annotation-based scrape
// configurations in their Secret.
const additionalScrapeKey = "scrape-configs.yaml"

// additionalScrapeSecret names the Secret of the annotation-based scrape
// configurations.
func (b *builder) additionalScrapeSecret() string { return b.stack + "-additional-scrape-configs" }

// prometheus describes the Prometheus server for the operator: one
// Prometheus resource, which the operator turns into a StatefulSet (two
// replicas in ha, each scraping everything: Alertmanager deduplicates
// their alerts).
//
// Its selectors pick the PrometheusRules, ServiceMonitors, PodMonitors,
// Probes and ScrapeConfigs of this stack by the stack label alone, in every
// namespace: every object obsctl renders or applies carries that label,
// and the rules land in rules.namespace (or the namespace a rule file's
// object names), which need not be the stack's. The label is what makes
// an object this stack's, so the selectors match exactly what obsctl
// creates, and not another stack's in the same cluster.
//
// Pods and Services with the prometheus.io/scrape annotation are scraped
// too, through additional scrape configurations, for workloads without a
// ServiceMonitor.
func prometheus(b *builder, r *resolved) error {
	const app = prometheusApp
	ns := b.ns
	cfg := b.cfg.Prometheus

	role, binding := b.clusterRole(r, app, app, ns, app,
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"nodes", "nodes/metrics", "services", "endpoints", "pods"}, Verbs: []string{"get", "list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: []string{"get", "list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}},
		rbacv1.PolicyRule{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}},
	)
	scrape := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: r.meta(b.additionalScrapeSecret(), ns, app),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{additionalScrapeKey: []byte(annotationScrapeConfigs)},
	}

	spec := monitoringv1.PrometheusSpec{
		CommonPrometheusFields: monitoringv1.CommonPrometheusFields{
			PodMetadata:                     r.monPodMetadata(),
			ServiceMonitorSelector:          b.monStackSelector(),
			ServiceMonitorNamespaceSelector: &metav1.LabelSelector{},
			PodMonitorSelector:              b.monStackSelector(),
			PodMonitorNamespaceSelector:     &metav1.LabelSelector{},
			ProbeSelector:                   b.monStackSelector(),
			ProbeNamespaceSelector:          &metav1.LabelSelector{},
			ScrapeConfigSelector:            b.monStackSelector(),
			ScrapeConfigNamespaceSelector:   &metav1.LabelSelector{},
			Version:                         r.version,
			Image:                           ptr.To(r.image),
			Replicas:                        ptr.To(r.replicas),
			ExternalLabels:                  cfg.ExternalLabels,
			Storage:                         r.monStorage(),
			Resources:                       r.resources,
			NodeSelector:                    r.nodeSelector,
			Tolerations:                     r.tolerations,
			ServiceAccountName:              app,
			// Services' endpoints from EndpointSlices: the Endpoints API
			// is deprecated since Kubernetes 1.33, and slices scale.
			ServiceDiscoveryRole: ptr.To(monitoringv1.EndpointSliceRole),
			// Kubernetes service discovery and the kubelet and API
			// server scrapes authenticate with the token.
			AutomountServiceAccountToken: ptr.To(true),
			SecurityContext:              monPodSecurity(),
			AdditionalScrapeConfigs: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: b.additionalScrapeSecret()},
				Key:                  additionalScrapeKey,
			},
		},
		RuleSelector:          b.monStackSelector(),
		RuleNamespaceSelector: &metav1.LabelSelector{},
	}
	if cfg.ScrapeInterval.Set {
		spec.ScrapeInterval = monDuration(cfg.ScrapeInterval.D)
	}
	if cfg.EvaluationInterval.Set {
		spec.EvaluationInterval = monDuration(cfg.EvaluationInterval.D)
	}
	if r.retention > 0 {
		spec.Retention = monDuration(r.retention)
	}
	for _, c := range b.monSpread(r, prometheusPods) {
		spec.TopologySpreadConstraints = append(spec.TopologySpreadConstraints,
			monitoringv1.TopologySpreadConstraint{CoreV1TopologySpreadConstraint: monitoringv1.CoreV1TopologySpreadConstraint(c)})
	}
	if b.enabled("alertmanager") {
		spec.Alerting = &monitoringv1.AlertingSpec{Alertmanagers: []monitoringv1.AlertmanagerEndpoints{{
			Namespace: ptr.To(ns),
			Name:      alertmanagerApp,
			Port:      intstr.FromString("web"),
		}}}
	}

	svc := r.service(app, ns, app, servicePort("web", 9090), servicePort(reloaderPort, 8080))
	svc.Spec.Selector = prometheusPods
	b.add(r.serviceAccount(app, ns, app), role, binding, scrape, svc)
	b.monAddPDB(r, app, app, prometheusPods)
	return b.monAdd(&monitoringv1.Prometheus{
		TypeMeta:   monTypeMeta("Prometheus"),
		ObjectMeta: r.meta(prometheusName, ns, app),
		Spec:       spec,
	})
}

// annotationScrapeConfigs scrape the pods, and the endpoints of the
// Services, annotated prometheus.io/scrape: "true", on the port, path and
// scheme that prometheus.io/port, prometheus.io/path and
// prometheus.io/scheme give (default: every declared port, /metrics,
// http). A pod's port replaces the port of its IP, bracketed for IPv6; a
// Service endpoint's address comes with a port (bracketed already), which
// the annotation replaces.
const annotationScrapeConfigs = `- job_name: kubernetes-pods
  kubernetes_sd_configs:
    - role: pod
  relabel_configs:
    - action: keep
      source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
      regex: "true"
    - action: drop
      source_labels: [__meta_kubernetes_pod_phase]
      regex: Pending|Succeeded|Failed|Unknown
    - action: replace
      source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scheme]
      regex: (https?)
      target_label: __scheme__
    - action: replace
      source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
      regex: (.+)
      target_label: __metrics_path__
    - action: replace
      source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_port, __meta_kubernetes_pod_ip]
      regex: (\d+);(\d+\.\d+\.\d+\.\d+)
      replacement: $2:$1
      target_label: __address__
    - action: replace
      source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_port, __meta_kubernetes_pod_ip]
      regex: (\d+);([0-9a-fA-F]*:[0-9a-fA-F:]*)
      replacement: '[$2]:$1'
      target_label: __address__
    - action: replace
      source_labels: [__meta_kubernetes_namespace]
      target_label: namespace
    - action: replace
      source_labels: [__meta_kubernetes_pod_name]
      target_label: pod
    - action: replace
      source_labels: [__meta_kubernetes_pod_node_name]
      target_label: node
- job_name: kubernetes-service-endpoints
  kubernetes_sd_configs:
    - role: endpointslice
  relabel_configs:
    - action: keep
      source_labels: [__meta_kubernetes_service_annotation_prometheus_io_scrape]
      regex: "true"
    - action: replace
      source_labels: [__meta_kubernetes_service_annotation_prometheus_io_scheme]
      regex: (https?)
      target_label: __scheme__
    - action: replace
      source_labels: [__meta_kubernetes_service_annotation_prometheus_io_path]
      regex: (.+)
      target_label: __metrics_path__
    - action: replace
      source_labels: [__address__, __meta_kubernetes_service_annotation_prometheus_io_port]
      regex: (.+?)(?::\d+)?;(\d+)
      replacement: $1:$2
      target_label: __address__
    - action: replace
      source_labels: [__meta_kubernetes_namespace]
      target_label: namespace
    - action: replace
      source_labels: [__meta_kubernetes_service_name]
      target_label: service
    - action: replace
      source_labels: [__meta_kubernetes_pod_name]
      target_label: pod
    - action: replace
      source_labels: [__meta_kubernetes_pod_node_name]
      target_label: node
`
