package render

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// policiesOf returns the rendered NetworkPolicies by name.
func policiesOf(t *testing.T, res *Result) map[string]*networkingv1.NetworkPolicy {
	t.Helper()
	out := map[string]*networkingv1.NetworkPolicy{}
	for _, o := range res.Objects {
		if o.GetKind() == "NetworkPolicy" {
			if o.GetNamespace() != "monitoring" {
				t.Errorf("NetworkPolicy %s in %s", o.GetName(), o.GetNamespace())
			}
			out[o.GetName()] = typed[networkingv1.NetworkPolicy](t, o)
		}
	}
	return out
}

// ruleFor returns the policy's rule admitting TCP port n.
func ruleFor(t *testing.T, np *networkingv1.NetworkPolicy, n int32) networkingv1.NetworkPolicyIngressRule {
	t.Helper()
	for _, r := range np.Spec.Ingress {
		if slices.ContainsFunc(r.Ports, func(p networkingv1.NetworkPolicyPort) bool {
			return *p.Protocol == corev1.ProtocolTCP && *p.Port == intstr.FromInt32(n)
		}) {
			return r
		}
	}
	t.Fatalf("%s admits nothing on port %d", np.Name, n)
	return networkingv1.NetworkPolicyIngressRule{}
}

// fromNamespaces returns the namespaces a rule admits, "*" for any source.
func fromNamespaces(r networkingv1.NetworkPolicyIngressRule) []string {
	if len(r.From) == 0 {
		return []string{"*"}
	}
	var out []string
	for _, p := range r.From {
		switch {
		case p.NamespaceSelector != nil:
			out = append(out, p.NamespaceSelector.MatchLabels[corev1.LabelMetadataName])
		case p.PodSelector != nil:
			out = append(out, "self:"+p.PodSelector.MatchLabels[LabelComponent])
		}
	}
	return out
}

func TestNetworkPolicies(t *testing.T) {
	res := render(t, "  profile: ha\n")
	nps := policiesOf(t, res)
	var names []string
	for n := range nps {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"alertmanager", "default-deny-ingress", "elasticsearch", "grafana", "jaeger", "kibana", "kube-state-metrics", "prometheus", "prometheus-operator"}
	if !slices.Equal(names, want) {
		t.Fatalf("NetworkPolicies %v, want %v", names, want)
	}
	deny := nps["default-deny-ingress"]
	if len(deny.Spec.Ingress) != 0 || deny.Spec.PodSelector.MatchLabels[LabelPartOf] != partOf ||
		!slices.Equal(deny.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
		t.Errorf("default deny %+v", deny.Spec)
	}
	for _, tc := range []struct {
		policy string
		port   int32
		from   []string
	}{
		{"elasticsearch", 9200, []string{"monitoring", "monitoring-agents"}},
		{"elasticsearch", 9300, []string{"self:elasticsearch"}},
		{"elasticsearch", 9114, []string{"monitoring"}},
		{"jaeger", 4317, []string{"*"}},
		{"jaeger", 4318, []string{"*"}},
		{"jaeger", 16686, []string{"monitoring"}},
		{"grafana", 3000, []string{"monitoring"}},
		{"kibana", 5601, []string{"monitoring"}},
		{"alertmanager", 9094, []string{"self:alertmanager"}},
	} {
		if got := fromNamespaces(ruleFor(t, nps[tc.policy], tc.port)); !slices.Equal(got, tc.from) {
			t.Errorf("%s port %d from %v, want %v", tc.policy, tc.port, got, tc.from)
		}
	}
	for name, np := range nps {
		if name == "default-deny-ingress" {
			continue
		}
		if sel := np.Spec.PodSelector.MatchLabels; sel[LabelPartOf] != partOf || sel[LabelComponent] == "" || len(np.Spec.PolicyTypes) != 1 {
			t.Errorf("%s selects %v, types %v", name, sel, np.Spec.PolicyTypes)
		}
	}
}

func TestNetworkPoliciesAdmitServicePorts(t *testing.T) {
	// Every Service of the stack's namespace reaches its pods: the pods'
	// policy admits each port the Service forwards to (a number, or a
	// name whose container port the Service's own port repeats).
	res := render(t, "  profile: ha\n")
	byComponent := map[string]*networkingv1.NetworkPolicy{}
	for _, np := range policiesOf(t, res) {
		if c := np.Spec.PodSelector.MatchLabels[LabelComponent]; c != "" {
			byComponent[c] = np
		}
	}
	for _, o := range res.Objects {
		if o.GetKind() != "Service" || o.GetNamespace() != "monitoring" {
			continue
		}
		svc := typed[corev1.Service](t, o)
		np := byComponent[svc.Labels[LabelComponent]]
		if np == nil {
			t.Errorf("no NetworkPolicy admits Service %s", svc.Name)
			continue
		}
		for _, p := range svc.Spec.Ports {
			n := p.Port
			if p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal != 0 {
				n = p.TargetPort.IntVal
			}
			ruleFor(t, np, n)
		}
	}
}

func TestNetworkPolicyChoices(t *testing.T) {
	off := render(t, "  networkPolicies: false\n")
	if nps := policiesOf(t, off); len(nps) != 0 {
		t.Errorf("NetworkPolicies when off: %v", nps)
	}

	noFluentd := policiesOf(t, render(t, "  components: {fluentd: {enabled: false}, kibana: {enabled: false}}\n"))
	if got := fromNamespaces(ruleFor(t, noFluentd["elasticsearch"], 9200)); !slices.Equal(got, []string{"monitoring"}) {
		t.Errorf("without Fluentd, Elasticsearch admits %v", got)
	}
	if noFluentd["kibana"] != nil {
		t.Error("a policy for disabled Kibana")
	}

	exposed := policiesOf(t, render(t, "  ingress: {enabled: true, hosts: {grafana: g.example.com, jaeger: j.example.com}}\n"))
	for _, tc := range []struct {
		policy string
		port   int32
		from   []string
	}{
		{"grafana", 3000, []string{"*"}},
		{"jaeger", 16686, []string{"*"}},
		{"jaeger", 8888, []string{"monitoring"}},
		{"kibana", 5601, []string{"monitoring"}},
	} {
		if got := fromNamespaces(ruleFor(t, exposed[tc.policy], tc.port)); !slices.Equal(got, tc.from) {
			t.Errorf("with ingress, %s port %d from %v, want %v", tc.policy, tc.port, got, tc.from)
		}
	}
}
