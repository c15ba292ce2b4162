package release

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/render"
)

// requiredRefs returns the Secrets reqs name, so the release reads them with
// the rest of the live state.
func requiredRefs(reqs []render.Requirement) []kube.Ref {
	out := make([]kube.Ref, 0, len(reqs))
	for _, q := range reqs {
		out = append(out, kube.Ref{Version: "v1", Kind: "Secret", Namespace: q.Namespace, Name: q.Name})
	}
	return out
}

// checkRequires checks that the Secrets the stack reads and its users
// create exist with every key the stack reads: a missing one would leave
// Alertmanager's pods in ContainerCreating, which no rollout wait explains
// well. The error carries the kubectl command that creates each.
func (r *run) checkRequires() error {
	var e RequirementError
	for _, q := range r.src.Requires {
		live := r.live[kube.Ref{Kind: "Secret", Namespace: q.Namespace, Name: q.Name}]
		var missing []string
		for _, k := range q.Keys {
			if live == nil || !hasKey(live, k) {
				missing = append(missing, k)
			}
		}
		if len(missing) == 0 {
			continue
		}
		what := fmt.Sprintf("Secret %s/%s", q.Namespace, q.Name)
		if live == nil {
			what += " (missing)"
		} else {
			what += " lacks key " + strings.Join(missing, ", ")
		}
		if q.Component != "" {
			what += ", read by " + q.Component
		}
		e.Missing = append(e.Missing, what)
		if live == nil {
			e.Fixes = append(e.Fixes, q.Command())
		} else {
			e.Fixes = append(e.Fixes, fmt.Sprintf("kubectl patch secret %s -n %s --type merge -p '{\"stringData\":{%s}}'", q.Name, q.Namespace, quotedKeys(missing)))
		}
	}
	if len(e.Missing) > 0 {
		return &e
	}
	return nil
}

func hasKey(s *unstructured.Unstructured, k string) bool {
	if _, ok, _ := unstructured.NestedFieldNoCopy(s.Object, "data", k); ok {
		return true
	}
	_, ok, _ := unstructured.NestedFieldNoCopy(s.Object, "stringData", k)
	return ok
}

func quotedKeys(keys []string) string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%q:\"...\"", k))
	}
	return strings.Join(parts, ",")
}
