package config

import (
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/obsctl/obsctl/internal/diag"
)

// Stack describes what obsctl apply stands up. Every component is on by
// default, at the version obsctl pins.
type Stack struct {
	Fields
	// Profile is minimal (one replica each, emptyDir storage) or ha (two or
	// three replicas, PodDisruptionBudgets, spread over nodes and zones,
	// persistent volumes). Default minimal.
	Profile string `yaml:"profile"`
	// Namespace holds the components, the stack's lock and its inventory,
	// under the restricted PodSecurity level. Default: rules.namespace, or
	// monitoring.
	Namespace string `yaml:"namespace"`
	// AgentNamespace holds the node agents (node-exporter, Fluentd and the
	// node tuning Elasticsearch needs), under the privileged PodSecurity
	// level. Default: the namespace followed by -agents.
	AgentNamespace string `yaml:"agentNamespace"`
	// Registry replaces the registry of every image, for air-gapped
	// clusters: registry.example.com/mirror turns quay.io/prometheus/prometheus
	// into registry.example.com/mirror/prometheus/prometheus.
	Registry string `yaml:"registry"`
	// Components configures each component.
	Components Components `yaml:"components"`
	// Ingress exposes the user interfaces through an ingress controller.
	Ingress Ingress `yaml:"ingress"`
	// NetworkPolicies restricts each component's ingress traffic to what it
	// needs (default true).
	NetworkPolicies *bool `yaml:"networkPolicies"`
	// ControlPlane is self-hosted (default: the cluster runs its own etcd,
	// kube-scheduler, kube-controller-manager and kube-proxy where
	// Prometheus can scrape them) or managed (EKS, GKE, AKS: the provider
	// runs them out of reach). Managed leaves out their scraping, and the
	// default alerts and dashboard on them (rules/control-plane.yaml,
	// dashboards/control-plane.json), which would have nothing to read.
	ControlPlane string `yaml:"controlPlane"`
}

// Components configures each component of the stack.
type Components struct {
	Fields
	// PrometheusOperator runs the Prometheus and Alertmanager custom resources.
	PrometheusOperator Component `yaml:"prometheusOperator"`
	// Prometheus scrapes and evaluates the rules.
	Prometheus Component `yaml:"prometheus"`
	// Alertmanager routes alerts by severity.
	Alertmanager Component `yaml:"alertmanager"`
	// NodeExporter exports node metrics from every node.
	NodeExporter NodeExporter `yaml:"nodeExporter"`
	// KubeStateMetrics exports the state of Kubernetes objects.
	KubeStateMetrics Component `yaml:"kubeStateMetrics"`
	// Grafana shows the dashboards.
	Grafana Component `yaml:"grafana"`
	// Elasticsearch stores the logs (and, in the ha profile, the traces).
	Elasticsearch Component `yaml:"elasticsearch"`
	// Kibana searches the logs.
	Kibana Component `yaml:"kibana"`
	// Fluentd ships container logs to Elasticsearch, as pipelines/ says.
	Fluentd Component `yaml:"fluentd"`
	// Jaeger collects traces over OTLP.
	Jaeger Component `yaml:"jaeger"`
}

// Component configures one component. Unset fields take the profile's
// values.
type Component struct {
	Fields
	// Enabled turns the component on or off (default on).
	Enabled *bool `yaml:"enabled"`
	// Version replaces the pinned version (the image tag).
	Version string `yaml:"version"`
	// Image replaces the image repository, without a tag.
	Image string `yaml:"image"`
	// Replicas replaces the profile's replica count.
	Replicas *int `yaml:"replicas"`
	// Resources replaces the main container's requests and limits.
	Resources Resources `yaml:"resources"`
	// Storage is the persistent volume of a stateful component.
	Storage Storage `yaml:"storage"`
	// Retention is how long the component keeps data (Prometheus,
	// Elasticsearch indices, Jaeger traces).
	Retention Duration `yaml:"retention"`
	// NodeSelector constrains the component's pods to matching nodes.
	NodeSelector map[string]string `yaml:"nodeSelector"`
	// Tolerations let the component's pods run on tainted nodes.
	Tolerations []Toleration `yaml:"tolerations"`
}

