package inventory

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ObjectRef names one object obsctl applied. Namespace is empty for
// cluster-scoped objects.
type ObjectRef struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// RefOf returns the reference of obj.
func RefOf(obj *unstructured.Unstructured) ObjectRef {
	gvk := obj.GroupVersionKind()
	return ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// GroupVersionKind returns the reference's group, version and kind.
func (r ObjectRef) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

// String formats r the way kubectl names objects, with the group and
// version: "Deployment.v1.apps monitoring/grafana", "Namespace.v1 monitoring".
func (r ObjectRef) String() string {
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

// identity is what makes two references the same object: the version is
// only how it was read or written, so an object that moved from v1beta1 to
// v1 is still the same object and must not be pruned.
type identity struct{ group, kind, namespace, name string }

func (r ObjectRef) identity() identity { return identity{r.Group, r.Kind, r.Namespace, r.Name} }

// Compare orders references by group, kind, namespace, name and then
// version, the order in which the inventory stores them.
func (r ObjectRef) Compare(o ObjectRef) int {
	return cmp.Or(
		cmp.Compare(r.Group, o.Group),
		cmp.Compare(r.Kind, o.Kind),
		cmp.Compare(r.Namespace, o.Namespace),
		cmp.Compare(r.Name, o.Name),
		cmp.Compare(r.Version, o.Version),
	)
}

func (r ObjectRef) validate() error {
	if r.Version == "" || r.Kind == "" || r.Name == "" {
		return fmt.Errorf("object %q has no apiVersion, kind or name", r.String())
	}
	return nil
}

// sortRefs returns refs sorted, without exact duplicates, in a new slice.
func sortRefs(refs []ObjectRef) []ObjectRef {
	out := slices.Clone(refs)
	slices.SortFunc(out, ObjectRef.Compare)
	return slices.Compact(out)
}

// Prune returns the objects of previous that next no longer has: the only
// objects an apply may delete. It never returns anything outside previous,
// which is the last revision the inventory recorded. Objects match by group,
// kind, namespace and name; the version does not matter. The result is
// sorted.
func Prune(previous, next []ObjectRef) []ObjectRef {
	keep := make(map[identity]bool, len(next))
	for _, r := range next {
		keep[r.identity()] = true
	}
	var out []ObjectRef
	for _, r := range previous {
		if !keep[r.identity()] {
			out = append(out, r)
		}
	}
	return sortRefs(out)
}

// Changes says how one revision's objects differ from another's.
type Changes struct {
	Added   []ObjectRef // objects only the later revision has
	Removed []ObjectRef // objects only the earlier revision has
	// Changed are objects both have with different manifests. It is only
	// known when Compared is true: both revisions still held manifests.
	Changed  []ObjectRef
	Compared bool
}

// Diff compares two object sets: what next added to previous and what it
// removed. Objects match as in Prune.
func Diff(previous, next []ObjectRef) Changes {
	return Changes{Added: Prune(next, previous), Removed: Prune(previous, next)}
}

// DiffRevisions compares two revisions: the objects added and removed and,
// when both still hold their manifests, the objects whose manifests differ.
// Secrets compare by the digest of their data.
func DiffRevisions(previous, next *Revision) (Changes, error) {
	c := Diff(previous.Objects, next.Objects)
	if !previous.HasManifests() || !next.HasManifests() {
		return c, nil
	}
	before, err := previous.manifestsByIdentity()
	if err != nil {
		return c, fmt.Errorf("revision %d: %w", previous.Number, err)
	}
	after, err := next.manifestsByIdentity()
	if err != nil {
		return c, fmt.Errorf("revision %d: %w", next.Number, err)
	}
	for id, a := range after {
		if b, ok := before[id]; ok && string(a.json) != string(b.json) {
			c.Changed = append(c.Changed, a.ref)
		}
	}
	c.Changed = sortRefs(c.Changed)
	c.Compared = true
	return c, nil
}

// Empty reports whether nothing changed, as far as is known.
func (c Changes) Empty() bool {
	return len(c.Added) == 0 && len(c.Removed) == 0 && len(c.Changed) == 0
}

// String summarizes c for `obsctl history`: "2 added, 1 removed, 3 changed".
// Without manifests to compare, changed objects are not counted and it
// says so.
func (c Changes) String() string {
	var parts []string
	if n := len(c.Added); n > 0 {
		parts = append(parts, fmt.Sprintf("%d added", n))
	}
	if n := len(c.Removed); n > 0 {
		parts = append(parts, fmt.Sprintf("%d removed", n))
	}
	if n := len(c.Changed); n > 0 {
		parts = append(parts, fmt.Sprintf("%d changed", n))
	}
	s := strings.Join(parts, ", ")
	switch {
	case s == "" && c.Compared:
		return "no change"
	case s == "":
		s = "same objects"
	}
	if !c.Compared {
		s += " (manifests not compared)"
	}
	return s
}
