package render

import (
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/obsctl/obsctl/internal/apply"
)

// controlPlaneNamespace holds the control plane's pods on a self-hosted
// cluster (kubeadm's static pods, kube-proxy's DaemonSet, CoreDNS).
const controlPlaneNamespace = "kube-system"

// controlPlanePart is a part of a self-hosted control plane that
// Prometheus scrapes through a headless Service obsctl keeps in
// kube-system, selecting the pods by the labels kubeadm gives them.
type controlPlanePart struct {
	// job is the job label the default rules query
	// (rules/control-plane.yaml).
	job string
	// service names its Service after the stack's name: STACK-service,
	// at most 63 characters for a stack name of 40 (config's limit).
	service string
	// pods are the labels of the part's pods.
	pods map[string]string
	// port is where it serves /metrics; https parts are scraped with
	// Prometheus' token, which their delegated authorization checks
	// against the /metrics permission Prometheus holds.
	port  int32
	https bool
}

// controlPlaneParts are the parts a managed control plane keeps out of
// reach, on the ports kubeadm gives them. kubeadm binds all four to
// localhost (etcd's metrics, kube-proxy's metricsBindAddress, the
// scheduler's and controller manager's --bind-address), where no scrape
// reaches them: docs/runbooks/control-plane.md says how to open them.
var controlPlaneParts = []controlPlanePart{
	{job: "etcd", service: "etcd", pods: map[string]string{"component": "etcd"}, port: 2381},
	{job: "kube-scheduler", service: "scheduler", pods: map[string]string{"component": "kube-scheduler"}, port: 10259, https: true},
	{job: "kube-controller-manager", service: "controller-manager", pods: map[string]string{"component": "kube-controller-manager"}, port: 10257, https: true},
	{job: "kube-proxy", service: "kube-proxy", pods: map[string]string{"k8s-app": "kube-proxy"}, port: 10249},
}

// controlPlaneScrape returns what scrapes the cluster's own parts: CoreDNS
// through the kube-dns Service the cluster has (managed or not: a cluster
// without its metrics port gives no target, and the CoreDNS alerts ask
// for a target that is down, never for one that is absent), and, unless
// stack.controlPlane is managed, the parts of controlPlaneParts through a
// Service of obsctl's in kube-system each.
func (b *builder) controlPlaneScrape(prom *resolved) []*monitoringv1.ServiceMonitor {
	sms := []*monitoringv1.ServiceMonitor{b.monServiceMonitor(prom, "coredns", monScrape{
		job: "coredns", namespace: controlPlaneNamespace, service: "kube-dns",
		// The labels kubeadm, EKS and AKS give CoreDNS's Service; its
		// metrics port is called metrics.
		sel:       map[string]string{"k8s-app": "kube-dns"},
		endpoints: []monitoringv1.Endpoint{{Port: "metrics"}},
	})}
	if b.cfg.ManagedControlPlane() {
		return sms
	}
	for _, p := range controlPlaneParts {
		name := b.stack + "-" + p.service
		// Headless, selecting kubeadm's pods (not obsctl's), on the
		// port number: the static pods name none.
		svc := prom.service(name, controlPlaneNamespace, p.job, corev1.ServicePort{
			Name: "metrics", Port: p.port, TargetPort: intstr.FromInt32(p.port), Protocol: corev1.ProtocolTCP,
		})
		svc.Spec.ClusterIP = corev1.ClusterIPNone
		svc.Spec.Selector = p.pods
		b.add(svc)
		ep := monitoringv1.Endpoint{Port: "metrics"}
		if p.https {
			withTokenOverSelfSigned(&ep)
		}
		sms = append(sms, b.monServiceMonitor(prom, p.job, monScrape{
			job: p.job, namespace: controlPlaneNamespace, service: name,
			sel:       map[string]string{LabelName: p.job, apply.LabelStack: b.stack},
			endpoints: []monitoringv1.Endpoint{ep},
		}))
	}
	return sms
}