// NodeExporter configures node-exporter: a component that listens on a
// port of every node's host network, so the port is configurable.
type NodeExporter struct {
	Component `yaml:",inline"`
	// Port is the host port node-exporter listens on, on every node
	// (default 9100). Two stacks on one cluster need two ports: each
	// node's host network has one of each.
	Port *int `yaml:"port"`
}

// DefaultNodeExporterPort is node-exporter's registered port.
const DefaultNodeExporterPort = 9100

// HostPort returns the port node-exporter listens on, on every node.
func (n *NodeExporter) HostPort() int {
	if n.Port == nil {
		return DefaultNodeExporterPort
	}
	return *n.Port
}

// On reports whether the component is enabled.
func (c *Component) On() bool { return c.Enabled == nil || *c.Enabled }

// Resources are a container's requests and limits.
type Resources struct {
	Fields
	// Requests are what the scheduler reserves.
	Requests Quantities `yaml:"requests"`
	// Limits are what the container may use at most.
	Limits Quantities `yaml:"limits"`
}

// Quantities are CPU and memory amounts in Kubernetes notation.
type Quantities struct {
	Fields
	// CPU such as 250m or 2.
	CPU string `yaml:"cpu"`
	// Memory such as 512Mi or 4Gi.
	Memory string `yaml:"memory"`
}

// Storage is a persistent volume claim's size and class.
type Storage struct {
	Fields
	// Size such as 50Gi. Setting it gives the component a persistent
	// volume in the minimal profile too.
	Size string `yaml:"size"`
	// Class is the StorageClass (default: the cluster's default class).
	Class string `yaml:"class"`
}

// Toleration lets pods run on nodes with a matching taint.
type Toleration struct {
	Fields
	// Key is the taint key; empty with operator Exists matches every taint.
	Key string `yaml:"key"`
	// Operator is Equal (default) or Exists.
	Operator string `yaml:"operator"`
	// Value is the taint value, for Equal.
	Value string `yaml:"value"`
	// Effect is NoSchedule, PreferNoSchedule or NoExecute; empty matches all.
	Effect string `yaml:"effect"`
	// TolerationSeconds bounds how long a NoExecute taint is tolerated.
	TolerationSeconds *int `yaml:"tolerationSeconds"`
}

// Ingress exposes the user interfaces.
type Ingress struct {
	Fields
	// Enabled creates an Ingress for each component given a host.
	Enabled bool `yaml:"enabled"`
	// ClassName is the ingress class: nginx or traefik.
	ClassName string `yaml:"className"`
	// TLSSecret names a Secret in the stack's namespace holding the
	// certificate for every host; empty serves plain HTTP.
	TLSSecret string `yaml:"tlsSecret"`
	// Hosts are the host names, per component.
	Hosts IngressHosts `yaml:"hosts"`
}

// URL returns the external URL of a user interface served at host: https
// when the ingress has a TLS certificate.
func (in *Ingress) URL(host string) string {
	if in.TLSSecret != "" {
		return "https://" + host + "/"
	}
	return "http://" + host + "/"
}

// IngressHosts are the host names of the user interfaces.
type IngressHosts struct {
	Fields
	// Grafana's host name.
	Grafana string `yaml:"grafana"`
	// Kibana's host name.
	Kibana string `yaml:"kibana"`
	// Jaeger's host name (its query UI).
	Jaeger string `yaml:"jaeger"`
	// Prometheus's host name.
	Prometheus string `yaml:"prometheus"`
	// Alertmanager's host name.
	Alertmanager string `yaml:"alertmanager"`
}

// The profiles.
const (
	ProfileMinimal = "minimal"
	ProfileHA      = "ha"
)

// The kinds of control plane.
const (
	ControlPlaneSelfHosted = "self-hosted"
	ControlPlaneManaged    = "managed"
)

