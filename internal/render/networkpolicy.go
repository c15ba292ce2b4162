package render

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// netPeer is where a NetworkPolicy rule lets traffic come from.
type netPeer int

const (
	// netFromStack is any pod of the stack's namespace: Prometheus
	// scraping, Grafana reading its datasources, Kibana, Jaeger and the
	// curator reading Elasticsearch.
	netFromStack netPeer = iota
	// netFromAgents is any pod of the agent namespace: Fluentd writing to
	// Elasticsearch.
	netFromAgents
	// netFromSelf is the component's own pods: cluster peers.
	netFromSelf
	// netFromAnywhere is any source, inside the cluster or not.
	netFromAnywhere
)

// netRule lets traffic from peers reach ports of a component's pods.
type netRule struct {
	ports []int32
	// udp adds each port over UDP too.
	udp  bool
	from []netPeer
}

// netComponent is the ingress a component's pods accept.
type netComponent struct {
	key, name string
	rules     []netRule
}

// netComponents lists the ingress each enabled component of the stack's
// namespace accepts, by the container ports its pods listen on (a
// NetworkPolicy sees the pod's port, not the Service's). The node agents
// (node-exporter, Fluentd) are outside: the agent namespace has no
// policies.
func netComponents(b *builder) []netComponent {
	// ui is who reaches a user interface: the stack's namespace, and any
	// source when an Ingress exposes it. The ingress controller's
	// namespace is not known (and a controller on the host network has
	// none), so any source it is; the Service is not exposed otherwise.
	ui := func(key string) []netPeer {
		if _, ok := b.ingressHost(key); ok {
			return []netPeer{netFromAnywhere}
		}
		return []netPeer{netFromStack}
	}
	stack := []netPeer{netFromStack}
	all := []netComponent{
		// The operator's metrics; it runs no admission webhook.
		{"prometheusOperator", "prometheus-operator", []netRule{{ports: []int32{8080}, from: stack}}},
		// Prometheus's API and UI, and its config reloader's metrics.
		{"prometheus", "prometheus", []netRule{
			{ports: []int32{9090}, from: ui("prometheus")},
			{ports: []int32{8080}, from: stack},
		}},
		// Alertmanager's API and UI, the cluster's gossip between
		// replicas, and the config reloader's metrics.
		{"alertmanager", "alertmanager", []netRule{
			{ports: []int32{9093}, from: ui("alertmanager")},
			{ports: []int32{9094}, udp: true, from: []netPeer{netFromSelf}},
			{ports: []int32{8080}, from: stack},
		}},
		{"kubeStateMetrics", "kube-state-metrics", []netRule{{ports: []int32{8080, 8081}, from: stack}}},
		{"grafana", "grafana", []netRule{{ports: []int32{grafanaPort}, from: ui("grafana")}}},
		{"kibana", "kibana", []netRule{{ports: []int32{kibanaPort}, from: ui("kibana")}}},
		{"jaeger", "jaeger", []netRule{
			// Applications send traces from any namespace, or from
			// outside the cluster through a Service of their own.
			{ports: []int32{jaegerOTLPGRPCPort, jaegerOTLPHTTPPort}, from: []netPeer{netFromAnywhere}},
			{ports: []int32{jaegerQueryPort}, from: ui("jaeger")},
			{ports: []int32{jaegerMetricsPort, jaegerHealthPort}, from: stack},
		}},
	}
	if b.enabled("elasticsearch") {
		clients := []netPeer{netFromStack}
		if b.enabled("fluentd") {
			clients = append(clients, netFromAgents)
		}
		all = append(all, netComponent{"elasticsearch", esApp, []netRule{
			{ports: []int32{esHTTPPort}, from: clients},
			{ports: []int32{esTransportPort}, from: []netPeer{netFromSelf}},
			{ports: []int32{esExporterPort}, from: stack},
		}})
	}
	var out []netComponent
	for _, c := range all {
		if c.key == "kibana" && !b.enabled("elasticsearch") {
			continue // kibana renders nothing then
		}
		if b.enabled(c.key) {
			out = append(out, c)
		}
	}
	return out
}

// networkPolicies adds, when stack.networkPolicies is on (the default), a
// NetworkPolicy per enabled component of the stack's namespace that lets
// in only what netComponents lists, and one that denies the rest of the
// ingress to every pod of the stack (a pod of a component added later
// without a policy of its own, the curator's jobs). Egress is not
// restricted.
//
// The deny-all selects the stack's pods, not the whole namespace: the
// namespace may hold the user's own workloads (the default one is the
// rules' namespace), which obsctl does not own and must not cut off.
//
// The kubelet's probes come from the node, which the usual network
// plugins let through whatever the policies say.
func networkPolicies(b *builder) {
	if !b.cfg.NetworkPoliciesOn() {
		return
	}
	nsPeer := func(ns string) networkingv1.NetworkPolicyPeer {
		return networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{corev1.LabelMetadataName: ns},
		}}
	}
	for _, c := range netComponents(b) {
		r := b.resolve(c.key)
		pods := map[string]string{LabelComponent: c.key, LabelPartOf: partOf}
		np := netPolicy(r.meta(c.name, b.ns, c.name), pods)
		for _, rule := range c.rules {
			var ir networkingv1.NetworkPolicyIngressRule
			for _, p := range rule.ports {
				ir.Ports = append(ir.Ports, netPort(corev1.ProtocolTCP, p))
				if rule.udp {
					ir.Ports = append(ir.Ports, netPort(corev1.ProtocolUDP, p))
				}
			}
			anywhere := false
			for _, f := range rule.from {
				switch f {
				case netFromStack:
					ir.From = append(ir.From, nsPeer(b.ns))
				case netFromAgents:
					ir.From = append(ir.From, nsPeer(b.agentNS))
				case netFromSelf:
					ir.From = append(ir.From, networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: pods}})
				case netFromAnywhere:
					anywhere = true
				}
			}
			if anywhere {
				ir.From = nil // a rule without peers admits every source
			}
			np.Spec.Ingress = append(np.Spec.Ingress, ir)
		}
		b.add(np)
	}
	b.add(netPolicy(metav1.ObjectMeta{Name: "default-deny-ingress", Namespace: b.ns, Labels: map[string]string{
		LabelName: "default-deny-ingress", LabelComponent: "networkPolicies",
	}}, map[string]string{LabelPartOf: partOf}))
}

// netPolicy is a NetworkPolicy restricting the ingress of the pods sel
// selects; it admits nothing until rules are added.
func netPolicy(meta metav1.ObjectMeta, sel map[string]string) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: meta,
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: sel},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		},
	}
}

// netPort is a port of a NetworkPolicy rule.
func netPort(proto corev1.Protocol, n int32) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Protocol: ptr.To(proto), Port: ptr.To(intstr.FromInt32(n))}
}
