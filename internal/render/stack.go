// Package render renders the observability stack from a compiled repo
// (obsctl.yaml and what the compile stage made of the repo's rules,
// routing, pipelines and dashboards): every Kubernetes object obsctl apply
// stands up, sorted and byte-stable, so that obsctl render prints for
// GitOps exactly what apply applies.
//
// Each component is a function that adds its objects to a builder; the
// builder resolves a component's settings (the pinned version and image,
// the profile's replicas, resources and storage, what obsctl.yaml
// overrides) and holds what every component shares: namespaces, labels,
// security contexts and the ha profile's spreading.
package render

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/compile"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/promrule"
)

// Labels every rendered object carries besides the engine's ownership
// labels (which Render adds too, so that render and apply agree).
const (
	LabelName      = "app.kubernetes.io/name"
	LabelComponent = "app.kubernetes.io/component"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelVersion   = "app.kubernetes.io/version"
	partOf         = "obsctl"
)

// Result is a rendered stack.
type Result struct {
	// Objects are every object of the stack, sorted in apply order (wave,
	// then group, kind, namespace and name), each with the ownership
	// labels the apply engine sets.
	Objects []*unstructured.Unstructured
	// Generated are the Secrets whose values obsctl generates: they are
	// not among Objects (a render must be byte-stable and free of secret
	// values); apply creates each once, when it is missing, and never
	// changes it.
	Generated []GeneratedSecret
	// Requires are the Secrets the user manages that the stack needs
	// (receiver keys obsctl.yaml's alerting refers to), sorted by
	// namespace and name: a release checks them before it applies, and
	// Requirement.Command says how to create one.
	Requires []Requirement
	// Identity is what the identity ConfigMap among Objects says.
	Identity *Identity
}

// AnnotationReplicas, on a Deployment or StatefulSet, holds the replicas
// the stack's profile wants. The release leaves spec.replicas to an
// autoscaler or kubectl scale once another manager owns it; status and
// diff read this to say when that went below the profile.
const AnnotationReplicas = kube.AnnotationReplicas

// LabelGenerated marks the Secrets apply generates.
const LabelGenerated = kube.LabelGenerated

// GeneratedSecret is a Secret of random values that components read.
//
// It is a spec, never values: the identity ConfigMap carries it as JSON.
type GeneratedSecret struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Also are further namespaces that get a copy with the same values,
	// for pods outside Namespace (a Secret is read in its own namespace
	// only).
	Also []string `json:"also,omitempty"`
	// Keys get a random value each; Fixed keys get the given value (a user
	// name next to a generated password, never a secret).
	Keys  []string          `json:"keys,omitempty"`
	Fixed map[string]string `json:"fixed,omitempty"`
	// Env maps keys to the environment variables apply reads their values
	// from, on every apply (receiver secrets given as {env: VAR}); such a
	// Secret has no generated keys.
	Env map[string]string `json:"env,omitempty"`
	// TLS makes the Secret a kubernetes.io/tls one instead: a private CA
	// (ca.crt) and a certificate it signs (tls.crt, tls.key) for CommonName,
	// for traffic between a component's own pods.
	TLS bool `json:"tls,omitempty"`
	// CommonName is the certificate's subject when TLS is set.
	CommonName string `json:"commonName,omitempty"`
	// Component names the component that reads it, for messages.
	Component string `json:"component"`
}

// AllNamespaces returns Namespace and Also.
func (g GeneratedSecret) AllNamespaces() []string {
	return append([]string{g.Namespace}, g.Also...)
}

// Render renders the stack of a compiled repo in profile (minimal or ha;
// "" keeps obsctl.yaml's stack.profile). The profile is a parameter, not
// an edit of the configuration, so that what lint checked stays as it was.
func Render(c *compile.Compiled, profile string) (*Result, error) {
	b, err := newBuilder(c, profile)
	if err != nil {
		return nil, err
	}
	for _, c := range components {
		r := b.resolve(c.key)
		if !r.on {
			continue
		}
		if r.err != nil {
			return nil, fmt.Errorf("render %s: %w", r.title, r.err)
		}
		if err := c.render(b, r); err != nil {
			return nil, fmt.Errorf("render %s: %w", r.title, err)
		}
	}
	ingresses(b)
	networkPolicies(b)
	if err := identity(b); err != nil {
		return nil, err
	}
	namespaces(b)
	objs, err := b.objects()
	if err != nil {
		return nil, err
	}
	if err := checkHostPorts(objs); err != nil {
		return nil, err
	}
	id := &Identity{Stack: b.stack, Namespace: b.ns, Profile: b.profile, Generated: b.generated, Requires: b.requires}
	return &Result{Objects: objs, Generated: b.generated, Requires: b.requires, Identity: id}, nil
}

