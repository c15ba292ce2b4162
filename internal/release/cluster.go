package release

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/parallel"
	"github.com/obsctl/obsctl/internal/rbac"
)

// Cluster is the one Kubernetes cluster a release reads and changes. Tests
// give it a fake dynamic client and a fixed mapper.
type Cluster struct {
	Dynamic dynamic.Interface
	Mapper  meta.RESTMapper
	// Resources lists every resource the cluster serves (discovery), to
	// find what lives in a namespace before it is pruned.
	Resources func(ctx context.Context) ([]kube.Resource, error)
	// Applier is the server-side apply engine, over the same clients.
	Applier *apply.Applier
	// Where names the cluster in messages: "context kind-prod in
	// ~/.kube/config".
	Where string
}

// NewCluster returns the Cluster of clients, with the engine retrying
// transient API errors.
func NewCluster(c *kube.Clients, where string) *Cluster {
	return &Cluster{
		Dynamic:   c.Dynamic,
		Mapper:    c.Mapper,
		Resources: c.Discovery.Resources,
		Applier:   &apply.Applier{Dynamic: c.Dynamic, Mapper: c.Mapper, Retry: RetryRequest},
		Where:     where,
	}
}

// RetryRequest retries one API request on transient errors with
// kube.Retry. A request that fails for good comes back as its own error,
// so that errors.Is and apierrors still see it.
func RetryRequest(ctx context.Context, op func(context.Context) error) error {
	var last error
	err := kube.Retry(ctx, "API request", func(ctx context.Context) error {
		last = op(ctx)
		return last
	})
	var re *kube.RetryError
	if err != nil && last != nil && !errors.As(err, &re) && errors.Is(err, last) {
		return last
	}
	return err
}

// mapping maps gk to its resource, from the cluster or, for a kind of a
// CRD in the set that is not installed yet, not at all (nil, nil).
func (c *Cluster) mapping(gk schema.GroupKind, version string) (*meta.RESTMapping, error) {
	m, err := c.Mapper.RESTMapping(gk, version)
	if meta.IsNoMatchError(err) && version != "" {
		m, err = c.Mapper.RESTMapping(gk)
	}
	if meta.IsNoMatchError(err) {
		return nil, nil
	}
	return m, err
}

// resolveNamespaces returns copies of objs with the namespaces they will
// live in: namespaced objects that name none get defaultNS, cluster-scoped
// ones lose theirs. The scope comes from the table of kinds, the set's own
// CRDs, then discovery; a kind nobody knows keeps what it says (the engine
// reports it).
func (c *Cluster) resolveNamespaces(objs []*unstructured.Unstructured, defaultNS string) ([]*unstructured.Unstructured, error) {
	setScope := map[schema.GroupKind]bool{}
	for _, o := range objs {
		if o.GroupVersionKind().GroupKind() == kube.GKCRD {
			group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
			scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
			setScope[schema.GroupKind{Group: group, Kind: kind}] = scope != "Cluster"
		}
	}
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		gvk := o.GroupVersionKind()
		namespaced, known := kube.Namespaced(gvk.GroupKind())
		if !known {
			namespaced, known = setScope[gvk.GroupKind()]
		}
		if !known {
			m, err := c.mapping(gvk.GroupKind(), gvk.Version)
			if err != nil {
				return nil, fmt.Errorf("map %s: %w", kube.Describe(o), err)
			}
			if m != nil {
				namespaced, known = kube.ScopeOf(m), true
			}
		}
		cp := o.DeepCopy()
		switch {
		case !known:
		case !namespaced:
			cp.SetNamespace("")
		case cp.GetNamespace() == "":
			cp.SetNamespace(defaultNS)
		}
		out[i] = cp
	}
	return out, nil
}

// listKey is one list request.
type listKey struct {
	gvr schema.GroupVersionResource
	ns  string
}

