package render

import (
	"maps"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

const allHosts = `    hosts: {grafana: grafana.example.com, kibana: kibana.example.com, jaeger: jaeger.example.com, prometheus: prometheus.example.com, alertmanager: alertmanager.example.com}
`

// ingressesOf returns the rendered Ingresses by name.
func ingressesOf(t *testing.T, res *Result) map[string]*networkingv1.Ingress {
	t.Helper()
	out := map[string]*networkingv1.Ingress{}
	for _, o := range res.Objects {
		if o.GetKind() == "Ingress" {
			out[o.GetName()] = typed[networkingv1.Ingress](t, o)
		}
	}
	return out
}

func TestIngresses(t *testing.T) {
	res := render(t, "  ingress:\n    enabled: true\n    tlsSecret: stack-tls\n"+allHosts)
	ings := ingressesOf(t, res)
	want := map[string]int32{"grafana": 3000, "kibana": 5601, "jaeger": 16686, "prometheus": 9090, "alertmanager": 9093}
	if len(ings) != len(want) {
		t.Errorf("%d Ingresses, want %d", len(ings), len(want))
	}
	for name, port := range want {
		ing := ings[name]
		if ing == nil {
			t.Errorf("no Ingress %s", name)
			continue
		}
		host := name + ".example.com"
		rule := ing.Spec.Rules[0]
		be := rule.HTTP.Paths[0].Backend.Service
		if ing.Namespace != "monitoring" || *ing.Spec.IngressClassName != "nginx" || rule.Host != host ||
			be.Name != name || be.Port.Number != port || *rule.HTTP.Paths[0].PathType != networkingv1.PathTypePrefix {
			t.Errorf("Ingress %s: %+v", name, ing.Spec)
		}
		if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "stack-tls" || ing.Spec.TLS[0].Hosts[0] != host {
			t.Errorf("Ingress %s TLS %+v", name, ing.Spec.TLS)
		}
	}
	g := typed[appsv1.Deployment](t, mustFind(t, res, "Deployment", "monitoring", "grafana"))
	if u := envOf(t, g.Spec.Template.Spec.Containers[0], "GF_SERVER_ROOT_URL").Value; u != "https://grafana.example.com/" {
		t.Errorf("Grafana's root URL %q", u)
	}
}

func TestIngressChoices(t *testing.T) {
	for _, tc := range []struct {
		name, stack string
		want        []string
	}{
		{"disabled", "  ingress:\n" + allHosts, nil},
		{"one host", "  ingress: {enabled: true, hosts: {grafana: g.example.com}}\n", []string{"grafana"}},
		{"disabled components", "  components: {jaeger: {enabled: false}, elasticsearch: {enabled: false}}\n  ingress:\n    enabled: true\n" + allHosts,
			[]string{"alertmanager", "grafana", "prometheus"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ings := ingressesOf(t, render(t, tc.stack))
			if len(ings) != len(tc.want) {
				t.Errorf("Ingresses %v, want %v", ings, tc.want)
			}
			for _, n := range tc.want {
				if ing := ings[n]; ing == nil || len(ing.Spec.TLS) != 0 {
					t.Errorf("Ingress %s: %+v", n, ing)
				}
			}
		})
	}
}

func TestIngressGrafanaStickySessions(t *testing.T) {
	nginx := render(t, "  profile: ha\n  ingress: {enabled: true, hosts: {grafana: g.example.com}}\n")
	if ing := ingressesOf(t, nginx)["grafana"]; ing.Annotations["nginx.ingress.kubernetes.io/affinity"] != "cookie" {
		t.Errorf("nginx annotations %v", ing.Annotations)
	}
	traefik := render(t, "  profile: ha\n  ingress: {enabled: true, className: traefik, hosts: {grafana: g.example.com}}\n")
	if ing := ingressesOf(t, traefik)["grafana"]; *ing.Spec.IngressClassName != "traefik" || len(sticky(ing.Annotations)) != 0 {
		t.Errorf("traefik Ingress %+v", ing)
	}
	svc := typed[corev1.Service](t, mustFind(t, traefik, "Service", "monitoring", "grafana"))
	if svc.Annotations["traefik.ingress.kubernetes.io/service.sticky.cookie"] != "true" {
		t.Errorf("traefik Service annotations %v", svc.Annotations)
	}
	minimal := render(t, "  ingress: {enabled: true, hosts: {grafana: g.example.com}}\n")
	if ing := ingressesOf(t, minimal)["grafana"]; len(sticky(ing.Annotations)) != 0 {
		t.Errorf("one replica, annotations %v", ing.Annotations)
	}
}

// sticky returns the annotations of an Ingress but the source every
// rendered object carries (obsctl.dev/source).
func sticky(a map[string]string) map[string]string {
	out := maps.Clone(a)
	delete(out, "obsctl.dev/source")
	return out
}
