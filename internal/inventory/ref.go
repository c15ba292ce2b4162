package inventory

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/kube"
)

// ObjectRef names one object obsctl applied: kube's one reference type.
// Objects match by their ID (group, kind, namespace and name); the version
// is only how an object was read or written.
type ObjectRef = kube.Ref

// RefOf returns the reference of obj.
func RefOf(obj *unstructured.Unstructured) ObjectRef { return kube.RefOf(obj) }

type identity = kube.Ref

func validateRef(r ObjectRef) error {
	if r.Version == "" || r.Kind == "" || r.Name == "" {
		return fmt.Errorf("object %q has no apiVersion, kind or name", r.Qualified())
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
		keep[r.ID()] = true
	}
	var out []ObjectRef
	for _, r := range previous {
		if !keep[r.ID()] {
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
// when both say which version of each object they applied (their entries'
// digests, kept even when the manifests were dropped), the objects whose
// stored form differs. Secrets compare by the digest of their data.
func DiffRevisions(previous, next *Revision) (Changes, error) {
	c := Diff(previous.Refs(), next.Refs())
	if !previous.hasDigests() || !next.hasDigests() {
		return c, nil
	}
	before := make(map[identity]string, len(previous.Entries))
	for _, e := range previous.Entries {
		before[e.ID()] = e.Digest
	}
	for _, e := range next.Entries {
		if d, ok := before[e.ID()]; ok && d != "" && e.Digest != "" && d != e.Digest {
			c.Changed = append(c.Changed, e.Ref)
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
