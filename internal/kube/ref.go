package kube

import (
	"cmp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Ref names one object: the one object reference of obsctl, used by the
// apply engine, the inventory, the release plan and every message about an
// object. Namespace is empty for cluster-scoped objects. Two references to
// the same object may differ in Version only (see ID): the version is how an
// object was read or written, not which object it is.
type Ref struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// RefOf returns the reference of obj as given: its namespace is the one the
// object names, before any defaulting.
func RefOf(obj *unstructured.Unstructured) Ref {
	gvk := obj.GroupVersionKind()
	return Ref{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// GroupKind returns the reference's group and kind.
func (r Ref) GroupKind() schema.GroupKind { return schema.GroupKind{Group: r.Group, Kind: r.Kind} }

// GroupVersionKind returns the reference's group, version and kind.
func (r Ref) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

// APIVersion returns "group/version", or "version" for the core group.
func (r Ref) APIVersion() string {
	return schema.GroupVersion{Group: r.Group, Version: r.Version}.String()
}

// ID returns the reference without its version: what makes two references
// the same object. An object that moved from v1beta1 to v1 is still the
// same object and must not be pruned.
func (r Ref) ID() Ref {
	r.Version = ""
	return r
}

// String returns "Kind namespace/name", or "Kind name" for a cluster-scoped
// object, the form every message about an object uses.
func (r Ref) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Qualified returns the reference the way kubectl names objects with their
// group and version: "Deployment.v1.apps monitoring/grafana",
// "Namespace.v1 monitoring".
func (r Ref) Qualified() string {
	var b strings.Builder
	b.WriteString(r.Kind)
	b.WriteByte('.')
	b.WriteString(r.Version)
	if r.Group != "" {
		b.WriteByte('.')
		b.WriteString(r.Group)
	}
	b.WriteByte(' ')
	if r.Namespace != "" {
		b.WriteString(r.Namespace)
		b.WriteByte('/')
	}
	b.WriteString(r.Name)
	return b.String()
}

// Compare orders references by group, kind, namespace, name and then
// version.
func (r Ref) Compare(o Ref) int {
	return cmp.Or(
		cmp.Compare(r.Group, o.Group),
		cmp.Compare(r.Kind, o.Kind),
		cmp.Compare(r.Namespace, o.Namespace),
		cmp.Compare(r.Name, o.Name),
		cmp.Compare(r.Version, o.Version),
	)
}
