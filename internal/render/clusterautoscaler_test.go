package render

import (
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/compile"
)

// TestClusterAutoscalerScrape: the PodMonitor looks at kube-system only,
// is labelled for the stack's Prometheus to select, and its relabelings
// keep the cluster-autoscaler's pods as the Helm chart and the example
// manifests label them (on 8085, declared or not), with job
// cluster-autoscaler, and drop every other pod and port.
func TestClusterAutoscalerScrape(t *testing.T) {
	b, err := newBuilder(&compile.Compiled{Config: defaultConfig(t, "")}, "")
	if err != nil {
		t.Fatal(err)
	}
	pm := b.clusterAutoscalerScrape(b.resolve("prometheus"))
	if pm.Kind != "PodMonitor" || pm.APIVersion != monAPIVersion || pm.Name != "cluster-autoscaler" || pm.Namespace != b.ns {
		t.Errorf("object %s %s %s/%s", pm.APIVersion, pm.Kind, pm.Namespace, pm.Name)
	}
	if pm.Labels[LabelComponent] != "prometheus" || pm.Labels[LabelName] != "cluster-autoscaler" {
		t.Errorf("labels %v, want Prometheus's component, named cluster-autoscaler", pm.Labels)
	}
	ns := pm.Spec.NamespaceSelector
	if ns.Any || len(ns.MatchNames) != 1 || ns.MatchNames[0] != "kube-system" {
		t.Errorf("namespaces %+v, want kube-system", ns)
	}
	// The pods of Deployments (the chart's and the manifests' alike),
	// not of DaemonSets or static pods.
	podSel, err := metav1.LabelSelectorAsSelector(&pm.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	if !podSel.Matches(k8slabels.Set{"app": "cluster-autoscaler", "pod-template-hash": "5d4f8"}) ||
		podSel.Matches(k8slabels.Set{"app": "cluster-autoscaler"}) || podSel.Matches(k8slabels.Set{"k8s-app": "kube-proxy"}) {
		t.Errorf("selector %+v: want the pods of Deployments", pm.Spec.Selector)
	}
	if pm.Spec.JobLabel != "" {
		t.Errorf("jobLabel %q: the job is set by relabeling", pm.Spec.JobLabel)
	}
	if len(pm.Spec.PodMetricsEndpoints) != 1 {
		t.Fatalf("%d endpoints, want 1", len(pm.Spec.PodMetricsEndpoints))
	}
	ep := pm.Spec.PodMetricsEndpoints[0]
	if ep.Port != nil || ep.PortNumber != nil || ep.TargetPort != nil || ep.Path != "/metrics" {
		t.Errorf("endpoint port %v/%v/%v path %q: want no port (relabelings pick 8085) and /metrics", ep.Port, ep.PortNumber, ep.TargetPort, ep.Path)
	}
	var cfgs []*relabel.Config
	for _, rc := range ep.RelabelConfigs {
		cfgs = append(cfgs, relabelOf(t, rc))
	}

	// A discovered target of the pod role: one per container port, or
	// one per container without ports (the address has no port then).
	type target struct {
		app, name, ip, port, init string
	}
	for _, c := range []struct {
		name    string
		target  target
		address string // "" when dropped
	}{
		{"helm chart, aws", target{name: "aws-cluster-autoscaler", ip: "10.0.1.5", port: "8085"}, "10.0.1.5:8085"},
		{"helm chart, clusterapi", target{name: "clusterapi-cluster-autoscaler", ip: "10.0.1.5", port: "8085"}, "10.0.1.5:8085"},
		{"helm chart, nameOverride cluster-autoscaler", target{name: "cluster-autoscaler", ip: "10.0.1.5", port: "8085"}, "10.0.1.5:8085"},
		{"example manifest, no port declared", target{app: "cluster-autoscaler", ip: "10.0.1.6"}, "10.0.1.6:8085"},
		{"example manifest, IPv6", target{app: "cluster-autoscaler", ip: "fd00::6"}, "[fd00::6]:8085"},
		{"example manifest, port declared", target{app: "cluster-autoscaler", ip: "10.0.1.6", port: "8085"}, "10.0.1.6:8085"},
		{"autoscaler pod, another port", target{app: "cluster-autoscaler", ip: "10.0.1.6", port: "9090"}, ""},
		{"autoscaler pod, init container", target{app: "cluster-autoscaler", ip: "10.0.1.6", init: "true"}, ""},
		{"coredns", target{app: "", name: "coredns", ip: "10.0.1.7", port: "9153"}, ""},
		{"kube-proxy", target{ip: "10.0.1.8"}, ""},
		{"cluster-proportional-autoscaler", target{app: "cluster-proportional-autoscaler", ip: "10.0.1.9"}, ""},
		{"app prefixed", target{app: "my-cluster-autoscaler", ip: "10.0.1.9"}, ""},
		{"name suffixed", target{name: "cluster-autoscaler-operator", ip: "10.0.1.9", port: "8085"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tg := c.target
			addr := tg.ip
			if tg.port != "" {
				addr += ":" + tg.port
			}
			if tg.init == "" {
				tg.init = "false"
			}
			lb := labels.NewBuilder(labels.FromStrings(
				"__address__", addr, "__metrics_path__", "/metrics", "job", "kube-system/cluster-autoscaler",
				"__meta_kubernetes_pod_ip", tg.ip,
				"__meta_kubernetes_pod_container_init", tg.init,
				"__meta_kubernetes_pod_container_port_number", tg.port,
				"__meta_kubernetes_pod_label_app", tg.app,
				"__meta_kubernetes_pod_label_app_kubernetes_io_name", tg.name,
			))
			kept := relabel.ProcessBuilder(lb, cfgs...)
			switch {
			case c.address == "" && kept:
				t.Errorf("kept, as %s", lb.Get("__address__"))
			case c.address != "" && !kept:
				t.Error("dropped")
			case kept && (lb.Get("__address__") != c.address || lb.Get("job") != "cluster-autoscaler"):
				t.Errorf("address %s job %s, want %s cluster-autoscaler", lb.Get("__address__"), lb.Get("job"), c.address)
			}
		})
	}

	// Added as scrapeTargets adds the others: the selector (which the
	// CRD requires) stays, and the object has the stack's label, which
	// the Prometheus's podMonitorSelector asks for.
	if err := b.monAdd(pm); err != nil {
		t.Fatal(err)
	}
	objs, err := b.objects()
	if err != nil {
		t.Fatal(err)
	}
	u := objs[len(objs)-1]
	if sel, ok := u.Object["spec"].(map[string]any)["selector"].(map[string]any); !ok || len(sel) == 0 {
		t.Errorf("spec.selector dropped: %v", u.Object["spec"])
	}
	stackSel, err := metav1.LabelSelectorAsSelector(b.monStackSelector())
	if err != nil {
		t.Fatal(err)
	}
	if u.GetKind() != "PodMonitor" || !stackSel.Matches(k8slabels.Set(u.GetLabels())) || u.GetLabels()[apply.LabelStack] != b.stack {
		t.Errorf("%s labels %v: not selected by the stack's Prometheus", u.GetKind(), u.GetLabels())
	}
}