// component renders one part of the stack.
type component struct {
	// key is the component's key under stack.components, or "" for parts
	// that are always there.
	key    string
	render func(b *builder, r *resolved) error
}

// components are the parts of the stack in the order they render, one
// entry per function (Prometheus has two: its own objects, then what it
// scrapes and evaluates). Render sorts the result anyway; the list is
// explicit so that what the stack holds reads in one place.
var components = []component{
	{"prometheusOperator", prometheusOperator},
	{"prometheus", prometheus},
	{"prometheus", scrapeTargets},
	{"alertmanager", alertmanager},
	{"nodeExporter", nodeExporter},
	{"kubeStateMetrics", kubeStateMetrics},
	{"grafana", grafana},
	{"elasticsearch", elasticsearch},
	{"kibana", kibana},
	{"fluentd", fluentdAgent},
	{"jaeger", jaeger},
}

// builder collects the objects of one render.
type builder struct {
	in        *compile.Compiled
	cfg       *config.Config
	profile   string
	stack     string // the stack's name
	ns        string // the components' namespace
	agentNS   string // the node agents' namespace
	ha        bool
	registry  string
	objs      []runtime.Object
	rendered  []*unstructured.Unstructured // objects given as unstructured (CRDs, rules)
	resolved  map[string]*resolved
	generated []GeneratedSecret
	requires  []Requirement
	usedAgent bool // something was rendered into the agent namespace
}

func newBuilder(in *compile.Compiled, profile string) (*builder, error) {
	if in == nil || in.Config == nil {
		return nil, fmt.Errorf("render: no configuration")
	}
	c := in.Config
	if profile == "" {
		profile = c.StackProfile()
	}
	if profile != config.ProfileMinimal && profile != config.ProfileHA {
		return nil, fmt.Errorf("render: unknown profile %q: want %s or %s", profile, config.ProfileMinimal, config.ProfileHA)
	}
	return &builder{
		in: in, cfg: c, profile: profile, stack: c.Name,
		ns: c.StackNamespace(), agentNS: c.StackAgentNamespace(),
		ha: profile == config.ProfileHA, registry: c.Stack.Registry,
		resolved: map[string]*resolved{},
	}, nil
}

// add adds typed objects.
func (b *builder) add(objs ...runtime.Object) { b.objs = append(b.objs, objs...) }

// addUnstructured adds objects that come as unstructured already.
func (b *builder) addUnstructured(objs ...*unstructured.Unstructured) {
	b.rendered = append(b.rendered, objs...)
}

// enabled reports whether the component with obsctl.yaml key is on.
func (b *builder) enabled(key string) bool { return b.resolve(key).on }

// resolved is one component's settings after defaults.
type resolved struct {
	key, title string
	on         bool
	image      string // with tag
	version    string
	replicas   int32
	resources  corev1.ResourceRequirements
	// storage is the volume size; zero means emptyDir.
	storage      resource.Quantity
	storageClass string
	retention    time.Duration
	nodeSelector map[string]string
	tolerations  []corev1.Toleration
	// err is set when obsctl.yaml's settings cannot be resolved (a
	// quantity that does not parse); Render fails with it.
	err error
}

// Dependency says that a component needs another one.
type Dependency struct {
	// Component and Needs are keys under stack.components.
	Component, Needs string
	// Why says what Component does with Needs, for messages.
	Why string
	// Hard is set when Component cannot run at all without Needs (its
	// custom resource has no operator, its server is not there): the
	// render leaves it out. A component whose dependency is soft runs,
	// but to no use (dashboards without data).
	Hard bool
}

