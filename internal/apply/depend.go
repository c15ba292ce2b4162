package apply

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/obsctl/obsctl/internal/kube"
)

// A failed object holds back only what cannot work without it. The
// dependencies the engine knows are the ones the API server itself enforces
// or that make a dependent useless:
//
//   - an object in a namespace needs that Namespace (the server refuses to
//     create anything in a namespace that does not exist);
//   - a custom resource needs its CustomResourceDefinition, Established
//     (before that its kind is not served);
//   - a RoleBinding or ClusterRoleBinding needs the Role or ClusterRole it
//     binds (an identity that may not escalate cannot bind a role the
//     server cannot read).
//
// Only dependencies within the applied set count: what the cluster already
// has is the server's to judge. Everything else is independent: a failed
// ConfigMap must not keep the PrometheusRules of the stack from shipping.

var (
	gkRole               = schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "Role"}
	gkClusterRole        = schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}
	gkRoleBinding        = schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "RoleBinding"}
	gkClusterRoleBinding = schema.GroupKind{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}
)

// dependencies returns the objects of the input it needs, by ID: its
// Namespace, the CustomResourceDefinitions of its kind, the role it binds.
// Every one of them is in an earlier wave than it.
func (r *run) dependencies(it *item) []ObjectRef {
	var deps []ObjectRef
	add := func(ref ObjectRef) {
		if r.byID[ref] != nil {
			deps = append(deps, ref)
		}
	}
	gk := it.gvk.GroupKind()
	if ns := r.namespaceOf(it); ns != "" {
		add(ObjectRef{Kind: "Namespace", Name: ns})
	}
	for _, crd := range r.crdsOf[gk] {
		add(crd.res.Object.ID())
	}
	if gk == gkRoleBinding || gk == gkClusterRoleBinding {
		group, _, _ := unstructured.NestedString(it.src.Object, "roleRef", "apiGroup")
		kind, _, _ := unstructured.NestedString(it.src.Object, "roleRef", "kind")
		name, _, _ := unstructured.NestedString(it.src.Object, "roleRef", "name")
		switch (schema.GroupKind{Group: group, Kind: kind}) {
		case gkRole:
			add(ObjectRef{Group: group, Kind: kind, Namespace: r.namespaceOf(it), Name: name})
		case gkClusterRole:
			add(ObjectRef{Group: group, Kind: kind, Name: name})
		}
	}
	return deps
}

// namespaceOf returns the namespace the item is applied in, "" for a
// cluster-scoped object. An item not mapped yet (a kind of a CRD of the
// input) takes its scope from its CRD.
func (r *run) namespaceOf(it *item) string {
	if it.p != nil {
		return it.p.obj.GetNamespace()
	}
	gk := it.gvk.GroupKind()
	namespaced, known := kube.Namespaced(gk)
	if !known {
		namespaced = it.src.GetNamespace() != ""
		for _, crd := range r.crdsOf[gk] {
			scope, _, _ := unstructured.NestedString(crd.src.Object, "spec", "scope")
			namespaced = scope != "Cluster"
		}
	}
	switch {
	case !namespaced:
		return ""
	case it.src.GetNamespace() == "":
		return r.opts.Namespace
	}
	return it.src.GetNamespace()
}

// holdBack marks it Skipped when an object it depends on failed or was
// itself held back, and says which. It reports whether it did.
func (r *run) holdBack(it *item) bool {
	for _, dep := range r.dependencies(it) {
		why, ok := r.blocked[dep]
		if !ok {
			continue
		}
		it.res.Action = Skipped
		held := r.byID[dep].res.Object
		it.res.HeldBackBy = &held
		it.res.Note = fmt.Sprintf("held back: %s %s", held, why)
		r.blocked[it.res.Object.ID()] = "was held back"
		return true
	}
	return false
}

// settle records the objects of a wave that failed, so that their
// dependents in later waves are held back.
func (r *run) settle(items []*item) {
	for _, it := range items {
		if it.res.Action == Failed {
			r.blocked[it.res.Object.ID()] = "failed"
		}
	}
}
