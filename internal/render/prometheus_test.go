package render

import (
	"maps"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/config"
)

// selects reports whether the Prometheus selects o, given its label
// selector and namespace selector for o's kind: a nil namespace
// selector means the Prometheus's own namespace; namespaces carry
// kubernetes.io/metadata.name and, when rendered, their labels.
func selects(t *testing.T, res *Result, prom *monitoringv1.Prometheus, sel, nsSel *metav1.LabelSelector, o *unstructured.Unstructured) bool {
	t.Helper()
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Matches(k8slabels.Set(o.GetLabels())) {
		return false
	}
	if nsSel == nil {
		return o.GetNamespace() == prom.Namespace
	}
	nss, err := metav1.LabelSelectorAsSelector(nsSel)
	if err != nil {
		t.Fatal(err)
	}
	nsLabels := k8slabels.Set{"kubernetes.io/metadata.name": o.GetNamespace()}
	if ns := find(res, "Namespace", "", o.GetNamespace()); ns != nil {
		maps.Copy(nsLabels, ns.GetLabels())
	}
	return nss.Matches(nsLabels)
}

// promSelectors returns the Prometheus's selector and namespace selector
// of each kind it selects.
func promSelectors(p *monitoringv1.Prometheus) map[string][2]*metav1.LabelSelector {
	s := p.Spec
	return map[string][2]*metav1.LabelSelector{
		"PrometheusRule": {s.RuleSelector, s.RuleNamespaceSelector},
		"ServiceMonitor": {s.ServiceMonitorSelector, s.ServiceMonitorNamespaceSelector},
		"PodMonitor":     {s.PodMonitorSelector, s.PodMonitorNamespaceSelector},
		"Probe":          {s.ProbeSelector, s.ProbeNamespaceSelector},
		"ScrapeConfig":   {s.ScrapeConfigSelector, s.ScrapeConfigNamespaceSelector},
	}
}

// TestPrometheusSelectsWhatObsctlRenders: every PrometheusRule,
// ServiceMonitor, PodMonitor, Probe and ScrapeConfig rendered is selected
// (the rules compiled from the repo, in their own namespace too), and the
// same objects of another stack, or without the stack label, are not.
func TestPrometheusSelectsWhatObsctlRenders(t *testing.T) {
	for _, profile := range profiles {
		t.Run(profile, func(t *testing.T) {
			res, in := renderRepo(t, "  profile: "+profile+"\n  namespace: monitoring\n", func(c *config.Config) {
				c.Rules.Namespace = "team-rules" // the rules outside the stack's namespace
			})
			if len(in.PrometheusRules) == 0 {
				t.Fatal("the default repo compiled no rules")
			}
			prom := typed[monitoringv1.Prometheus](t, mustFind(t, res, "Prometheus", "monitoring", "k8s"))
			sels := promSelectors(prom)
			counts := map[string]int{}
			for _, o := range res.Objects {
				sel, ok := sels[o.GetKind()]
				if !ok || o.GroupVersionKind().Group != "monitoring.coreos.com" {
					continue
				}
				counts[o.GetKind()]++
				if !selects(t, res, prom, sel[0], sel[1], o) {
					t.Errorf("the Prometheus does not select %s %s/%s (labels %v)", o.GetKind(), o.GetNamespace(), o.GetName(), o.GetLabels())
				}
				other := o.DeepCopy()
				other.SetLabels(map[string]string{LabelPartOf: partOf, apply.LabelStack: "another-stack"})
				if selects(t, res, prom, sel[0], sel[1], other) {
					t.Errorf("the Prometheus selects %s %s/%s of another stack", o.GetKind(), o.GetNamespace(), o.GetName())
				}
				unlabelled := o.DeepCopy()
				unlabelled.SetLabels(in.Config.Rules.Labels)
				if selects(t, res, prom, sel[0], sel[1], unlabelled) {
					t.Errorf("the Prometheus selects %s %s/%s without the stack label", o.GetKind(), o.GetNamespace(), o.GetName())
				}
			}
			if counts["PrometheusRule"] != len(in.PrometheusRules) {
				t.Errorf("%d PrometheusRules rendered, %d compiled", counts["PrometheusRule"], len(in.PrometheusRules))
			}
			if counts["ServiceMonitor"] == 0 {
				t.Error("no ServiceMonitor rendered")
			}
			if find(res, "PrometheusRule", "team-rules", in.PrometheusRules[0].Object.GetName()) == nil {
				t.Errorf("rules not rendered in rules.namespace")
			}
		})
	}
}

