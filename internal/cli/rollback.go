package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/obsctl/obsctl/internal/inventory"
	"github.com/obsctl/obsctl/internal/kube"
)

type rollbackOptions struct {
	applyOptions
	keepSecretValues bool
}

func newRollbackCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &rollbackOptions{applyOptions: applyOptions{globalOptions: g, dryRun: "none"}}
	cmd := &cobra.Command{
		Use:   "rollback [REVISION]",
		Short: "Re-apply an earlier revision's objects from the inventory",
		Long: `Re-apply the object set of an earlier revision of the stack, as recorded in
its inventory: by default the revision before the latest. It runs as apply
does (lock, waves, wait, prune) and records a new revision marked as a
rollback; objects the latest revision has and the earlier one does not are
pruned. Only revisions that still hold their manifests can be rolled back
to (obsctl history says which).

The inventory never stores Secret values, only a digest of them. A Secret of
the revision is therefore re-applied with the values it has in the cluster
when those are the revision's (the digests match). When a Secret's values
changed since, rollback stops before changing anything and names it:
re-apply its source, or pass --keep-secret-values to roll back everything
else and leave such Secrets with their current values. A Secret of the
revision that no longer exists cannot be restored and stops the rollback.

Exit codes as for apply: 0 rolled back (and ready), 1 failed (including a
revision that does not exist or cannot be rolled back to), 2 usage error, 4
not ready within --timeout, 5 the stack is locked and --wait-lock=false.`,
		Example: `  obsctl rollback
  obsctl rollback 4 --stack prod -n monitoring
  obsctl rollback 4 --keep-secret-values -o json`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			revision := 0
			if len(args) == 1 {
				n, err := strconv.Atoi(args[0])
				if err != nil || n <= 0 {
					return usagef("REVISION %q: want a revision number (obsctl history lists them)", args[0])
				}
				revision = n
			}
			return runRollback(cmd.Context(), deps, o, revision)
		},
	}
	f := cmd.Flags()
	o.addRunFlags(f)
	f.BoolVar(&o.keepSecretValues, "keep-secret-values", false, "leave Secrets whose values changed since the revision as they are, instead of stopping")
	return cmd
}

func runRollback(ctx context.Context, deps *Deps, o *rollbackOptions, revision int) error {
	if err := o.checkRunFlags(); err != nil {
		return err
	}
	if err := o.cluster.resolve(deps, o.globalOptions); err != nil {
		return err
	}
	r := newApplyRun(deps, &o.applyOptions)
	r.out = newApplyPrinter(deps, &o.applyOptions, nil)
	err := func() error {
		defer r.out.finish()
		conn, err := o.cluster.connect(deps)
		if err != nil {
			return err
		}
		tctx, cancel := context.WithDeadline(ctx, r.deadline())
		defer cancel()
		return r.applyLocked(ctx, tctx, conn, func(tctx context.Context, inv *inventory.Inventory) ([]*unstructured.Unstructured, error) {
			rev, err := rollbackTarget(inv, revision)
			if err != nil {
				return nil, err
			}
			objs, err := rev.Manifests()
			if err != nil {
				return nil, err
			}
			if objs, err = r.unredactSecrets(tctx, conn, objs, o.keepSecretValues); err != nil {
				return nil, err
			}
			r.rollbackOf = rev.Number
			r.out.setObjects(objs)
			r.out.note(fmt.Sprintf("obsctl: rolling stack %s back to revision %d (%s by %s, %d objects)",
				o.cluster.stack, rev.Number, rev.Time.UTC().Format("2006-01-02 15:04:05Z"), rev.Who(), len(objs)))
			return objs, nil
		})
	}()
	return r.finish(err)
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

// unredactSecrets gives the revision's Secrets, stored without their
// values, the values they have in the cluster, when those are the
// revision's. Secrets whose values changed are an error naming them all,
// unless keep says to leave them with their current values. A Secret that
// is gone is always an error: its values are nowhere.
func (r *applyRun) unredactSecrets(ctx context.Context, conn *clusterConn, objs []*unstructured.Unstructured, keep bool) ([]*unstructured.Unstructured, error) {
	var changed, gone []string
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, obj := range objs {
		if !inventory.Redacted(obj) {
			out = append(out, obj)
			continue
		}
		ns := obj.GetNamespace()
		if ns == "" {
			ns = r.o.cluster.namespace
		}
		var live *unstructured.Unstructured
		err := kube.Retry(ctx, "read Secret "+ns+"/"+obj.GetName(), func(ctx context.Context) error {
			var err error
			live, err = conn.clients.Dynamic.Resource(secretsGVR).Namespace(ns).Get(ctx, obj.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				live, err = nil, nil
			}
			return err
		})
		if err != nil {
			return nil, asTimeout(err, r.o.cluster.timeout)
		}
		desc := "Secret " + ns + "/" + obj.GetName()
		if live == nil {
			gone = append(gone, desc)
			continue
		}
		restored, same, err := inventory.Unredact(obj, live)
		if err != nil {
			return nil, err
		}
		if !same {
			if !keep {
				changed = append(changed, desc)
				continue
			}
			r.out.note(fmt.Sprintf("obsctl: %s keeps its current values (--keep-secret-values): they changed since the revision", desc))
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

var secretsGVR = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
