package render

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// settingsOf returns the container's literal environment.
func settingsOf(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			out[e.Name] = e.Value
		}
	}
	return out
}

func TestElasticsearch(t *testing.T) {
	for _, tc := range []struct {
		profile  string
		replicas int32
		// settings are the environment's Elasticsearch settings, "" for
		// must be absent.
		settings map[string]string
		claim    bool
		curator  []string
	}{
		{
			profile: "minimal", replicas: 1,
			settings: map[string]string{
				"discovery.type": "single-node", "discovery.seed_hosts": "", "cluster.initial_master_nodes": "",
				"xpack.security.enabled": "true", "xpack.security.transport.ssl.enabled": "",
			},
			// No Jaeger in Elasticsearch: ILM deletes the log indices.
			curator: nil,
		},
		{
			profile: "ha", replicas: 3,
			settings: map[string]string{
				"discovery.type": "", "discovery.seed_hosts": "elasticsearch-headless",
				"cluster.initial_master_nodes": "elasticsearch-0,elasticsearch-1,elasticsearch-2",
				"xpack.security.enabled":       "true", "xpack.security.transport.ssl.enabled": "true",
				"xpack.security.transport.ssl.certificate": "certs/tls.crt",
			},
			claim:   true,
			curator: []string{"jaeger-*", "259200"},
		},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			res := render(t, "  profile: "+tc.profile+"\n")
			sts := typed[appsv1.StatefulSet](t, mustFind(t, res, "StatefulSet", "monitoring", "elasticsearch"))
			if *sts.Spec.Replicas != tc.replicas || sts.Spec.ServiceName != "elasticsearch-headless" {
				t.Errorf("replicas %d, service %s", *sts.Spec.Replicas, sts.Spec.ServiceName)
			}
			pod := sts.Spec.Template.Spec
			es := containerNamed(t, pod, "elasticsearch")
			env := settingsOf(es)
			for k, v := range tc.settings {
				if got, ok := env[k]; v == "" && ok || v != "" && got != v {
					t.Errorf("%s = %q (set: %v), want %q", k, got, ok, v)
				}
			}
			if env["ES_JAVA_OPTS"] != "-Xms2048m -Xmx2048m" {
				t.Errorf("ES_JAVA_OPTS %q: want half the 4Gi limit", env["ES_JAVA_OPTS"])
			}
			wantSecretRef(t, envOf(t, es, "ELASTIC_PASSWORD"), "elasticsearch-credentials", "password")
			if ps := pod.SecurityContext; *ps.RunAsUser != 1000 || *ps.FSGroup != 1000 {
				t.Errorf("pod security %+v", ps)
			}
			if es.ReadinessProbe == nil || es.ReadinessProbe.Exec == nil ||
				!strings.Contains(strings.Join(es.ReadinessProbe.Exec.Command, " "), `-u "elastic:${ELASTIC_PASSWORD}" "http://localhost:9200/_cluster/health?local=true"`) {
				t.Errorf("readiness %+v", es.ReadinessProbe)
			}
			if es.LivenessProbe == nil || es.LivenessProbe.TCPSocket == nil {
				t.Errorf("liveness %+v", es.LivenessProbe)
			}
			if !slices.ContainsFunc(es.VolumeMounts, func(m corev1.VolumeMount) bool {
				return m.Name == "data" && m.MountPath == "/usr/share/elasticsearch/data"
			}) {
				t.Errorf("data not mounted: %+v", es.VolumeMounts)
			}
			if got := len(sts.Spec.VolumeClaimTemplates) == 1; got != tc.claim {
				t.Errorf("volume claim: %v", got)
			}
			certs := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool {
				return v.Secret != nil && v.Secret.SecretName == "elasticsearch-transport-certs"
			})
			if (certs >= 0) != (tc.replicas > 1) {
				t.Errorf("transport certificates mounted: %v", certs >= 0)
			}

			exp := containerNamed(t, pod, "exporter")
			if !strings.Contains(exp.Image, "elasticsearch-exporter") || len(exp.Ports) != 1 || exp.Ports[0].ContainerPort != 9114 ||
				!slices.Contains(exp.Args, "--es.uri=http://localhost:9200") {
				t.Errorf("exporter %s %+v %v", exp.Image, exp.Ports, exp.Args)
			}
			wantSecretRef(t, envOf(t, exp, "ES_PASSWORD"), "elasticsearch-credentials", "password")

			headless := typed[corev1.Service](t, mustFind(t, res, "Service", "monitoring", "elasticsearch-headless"))
			if headless.Spec.ClusterIP != corev1.ClusterIPNone || !headless.Spec.PublishNotReadyAddresses {
				t.Errorf("headless service %+v", headless.Spec)
			}
			for name, port := range map[string]int32{"elasticsearch": 9200, "elasticsearch-metrics": 9114} {
				svc := typed[corev1.Service](t, mustFind(t, res, "Service", "monitoring", name))
				if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != port {
					t.Errorf("%s ports %+v", name, svc.Spec.Ports)
				}
			}
			g := generated(t, res, "elasticsearch-credentials")
			if g.Fixed["username"] != "elastic" || !slices.Equal(g.Keys, []string{"password"}) {
				t.Errorf("generated %+v", g)
			}
			if got := find(res, "PodDisruptionBudget", "monitoring", "elasticsearch") != nil; got != (tc.profile == "ha") {
				t.Errorf("PodDisruptionBudget rendered: %v", got)
			}

			sysctl := typed[appsv1.DaemonSet](t, mustFind(t, res, "DaemonSet", "monitoring-agents", "elasticsearch-sysctl"))
			init := sysctl.Spec.Template.Spec.InitContainers
			if len(init) != 1 || !*init[0].SecurityContext.Privileged || !strings.Contains(strings.Join(init[0].Command, " "), "sysctl -w vm.max_map_count=262144") {
				t.Errorf("sysctl init container %+v", init)
			}
			if p := sysctl.Spec.Template.Spec.Containers[0].ReadinessProbe; p == nil || p.Exec == nil {
				t.Errorf("sysctl readiness %+v", p)
			}
			agents := mustFind(t, res, "Namespace", "", "monitoring-agents")
			if agents.GetLabels()["pod-security.kubernetes.io/enforce"] != "privileged" {
				t.Errorf("agent namespace labels %v", agents.GetLabels())
			}

			if tc.curator == nil {
				if find(res, "CronJob", "monitoring", "elasticsearch-curator") != nil {
					t.Error("a curator CronJob without Jaeger's indices to delete")
				}
				return
			}
			cj := typed[batchv1.CronJob](t, mustFind(t, res, "CronJob", "monitoring", "elasticsearch-curator"))
			cur := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
			if args := cur.Command[4:]; !slices.Equal(args, append([]string{"http://elasticsearch.monitoring.svc:9200"}, tc.curator...)) {
				t.Errorf("curator arguments %v", args)
			}
			wantSecretRef(t, envOf(t, cur, "ELASTIC_PASSWORD"), "elasticsearch-credentials", "password")
		})
	}
}

