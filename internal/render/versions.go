package render

import (
	"time"

	"github.com/prometheus/common/model"

	"github.com/obsctl/obsctl/internal/config"
)

// The pinned versions: the one place that says what obsctl installs. A
// component's version and image may be replaced in obsctl.yaml
// (stack.components.<name>.version and .image); stack.registry replaces
// every image's registry.
var pins = []pin{
	{key: "prometheusOperator", title: "Prometheus Operator", image: "quay.io/prometheus-operator/prometheus-operator", version: "v0.92.1",
		replicas: [2]int32{1, 1}, cpu: "100m", memory: "128Mi", memoryLimit: "512Mi"},
	{key: "prometheus", title: "Prometheus", image: "quay.io/prometheus/prometheus", version: "v3.13.5",
		replicas: [2]int32{1, 2}, cpu: "500m", memory: "2Gi", memoryLimit: "4Gi", storage: "50Gi", retention: "15d"},
	{key: "alertmanager", title: "Alertmanager", image: "quay.io/prometheus/alertmanager", version: "v0.33.1",
		replicas: [2]int32{1, 3}, cpu: "50m", memory: "128Mi", memoryLimit: "256Mi", storage: "2Gi", retention: "120h"},
	{key: "nodeExporter", title: "node-exporter", image: "quay.io/prometheus/node-exporter", version: "v1.10.2",
		cpu: "50m", memory: "64Mi", memoryLimit: "128Mi"},
	{key: "kubeStateMetrics", title: "kube-state-metrics", image: "registry.k8s.io/kube-state-metrics/kube-state-metrics", version: "v2.18.0",
		replicas: [2]int32{1, 2}, cpu: "100m", memory: "256Mi", memoryLimit: "512Mi"},
	{key: "grafana", title: "Grafana", image: "docker.io/grafana/grafana", version: "12.3.0",
		replicas: [2]int32{1, 2}, cpu: "100m", memory: "256Mi", memoryLimit: "512Mi"},
	{key: "elasticsearch", title: "Elasticsearch", image: "docker.elastic.co/elasticsearch/elasticsearch", version: "7.17.29",
		replicas: [2]int32{1, 3}, cpu: "1", memory: "4Gi", memoryLimit: "4Gi", storage: "100Gi", retention: "7d"},
	{key: "kibana", title: "Kibana", image: "docker.elastic.co/kibana/kibana", version: "7.17.29",
		replicas: [2]int32{1, 2}, cpu: "200m", memory: "1Gi", memoryLimit: "1Gi"},
	{key: "fluentd", title: "Fluentd", image: "docker.io/fluent/fluentd-kubernetes-daemonset", version: "v1.19.3-debian-elasticsearch7-1.1",
		cpu: "100m", memory: "256Mi", memoryLimit: "512Mi"},
	{key: "jaeger", title: "Jaeger", image: "docker.io/jaegertracing/jaeger", version: "2.12.0",
		replicas: [2]int32{1, 2}, cpu: "200m", memory: "512Mi", memoryLimit: "1Gi", retention: "72h"},
}

// Helper images, pinned with their components.
var (
	imageConfigReloader = image{"quay.io/prometheus-operator/prometheus-config-reloader", "v0.92.1"}
	imageESExporter     = image{"quay.io/prometheuscommunity/elasticsearch-exporter", "v1.10.0"}
	imageBusybox        = image{"docker.io/library/busybox", "1.37.0"}
	imagePause          = image{"registry.k8s.io/pause", "3.10"}
)

// pin is a component's pinned version and its defaults.
type pin struct {
	key, title     string
	image, version string
	// replicas per profile: minimal, ha; zero for DaemonSets.
	replicas    [2]int32
	cpu, memory string
	memoryLimit string
	// storage is the volume size in the ha profile (or when
	// obsctl.yaml sets a size); empty for stateless components.
	storage string
	// retention is how long data is kept; empty when not applicable.
	retention string
}

// image is a repository and tag.
type image struct{ repo, tag string }

// Version is a pinned component version, for the README and obsctl
// version.
type Version struct {
	Component, Image, Version string
}

// Versions lists what obsctl installs by default.
func Versions() []Version {
	out := make([]Version, 0, len(pins))
	for _, p := range pins {
		out = append(out, Version{Component: p.title, Image: p.image, Version: p.version})
	}
	return out
}

// Retention returns how long component key keeps its data:
// stack.components.<key>.retention of obsctl.yaml, else the pinned
// default (0 for a component that keeps none).
func Retention(cfg *config.Config, key string) time.Duration {
	var d time.Duration
	for _, p := range pins {
		if p.key == key && p.retention != "" {
			if md, err := model.ParseDuration(p.retention); err == nil {
				d = time.Duration(md)
			}
		}
	}
	if cfg != nil {
		for _, nc := range cfg.ComponentsByName() {
			if nc.Name == key {
				d = nc.Retention.Or(d)
			}
		}
	}
	return d
}