// dependencies is the one table of what each component needs: render
// leaves out a component whose hard dependency is off, and lint's
// stack/dependency reports every pair, so that both read the same table.
var dependencies = []Dependency{
	{"kibana", "elasticsearch", "Kibana searches Elasticsearch", true},
	{"fluentd", "elasticsearch", "Fluentd ships the logs to Elasticsearch", true},
	{"prometheus", "prometheusOperator", "the Prometheus Operator runs the Prometheus custom resource", true},
	{"alertmanager", "prometheusOperator", "the Prometheus Operator runs the Alertmanager custom resource", true},
	{"grafana", "prometheus", "Grafana's dashboards query Prometheus", false},
	{"alertmanager", "prometheus", "only Prometheus sends Alertmanager alerts", false},
}

// Dependencies returns what each component needs, in a stable order.
func Dependencies() []Dependency { return slices.Clone(dependencies) }

// resolve returns the settings of the component with obsctl.yaml key.
func (b *builder) resolve(key string) *resolved {
	if r, ok := b.resolved[key]; ok {
		return r
	}
	i := slices.IndexFunc(pins, func(p pin) bool { return p.key == key })
	if i < 0 {
		panic("stack: no pin for component " + key) // a programming error
	}
	p := pins[i]
	var c *config.Component
	for _, nc := range b.cfg.ComponentsByName() {
		if nc.Name == key {
			c = nc.Component
		}
	}
	r := &resolved{key: key, title: p.title, on: c.On(), version: cmp.Or(c.Version, p.version)}
	for _, d := range dependencies {
		if d.Component == key && d.Hard && r.on {
			// Without what it needs a component cannot run; lint's
			// stack/dependency says so, and the render leaves it out.
			r.on = b.resolve(d.Needs).on
		}
	}
	r.image = b.imageRef(image{cmp.Or(c.Image, p.image), r.version})
	profile := 0
	if b.ha {
		profile = 1
	}
	r.replicas = p.replicas[profile]
	if c.Replicas != nil {
		r.replicas = int32(*c.Replicas)
	}
	var err error
	r.resources, err = componentResources(c, p)
	switch {
	case err != nil:
	case c.Storage.Size != "":
		r.storage, err = resource.ParseQuantity(c.Storage.Size)
	case b.ha && p.storage != "":
		r.storage = resource.MustParse(p.storage)
	}
	if err != nil {
		// obsctl.yaml's quantity does not parse: config/schema says
		// where, and Render returns this.
		r.err = fmt.Errorf("stack.components.%s: %w", key, err)
	}
	r.storageClass = c.Storage.Class
	if p.retention != "" {
		d, err := model.ParseDuration(p.retention)
		if err != nil {
			panic("stack: bad pinned retention " + p.retention)
		}
		r.retention = time.Duration(d)
	}
	r.retention = c.Retention.Or(r.retention)
	r.nodeSelector = c.NodeSelector
	for _, t := range c.Tolerations {
		tol := corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOperator(t.Operator), Value: t.Value, Effect: corev1.TaintEffect(t.Effect)}
		if t.TolerationSeconds != nil {
			s := int64(*t.TolerationSeconds)
			tol.TolerationSeconds = &s
		}
		r.tolerations = append(r.tolerations, tol)
	}
	b.resolved[key] = r
	return r
}

// componentResources returns the requests and limits of component c's
// main container: obsctl.yaml's values over pin p's. The CPU limit is set
// only when obsctl.yaml sets it.
func componentResources(c *config.Component, p pin) (corev1.ResourceRequirements, error) {
	res := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	for _, q := range []struct {
		list corev1.ResourceList
		name corev1.ResourceName
		v    string
	}{
		{res.Requests, corev1.ResourceCPU, cmp.Or(c.Resources.Requests.CPU, p.cpu)},
		{res.Requests, corev1.ResourceMemory, cmp.Or(c.Resources.Requests.Memory, p.memory)},
		{res.Limits, corev1.ResourceMemory, cmp.Or(c.Resources.Limits.Memory, p.memoryLimit)},
		{res.Limits, corev1.ResourceCPU, c.Resources.Limits.CPU},
	} {
		if q.v == "" {
			continue
		}
		v, err := resource.ParseQuantity(q.v)
		if err != nil {
			return res, fmt.Errorf("%s %q: %w", q.name, q.v, err)
		}
		q.list[q.name] = v
	}
	return res, nil
}