// ManagedControlPlane reports whether stack.controlPlane says the
// provider runs the control plane out of Prometheus' reach.
func (c *Config) ManagedControlPlane() bool { return c.Stack.ControlPlane == ControlPlaneManaged }

// StackProfile returns the profile, minimal when unset.
func (c *Config) StackProfile() string {
	if c.Stack.Profile == "" {
		return ProfileMinimal
	}
	return c.Stack.Profile
}

// StackNamespace returns the namespace of the components.
func (c *Config) StackNamespace() string {
	if c.Stack.Namespace != "" {
		return c.Stack.Namespace
	}
	return c.Namespace()
}

// StackAgentNamespace returns the namespace of the node agents.
func (c *Config) StackAgentNamespace() string {
	if c.Stack.AgentNamespace != "" {
		return c.Stack.AgentNamespace
	}
	return c.StackNamespace() + "-agents"
}

// AgentNamespaceUsed reports whether the stack puts anything in the node
// agents' namespace: node-exporter, and Elasticsearch's node tuning (and
// Fluentd, which needs Elasticsearch). Without them the namespace is not
// made, and its name does not matter.
func (c *Config) AgentNamespaceUsed() bool {
	s := &c.Stack.Components
	return s.NodeExporter.On() || s.Elasticsearch.On()
}

// NetworkPoliciesOn reports whether the stack gets NetworkPolicies.
func (c *Config) NetworkPoliciesOn() bool {
	return c.Stack.NetworkPolicies == nil || *c.Stack.NetworkPolicies
}

// ComponentsOn maps each component's name to whether it is on.
func (c *Config) ComponentsOn() map[string]bool {
	on := map[string]bool{}
	for _, nc := range c.ComponentsByName() {
		on[nc.Name] = nc.On()
	}
	return on
}

// ComponentsByName returns each component's configuration by the name
// obsctl.yaml gives it, in the order of the Components struct.
func (c *Config) ComponentsByName() []NamedComponent {
	s := &c.Stack.Components
	return []NamedComponent{
		{"prometheusOperator", &s.PrometheusOperator},
		{"prometheus", &s.Prometheus},
		{"alertmanager", &s.Alertmanager},
		{"nodeExporter", &s.NodeExporter.Component},
		{"kubeStateMetrics", &s.KubeStateMetrics},
		{"grafana", &s.Grafana},
		{"elasticsearch", &s.Elasticsearch},
		{"kibana", &s.Kibana},
		{"fluentd", &s.Fluentd},
		{"jaeger", &s.Jaeger},
	}
}

// NamedComponent is a component with its obsctl.yaml key.
type NamedComponent struct {
	Name string
	*Component
}

var (
	// Compiled on first use: {0,127} makes a big program (half a
	// millisecond at every start), and only a stack section needs them.
	imageTagRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`) })
	imageRepoRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$`)
	})
)

// reportFunc reports a finding of config/schema.
type reportFunc func(span diag.Span, hint, format string, args ...any)

// entryFunc returns the span of the entry key of the mapping at path, or
// fallback.
type entryFunc func(fallback diag.Span, key string, path ...string) diag.Span

