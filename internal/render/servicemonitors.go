package render

import (
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/utils/ptr"
)

// scrapeTargets gives Prometheus what it scrapes and evaluates: a
// ServiceMonitor for each enabled component, the kubelets, the API
// server and the rest of the control plane (controlPlaneScrape), and the
// repo's PrometheusRules. Each ServiceMonitor's job is the
// one the repo's rules and dashboards query.
func scrapeTargets(b *builder, prom *resolved) error {
	for _, rule := range b.in.PrometheusRules {
		// A copy: the builder labels what it is given, and the compiled
		// repo may be rendered again.
		b.addUnstructured(rule.Object.DeepCopy())
	}

	var sms []*monitoringv1.ServiceMonitor
	// The kubelet Service exists when obsctl's operator keeps it.
	if b.enabled("prometheusOperator") {
		sms = append(sms, b.monServiceMonitor(prom, "kubelet", monScrape{
			job: "kubelet", namespace: kubeletNamespace, service: b.kubeletService(),
			// The labels the operator gives the kubelet Service.
			sel:       map[string]string{LabelName: "kubelet"},
			endpoints: []monitoringv1.Endpoint{kubeletEndpoint("/metrics"), kubeletEndpoint("/metrics/cadvisor")},
		}))
	}
	apiserver := monitoringv1.Endpoint{Port: "https", Scheme: ptr.To(monitoringv1.SchemeHTTPS), BearerTokenFile: monTokenFile}
	apiserver.TLSConfig = &monitoringv1.TLSConfig{
		SafeTLSConfig:  monitoringv1.SafeTLSConfig{ServerName: ptr.To("kubernetes")},
		TLSFilesConfig: monitoringv1.TLSFilesConfig{CAFile: monCAFile},
	}
	sms = append(sms, b.monServiceMonitor(prom, "apiserver", monScrape{
		job: "apiserver", namespace: "default", service: "kubernetes",
		// The labels the API server gives its Service.
		sel:       map[string]string{"component": "apiserver", "provider": "kubernetes"},
		endpoints: []monitoringv1.Endpoint{apiserver},
	}))
	sms = append(sms, b.controlPlaneScrape(prom)...)

	for _, t := range []struct {
		key, job, app string
		namespace     string
		service, port string
		honorLabels   bool
	}{
		{key: "prometheusOperator", job: "prometheus-operator", app: "prometheus-operator", namespace: b.ns, service: "prometheus-operator", port: "http"},
		{key: "prometheus", job: "prometheus", app: prometheusApp, namespace: b.ns, service: "prometheus", port: "web"},
		{key: "alertmanager", job: "alertmanager", app: alertmanagerApp, namespace: b.ns, service: "alertmanager", port: "web"},
		// On the agents' namespace; the node's name is a better instance
		// than its IP.
		{key: "nodeExporter", job: "node-exporter", app: "node-exporter", namespace: b.agentNS, service: "node-exporter", port: "http-metrics"},
		// kube-state-metrics's series name the objects they describe by
		// namespace, pod and container: those labels must win over the
		// target's own.
		{key: "kubeStateMetrics", job: "kube-state-metrics", app: "kube-state-metrics", namespace: b.ns, service: "kube-state-metrics", port: "http-metrics", honorLabels: true},
		{key: "grafana", job: "grafana", app: "grafana", namespace: b.ns, service: "grafana", port: "http"},
		{key: "elasticsearch", job: "elasticsearch", app: "elasticsearch", namespace: b.ns, service: "elasticsearch-metrics", port: "metrics"},
		{key: "fluentd", job: "fluentd", app: "fluentd", namespace: b.agentNS, service: "fluentd", port: "metrics"},
		{key: "jaeger", job: "jaeger", app: "jaeger", namespace: b.ns, service: "jaeger", port: "metrics"},
	} {
		if !b.enabled(t.key) {
			continue
		}
		r := b.resolve(t.key)
		s := b.monComponentScrape(r, t.job, t.namespace, t.service, t.port)
		s.endpoints[0].HonorLabels = t.honorLabels
		if t.key == "kubeStateMetrics" {
			// Its own telemetry (list and watch errors against the
			// API server) is on a port of its own, with the series
			// labelled endpoint="telemetry" by the operator.
			s.endpoints = append(s.endpoints, monitoringv1.Endpoint{Port: "telemetry"})
		}
		if t.key == "nodeExporter" {
			s.endpoints[0].RelabelConfigs = []monitoringv1.RelabelConfig{{
				Action: "replace", SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_pod_node_name"}, TargetLabel: "instance",
			}}
		}
		sms = append(sms, b.monServiceMonitor(r, t.app, s))
		if t.key == "prometheus" || t.key == "alertmanager" {
			// The operator's config reloader beside each, under a job
			// of its own: a reloader that fails is not its program
			// down, and up{job="prometheus"} says only the latter.
			sm := b.monServiceMonitor(r, t.app, b.monComponentScrape(r, reloaderJob, t.namespace, t.service, reloaderPort))
			sm.Name = t.service + "-" + reloaderJob
			sms = append(sms, sm)
		}
	}
	for _, sm := range sms {
		if err := b.monAdd(sm); err != nil {
			return err
		}
	}
	// The cluster autoscaler, where the cluster runs one (managed
	// control planes included): a PodMonitor, since its installs agree
	// on no Service.
	return b.monAdd(b.clusterAutoscalerScrape(prom))
}

// The config reloader the operator runs beside Prometheus and
// Alertmanager: the port its container serves its metrics on, which their
// Services expose, and the job of its series.
const (
	reloaderPort = "reloader-web"
	reloaderJob  = "config-reloader"
)

// withTokenOverSelfSigned makes ep scrape over HTTPS with Prometheus's
// service account token, which the target's delegated authorization
// checks, without verifying the target's serving certificate: the
// kubelets', the scheduler's and the controller manager's are self-signed
// (made at start-up) on most clusters.
func withTokenOverSelfSigned(ep *monitoringv1.Endpoint) {
	ep.Scheme = ptr.To(monitoringv1.SchemeHTTPS)
	ep.BearerTokenFile = monTokenFile
	ep.TLSConfig = &monitoringv1.TLSConfig{SafeTLSConfig: monitoringv1.SafeTLSConfig{InsecureSkipVerify: ptr.To(true)}}
}

// kubeletEndpoint scrapes path on the kubelets' HTTPS port, as the
// operator's kubelet Service lists them, with Prometheus's service
// account token (which the nodes/metrics permission authorizes). Kubelet
// serving certificates are usually self-signed, so they are not verified.
// The kubelet's and cAdvisor's series carry the namespace, pod and
// container they describe, which win over the target's; metrics_path tells
// the two endpoints apart, as the rules do. (The operator labels each
// target with its node already: its Endpoints point at the Nodes.)
// cAdvisor's own timestamps are dropped: it stamps series with the time
// it collected them, which makes them stale at random.
func kubeletEndpoint(path string) monitoringv1.Endpoint {
	ep := monitoringv1.Endpoint{
		Port: "https-metrics", Path: path,
		HonorLabels: true,
		RelabelConfigs: []monitoringv1.RelabelConfig{
			{Action: "replace", SourceLabels: []monitoringv1.LabelName{"__metrics_path__"}, TargetLabel: "metrics_path"},
		},
	}
	withTokenOverSelfSigned(&ep)
	if path == "/metrics/cadvisor" {
		ep.HonorTimestamps = ptr.To(false)
	}
	return ep
}