// Resources returns the requests and limits Render gives the main
// container of the component with obsctl.yaml key (stack.components.KEY):
// obsctl.yaml's values over the pinned ones. They do not depend on the
// profile. It fails on a quantity that does not parse, or an unknown key.
func Resources(cfg *config.Config, key string) (corev1.ResourceRequirements, error) {
	i := slices.IndexFunc(pins, func(p pin) bool { return p.key == key })
	if i < 0 {
		return corev1.ResourceRequirements{}, fmt.Errorf("render: no component %q", key)
	}
	for _, nc := range cfg.ComponentsByName() {
		if nc.Name == key {
			return componentResources(nc.Component, pins[i])
		}
	}
	return corev1.ResourceRequirements{}, fmt.Errorf("render: no component %q in the configuration", key)
}

// imageRef returns im as repo:tag, with the registry replaced when
// stack.registry is set: the first path element is the registry when it
// looks like a host (has a dot or a port, or is localhost).
func (b *builder) imageRef(im image) string {
	repo := im.repo
	if b.registry != "" {
		if host, rest, ok := strings.Cut(repo, "/"); ok && (strings.ContainsAny(host, ".:") || host == "localhost") {
			repo = rest
		}
		repo = strings.TrimSuffix(b.registry, "/") + "/" + repo
	}
	return repo + ":" + im.tag
}

// objects converts and sorts what the components added.
func (b *builder) objects() ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, 0, len(b.objs)+len(b.rendered))
	for _, o := range b.objs {
		u, err := toUnstructured(o)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	out = append(out, b.rendered...)
	seen := map[string]bool{}
	for _, o := range out {
		l := o.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		l[apply.LabelManagedBy] = apply.FieldManager
		l[apply.LabelStack] = b.stack
		l[LabelPartOf] = partOf
		o.SetLabels(l)
		if o.GetKind() != "CustomResourceDefinition" { // the operator's bundle's, which say so
			a := o.GetAnnotations()
			if a[promrule.SourceAnnotation] == "" {
				if a == nil {
					a = map[string]string{}
				}
				// Built from obsctl.yaml's settings: what a rule file or a
				// dashboard renders says its file.
				a[promrule.SourceAnnotation] = config.FileName
				o.SetAnnotations(a)
			}
		}
		if gvk := o.GroupVersionKind(); gvk.Group == "apps" && (gvk.Kind == "Deployment" || gvk.Kind == "StatefulSet") {
			if n, ok, _ := unstructured.NestedInt64(o.Object, "spec", "replicas"); ok {
				a := o.GetAnnotations()
				if a == nil {
					a = map[string]string{}
				}
				a[AnnotationReplicas] = strconv.FormatInt(n, 10)
				o.SetAnnotations(a)
			}
		}
		id := o.GroupVersionKind().GroupKind().String() + " " + o.GetNamespace() + "/" + o.GetName()
		if seen[id] {
			return nil, fmt.Errorf("render: %s is rendered twice", id)
		}
		seen[id] = true
	}
	slices.SortStableFunc(out, compareObjects)
	return out, nil
}

// compareObjects orders objects as apply applies them: by wave, then
// group, kind, namespace and name.
func compareObjects(a, c *unstructured.Unstructured) int {
	ga, gc := a.GroupVersionKind().GroupKind(), c.GroupVersionKind().GroupKind()
	return cmp.Or(
		cmp.Compare(apply.WaveOf(ga), apply.WaveOf(gc)),
		cmp.Compare(ga.Group, gc.Group),
		cmp.Compare(ga.Kind, gc.Kind),
		cmp.Compare(a.GetNamespace(), c.GetNamespace()),
		cmp.Compare(a.GetName(), c.GetName()),
	)
}

// toUnstructured converts a typed object, dropping what the API server
// sets (creationTimestamp, an empty status) and nulls.
func toUnstructured(o runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, err
	}
	delete(m, "status") // the server's to write
	dropNulls(m)
	u := &unstructured.Unstructured{Object: m}
	if u.GetKind() == "" || u.GetAPIVersion() == "" {
		return nil, fmt.Errorf("render: %T %s has no apiVersion or kind", o, u.GetName())
	}
	return u, nil
}

// dropNulls removes null values and the empty creationTimestamp the
// converter writes for every ObjectMeta.
func dropNulls(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			dropNulls(v)
		case []any:
			for _, e := range v {
				if em, ok := e.(map[string]any); ok {
					dropNulls(em)
				}
			}
		}
	}
}
