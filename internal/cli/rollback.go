package cli

import (
	"context"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/obsctl/obsctl/internal/release"
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
Generated Secrets keep the values they have: they were never changed.

Going back to the revision's profile is what a rollback means: it needs no
--profile, but a destructive change it makes (a profile downgrade, a mass
prune, a replaced StatefulSet) needs --yes as apply's do.

Exit codes as for apply: 0 rolled back (and ready), 1 failed (including a
revision that does not exist or cannot be rolled back to), 2 usage error, 4
not ready within --timeout, 5 the stack is locked and --wait-lock=false, 7
a destructive change was not confirmed.`,
		Example: `  obsctl rollback
  obsctl rollback 4 --stack prod -n monitoring
  obsctl rollback 4 --keep-secret-values -o json`,
		Args:              maxArgs(1),
		ValidArgsFunction: completeRevisions(deps, &o.cluster, g),
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
	f.StringVarP(&o.message, "message", "m", "", "a note recorded with the revision (obsctl history shows it)")
	f.BoolVar(&o.keepSecretValues, "keep-secret-values", false, "leave Secrets whose values changed since the revision as they are, instead of stopping")
	return cmd
}

func runRollback(ctx context.Context, deps *Deps, o *rollbackOptions, revision int) error {
	start := time.Now()
	if err := o.checkRunFlags(); err != nil {
		return err
	}
	if err := o.cluster.resolve(deps, o.globalOptions); err != nil {
		return err
	}
	rep := newApplyReport(&o.applyOptions, start)
	out := newPrinter(deps, o.output, o.wait)
	defer out.finish()
	conn, err := o.cluster.connect(deps)
	if err != nil {
		return rep.print(deps, out, err)
	}
	opts := o.releaseOptions(deps, start)
	opts.Observer = out
	opts.Message = o.message
	res, err := release.Rollback(ctx, conn.cluster, release.RollbackOptions{Revision: revision, KeepSecretValues: o.keepSecretValues}, opts)
	rep.add(res)
	return rep.print(deps, out, err)
}