// readLive reads the live object of every ref, by ID: one list per
// resource and namespace of the stack's objects (by its labels), then a
// get for each ref the lists did not find (an object without the labels,
// or none), except in namespaces that do not exist.
func (c *Cluster) readLive(ctx context.Context, stack string, refs []kube.Ref) (map[kube.Ref]*unstructured.Unstructured, error) {
	type target struct {
		ref kube.Ref
		key listKey
	}
	var targets []target
	keys := map[listKey]bool{}
	namespaces := map[string]bool{}
	for _, r := range dedupe(refs) {
		m, err := c.mapping(r.GroupKind(), r.Version)
		if err != nil {
			return nil, fmt.Errorf("map %s: %w", r, err)
		}
		if m == nil {
			continue // the kind is not served: no such object
		}
		ns := r.Namespace
		if !kube.ScopeOf(m) {
			ns = ""
		}
		k := listKey{m.Resource, ns}
		targets = append(targets, target{r, k})
		keys[k] = true
		if ns != "" {
			namespaces[ns] = true
		}
	}
	sel := labels.Set{LabelManagedBy: managedBy, LabelStack: stack}.String()
	listed := map[listKey]map[string]*unstructured.Unstructured{}
	missingNS := map[string]bool{}
	var mu sync.Mutex
	var errs []error
	keyList := mapKeys(keys)
	nsList := mapKeys(namespaces)
	parallel.EachUpTo(len(keyList)+len(nsList), 16, func(i int) {
		if i >= len(keyList) {
			ns := nsList[i-len(keyList)]
			err := RetryRequest(ctx, func(ctx context.Context) error {
				_, err := kube.Namespaces(c.Dynamic).Get(ctx, ns, metav1.GetOptions{})
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case apierrors.IsNotFound(err):
				missingNS[ns] = true
			case err != nil && !apierrors.IsForbidden(err):
				errs = append(errs, fmt.Errorf("read namespace %s: %w", ns, err))
			}
			return
		}
		k := keyList[i]
		objs, err := c.list(ctx, k, sel)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
			return
		}
		listed[k] = objs
	})
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out := make(map[kube.Ref]*unstructured.Unstructured, len(targets))
	var misses []target
	for _, t := range targets {
		if o := listed[t.key][t.ref.Name]; o != nil {
			out[t.ref.ID()] = o
		} else if !missingNS[t.key.ns] {
			misses = append(misses, t)
		}
	}
	parallel.EachUpTo(len(misses), 16, func(i int) {
		t := misses[i]
		var got *unstructured.Unstructured
		err := RetryRequest(ctx, func(ctx context.Context) error {
			var err error
			got, err = c.Dynamic.Resource(t.key.gvr).Namespace(t.key.ns).Get(ctx, t.ref.Name, metav1.GetOptions{})
			return err
		})
		mu.Lock()
		defer mu.Unlock()
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("read %s: %w", t.ref, err))
		default:
			out[t.ref.ID()] = got
		}
	})
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func mapKeys[K comparable](m map[K]bool) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// list returns the objects of one resource and namespace that sel
// selects, by name.
func (c *Cluster) list(ctx context.Context, k listKey, sel string) (map[string]*unstructured.Unstructured, error) {
	lo := metav1.ListOptions{LabelSelector: sel, Limit: 500}
	out := map[string]*unstructured.Unstructured{}
	for {
		var l *unstructured.UnstructuredList
		err := RetryRequest(ctx, func(ctx context.Context) error {
			var err error
			l, err = c.Dynamic.Resource(k.gvr).Namespace(k.ns).List(ctx, lo)
			return err
		})
		if apierrors.IsNotFound(err) {
			return out, nil // the resource went away: nothing of it lives
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", k.gvr.Resource, err)
		}
		for i := range l.Items {
			out[l.Items[i].GetName()] = &l.Items[i]
		}
		if lo.Continue = l.GetContinue(); lo.Continue == "" {
			return out, nil
		}
	}
}

// maxNamed is how many objects a reason that lists them names.
const maxNamed = 5

