package apply

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Replicas are left to whoever else set them. A Deployment or StatefulSet
// that kubectl scale, kubectl edit or a HorizontalPodAutoscaler scaled has
// another field manager owning spec.replicas; applying obsctl's count over
// it would fight the autoscaler (or the person on call) on every run, and
// under ConflictsTake would silently undo their scale. So the engine drops
// spec.replicas from what it applies and says so (ObjectResult.LeftTo).
// The comparison of the unchanged fast path leaves it out too, while the
// applied hash stays the desired object's: an object otherwise unchanged
// stays unchanged, and no request is sent for it.

// replicasField is spec.replicas as the API server names fields.
const replicasField = ".spec.replicas"

// leavesReplicas reports whether objects of the item's kind have replicas
// other managers may own: apps Deployments and StatefulSets.
func leavesReplicas(it *item) bool {
	gk := it.gvk.GroupKind()
	return gk == gkDeployment || gk == gkStatefulSet
}

// replicasOwners returns the field managers other than obsctl that own
// spec.replicas of live, sorted: kubectl scale and autoscalers update the
// scale subresource, and the entry they leave names the parent's field.
func replicasOwners(live *unstructured.Unstructured) []string {
	if live == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, e := range live.GetManagedFields() {
		if e.Manager == FieldManager || e.FieldsV1 == nil || seen[e.Manager] {
			continue
		}
		var fields map[string]any
		if json.Unmarshal(e.FieldsV1.Raw, &fields) != nil {
			continue
		}
		spec, _ := fields["f:spec"].(map[string]any)
		if _, ok := spec["f:replicas"]; ok {
			seen[e.Manager] = true
			out = append(out, e.Manager)
		}
	}
	sort.Strings(out)
	return out
}

// leaveReplicas drops spec.replicas from what the item applies, once, and
// records the managers it is left to. It reports whether it dropped it.
func (it *item) leaveReplicas(managers []string) bool {
	if len(managers) == 0 || it.full != nil {
		return false
	}
	if _, ok, _ := unstructured.NestedFieldNoCopy(it.p.obj.Object, "spec", "replicas"); !ok {
		return false
	}
	p, err := it.p.without("spec", "replicas")
	if err != nil {
		return false // apply it whole: a conflict is the worst that happens
	}
	it.full, it.p = it.p, p
	for _, m := range managers {
		it.res.LeftTo = append(it.res.LeftTo, FieldConflict{Manager: m, Field: replicasField})
	}
	note := "replicas left to " + strings.Join(managers, ", ")
	if it.live != nil {
		if n, ok, _ := unstructured.NestedFieldNoCopy(it.live.Object, "spec", "replicas"); ok {
			note += fmt.Sprintf(" (%v)", n)
		}
	}
	it.addNote(note)
	return true
}

// replicasConflict returns the managers a conflict names on
// spec.replicas: owners the live object did not show (it was not listed,
// or changed since).
func replicasConflict(ce *ConflictError) []string {
	var managers []string
	for _, c := range ce.Conflicts {
		if c.Field == replicasField {
			managers = append(managers, c.Manager)
		}
	}
	return managers
}

// without returns a copy of p without the field at path, with the same
// hash: the hash is of the desired object, whatever the engine leaves out
// of it for this apply.
func (p *prepared) without(path ...string) (*prepared, error) {
	obj := p.obj.DeepCopy()
	unstructured.RemoveNestedField(obj.Object, path...)
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return &prepared{obj: obj, body: body, hash: p.hash}, nil
}