// validateStack checks stack: beyond its shape.
func validateStack(report reportFunc, entry entryFunc, c *Config) {
	s := &c.Stack
	switch s.ControlPlane {
	case "", ControlPlaneSelfHosted, ControlPlaneManaged:
	default:
		report(s.Span("controlPlane"), "use self-hosted or managed (EKS, GKE, AKS)", "unknown controlPlane %q", s.ControlPlane)
	}
	switch s.Profile {
	case "", ProfileMinimal, ProfileHA:
	default:
		report(s.Span("profile"), "use minimal or ha", "unknown profile %q", s.Profile)
	}
	for _, key := range []string{"namespace", "agentNamespace"} {
		v := s.Namespace
		if key == "agentNamespace" {
			v = s.AgentNamespace
		}
		if v != "" && len(validation.IsDNS1123Label(v)) > 0 {
			report(s.Span(key), namespaceHint, "invalid namespace %q: %s", v, validation.IsDNS1123Label(v)[0])
		}
		if ReservedNamespace(v) {
			report(s.Span(key), reservedHint, "stack.%s %q is reserved for Kubernetes itself", key, v)
		}
	}
	if s.AgentNamespace == "" && c.AgentNamespaceUsed() {
		// The agents' namespace is derived: <namespace>-agents. It is the
		// namespace's problem, reported where the namespace is written.
		ns, agents := c.StackNamespace(), c.StackAgentNamespace()
		span, from := s.Span("namespace"), "stack.namespace"
		if s.Namespace == "" {
			span, from = c.Rules.Span("namespace"), "rules.namespace (the stack's namespace when stack.namespace is not set)"
		}
		if len(validation.IsDNS1123Label(ns)) == 0 && len(validation.IsDNS1123Label(agents)) > 0 {
			report(span, fmt.Sprintf("set stack.agentNamespace, or keep the namespace to %d characters", validation.DNS1123LabelMaxLength-len(agents)+len(ns)),
				"the node agents' namespace %s-agents, derived from %s, has %d characters: Kubernetes takes at most %d", ns, from, len(agents), validation.DNS1123LabelMaxLength)
		}
		if ReservedNamespace(agents) {
			report(span, reservedHint, "the node agents' namespace %q, derived from %s, is reserved for Kubernetes itself", agents, from)
		}
	}
	if s.Namespace != "" && s.Namespace == s.AgentNamespace {
		report(s.Span("agentNamespace"), "node agents need a namespace whose PodSecurity level is privileged; the components' is restricted",
			"agentNamespace is the same as namespace (%q)", s.Namespace)
	}
	if s.Registry != "" && !imageRepoRE().MatchString(s.Registry) {
		report(s.Span("registry"), "a registry host, with an optional port and path, such as registry.example.com:5000/mirror", "invalid registry %q", s.Registry)
	}
	for _, nc := range c.ComponentsByName() {
		validateComponent(report, entry, nc.Name, nc.Component)
	}
	if ne := &s.Components.NodeExporter; ne.Port != nil && (*ne.Port < 1024 || *ne.Port > 65535) {
		report(ne.Span("port"), "a port from 1024 to 65535, free on every node's host network (node-exporter's default is 9100)",
			"nodeExporter: port %d: want 1024 to 65535", *ne.Port)
	}
	in := &s.Ingress
	if in.Fields.Has("className") && in.ClassName != "nginx" && in.ClassName != "traefik" {
		report(in.Span("className"), "use nginx or traefik", "unknown ingress class %q", in.ClassName)
	}
	hosts := map[string]string{"grafana": in.Hosts.Grafana, "kibana": in.Hosts.Kibana, "jaeger": in.Hosts.Jaeger,
		"prometheus": in.Hosts.Prometheus, "alertmanager": in.Hosts.Alertmanager}
	anyHost := false
	for _, k := range slices.Sorted(maps.Keys(hosts)) {
		h := hosts[k]
		if h == "" {
			continue
		}
		anyHost = true
		if errs := validation.IsDNS1123Subdomain(h); len(errs) > 0 {
			report(in.Hosts.Span(k), "a host name such as grafana.example.com", "invalid host name %q", h)
		} else if net.ParseIP(h) != nil {
			report(in.Hosts.Span(k), "an Ingress routes by DNS name: give the host a name, such as grafana.example.com", "ingress host %q is an IP address; Kubernetes takes DNS names only", h)
		}
	}
	if in.Enabled && !anyHost {
		report(in.Span("enabled"), "give at least one host under ingress.hosts", "ingress is enabled for no host")
	}
	if in.TLSSecret != "" && len(validation.IsDNS1123Subdomain(in.TLSSecret)) > 0 {
		report(in.Span("tlsSecret"), "", "invalid Secret name %q", in.TLSSecret)
	}
}