func TestPrometheusSpec(t *testing.T) {
	for _, tc := range []struct {
		profile     string
		replicas    int32
		storage     string // "" for emptyDir
		pdb, spread bool
	}{
		{config.ProfileMinimal, 1, "", false, false},
		{config.ProfileHA, 2, "50Gi", true, true},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			res, _ := renderRepo(t, "  profile: "+tc.profile+"\n", func(c *config.Config) {
				c.Prometheus.ExternalLabels = map[string]string{"cluster": "prod-eu"}
				c.Prometheus.ScrapeInterval = config.Duration{D: 15 * time.Second, Set: true}
				c.Prometheus.EvaluationInterval = config.Duration{D: time.Minute, Set: true}
			})
			p := typed[monitoringv1.Prometheus](t, mustFind(t, res, "Prometheus", "monitoring", "k8s"))
			if p.APIVersion != "monitoring.coreos.com/v1" || p.Kind != "Prometheus" {
				t.Errorf("TypeMeta %v", p.TypeMeta)
			}
			s := p.Spec
			if *s.Replicas != tc.replicas {
				t.Errorf("replicas %d, want %d", *s.Replicas, tc.replicas)
			}
			if s.Version != "v3.13.5" || *s.Image != "quay.io/prometheus/prometheus:v3.13.5" {
				t.Errorf("version %s image %s", s.Version, *s.Image)
			}
			if s.Retention != "15d" {
				t.Errorf("retention %q", s.Retention)
			}
			if s.ScrapeInterval != "15s" || s.EvaluationInterval != "1m" {
				t.Errorf("intervals %q %q", s.ScrapeInterval, s.EvaluationInterval)
			}
			if s.ExternalLabels["cluster"] != "prod-eu" {
				t.Errorf("external labels %v", s.ExternalLabels)
			}
			if _, ok := s.Resources.Requests[corev1.ResourceMemory]; !ok {
				t.Errorf("resources %v", s.Resources)
			}
			switch {
			case tc.storage == "" && (s.Storage == nil || s.Storage.EmptyDir == nil):
				t.Errorf("storage %+v, want emptyDir", s.Storage)
			case tc.storage != "":
				got := s.Storage.VolumeClaimTemplate.Spec.Resources.Requests[corev1.ResourceStorage]
				if got.String() != tc.storage {
					t.Errorf("claim %v, want %s", got.String(), tc.storage)
				}
			}
			sc := s.SecurityContext
			if sc == nil || !*sc.RunAsNonRoot || *sc.RunAsUser != 1000 || *sc.FSGroup != 2000 || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("security context %+v", sc)
			}
			if s.ServiceAccountName != "prometheus" || !*s.AutomountServiceAccountToken {
				t.Errorf("service account %q %v", s.ServiceAccountName, s.AutomountServiceAccountToken)
			}
			mustFind(t, res, "ServiceAccount", "monitoring", "prometheus")
			if s.AdditionalScrapeConfigs == nil {
				t.Fatal("no additional scrape configs")
			}
			sec := typed[corev1.Secret](t, mustFind(t, res, "Secret", "monitoring", s.AdditionalScrapeConfigs.Name))
			if string(sec.Data[s.AdditionalScrapeConfigs.Key]) != annotationScrapeConfigs {
				t.Errorf("the additional scrape configs Secret holds %q", sec.Data)
			}
			if s.Alerting == nil || len(s.Alerting.Alertmanagers) != 1 || s.Alerting.Alertmanagers[0].Name != "alertmanager" ||
				*s.Alerting.Alertmanagers[0].Namespace != "monitoring" || s.Alerting.Alertmanagers[0].Port.String() != "web" {
				t.Errorf("alerting %+v", s.Alerting)
			}
			am := typed[corev1.Service](t, mustFind(t, res, "Service", "monitoring", "alertmanager"))
			if !hasPort(am, "web") {
				t.Errorf("the alerting port web is not on Service alertmanager: %+v", am.Spec.Ports)
			}

			// The pods the operator makes carry these labels; the Service,
			// the spread and the budget select them.
			pods := map[string]string{"app.kubernetes.io/name": "prometheus", "prometheus": "k8s"}
			maps.Copy(pods, s.PodMetadata.Labels)
			svc := typed[corev1.Service](t, mustFind(t, res, "Service", "monitoring", "prometheus"))
			if !k8slabels.SelectorFromSet(svc.Spec.Selector).Matches(k8slabels.Set(pods)) || !hasPort(svc, "web") || svc.Spec.Ports[0].Port != 9090 {
				t.Errorf("Service prometheus %+v", svc.Spec)
			}
			if !k8slabels.SelectorFromSet(selector("prometheus")).Matches(k8slabels.Set(pods)) {
				t.Errorf("selector(prometheus) does not match the pods' labels %v", pods)
			}
			if got := len(s.TopologySpreadConstraints) == 2; got != tc.spread {
				t.Errorf("spread %v, want %v", s.TopologySpreadConstraints, tc.spread)
			}
			for _, c := range s.TopologySpreadConstraints {
				if !metav1SelectorMatches(t, c.LabelSelector, pods) {
					t.Errorf("spread %v does not select the pods", c)
				}
			}
			pdb := find(res, "PodDisruptionBudget", "monitoring", "prometheus")
			if (pdb != nil) != tc.pdb {
				t.Fatalf("PodDisruptionBudget rendered %v, want %v", pdb != nil, tc.pdb)
			}
			if pdb != nil && !metav1SelectorMatches(t, typed[policyv1.PodDisruptionBudget](t, pdb).Spec.Selector, pods) {
				t.Error("the PodDisruptionBudget does not select the Prometheus pods")
			}
		})
	}
}

