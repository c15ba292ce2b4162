package render

import (
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
)

// TestControlPlaneScrape: on a self-hosted control plane (the default)
// Prometheus scrapes etcd, the scheduler, the controller manager and
// kube-proxy through a headless Service of the stack's in kube-system
// each, selecting the pods kubeadm labels, on the port each serves its
// metrics (https with the token where it authorizes); CoreDNS through the
// cluster's own kube-dns Service. stack.controlPlane: managed keeps
// CoreDNS and drops the rest, Services included.
func TestControlPlaneScrape(t *testing.T) {
	want := map[string]struct {
		service string
		pod     [2]string
		port    int32
		scheme  string
	}{
		"etcd":                    {"obsctl-etcd", [2]string{"component", "etcd"}, 2381, ""},
		"kube-scheduler":          {"obsctl-scheduler", [2]string{"component", "kube-scheduler"}, 10259, "https"},
		"kube-controller-manager": {"obsctl-controller-manager", [2]string{"component", "kube-controller-manager"}, 10257, "https"},
		"kube-proxy":              {"obsctl-kube-proxy", [2]string{"k8s-app", "kube-proxy"}, 10249, ""},
	}
	res := render(t, "")
	for job, w := range want {
		svc := typed[corev1.Service](t, mustFind(t, res, "Service", "kube-system", w.service))
		if svc.Spec.ClusterIP != corev1.ClusterIPNone || svc.Spec.Selector[w.pod[0]] != w.pod[1] || len(svc.Spec.Selector) != 1 {
			t.Errorf("Service for %s: clusterIP %q, selector %v; want headless, selecting %s=%s", job, svc.Spec.ClusterIP, svc.Spec.Selector, w.pod[0], w.pod[1])
		}
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != w.port || svc.Spec.Ports[0].TargetPort.IntVal != w.port {
			t.Errorf("Service for %s: ports %+v, want %d", job, svc.Spec.Ports, w.port)
		}
		sm := typed[monitoringv1.ServiceMonitor](t, mustFind(t, res, "ServiceMonitor", "monitoring", job))
		ep := sm.Spec.Endpoints[0]
		scheme := ""
		if ep.Scheme != nil {
			scheme = ep.Scheme.String()
		}
		if scheme != w.scheme || (w.scheme == "https") != (ep.BearerTokenFile != "") {
			t.Errorf("ServiceMonitor %s: scheme %q, token file %q; want scheme %q with a token for https", job, scheme, ep.BearerTokenFile, w.scheme)
		}
	}
	dns := typed[monitoringv1.ServiceMonitor](t, mustFind(t, res, "ServiceMonitor", "monitoring", "coredns"))
	if smService(t, dns) != "kube-dns" || dns.Spec.Selector.MatchLabels["k8s-app"] != "kube-dns" || dns.Spec.Endpoints[0].Port != "metrics" {
		t.Errorf("ServiceMonitor coredns: %+v", dns.Spec)
	}

	managed := render(t, "  controlPlane: managed\n")
	for job, w := range want {
		if o := find(managed, "Service", "kube-system", w.service); o != nil {
			t.Errorf("managed: Service %s rendered", o.GetName())
		}
		if o := find(managed, "ServiceMonitor", "monitoring", job); o != nil {
			t.Errorf("managed: ServiceMonitor %s rendered", o.GetName())
		}
	}
	if find(managed, "ServiceMonitor", "monitoring", "coredns") == nil {
		t.Error("managed: no ServiceMonitor for CoreDNS")
	}
	var services []string
	for _, o := range managed.Objects {
		if o.GetNamespace() == "kube-system" && o.GetKind() == "Service" {
			services = append(services, o.GetName())
		}
	}
	if len(services) > 0 {
		t.Errorf("managed: Services in kube-system %v, want none", services)
	}
}
