package render

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestKibana(t *testing.T) {
	for _, tc := range []struct {
		profile  string
		replicas int32
	}{{"minimal", 1}, {"ha", 2}} {
		t.Run(tc.profile, func(t *testing.T) {
			res := render(t, "  profile: "+tc.profile+"\n")
			d := typed[appsv1.Deployment](t, mustFind(t, res, "Deployment", "monitoring", "kibana"))
			if *d.Spec.Replicas != tc.replicas {
				t.Errorf("replicas %d, want %d", *d.Spec.Replicas, tc.replicas)
			}
			c := containerNamed(t, d.Spec.Template.Spec, "kibana")
			if got := envOf(t, c, "ELASTICSEARCH_HOSTS").Value; got != "http://elasticsearch.monitoring.svc:9200" {
				t.Errorf("ELASTICSEARCH_HOSTS %q", got)
			}
			wantSecretRef(t, envOf(t, c, "ELASTICSEARCH_USERNAME"), "elasticsearch-credentials", "username")
			wantSecretRef(t, envOf(t, c, "ELASTICSEARCH_PASSWORD"), "elasticsearch-credentials", "password")
			wantSecretRef(t, envOf(t, c, "XPACK_SECURITY_ENCRYPTIONKEY"), "kibana-encryption-keys", "security")
			if p := c.ReadinessProbe; p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/api/status" {
				t.Errorf("readiness %+v", p)
			}
			if envOf(t, c, "STATUS_ALLOWANONYMOUS").Value != "true" {
				t.Error("the probes' /api/status needs credentials")
			}
			svc := typed[corev1.Service](t, mustFind(t, res, "Service", "monitoring", "kibana"))
			if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[0].Port != 5601 {
				t.Errorf("service ports %+v", svc.Spec.Ports)
			}
			if got := find(res, "PodDisruptionBudget", "monitoring", "kibana") != nil; got != (tc.profile == "ha") {
				t.Errorf("PodDisruptionBudget rendered: %v", got)
			}
			generated(t, res, "kibana-encryption-keys")
		})
	}
}

func TestKibanaNeedsElasticsearch(t *testing.T) {
	res := render(t, "  components: {elasticsearch: {enabled: false}}\n")
	for _, kind := range []string{"Deployment", "Service"} {
		if find(res, kind, "monitoring", "kibana") != nil {
			t.Errorf("%s kibana rendered without Elasticsearch", kind)
		}
	}
}
