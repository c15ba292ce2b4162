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
// well. The error carries the kubectl command that creates each; the
// release holds back the components that read them (heldBack) and
// applies the rest, so that the stack's namespace exists for the Secrets
// to be created in.
func (r *run) checkRequires() *RequirementError {
	var e RequirementError
	held := map[string]bool{}
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
			if !held[q.Component] {
				held[q.Component] = true
				e.HeldBack = append(e.HeldBack, q.Component)
			}
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

// requirementReaders are the kinds of the components that read the
// Secrets a stack requires, by the component's title: the objects a
// missing Secret holds back.
var requirementReaders = map[string]kube.Ref{
	"Alertmanager": {Group: "monitoring.coreos.com", Kind: "Alertmanager"},
}

// heldByRequirements returns the desired objects that read a missing
// required Secret, with why they are held back.
func (r *run) heldByRequirements() map[kube.Ref]string {
	out := map[kube.Ref]string{}
	if r.missing == nil {
		return out
	}
	for _, q := range r.src.Requires {
		reader, ok := requirementReaders[q.Component]
		if !ok {
			continue
		}
		for _, c := range r.plan.Changes {
			if c.Applies() && c.Ref.GroupKind() == reader.GroupKind() && c.Ref.Namespace == q.Namespace {
				out[c.Ref.ID()] = fmt.Sprintf("held back: Secret %s/%s it reads does not exist (%s)", q.Namespace, q.Name, q.Command())
			}
		}
	}
	return out
}
