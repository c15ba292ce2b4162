package render

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/obsctl/obsctl/internal/compile"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/fluentd"
)

// fluentdOf renders with fluent.conf conf and returns the DaemonSet and
// its ConfigMap.
func fluentdOf(t *testing.T, stack string, conf []byte) (*Result, *appsv1.DaemonSet, *corev1.ConfigMap) {
	t.Helper()
	res := renderInput(t, compile.Compiled{Config: defaultConfig(t, stack), Fluentd: conf})
	ds := typed[appsv1.DaemonSet](t, mustFind(t, res, "DaemonSet", "monitoring-agents", "fluentd"))
	cm := typed[corev1.ConfigMap](t, mustFind(t, res, "ConfigMap", "monitoring-agents", "fluentd-config"))
	return res, ds, cm
}

func TestFluentd(t *testing.T) {
	for _, profile := range []string{"minimal", "ha"} {
		t.Run(profile, func(t *testing.T) {
			res, ds, cm := fluentdOf(t, "  profile: "+profile+"\n", nil)
			conf := cm.Data["fluent.conf"]
			for _, want := range []string{"logstash_prefix logs-default", "@type cri", "port 24231", "pos_file /var/lib/obsctl-fluentd/",
				`password "#{ENV['FLUENT_ELASTICSEARCH_PASSWORD']}"`, "_monitoring-agents_fluentd-"} {
				if !strings.Contains(conf, want) {
					t.Errorf("fallback fluent.conf lacks %q", want)
				}
			}
			pod := ds.Spec.Template.Spec
			c := containerNamed(t, pod, "fluentd")
			if c.LivenessProbe == nil || c.LivenessProbe.TCPSocket == nil || c.LivenessProbe.TCPSocket.Port.StrVal != "metrics" {
				t.Errorf("liveness %+v", c.LivenessProbe)
			}
			if envOf(t, c, "FLUENT_ELASTICSEARCH_HOST").Value != "elasticsearch.monitoring.svc" {
				t.Errorf("host %q", envOf(t, c, "FLUENT_ELASTICSEARCH_HOST").Value)
			}
			wantSecretRef(t, envOf(t, c, "FLUENT_ELASTICSEARCH_PASSWORD"), "elasticsearch-credentials", "password")
			mounts := map[string]corev1.VolumeMount{}
			for _, m := range c.VolumeMounts {
				mounts[m.MountPath] = m
			}
			if !mounts["/var/log"].ReadOnly || !mounts["/fluentd/etc"].ReadOnly || mounts["/var/lib/obsctl-fluentd"].ReadOnly {
				t.Errorf("mounts %+v", c.VolumeMounts)
			}
			paths := map[string]string{}
			for _, v := range pod.Volumes {
				if v.HostPath != nil {
					paths[v.Name] = v.HostPath.Path
				}
			}
			if paths["varlog"] != "/var/log" || paths["state"] != "/var/lib/obsctl-fluentd/obsctl" {
				t.Errorf("host paths %v", paths)
			}
			if len(pod.Tolerations) == 0 || pod.Tolerations[0].Operator != corev1.TolerationOpExists || pod.Tolerations[0].Key != "" {
				t.Errorf("tolerations %+v", pod.Tolerations)
			}
			if pod.ServiceAccountName != "fluentd" {
				t.Errorf("service account %q", pod.ServiceAccountName)
			}
			mustFind(t, res, "ServiceAccount", "monitoring-agents", "fluentd")
			role := typed[rbacv1.ClusterRole](t, mustFind(t, res, "ClusterRole", "", "obsctl-fluentd"))
			if len(role.Rules) != 1 || !slices.Equal(role.Rules[0].Resources, []string{"pods", "namespaces"}) ||
				!slices.Equal(role.Rules[0].Verbs, []string{"get", "list", "watch"}) {
				t.Errorf("rules %+v", role.Rules)
			}
			svc := typed[corev1.Service](t, mustFind(t, res, "Service", "monitoring-agents", "fluentd"))
			if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "metrics" || svc.Spec.Ports[0].Port != 24231 {
				t.Errorf("service ports %+v", svc.Spec.Ports)
			}
			if g := generated(t, res, "elasticsearch-credentials"); !slices.Equal(g.AllNamespaces(), []string{"monitoring", "monitoring-agents"}) {
				t.Errorf("credentials generated in %v", g.AllNamespaces())
			}
		})
	}
}

