package release

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/redact"
)

// Diff makes the plan apply would make and sends the objects as a server
// dry run, changing nothing, and returns each object as it is and as it
// would be (Before and After: cleaned of what the server sets on every
// write, Secret values redacted). Objects apply would prune come with
// Before only; created ones with After only. Missing Secrets the stack
// reads, and destructive changes, are notes: diff shows, it does not stop.
func Diff(ctx context.Context, c *Cluster, src Source, o Options) (*Result, error) {
	o.DryRun = true
	if src.Profile != "" && !src.ProfileNamed {
		// Diff shows what applying this profile does; apply asks for it
		// to be named (see ProfileError), diff says so.
		src.ProfileNamed, o.profileUnnamed = true, true
	}
	r := newRun(c, src, o)
	r.diff = true
	tctx, cancel := context.WithDeadline(ctx, o.Deadline)
	defer cancel()
	err := r.diffRun(tctx)
	return r.res, AsTimeout(tctx, err, o.Timeout)
}

func (r *run) diffRun(ctx context.Context) error {
	var err error
	if r.inv, err = r.loadInventory(ctx); err != nil {
		return err
	}
	if err := r.prepare(ctx); err != nil {
		return err
	}
	if r.missing != nil {
		r.note("obsctl: warning: %v", r.missing)
	}
	if r.o.profileUnnamed && r.plan.ProfileChange != "" {
		r.note("obsctl: warning: the stack's profile would change (%s): apply needs it named with --profile %s", r.plan.ProfileChange, r.plan.Profile)
	}
	for _, w := range r.scaledBelow() {
		r.note("obsctl: warning: %s", w)
	}
	return r.dryRun(ctx, ctx)
}

// scaledBelow says, as status does, which of the set's Deployments and
// StatefulSets another manager scaled below the replicas the set wants:
// the release leaves their replicas alone, and diff says so.
func (r *run) scaledBelow() []string {
	var out []string
	for _, c := range r.plan.Changes {
		gk := c.Ref.GroupKind()
		if c.Live == nil || c.Desired == nil || gk != kube.GKDeployment && gk != kube.GKStatefulSet {
			continue
		}
		live, found, _ := unstructured.NestedInt64(c.Live.Object, "spec", "replicas")
		if !found {
			live = 1
		}
		// What the set wants, on the live object: belowWanted reads it
		// from the annotation render writes.
		o := c.Live.DeepCopy()
		if want, ok := c.Desired.GetAnnotations()[AnnotationReplicas]; ok {
			a := o.GetAnnotations()
			if a == nil {
				a = map[string]string{}
			}
			a[AnnotationReplicas] = want
			o.SetAnnotations(a)
		}
		if w := belowWanted(o, c.Ref.Kind, live); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// withDiff fills in Before and After of the engine's outcome for an object.
func withDiff(or *ObjectResult, o apply.ObjectResult) {
	if o.Applied == nil || o.Action == apply.Unchanged {
		return
	}
	before, after := redact.ForDiff(cleanForDiff(o.Live), cleanForDiff(o.Applied))
	or.Before, or.After = before, after
}

// withPruneDiff fills in Before of an object the plan prunes.
func withPruneDiff(or *ObjectResult, live *unstructured.Unstructured) {
	if live == nil {
		return
	}
	or.Before, _ = redact.ForDiff(cleanForDiff(live), nil)
}

// cleanForDiff returns a copy of obj without what the server sets on every
// write and what says nothing about the change: managedFields,
// resourceVersion, generation, uid, creationTimestamp, status and obsctl's
// applied-hash annotation.
func cleanForDiff(obj *unstructured.Unstructured) *unstructured.Unstructured {
	if obj == nil {
		return nil
	}
	c := obj.DeepCopy()
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(c.Object, "status")
	if a := c.GetAnnotations(); a != nil {
		delete(a, apply.AnnotationHash)
		if len(a) == 0 {
			unstructured.RemoveNestedField(c.Object, "metadata", "annotations")
		} else {
			c.SetAnnotations(a)
		}
	}
	return c
}

// unchecked picks out, for a server dry run, the objects the API server
// cannot check yet, with why: objects in a namespace the set creates,
// custom resources of a CRD the set installs, and bindings of a role the
// set creates (the server reads the role to check the binding's rules are
// held). The dry run reports them as created, unchecked.
func (r *run) unchecked() map[kube.Ref]string {
	out := map[kube.Ref]string{}
	newNS := map[string]bool{}
	crdKinds := map[schema.GroupKind]bool{}
	newRoles := map[kube.Ref]bool{}
	for _, c := range r.plan.Changes {
		if !c.Applies() || c.Live != nil {
			continue
		}
		switch gk := c.Ref.GroupKind(); {
		case gk == kube.GKNamespace:
			newNS[c.Ref.Name] = true
		case gk == kube.GKCRD:
			group, _, _ := unstructured.NestedString(c.Desired.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(c.Desired.Object, "spec", "names", "kind")
			crdKinds[schema.GroupKind{Group: group, Kind: kind}] = true
		case gk.Group == rbacGroup && (gk.Kind == "Role" || gk.Kind == "ClusterRole"):
			newRoles[c.Ref.ID()] = true
		}
	}
	for _, c := range r.plan.Changes {
		if !c.Applies() {
			continue
		}
		gk := c.Ref.GroupKind()
		why := ""
		switch {
		case crdKinds[gk] && r.unmapped(gk, c.Ref.Version):
			why = "its CustomResourceDefinition is not installed yet"
		case newNS[c.Ref.Namespace]:
			why = "namespace " + c.Ref.Namespace + " does not exist yet"
		case gk.Group == rbacGroup && (gk.Kind == "RoleBinding" || gk.Kind == "ClusterRoleBinding"):
			kind, _, _ := unstructured.NestedString(c.Desired.Object, "roleRef", "kind")
			name, _, _ := unstructured.NestedString(c.Desired.Object, "roleRef", "name")
			role := kube.Ref{Group: rbacGroup, Kind: kind, Name: name}
			if kind == "Role" {
				role.Namespace = c.Ref.Namespace
			}
			if newRoles[role] {
				why = "the " + kind + " " + name + " it binds is not created yet"
			}
		}
		if why != "" {
			out[c.Ref.ID()] = why + ", so the server did not check it"
		}
	}
	return out
}

const rbacGroup = "rbac.authorization.k8s.io"

func (r *run) unmapped(gk schema.GroupKind, version string) bool {
	m, _ := r.c.mapping(gk, version)
	return m == nil
}

// withOwnership returns obj with the labels apply gives it, for objects the
// server could not dry-run.
func withOwnership(obj *unstructured.Unstructured, stack string) *unstructured.Unstructured {
	c := obj.DeepCopy()
	l := c.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	l[LabelManagedBy] = managedBy
	l[LabelStack] = stack
	c.SetLabels(l)
	return c
}