func TestPrometheusWithoutAlertmanager(t *testing.T) {
	res := render(t, "  components: {alertmanager: {enabled: false}}\n")
	p := typed[monitoringv1.Prometheus](t, mustFind(t, res, "Prometheus", "monitoring", "k8s"))
	if p.Spec.Alerting != nil {
		t.Errorf("alerting to a disabled Alertmanager: %+v", p.Spec.Alerting)
	}
}

func hasPort(svc *corev1.Service, name string) bool {
	for _, p := range svc.Spec.Ports {
		if p.Name == name {
			return true
		}
	}
	return false
}

func metav1SelectorMatches(t *testing.T, sel *metav1.LabelSelector, l map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	return !s.Empty() && s.Matches(k8slabels.Set(l))
}

// scrapeJobs parses the annotation-based scrape configurations.
func scrapeJobs(t *testing.T) map[string][]*relabel.Config {
	t.Helper()
	var jobs []struct {
		Name string `yaml:"job_name"`
		SD   []struct {
			Role string `yaml:"role"`
		} `yaml:"kubernetes_sd_configs"`
		Relabel []*relabel.Config `yaml:"relabel_configs"`
	}
	if err := yaml.UnmarshalStrict([]byte(annotationScrapeConfigs), &jobs); err != nil {
		t.Fatal(err)
	}
	out := map[string][]*relabel.Config{}
	for _, j := range jobs {
		if len(j.SD) != 1 {
			t.Errorf("job %s: %d service discoveries", j.Name, len(j.SD))
		}
		for _, c := range j.Relabel {
			if err := c.Validate(model.LegacyValidation); err != nil {
				t.Errorf("job %s: %v", j.Name, err)
			}
		}
		out[j.Name] = j.Relabel
	}
	return out
}