func TestFluentdConfigHash(t *testing.T) {
	a := []byte("<source>\n  @type tail\n</source>\n")
	b := []byte("<source>\n  @type tail\n  tag x\n</source>\n")
	_, dsA, cmA := fluentdOf(t, "", a)
	_, dsA2, _ := fluentdOf(t, "", a)
	_, dsB, _ := fluentdOf(t, "", b)
	_, dsFallback, _ := fluentdOf(t, "", nil)
	if cmA.Data["fluent.conf"] != string(a) {
		t.Errorf("fluent.conf is not the compiled one: %q", cmA.Data["fluent.conf"])
	}
	hash := func(ds *appsv1.DaemonSet) string { return ds.Spec.Template.Annotations[annotationConfigHash] }
	if hash(dsA) != hashConfig(string(a)) || hash(dsA) != hash(dsA2) {
		t.Errorf("hash %q, want %q both times", hash(dsA), hashConfig(string(a)))
	}
	if hash(dsA) == hash(dsB) || hash(dsA) == hash(dsFallback) {
		t.Error("a changed fluent.conf leaves the pod template unchanged")
	}
}

func TestFluentdTolerations(t *testing.T) {
	_, ds, _ := fluentdOf(t, "  components: {fluentd: {tolerations: [{key: dedicated, operator: Equal, value: logs, effect: NoSchedule}]}}\n", nil)
	tol := ds.Spec.Template.Spec.Tolerations
	if len(tol) != 2 || tol[0].Operator != corev1.TolerationOpExists || tol[1].Key != "dedicated" {
		t.Errorf("tolerations %+v", tol)
	}
}

func TestFluentdRunsTheCompiledPipelines(t *testing.T) {
	cfg := defaultConfig(t, "")
	ps, findings := fluentd.Load(os.DirFS("../.."), fluentd.Dir)
	for _, f := range findings {
		if f.Severity >= diag.Error {
			t.Fatalf("repo pipelines: %v", f)
		}
	}
	if len(ps) == 0 {
		t.Fatal("no pipelines in ../../pipelines")
	}
	conf, err := fluentd.CompileFluentd(ps, compile.FluentdOutput(cfg))
	if err != nil {
		t.Fatal(err)
	}
	res := renderInput(t, compile.Compiled{Config: cfg, Fluentd: conf})
	cm := typed[corev1.ConfigMap](t, mustFind(t, res, "ConfigMap", "monitoring-agents", "fluentd-config"))
	if cm.Data["fluent.conf"] != string(conf) {
		t.Error("fluent.conf is not the compiled configuration")
	}
	for _, want := range []string{"host 'elasticsearch.monitoring.svc'", "scheme http", `"#{ENV['FLUENT_ELASTICSEARCH_PASSWORD']}"`, "'/var/lib/obsctl-fluentd/"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("compiled fluent.conf lacks %q", want)
		}
	}
	ds := typed[appsv1.DaemonSet](t, mustFind(t, res, "DaemonSet", "monitoring-agents", "fluentd"))
	c := containerNamed(t, ds.Spec.Template.Spec, fluentd.SelfContainer)
	wantSecretRef(t, envOf(t, c, "FLUENT_ELASTICSEARCH_PASSWORD"), "elasticsearch-credentials", "password")
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/var/lib/obsctl-fluentd" && !m.ReadOnly }) {
		t.Errorf("the buffer folder is not writable: %+v", c.VolumeMounts)
	}
}

// The configuration is compiled for the image the stack installs, by a
// tag that does not move.
func TestFluentdImageIsTheCompilersOne(t *testing.T) {
	for _, v := range Versions() {
		if v.Component != "Fluentd" {
			continue
		}
		if got := strings.TrimPrefix(v.Image, "docker.io/") + ":" + v.Version; got != fluentd.Image {
			t.Errorf("the stack pins %s, the Fluentd compiler writes for %s", got, fluentd.Image)
		}
		if !regexp.MustCompile(`^v\d+\.\d+\.\d+-.*-\d+\.\d+$`).MatchString(v.Version) {
			t.Errorf("Fluentd's tag %s moves: pin a vX.Y.Z-...-N.M tag", v.Version)
		}
		return
	}
	t.Fatal("no Fluentd in Versions()")
}

func TestRetention(t *testing.T) {
	if got := Retention(nil, "elasticsearch"); got != 7*24*time.Hour {
		t.Errorf("the pinned Elasticsearch retention: %v", got)
	}
	c := &config.Config{}
	c.Stack.Components.Elasticsearch.Retention = config.Duration{D: 14 * 24 * time.Hour, Set: true}
	if got := Retention(c, "elasticsearch"); got != 14*24*time.Hour {
		t.Errorf("obsctl.yaml's retention: %v", got)
	}
	if got := Retention(c, "grafana"); got != 0 {
		t.Errorf("Grafana keeps no data: %v", got)
	}
}
