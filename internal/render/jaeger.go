package render

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Jaeger's ports and what it names in Elasticsearch.
const (
	jaegerOTLPGRPCPort = 4317
	jaegerOTLPHTTPPort = 4318
	jaegerQueryPort    = 16686
	jaegerMetricsPort  = 8888
	jaegerHealthPort   = 13133
	// jaegerIndexPrefix starts the names of Jaeger's indices
	// (jaeger-jaeger-span-YYYY-MM-DD...).
	jaegerIndexPrefix = "jaeger"
	// jaegerMaxTraces bounds the memory store: about half a GiB of
	// traces of a few dozen spans.
	jaegerMaxTraces = 50000
	// jaegerQueueSpans bounds the exporter's sending queue: at about a
	// kilobyte a span, some 50 MB, a fraction of the container's memory.
	jaegerQueueSpans = 50000
)

// jaeger collects traces over OTLP: Jaeger v2, one binary with an
// OpenTelemetry Collector configuration that receives, batches and stores
// the spans and serves the query UI and API.
//
// In the ha profile with Elasticsearch on, traces go to Elasticsearch
// (indices under jaeger-, deleted after Jaeger's retention by the
// Elasticsearch curator) and every replica serves all of them. Otherwise
// they stay in memory, bounded by a trace count, and are lost with the
// pod; since each pod would see only the traces it received, the memory
// store runs one replica whatever the profile says.
func jaeger(b *builder, r *resolved) error {
	const app = "jaeger"
	ns := b.ns
	useES := b.jaegerUsesES()
	if useES {
		b.esCredentials()
	} else {
		one := *r
		one.replicas = 1
		r = &one
	}
	conf, err := jaegerConfig(b, r, useES)
	if err != nil {
		return err
	}

	c := r.container(app, []string{"--config=/etc/jaeger/config.yaml"},
		port("otlp-grpc", jaegerOTLPGRPCPort),
		port("otlp-http", jaegerOTLPHTTPPort),
		port("query", jaegerQueryPort),
		port("metrics", jaegerMetricsPort),
		port("health", jaegerHealthPort),
	)
	if useES {
		c.Env = []corev1.EnvVar{envSecret("ES_PASSWORD", esCredentialsSecret, "password")}
	}
	// Liveness asks only that the process answers: the status turns
	// unhealthy when storage fails, which a restart does not mend.
	c.LivenessProbe = tcpProbe("health", 5, 20)
	c.ReadinessProbe = httpProbe("/status", "health", 5, 10)
	c.VolumeMounts = []corev1.VolumeMount{volMount("config", "/etc/jaeger", true)}
	tpl := b.podTemplate(r, app, "", false, c)
	tpl.Spec.Volumes = []corev1.Volume{volConfigMap("config", "jaeger-config")}
	setConfigHash(&tpl, conf)
	b.add(
		r.configMap("jaeger-config", ns, app, map[string]string{"config.yaml": conf}),
		b.deployment(r, app, ns, app, tpl),
		r.service(app, ns, app,
			servicePort("otlp-grpc", jaegerOTLPGRPCPort),
			servicePort("otlp-http", jaegerOTLPHTTPPort),
			servicePort("query", jaegerQueryPort),
			servicePort("metrics", jaegerMetricsPort),
		),
	)
	b.addPDB(r, app, ns, app)
	return nil
}

// jaegerConfig returns Jaeger's config.yaml. Every endpoint listens on all
// addresses: the Collector's default is localhost.
func jaegerConfig(b *builder, r *resolved, useES bool) (string, error) {
	const store = "traces"
	backend := map[string]any{"memory": map[string]any{"max_traces": jaegerMaxTraces}}
	if useES {
		backend = map[string]any{"elasticsearch": map[string]any{
			"server_urls": []string{b.esURL()},
			"auth": map[string]any{"basic": map[string]any{
				"username": esUser,
				// Expanded by the Collector from the environment.
				"password": "${env:ES_PASSWORD}",
			}},
			"indices": map[string]any{"index_prefix": jaegerIndexPrefix},
			// Queries look no further back than the curator keeps.
			"max_span_age": r.retention.String(),
		}}
	}
	listen := func(port int) map[string]any { return map[string]any{"endpoint": fmt.Sprintf("0.0.0.0:%d", port)} }
	conf := map[string]any{
		"service": map[string]any{
			"extensions": []string{"jaeger_storage", "jaeger_query", "healthcheckv2"},
			"pipelines": map[string]any{"traces": map[string]any{
				"receivers":  []string{"otlp"},
				"processors": []string{"batch"},
				"exporters":  []string{"jaeger_storage_exporter"},
			}},
			"telemetry": map[string]any{
				"resource": map[string]any{"service.name": "jaeger"},
				"metrics": map[string]any{
					"level": "normal",
					"readers": []any{map[string]any{"pull": map[string]any{"exporter": map[string]any{
						"prometheus": map[string]any{"host": "0.0.0.0", "port": jaegerMetricsPort},
					}}}},
				},
			},
		},
		"extensions": map[string]any{
			"healthcheckv2": map[string]any{"use_v2": true, "http": listen(jaegerHealthPort)},
			"jaeger_query": map[string]any{
				"storage": map[string]any{"traces": store},
				"http":    listen(jaegerQueryPort),
			},
			"jaeger_storage": map[string]any{"backends": map[string]any{store: backend}},
		},
		"receivers": map[string]any{"otlp": map[string]any{"protocols": map[string]any{
			"grpc": listen(jaegerOTLPGRPCPort),
			"http": listen(jaegerOTLPHTTPPort),
		}}},
		"processors": map[string]any{"batch": map[string]any{}},
		// A sending queue, bounded in spans (about a kilobyte each, well
		// inside the container's memory), rides out a slow or restarting
		// backend; its fill and the spans it refuses are what the default
		// rules and the tracing dashboard watch (otelcol_exporter_queue_*,
		// otelcol_exporter_enqueue_failed_spans_total), and the exporter
		// has none unless one is asked for.
		"exporters": map[string]any{"jaeger_storage_exporter": map[string]any{
			"trace_storage": store,
			"queue":         map[string]any{"enabled": true, "sizer": "items", "queue_size": jaegerQueueSpans, "num_consumers": 10},
		}},
	}
	out, err := yaml.Marshal(conf)
	if err != nil {
		return "", fmt.Errorf("jaeger config: %w", err)
	}
	return "# Rendered by obsctl: Jaeger v2's OpenTelemetry Collector configuration.\n" + string(out), nil
}

// jaegerUsesES reports whether Jaeger stores traces in Elasticsearch: in
// the ha profile when Elasticsearch is on; otherwise in memory.
func (b *builder) jaegerUsesES() bool {
	return b.ha && b.enabled("elasticsearch")
}