func validateComponent(report reportFunc, entry entryFunc, name string, c *Component) {
	if c.Version != "" && !imageTagRE().MatchString(c.Version) {
		report(c.Span("version"), "a version is an image tag such as v2.55.1", "%s: invalid version %q", name, c.Version)
	}
	if c.Image != "" && !imageRepoRE().MatchString(c.Image) {
		report(c.Span("image"), "give the repository without a tag; the tag is version", "%s: invalid image %q", name, c.Image)
	}
	if c.Replicas != nil && (*c.Replicas < 1 || *c.Replicas > 10) {
		report(c.Span("replicas"), "disable the component with enabled: false rather than 0 replicas", "%s: replicas %d: want 1 to 10", name, *c.Replicas)
	}
	quantity := func(f Fields, key, v string) {
		if v == "" {
			return
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			report(f.Span(key), "a Kubernetes quantity such as 250m, 2, 512Mi or 50Gi", "%s: invalid quantity %q", name, v)
		} else if q.Sign() < 0 {
			report(f.Span(key), "requests, limits and sizes are amounts: zero or more", "%s: negative quantity %q; Kubernetes refuses it", name, v)
		}
	}
	for _, q := range []*Quantities{&c.Resources.Requests, &c.Resources.Limits} {
		quantity(q.Fields, "cpu", q.CPU)
		quantity(q.Fields, "memory", q.Memory)
	}
	quantity(c.Storage.Fields, "size", c.Storage.Size)
	if c.Storage.Class != "" && len(validation.IsDNS1123Subdomain(c.Storage.Class)) > 0 {
		report(c.Storage.Span("class"), "", "%s: invalid StorageClass name %q", name, c.Storage.Class)
	}
	if c.Retention.Set && c.Retention.D <= 0 {
		report(c.Span("retention"), "", "%s: retention must be positive", name)
	}
	for _, k := range slices.Sorted(maps.Keys(c.NodeSelector)) {
		sp := entry(c.Span("nodeSelector"), k, "stack", "components", name, "nodeSelector")
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			report(sp, "", "%s: invalid node label key %q: %s", name, k, errs[0])
		}
		if v := c.NodeSelector[k]; len(validation.IsValidLabelValue(v)) > 0 {
			report(sp, "a label value is at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit", "%s: invalid node label value %q: %s", name, v, validation.IsValidLabelValue(v)[0])
		}
	}
	for i := range c.Tolerations {
		t := &c.Tolerations[i]
		if t.Key != "" {
			if errs := validation.IsQualifiedName(t.Key); len(errs) > 0 {
				report(t.Span("key"), "a taint key is a name of at most 63 letters, digits, '-', '_' and '.', with an optional DNS prefix and '/'", "%s: invalid toleration key %q: %s", name, t.Key, errs[0])
			}
		} else if t.Operator != "Exists" {
			report(t.Span("operator"), "give the taint's key, or use operator: Exists to tolerate every taint", "%s: a toleration without a key must have operator Exists", name)
		}
		if t.Value != "" && len(validation.IsValidLabelValue(t.Value)) > 0 {
			report(t.Span("value"), "a taint value is at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit", "%s: invalid toleration value %q: %s", name, t.Value, validation.IsValidLabelValue(t.Value)[0])
		}
		switch t.Operator {
		case "", "Equal":
		case "Exists":
			if t.Value != "" {
				report(t.Span("value"), "Exists matches any value; drop value or use Equal", "%s: toleration with operator Exists has a value", name)
			}
		default:
			report(t.Span("operator"), "use Equal or Exists", "%s: unknown toleration operator %q", name, t.Operator)
		}
		switch t.Effect {
		case "", "NoSchedule", "PreferNoSchedule", "NoExecute":
		default:
			report(t.Span("effect"), "use NoSchedule, PreferNoSchedule or NoExecute", "%s: unknown taint effect %q", name, t.Effect)
		}
		if t.TolerationSeconds != nil && t.Effect != "NoExecute" {
			report(t.Span("tolerationSeconds"), "", "%s: tolerationSeconds applies to the NoExecute effect only", name)
		}
	}
}

// String names a component for messages.
func (n NamedComponent) String() string { return fmt.Sprintf("stack.components.%s", n.Name) }