func named(found []string) []string {
	slices.Sort(found)
	if len(found) > maxNamed {
		found = append(found[:maxNamed], fmt.Sprintf("and %d more", len(found)-maxNamed))
	}
	return found
}

// holders lists the objects in namespace ns that keep it from being
// pruned: anything not being deleted already, not owned by another object,
// not made by Kubernetes itself for every namespace, and not obsctl's own
// access (the Role and RoleBinding obsctl rbac prints). Objects of the
// stack count too: one still in the set would go with the namespace.
func (c *Cluster) holders(ctx context.Context, ns string) ([]string, error) {
	resources, err := c.Resources(ctx)
	if err != nil {
		return nil, err
	}
	var all []kube.Resource
	for _, r := range resources {
		switch {
		case !r.Preferred, !r.Namespaced, !slices.Contains(r.Verbs, "list"):
			continue
		case r.Resource == "events", r.Resource == "endpoints":
			// Events and a Service's Endpoints go with what they are about.
			continue
		}
		all = append(all, r)
	}
	var (
		mu    sync.Mutex
		found []string
		errs  []error
	)
	parallel.EachUpTo(len(all), 8, func(i int) {
		rs := all[i]
		var l *unstructured.UnstructuredList
		err := RetryRequest(ctx, func(ctx context.Context) error {
			var err error
			l, err = c.Dynamic.Resource(rs.GroupVersionResource).Namespace(ns).List(ctx, metav1.ListOptions{Limit: 50})
			return err
		})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
				errs = append(errs, fmt.Errorf("list %s: %w", rs.Resource, err))
			}
			return
		}
		for _, o := range l.Items {
			if o.GetDeletionTimestamp() != nil || len(o.GetOwnerReferences()) > 0 || builtinPerNamespace(rs.Kind, o.GetName()) || o.GetLabels()[rbac.LabelAccess] != "" {
				continue
			}
			found = append(found, rs.Kind+" "+ns+"/"+o.GetName())
		}
	})
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if found == nil {
		found = []string{}
	}
	return named(found), nil
}

// builtinPerNamespace reports whether an object is one Kubernetes makes in
// every namespace.
func builtinPerNamespace(kind, name string) bool {
	return (kind == "ConfigMap" && name == "kube-root-ca.crt") || (kind == "ServiceAccount" && name == "default")
}

// customResources lists the custom resources of a CustomResourceDefinition
// that are not being deleted, in every namespace: deleting the CRD would
// delete them all, whoever made them.
func (c *Cluster) customResources(ctx context.Context, crd *unstructured.Unstructured) ([]string, error) {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	version := ""
	for _, v := range versions {
		m, _ := v.(map[string]any)
		if served, _ := m["served"].(bool); served {
			version, _ = m["name"].(string)
			break
		}
	}
	if version == "" || plural == "" {
		return []string{}, nil // nothing served, nothing to lose
	}
	var l *unstructured.UnstructuredList
	err := RetryRequest(ctx, func(ctx context.Context) error {
		var err error
		l, err = c.Dynamic.Resource(schema.GroupVersionResource{Group: group, Version: version, Resource: plural}).List(ctx, metav1.ListOptions{Limit: 50})
		return err
	})
	if apierrors.IsNotFound(err) {
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	found := []string{}
	for _, o := range l.Items {
		if o.GetDeletionTimestamp() == nil {
			found = append(found, kind+" "+strings.TrimPrefix(o.GetNamespace()+"/", "/")+o.GetName())
		}
	}
	return named(found), nil
}

// resource returns the client of one object's resource and namespace, or
// nil when its kind is not served.
func (c *Cluster) resource(ref kube.Ref) (dynamic.ResourceInterface, error) {
	m, err := c.mapping(ref.GroupKind(), ref.Version)
	if err != nil || m == nil {
		return nil, err
	}
	if kube.ScopeOf(m) {
		return c.Dynamic.Resource(m.Resource).Namespace(ref.Namespace), nil
	}
	return c.Dynamic.Resource(m.Resource), nil
}