// TestAnnotationScrapeConfigs runs the relabelings on the targets
// Kubernetes service discovery gives.
func TestAnnotationScrapeConfigs(t *testing.T) {
	jobs := scrapeJobs(t)
	pod := func(kv ...string) labels.Labels {
		base := []string{
			"__address__", "10.1.2.3:8080", "__scheme__", "http", "__metrics_path__", "/metrics",
			"__meta_kubernetes_namespace", "shop", "__meta_kubernetes_pod_name", "cart-0",
			"__meta_kubernetes_pod_node_name", "node-1", "__meta_kubernetes_pod_phase", "Running",
			"__meta_kubernetes_pod_ip", "10.1.2.3",
		}
		return labels.FromStrings(append(base, kv...)...)
	}
	endpoint := func(kv ...string) labels.Labels {
		base := []string{
			"__address__", "10.1.2.3:8080", "__scheme__", "http", "__metrics_path__", "/metrics",
			"__meta_kubernetes_namespace", "shop", "__meta_kubernetes_service_name", "cart",
			"__meta_kubernetes_pod_name", "cart-0", "__meta_kubernetes_pod_node_name", "node-1",
		}
		return labels.FromStrings(append(base, kv...)...)
	}
	const scrape, port, path, scheme = "_annotation_prometheus_io_scrape", "_annotation_prometheus_io_port", "_annotation_prometheus_io_path", "_annotation_prometheus_io_scheme"
	for _, tc := range []struct {
		name, job string
		in        labels.Labels
		keep      bool
		address   string
		path      string
		scheme    string
	}{
		{"pod without annotation", "kubernetes-pods", pod(), false, "", "", ""},
		{"pod scrape=false", "kubernetes-pods", pod("__meta_kubernetes_pod"+scrape, "false"), false, "", "", ""},
		{"pod annotated", "kubernetes-pods", pod("__meta_kubernetes_pod"+scrape, "true"), true, "10.1.2.3:8080", "/metrics", "http"},
		{"pod with port, path, scheme", "kubernetes-pods", pod("__meta_kubernetes_pod"+scrape, "true", "__meta_kubernetes_pod"+port, "9102",
			"__meta_kubernetes_pod"+path, "/stats/prometheus", "__meta_kubernetes_pod"+scheme, "https"), true, "10.1.2.3:9102", "/stats/prometheus", "https"},
		{"pod with a bad scheme", "kubernetes-pods", pod("__meta_kubernetes_pod"+scrape, "true", "__meta_kubernetes_pod"+scheme, "ftp"), true, "10.1.2.3:8080", "/metrics", "http"},
		{"IPv6 pod with port", "kubernetes-pods", labels.NewBuilder(pod("__meta_kubernetes_pod"+scrape, "true", "__meta_kubernetes_pod"+port, "9102")).
			Set("__meta_kubernetes_pod_ip", "fd00:10::5").Set("__address__", "[fd00:10::5]:8080").Labels(), true, "[fd00:10::5]:9102", "/metrics", "http"},
		{"completed pod", "kubernetes-pods", labels.NewBuilder(pod("__meta_kubernetes_pod"+scrape, "true")).Set("__meta_kubernetes_pod_phase", "Succeeded").Labels(), false, "", "", ""},
		{"service without annotation", "kubernetes-service-endpoints", endpoint(), false, "", "", ""},
		{"service annotated", "kubernetes-service-endpoints", endpoint("__meta_kubernetes_service"+scrape, "true"), true, "10.1.2.3:8080", "/metrics", "http"},
		{"service with port and path", "kubernetes-service-endpoints", endpoint("__meta_kubernetes_service"+scrape, "true", "__meta_kubernetes_service"+port, "9113",
			"__meta_kubernetes_service"+path, "/m"), true, "10.1.2.3:9113", "/m", "http"},
		{"IPv6 endpoint with port", "kubernetes-service-endpoints", labels.NewBuilder(endpoint("__meta_kubernetes_service"+scrape, "true", "__meta_kubernetes_service"+port, "9113")).
			Set("__address__", "[fd00:10::5]:8080").Labels(), true, "[fd00:10::5]:9113", "/metrics", "http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgs, ok := jobs[tc.job]
			if !ok {
				t.Fatalf("no job %s", tc.job)
			}
			lb := labels.NewBuilder(tc.in)
			keep := relabel.ProcessBuilder(lb, cfgs...)
			out := lb.Labels()
			if keep != tc.keep {
				t.Fatalf("kept %v, want %v: %v", keep, tc.keep, out)
			}
			if !keep {
				return
			}
			if out.Get("__address__") != tc.address || out.Get("__metrics_path__") != tc.path || out.Get("__scheme__") != tc.scheme {
				t.Errorf("target %s://%s%s, want %s://%s%s", out.Get("__scheme__"), out.Get("__address__"), out.Get("__metrics_path__"), tc.scheme, tc.address, tc.path)
			}
			if out.Get("namespace") != "shop" || out.Get("pod") != "cart-0" || out.Get("node") != "node-1" {
				t.Errorf("target labels %v", out)
			}
		})
	}
}
