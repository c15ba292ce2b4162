package render

import (
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/obsctl/obsctl/dashboards"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/rules"
)

// wantJobs are the job label of each ServiceMonitor, by the component that
// turns it off ("" for the kubelets, the API server and the control
// plane, which the Prometheus scrapes whenever it runs).
var wantJobs = map[string]string{
	"kubelet":   "prometheusOperator", // through the operator's kubelet Service
	"apiserver": "",
	"coredns":   "",
	// A PodMonitor's (clusterautoscaler.go).
	"cluster-autoscaler": "",
	// The operator's config reloaders beside Prometheus and
	// Alertmanager (Prometheus's stays while it runs).
	"config-reloader": "",
	// The parts a managed control plane keeps out of reach
	// (TestControlPlaneScrape).
	"etcd":                    "",
	"kube-scheduler":          "",
	"kube-controller-manager": "",
	"kube-proxy":              "",
	"node-exporter":           "nodeExporter",
	"kube-state-metrics":      "kubeStateMetrics",
	"prometheus-operator":     "prometheusOperator",
	"prometheus":              "",
	"alertmanager":            "alertmanager",
	"grafana":                 "grafana",
	"elasticsearch":           "elasticsearch",
	"fluentd":                 "fluentd",
	"jaeger":                  "jaeger",
}

// smTarget is what one ServiceMonitor endpoint scrapes, after the
// operator's relabelings and the endpoint's: the job it labels series
// with, or "" when the Service is dropped.
func smJob(t *testing.T, sm *monitoringv1.ServiceMonitor, ep monitoringv1.Endpoint, service string) string {
	t.Helper()
	// What the operator puts first: job is the Service's name, or the
	// value of the Service's jobLabel label.
	cfgs := []*relabel.Config{relabelOf(t, monitoringv1.RelabelConfig{
		Action: "replace", SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_service_name"}, TargetLabel: "job",
	})}
	if sm.Spec.JobLabel != "" {
		t.Fatalf("ServiceMonitor %s: jobLabel depends on the Service's labels; the job is set by relabeling", sm.Name)
	}
	for _, rc := range ep.RelabelConfigs {
		cfgs = append(cfgs, relabelOf(t, rc))
	}
	lb := labels.NewBuilder(labels.FromStrings(
		"__address__", "10.0.0.1:1234", "__meta_kubernetes_service_name", service,
		"__meta_kubernetes_pod_node_name", "node-1", "__meta_kubernetes_endpoint_address_target_name", "node-1",
		"__metrics_path__", "/metrics",
	))
	if !relabel.ProcessBuilder(lb, cfgs...) {
		return ""
	}
	return lb.Get("job")
}

// relabelOf converts an operator relabeling to Prometheus's, with
// Prometheus's defaults, as the operator writes it into the configuration.
func relabelOf(t *testing.T, rc monitoringv1.RelabelConfig) *relabel.Config {
	t.Helper()
	m := map[string]any{}
	if rc.Action != "" {
		m["action"] = rc.Action
	}
	if len(rc.SourceLabels) > 0 {
		m["source_labels"] = rc.SourceLabels
	}
	if rc.TargetLabel != "" {
		m["target_label"] = rc.TargetLabel
	}
	if rc.Regex != "" {
		m["regex"] = rc.Regex
	}
	if rc.Replacement != nil {
		m["replacement"] = *rc.Replacement
	}
	data, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	c := &relabel.Config{}
	if err := yaml.UnmarshalStrict(data, c); err != nil {
		t.Fatalf("relabeling %+v: %v", rc, err)
	}
	if err := c.Validate(model.LegacyValidation); err != nil {
		t.Fatalf("relabeling %+v: %v", rc, err)
	}
	return c
}

