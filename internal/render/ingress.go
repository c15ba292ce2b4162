package render

import (
	"cmp"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// uiRoute is a user interface that stack.ingress can expose: the
// component, the Service and port it is served on.
type uiRoute struct {
	key, service string
	port         int32
}

// uiRoutes are the user interfaces, in the order of stack.ingress.hosts.
var uiRoutes = []uiRoute{
	{"grafana", "grafana", grafanaPort},
	{"kibana", "kibana", kibanaPort},
	{"jaeger", "jaeger", jaegerQueryPort},
	{"prometheus", "prometheus", 9090},
	{"alertmanager", "alertmanager", 9093},
}

// ingressHost returns the host stack.ingress gives the component with
// key, when ingress is enabled, the host set and the component rendered.
func (b *builder) ingressHost(key string) (string, bool) {
	in := &b.cfg.Stack.Ingress
	if !in.Enabled || !b.enabled(key) || (key == "kibana" && !b.enabled("elasticsearch")) {
		return "", false
	}
	h := map[string]string{
		"grafana": in.Hosts.Grafana, "kibana": in.Hosts.Kibana, "jaeger": in.Hosts.Jaeger,
		"prometheus": in.Hosts.Prometheus, "alertmanager": in.Hosts.Alertmanager,
	}[key]
	return h, h != ""
}

// ingressURL returns the external URL of the component with key, for the
// user interfaces that build links to themselves.
func (b *builder) ingressURL(key string) (string, bool) {
	h, ok := b.ingressHost(key)
	if !ok {
		return "", false
	}
	return b.cfg.Stack.Ingress.URL(h), true
}

// ingresses adds, when stack.ingress is enabled, an Ingress for each
// enabled user interface given a host: the whole host to its Service, of
// the configured class (nginx by default), with the configured TLS
// certificate when there is one. obsctl adds no authentication:
// Grafana and Kibana have their own logins, but Prometheus, Alertmanager
// and Jaeger's UI serve anyone who reaches them.
func ingresses(b *builder) {
	in := &b.cfg.Stack.Ingress
	if !in.Enabled {
		return
	}
	class := cmp.Or(in.ClassName, "nginx")
	for _, u := range uiRoutes {
		host, ok := b.ingressHost(u.key)
		if !ok {
			continue
		}
		r := b.resolve(u.key)
		ing := &networkingv1.Ingress{
			TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
			ObjectMeta: r.meta(u.service, b.ns, u.service),
			Spec: networkingv1.IngressSpec{
				IngressClassName: ptr.To(class),
				Rules: []networkingv1.IngressRule{{
					Host: host,
					IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
						Paths: []networkingv1.HTTPIngressPath{{
							Path:     "/",
							PathType: ptr.To(networkingv1.PathTypePrefix),
							Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
								Name: u.service, Port: networkingv1.ServiceBackendPort{Number: u.port},
							}},
						}},
					}},
				}},
			},
		}
		if in.TLSSecret != "" {
			ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: in.TLSSecret}}
		}
		if u.key == "grafana" && class == "nginx" && b.ha && r.replicas > 1 {
			// Each Grafana replica has its own sessions (see grafana).
			ing.Annotations = map[string]string{"nginx.ingress.kubernetes.io/affinity": "cookie"}
		}
		b.add(ing)
	}
}
