package render

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// jaegerConfigOf returns Jaeger's Deployment and its parsed config.yaml.
func jaegerConfigOf(t *testing.T, res *Result) (*appsv1.Deployment, map[string]any) {
	t.Helper()
	d := typed[appsv1.Deployment](t, mustFind(t, res, "Deployment", "monitoring", "jaeger"))
	cm := typed[corev1.ConfigMap](t, mustFind(t, res, "ConfigMap", "monitoring", "jaeger-config"))
	var conf map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data["config.yaml"]), &conf); err != nil {
		t.Fatal(err)
	}
	return d, conf
}

// dig returns the value at path in nested maps, or nil.
func dig(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

func TestJaeger(t *testing.T) {
	for _, tc := range []struct {
		name, stack string
		replicas    int32
		es          bool
	}{
		{"minimal", "", 1, false},
		{"ha", "  profile: ha\n", 2, true},
		{"ha without elasticsearch", "  profile: ha\n  components: {elasticsearch: {enabled: false}}\n", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := render(t, tc.stack)
			d, conf := jaegerConfigOf(t, res)
			if *d.Spec.Replicas != tc.replicas {
				t.Errorf("replicas %d, want %d", *d.Spec.Replicas, tc.replicas)
			}
			backend := dig(conf, "extensions", "jaeger_storage", "backends", "traces")
			c := containerNamed(t, d.Spec.Template.Spec, "jaeger")
			if tc.es {
				es := dig(backend, "elasticsearch")
				if urls, _ := dig(es, "server_urls").([]any); len(urls) != 1 || urls[0] != "http://elasticsearch.monitoring.svc:9200" {
					t.Errorf("server_urls %v", dig(es, "server_urls"))
				}
				if dig(es, "auth", "basic", "password") != "${env:ES_PASSWORD}" || dig(es, "auth", "basic", "username") != "elastic" ||
					dig(es, "indices", "index_prefix") != "jaeger" {
					t.Errorf("elasticsearch backend %v", es)
				}
				wantSecretRef(t, envOf(t, c, "ES_PASSWORD"), "elasticsearch-credentials", "password")
			} else {
				if dig(backend, "memory", "max_traces") == nil || dig(backend, "elasticsearch") != nil {
					t.Errorf("memory backend %v", backend)
				}
				if hasEnv(c, "ES_PASSWORD") {
					t.Error("ES_PASSWORD without the Elasticsearch backend")
				}
			}
			for path, want := range map[string][]string{
				"0.0.0.0:4317":  {"receivers", "otlp", "protocols", "grpc", "endpoint"},
				"0.0.0.0:4318":  {"receivers", "otlp", "protocols", "http", "endpoint"},
				"0.0.0.0:16686": {"extensions", "jaeger_query", "http", "endpoint"},
				"0.0.0.0:13133": {"extensions", "healthcheckv2", "http", "endpoint"},
			} {
				if got := dig(conf, want...); got != path {
					t.Errorf("%v = %v, want %s", want, got, path)
				}
			}
			if dig(conf, "exporters", "jaeger_storage_exporter", "trace_storage") != "traces" || dig(conf, "extensions", "jaeger_query", "storage", "traces") != "traces" {
				t.Error("the exporter and the query do not use the configured backend")
			}
			readers, _ := dig(conf, "service", "telemetry", "metrics", "readers").([]any)
			if len(readers) != 1 || dig(readers[0], "pull", "exporter", "prometheus", "port") != float64(8888) {
				t.Errorf("telemetry readers %v", readers)
			}
			if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Port.StrVal != "health" {
				t.Errorf("readiness %+v", p)
			}
			if p := c.LivenessProbe; p == nil || p.TCPSocket == nil || p.TCPSocket.Port.StrVal != "health" {
				t.Errorf("liveness %+v", p)
			}
			svc := typed[corev1.Service](t, mustFind(t, res, "Service", "monitoring", "jaeger"))
			ports := map[string]int32{}
			for _, p := range svc.Spec.Ports {
				ports[p.Name] = p.Port
			}
			want := map[string]int32{"otlp-grpc": 4317, "otlp-http": 4318, "query": 16686, "metrics": 8888}
			if len(ports) != len(want) {
				t.Errorf("service ports %v", ports)
			}
			for n, p := range want {
				if ports[n] != p {
					t.Errorf("service port %s = %d, want %d", n, ports[n], p)
				}
			}
			if got := find(res, "PodDisruptionBudget", "monitoring", "jaeger") != nil; got != (tc.replicas > 1) {
				t.Errorf("PodDisruptionBudget rendered: %v", got)
			}
		})
	}
}
