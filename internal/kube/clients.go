package kube

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// ErrNoNamespace is returned, wrapped with the object's description, by
// ResourceFor for an object of a namespaced kind that has no namespace.
var ErrNoNamespace = errors.New("namespaced object has no namespace")

// Clients are the connections to one cluster that the apply stage uses.
// They are safe for concurrent use.
type Clients struct {
	// Config is the configuration the clients were built from.
	Config *rest.Config
	// Dynamic reads and writes objects of any kind.
	Dynamic dynamic.Interface
	// Discovery lists the cluster's API groups and resources, kept in
	// memory until Mapper.Reset.
	Discovery *Discovery
	// Mapper maps kinds to resources; it is Discovery. Reset it after
	// applying CustomResourceDefinitions so that their kinds can be mapped.
	Mapper meta.ResettableRESTMapper
}

// NewClients builds the clients for cfg. It does not contact the server:
// discovery happens on the first mapping. A copy of cfg is kept, given
// obsctl's user agent and rate limits where cfg has none; the dynamic and
// discovery clients share one HTTP connection pool.
func NewClients(cfg *rest.Config) (*Clients, error) {
	cfg = rest.CopyConfig(cfg)
	configure(cfg)
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube clients for %s: %w", cfg.Host, err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, fmt.Errorf("kube clients for %s: %w", cfg.Host, err)
	}
	rc, err := rest.UnversionedRESTClientForConfigAndClient(discoveryConfig(cfg), hc)
	if err != nil {
		return nil, fmt.Errorf("kube clients for %s: %w", cfg.Host, err)
	}
	d := NewDiscovery(rc)
	return &Clients{Config: cfg, Dynamic: dyn, Discovery: d, Mapper: d}, nil
}

// discoveryConfig is cfg for the discovery client: raw JSON in, errors
// decoded as metav1.Status, nothing else registered.
func discoveryConfig(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	scheme := runtime.NewScheme()
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	cfg.GroupVersion = nil
	cfg.APIPath = ""
	return cfg
}

// ResourceFor maps obj's kind to its resource and returns the interface to
// read and write obj through: scoped to obj's namespace for a namespaced
// kind, cluster-wide otherwise. A kind the cached discovery does not know
// may belong to a CustomResourceDefinition applied since, so the mapper is
// reset and asked once more, and for a few seconds more while a definition
// serving the kind exists (discovery publishes it a moment after the
// definition is established), before ResourceFor gives up.
func (c *Clients) ResourceFor(obj *unstructured.Unstructured) (dynamic.ResourceInterface, *meta.RESTMapping, error) {
	gvk := obj.GroupVersionKind()
	if gvk.Kind == "" || gvk.Version == "" {
		return nil, nil, fmt.Errorf("%s: apiVersion or kind is missing", Describe(obj))
	}
	mapping, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		c.Mapper.Reset()
		mapping, err = c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	// The apiserver publishes an established CustomResourceDefinition's
	// kind in discovery a moment later, longer on a loaded server: while a
	// definition that serves the kind exists, discovery is asked again for
	// a few seconds. A kind that no definition serves fails at once.
	if meta.IsNoMatchError(err) && c.definedKind(gvk) {
		for wait := 50 * time.Millisecond; meta.IsNoMatchError(err) && wait <= 1600*time.Millisecond; wait *= 2 {
			time.Sleep(wait)
			c.Mapper.Reset()
			mapping, err = c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
	}
	if meta.IsNoMatchError(err) {
		return nil, nil, fmt.Errorf("%s: %w (is its CustomResourceDefinition installed?)", Describe(obj), err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("map %s to a resource: %w", Describe(obj), err)
	}
	if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
		return c.Dynamic.Resource(mapping.Resource), mapping, nil
	}
	ns := obj.GetNamespace()
	if ns == "" {
		return nil, nil, fmt.Errorf("%s: %w", Describe(obj), ErrNoNamespace)
	}
	return c.Dynamic.Resource(mapping.Resource).Namespace(ns), mapping, nil
}

// Describe names obj in messages: "Kind namespace/name", or "Kind name" for
// an object without a namespace.
func Describe(obj *unstructured.Unstructured) string {
	if obj == nil {
		return "<nil object>"
	}
	kind := obj.GetKind()
	if kind == "" {
		kind = "object"
	}
	name := obj.GetName()
	if name == "" {
		name = "(unnamed)"
	}
	if ns := obj.GetNamespace(); ns != "" {
		return kind + " " + ns + "/" + name
	}
	return kind + " " + name
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// definedKind reports whether a CustomResourceDefinition on the cluster
// serves gvk's kind at its version. It says no when the definitions
// cannot be read.
func (c *Clients) definedKind(gvk schema.GroupVersionKind) bool {
	if gvk.Group == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := c.Dynamic.Resource(crdResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return false
	}
	for _, crd := range l.Items {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		if group != gvk.Group || kind != gvk.Kind {
			continue
		}
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		for _, v := range versions {
			m, _ := v.(map[string]any)
			if m["name"] == gvk.Version && m["served"] == true {
				return true
			}
		}
	}
	return false
}
