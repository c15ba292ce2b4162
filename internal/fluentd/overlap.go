package fluentd

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
)

// overlaps reports pairs of pipelines whose selectors can take the same
// logs. What is decided statically: a selector is the conjunction of a
// namespace set, a container set and pod label equalities, so two
// selectors overlap exactly when each of the three intersects:
//
//   - namespaces: a written list (less its exclusions) is a finite set;
//     no list is "every namespace but the excluded ones". Two finite sets
//     overlap when they share a name; a finite and an open set when the
//     finite one has a name the other does not exclude; two open sets
//     always do (there are always namespaces neither excludes).
//   - containers: two written lists overlap when they share a name; an
//     empty list takes any container.
//   - pod labels: the equalities conflict only when both name the same key
//     with different values; otherwise one pod can carry all of them.
//
// This is exact for the selectors the format has: when it reports an
// overlap, a pod that both selectors take can exist. (One approximation:
// label keys are compared as written, while the metadata filter turns the
// dots of label keys into '_', so "a.b" and "a_b" read the same label.) The catch-all is
// left out: it overlaps everything by design and is routed last. The
// finding is on the pipeline later in routing order, which never
// receives the shared logs.
func overlaps(ps []*Pipeline) []diag.Finding {
	var cands []*Pipeline
	seen := map[string]bool{}
	for _, p := range ps {
		if p.Name == "" || seen[p.Name] || p.CatchAll() {
			continue
		}
		seen[p.Name] = true
		cands = append(cands, p)
	}
	Sort(cands)
	var out []diag.Finding
	for j, b := range cands {
		for _, a := range cands[:j] {
			w, ok := overlap(&a.Match, &b.Match)
			if !ok {
				continue
			}
			sp := b.Span("match")
			if sp.File == "" {
				sp = b.NameSpan()
			}
			out = append(out, diag.Finding{
				Check: CheckOverlap, Severity: diag.Warning, Span: sp,
				Message: fmt.Sprintf("pipelines %q and %q can both take logs %s; %q comes first in routing order (by name), so %q never receives them",
					a.Name, b.Name, w, a.Name, b.Name),
				Hint: fmt.Sprintf("make the selectors disjoint, for example by adding %q's namespaces to excludeNamespaces of the other (%s)", a.Name, where(a)),
			})
		}
	}
	return out
}

// overlap reports whether selectors a and b can take the same log, with
// a description of such a log.
func overlap(a, b *Match) (string, bool) {
	ns, ok := namespaceWitness(a, b)
	if !ok {
		return "", false
	}
	parts := []string{ns}
	ca, cb := values(a.Containers), values(b.Containers)
	switch {
	case len(ca) > 0 && len(cb) > 0:
		common := intersect(ca, cb)
		if len(common) == 0 {
			return "", false
		}
		parts = append(parts, "container "+quote(common[0]))
	case len(ca) > 0:
		parts = append(parts, "container "+quote(ca[0]))
	case len(cb) > 0:
		parts = append(parts, "container "+quote(cb[0]))
	}
	labels := map[string]string{}
	for _, kv := range append(append(Pairs{}, a.PodLabels...), b.PodLabels...) {
		if v, ok := labels[kv.Key]; ok && v != kv.Value {
			return "", false
		}
		labels[kv.Key] = kv.Value
	}
	if len(labels) > 0 {
		var ls []string
		for _, k := range slices.Sorted(maps.Keys(labels)) {
			ls = append(ls, k+"="+labels[k])
		}
		parts = append(parts, "pods labelled "+strings.Join(ls, ", "))
	}
	return strings.Join(parts, ", "), true
}

// namespaceWitness returns a namespace both selectors take, described.
func namespaceWitness(a, b *Match) (string, bool) {
	fa, openA := namespaceSet(a)
	fb, openB := namespaceSet(b)
	var common []string
	switch {
	case openA && openB:
		return "from a namespace neither excludes", true
	case openA:
		common = minus(fb, values(a.ExcludeNamespaces))
	case openB:
		common = minus(fa, values(b.ExcludeNamespaces))
	default:
		common = intersect(fa, fb)
	}
	if len(common) == 0 {
		return "", false
	}
	return "from namespace " + quote(common[0]), true
}

// namespaceSet returns the sorted namespaces a selector takes, or open
// when it takes every namespace but its exclusions.
func namespaceSet(m *Match) (names []string, open bool) {
	if len(m.Namespaces) == 0 {
		return nil, true
	}
	return minus(values(m.Namespaces), values(m.ExcludeNamespaces)), false
}

func values(list []Str) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, s.Value)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// intersect and minus take and return sorted lists.
func intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		if _, ok := slices.BinarySearch(b, s); ok {
			out = append(out, s)
		}
	}
	return out
}

func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if _, ok := slices.BinarySearch(b, s); !ok {
			out = append(out, s)
		}
	}
	return out
}