// queriedJobs returns the job label values the repo's rules and
// dashboards query.
func queriedJobs(t *testing.T) []string {
	t.Helper()
	// job=, not cronjob= or any other label ending in job.
	re := regexp.MustCompile(`(?:^|[^a-z_])job=\\?"([a-z0-9-]+)\\?"`)
	seen := map[string]bool{}
	for _, fsys := range []fs.FS{rules.FS, dashboards.FS} {
		err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			// The rules' tests are not queries: their input series may
			// name other jobs, to show an alert silent on them.
			if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.yaml") {
				return err
			}
			data, err := fs.ReadFile(fsys, p)
			for _, m := range re.FindAllSubmatch(data, -1) {
				seen[string(m[1])] = true
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// TestServiceMonitorJobs: each ServiceMonitor labels its series with the
// job the rules and dashboards query, and scrapes only its own Service.
func TestServiceMonitorJobs(t *testing.T) {
	queried := queriedJobs(t)
	if len(queried) < 5 {
		t.Fatalf("the repo's rules query jobs %v: the pattern misses them", queried)
	}
	for _, profile := range profiles {
		t.Run(profile, func(t *testing.T) {
			res := render(t, "  profile: "+profile+"\n")
			got := map[string]bool{}
			for _, o := range ofKind(res, "ServiceMonitor") {
				sm := typed[monitoringv1.ServiceMonitor](t, o)
				if len(sm.Spec.NamespaceSelector.MatchNames) != 1 || sm.Spec.NamespaceSelector.Any {
					t.Errorf("ServiceMonitor %s looks in namespaces %+v, want one", sm.Name, sm.Spec.NamespaceSelector)
				}
				service := smService(t, sm)
				for _, ep := range sm.Spec.Endpoints {
					job := smJob(t, sm, ep, service)
					if job == "" {
						t.Errorf("ServiceMonitor %s drops its own Service %s", sm.Name, service)
					}
					if smJob(t, sm, ep, service+"-other") != "" || smJob(t, sm, ep, "x"+service) != "" {
						t.Errorf("ServiceMonitor %s scrapes Services other than %s", sm.Name, service)
					}
					got[job] = true
				}
			}
			for _, o := range ofKind(res, "PodMonitor") {
				pm := typed[monitoringv1.PodMonitor](t, o)
				for _, ep := range pm.Spec.PodMetricsEndpoints {
					for _, rc := range ep.RelabelConfigs {
						if rc.TargetLabel == "job" && rc.Replacement != nil {
							got[*rc.Replacement] = true
						}
					}
				}
			}
			if !maps.Equal(got, mapOf(slices.Collect(maps.Keys(wantJobs)))) {
				t.Errorf("jobs %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(wantJobs)))
			}
			for _, j := range queried {
				if !got[j] {
					t.Errorf("the repo's rules or dashboards query job=%q, which no ServiceMonitor labels", j)
				}
			}
		})
	}
}

func mapOf(keys []string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// smService returns the name of the Service a ServiceMonitor keeps.
func smService(t *testing.T, sm *monitoringv1.ServiceMonitor) string {
	t.Helper()
	for _, rc := range sm.Spec.Endpoints[0].RelabelConfigs {
		if rc.Action == "keep" && slices.Equal(rc.SourceLabels, []monitoringv1.LabelName{"__meta_kubernetes_service_name"}) {
			return regexp.MustCompile(`\\(.)`).ReplaceAllString(rc.Regex, "$1")
		}
	}
	t.Fatalf("ServiceMonitor %s keeps no Service by name", sm.Name)
	return ""
}

// TestServiceMonitorsFindTheirServices: each ServiceMonitor of a component
// selects, by labels, namespace and name, a Service obsctl renders, which
// has the endpoint's port. (The kubelet's, API server's and CoreDNS's
// Services are not obsctl's.)
func TestServiceMonitorsFindTheirServices(t *testing.T) {
	for _, profile := range profiles {
		t.Run(profile, func(t *testing.T) {
			res := render(t, "  profile: "+profile+"\n")
			for _, o := range ofKind(res, "ServiceMonitor") {
				sm := typed[monitoringv1.ServiceMonitor](t, o)
				if sm.Name == "kubelet" || sm.Name == "apiserver" || sm.Name == "coredns" {
					continue
				}
				ns, name := sm.Spec.NamespaceSelector.MatchNames[0], smService(t, sm)
				u := find(res, "Service", ns, name)
				if u == nil {
					t.Errorf("ServiceMonitor %s: no Service %s/%s rendered", sm.Name, ns, name)
					continue
				}
				svc := typed[corev1.Service](t, u)
				sel := sm.Spec.Selector
				if !metav1SelectorMatches(t, &sel, svc.Labels) {
					t.Errorf("ServiceMonitor %s: selector %v does not match Service %s/%s labels %v", sm.Name, sel.MatchLabels, ns, name, svc.Labels)
				}
				for _, ep := range sm.Spec.Endpoints {
					if !hasPort(svc, ep.Port) {
						t.Errorf("ServiceMonitor %s: Service %s/%s has no port %s", sm.Name, ns, name, ep.Port)
					}
				}
			}
		})
	}
}

// TestKubeletAndAPIServerScrapes: the kubelet endpoints tell /metrics and
// cAdvisor apart as the rules do, and both authenticate.
func TestKubeletAndAPIServerScrapes(t *testing.T) {
	res := render(t, "")
	kubelet := typed[monitoringv1.ServiceMonitor](t, mustFind(t, res, "ServiceMonitor", "monitoring", "kubelet"))
	if kubelet.Spec.NamespaceSelector.MatchNames[0] != "kube-system" || smService(t, kubelet) != "obsctl-kubelet" {
		t.Errorf("kubelet ServiceMonitor looks at %v %s", kubelet.Spec.NamespaceSelector, smService(t, kubelet))
	}
	var paths []string
	for _, ep := range kubelet.Spec.Endpoints {
		paths = append(paths, ep.Path)
		if ep.Port != "https-metrics" || ep.BearerTokenFile == "" || ep.TLSConfig == nil || !*ep.TLSConfig.InsecureSkipVerify || !ep.HonorLabels {
			t.Errorf("kubelet endpoint %s: %+v", ep.Path, ep)
		}
		cfgs := []*relabel.Config{}
		for _, rc := range ep.RelabelConfigs {
			cfgs = append(cfgs, relabelOf(t, rc))
		}
		lb := labels.NewBuilder(labels.FromStrings("__meta_kubernetes_service_name", "obsctl-kubelet", "__metrics_path__", ep.Path))
		relabel.ProcessBuilder(lb, cfgs...)
		if lb.Get("metrics_path") != ep.Path || lb.Get("job") != "kubelet" {
			t.Errorf("kubelet endpoint %s labels %v", ep.Path, lb.Labels())
		}
	}
	if !slices.Equal(paths, []string{"/metrics", "/metrics/cadvisor"}) {
		t.Errorf("kubelet paths %v", paths)
	}
	api := typed[monitoringv1.ServiceMonitor](t, mustFind(t, res, "ServiceMonitor", "monitoring", "apiserver"))
	ep := api.Spec.Endpoints[0]
	if api.Spec.NamespaceSelector.MatchNames[0] != "default" || smService(t, api) != "kubernetes" || ep.Port != "https" ||
		ep.TLSConfig == nil || ep.TLSConfig.CAFile == "" || ep.BearerTokenFile == "" {
		t.Errorf("apiserver ServiceMonitor %+v", api.Spec)
	}
}

// TestDisabledComponentRendersNothing: a component turned off leaves no
// object labelled as its own, no ServiceMonitor and no rules behind.
func TestDisabledComponentRendersNothing(t *testing.T) {
	for _, nc := range (&config.Config{}).ComponentsByName() {
		for _, profile := range profiles {
			t.Run(nc.Name+"/"+profile, func(t *testing.T) {
				res, in := renderRepo(t, "  profile: "+profile+"\n  components: {"+nc.Name+": {enabled: false}}\n", nil)
				for _, o := range res.Objects {
					if o.GetLabels()[LabelComponent] == nc.Name {
						t.Errorf("%s is off, yet %s %s/%s is rendered", nc.Name, o.GetKind(), o.GetNamespace(), o.GetName())
					}
				}
				for _, o := range ofKind(res, "ServiceMonitor") {
					sm := typed[monitoringv1.ServiceMonitor](t, o)
					if key := wantJobs[smJob(t, sm, sm.Spec.Endpoints[0], smService(t, sm))]; key == nc.Name {
						t.Errorf("%s is off, yet ServiceMonitor %s scrapes it", nc.Name, sm.Name)
					}
				}
				// Without the operator Prometheus cannot run (and its
				// CRDs are missing): both leave no rule or monitor.
				noPrometheus := nc.Name == "prometheus" || nc.Name == "prometheusOperator"
				rulesRendered := len(ofKind(res, "PrometheusRule"))
				if noPrometheus && rulesRendered > 0 {
					t.Errorf("Prometheus cannot run, yet %d PrometheusRules are rendered", rulesRendered)
				}
				if !noPrometheus && rulesRendered != len(in.PrometheusRules) {
					t.Errorf("%d PrometheusRules rendered, %d compiled", rulesRendered, len(in.PrometheusRules))
				}
				if noPrometheus && len(ofKind(res, "ServiceMonitor")) > 0 {
					t.Error("Prometheus cannot run, yet ServiceMonitors are rendered")
				}
			})
		}
	}
}

// The rules are the input's: rendering does not change them.
func TestRulesNotModified(t *testing.T) {
	_, in := renderRepo(t, "", nil)
	for _, r := range in.PrometheusRules {
		if _, ok := r.Object.GetLabels()["obsctl.dev/stack"]; ok {
			t.Errorf("rendering labelled the input's PrometheusRule %s", r.Object.GetName())
		}
	}
}