func TestElasticsearchOverrides(t *testing.T) {
	res := render(t, `  profile: ha
  components:
    elasticsearch: {replicas: 5, resources: {limits: {memory: 2Gi}}, retention: 30d}
    jaeger: {enabled: false}
`)
	sts := typed[appsv1.StatefulSet](t, mustFind(t, res, "StatefulSet", "monitoring", "elasticsearch"))
	env := settingsOf(sts.Spec.Template.Spec.Containers[0])
	if env["cluster.initial_master_nodes"] != "elasticsearch-0,elasticsearch-1,elasticsearch-2,elasticsearch-3,elasticsearch-4" {
		t.Errorf("initial masters %q", env["cluster.initial_master_nodes"])
	}
	if env["ES_JAVA_OPTS"] != "-Xms1024m -Xmx1024m" {
		t.Errorf("ES_JAVA_OPTS %q", env["ES_JAVA_OPTS"])
	}
	// Jaeger off: the retention is the pipelines' ILM policies', no CronJob.
	if find(res, "CronJob", "monitoring", "elasticsearch-curator") != nil {
		t.Error("a curator CronJob without Jaeger")
	}

	single := render(t, "  profile: ha\n  components: {elasticsearch: {replicas: 1}}\n")
	sts = typed[appsv1.StatefulSet](t, mustFind(t, single, "StatefulSet", "monitoring", "elasticsearch"))
	if env := settingsOf(sts.Spec.Template.Spec.Containers[0]); env["discovery.type"] != "single-node" {
		t.Errorf("one replica in ha: discovery %q", env["discovery.type"])
	}
}

func TestElasticsearchDisabled(t *testing.T) {
	res := render(t, "  components: {elasticsearch: {enabled: false}}\n")
	for _, o := range res.Objects {
		if o.GroupVersionKind().Group == "monitoring.coreos.com" {
			continue // servicemonitors.go's
		}
		if c := o.GetLabels()[LabelComponent]; c == "elasticsearch" || c == "kibana" || c == "fluentd" {
			t.Errorf("%s %s/%s rendered without Elasticsearch", o.GetKind(), o.GetNamespace(), o.GetName())
		}
	}
	for _, g := range res.Generated {
		if g.Name == "elasticsearch-credentials" || g.Name == "kibana-encryption-keys" {
			t.Errorf("Secret %s generated without Elasticsearch", g.Name)
		}
	}
}
