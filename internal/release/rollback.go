package release

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/inventory"
	"github.com/obsctl/obsctl/internal/kube"
)

// RollbackOptions say which revision to roll back to.
type RollbackOptions struct {
	// Revision is the revision to re-apply; 0 means the one before the
	// latest.
	Revision int
	// KeepSecretValues leaves Secrets whose values changed since the
	// revision as they are, instead of stopping.
	KeepSecretValues bool
}

// Rollback re-applies a revision's objects from the inventory, as a
// release of its own: the same lock, plan, confirmation, waves, prune and
// record as Apply, marked as a rollback. The inventory keeps no Secret
// values; a Secret of the revision goes back with the values it has in the
// cluster when they are the revision's (their digests match), and
// generated Secrets keep theirs whatever they are.
func Rollback(ctx context.Context, c *Cluster, ro RollbackOptions, o Options) (*Result, error) {
	r := newRun(c, Source{}, o)
	r.fromInventory = func(ctx context.Context) (Source, error) {
		rev, err := rollbackTarget(r.inv, ro.Revision)
		if err != nil {
			return Source{}, err
		}
		objs, err := rev.Manifests()
		if err != nil {
			return Source{}, err
		}
		if objs, err = r.unredact(ctx, objs, ro.KeepSecretValues); err != nil {
			return Source{}, err
		}
		r.note("obsctl: rolling stack %s back to revision %d (%s by %s, %d objects)",
			o.Stack, rev.Number, rev.Time.UTC().Format("2006-01-02 15:04:05Z"), rev.Who(), len(objs))
		return Source{
			Objects: objs, Repo: rev.Repo, Git: rev.Git, Profile: rev.Profile, Defaults: rev.Defaults,
			// Going back to the revision's profile is what a rollback
			// means: it is named by naming the revision.
			ProfileNamed: true, RollbackOf: rev.Number,
		}, nil
	}
	tctx, cancel := context.WithDeadline(ctx, o.Deadline)
	defer cancel()
	err := r.apply(ctx, tctx)
	return r.res, AsTimeout(tctx, err, o.Timeout)
}

// rollbackTarget picks the revision to roll back to: want, or with want 0
// the one before the latest.
func rollbackTarget(inv *inventory.Inventory, want int) (*inventory.Revision, error) {
	revs := inv.Revisions()
	if len(revs) == 0 {
		return nil, fmt.Errorf("stack %s has no revisions in %s/%s: nothing was applied, nothing to roll back to", inv.Stack(), inv.Namespace(), inv.Name())
	}
	held := fmt.Sprintf("the inventory holds revisions %d to %d", revs[0].Number, revs[len(revs)-1].Number)
	if len(revs) == 1 {
		held = fmt.Sprintf("the inventory holds only revision %d", revs[0].Number)
	}
	if want == 0 {
		if len(revs) < 2 {
			return nil, fmt.Errorf("stack %s: no revision before the latest to roll back to (%s)", inv.Stack(), held)
		}
		want = revs[len(revs)-2].Number
	}
	rev := inv.Revision(want)
	if rev == nil {
		return nil, fmt.Errorf("stack %s has no revision %d (%s)", inv.Stack(), want, held)
	}
	if !rev.HasManifests() {
		why := rev.ManifestsDropped
		if why == "" {
			why = "they were not recorded"
		}
		return nil, fmt.Errorf("revision %d of stack %s cannot be rolled back to: its manifests are gone (%s)", want, inv.Stack(), why)
	}
	return rev, nil
}

// unredact gives the revision's Secrets, stored without their values, the
// values they have in the cluster, when those are the revision's.
// Generated Secrets are left out: the release reads their values itself,
// and never changes them. A Secret whose values changed is an error naming
// it, unless keep says to leave it with its current values; a Secret that
// is gone is always an error: its values are nowhere.
func (r *run) unredact(ctx context.Context, objs []*unstructured.Unstructured, keep bool) ([]*unstructured.Unstructured, error) {
	var refs []kube.Ref
	for _, obj := range objs {
		if inventory.Redacted(obj) {
			ref := kube.RefOf(obj)
			if ref.Namespace == "" {
				ref.Namespace = r.o.Namespace
			}
			refs = append(refs, ref)
		}
	}
	live, err := r.c.readLive(ctx, r.o.Stack, refs)
	if err != nil {
		return nil, err
	}
	var changed, gone []string
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, obj := range objs {
		if !inventory.Redacted(obj) {
			out = append(out, obj)
			continue
		}
		ns := obj.GetNamespace()
		if ns == "" {
			ns = r.o.Namespace
		}
		desc := "Secret " + ns + "/" + obj.GetName()
		l := live[kube.Ref{Kind: "Secret", Namespace: ns, Name: obj.GetName()}]
		switch {
		case obj.GetLabels()[LabelGenerated] == "true" && l != nil:
			// Generated: its values are the cluster's, whatever they are.
			restored, _, err := inventory.Unredact(obj, l)
			if err != nil {
				return nil, err
			}
			out = append(out, restored)
			continue
		case l == nil:
			gone = append(gone, desc)
			continue
		}
		restored, same, err := inventory.Unredact(obj, l)
		if err != nil {
			return nil, err
		}
		if !same {
			if !keep {
				changed = append(changed, desc)
				continue
			}
			r.note("obsctl: %s keeps its current values (--keep-secret-values): they changed since the revision", desc)
		}
		out = append(out, restored)
	}
	var errs []error
	if len(gone) > 0 {
		errs = append(errs, fmt.Errorf("%s no longer exist: the inventory keeps no Secret values, so they cannot be restored; apply their source again", strings.Join(gone, ", ")))
	}
	if len(changed) > 0 {
		errs = append(errs, fmt.Errorf("the values of %s changed since the revision and the inventory keeps no Secret values to restore them; apply their source again, or pass --keep-secret-values to roll back the rest and leave them as they are", strings.Join(changed, ", ")))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("nothing rolled back: %w", errors.Join(errs...))
	}
	return out, nil
}
