package release

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/inventory"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/layer"
	"github.com/obsctl/obsctl/internal/lock"
	"github.com/obsctl/obsctl/internal/redact"
	"github.com/obsctl/obsctl/internal/version"
)

// recordGrace is how long the release may go on past its deadline to
// record what it changed: a revision lost to a timeout leaves objects no
// inventory names. The intent recorded before the change covers a run
// that cannot.
const recordGrace = 15 * time.Second

// releaseTimeout bounds releasing the lock after the run.
const releaseTimeout = 10 * time.Second

// run is one release in progress.
type run struct {
	c   *Cluster
	src Source
	o   Options
	res *Result

	inv     *inventory.Inventory
	desired []*unstructured.Unstructured
	live    map[kube.Ref]*unstructured.Unstructured
	plan    *Plan
	notes   []string
	// kubeUser caches whoAmI: the user, then the groups.
	kubeUser []string
	// diff makes a dry run keep each object's before and after.
	diff bool
	// fromInventory, for a rollback, reads the source from the inventory
	// once the lock is held.
	fromInventory func(ctx context.Context) (Source, error)
	// rolledForward says the run took over an interrupted run's intent:
	// it must record, even when it changes nothing itself.
	rolledForward bool
	// createdNS says the lock created the stack's namespace in this run.
	createdNS bool
	// missing are the required Secrets that do not exist; nil when all do.
	missing *RequirementError
}

func (r *run) note(format string, args ...any) {
	if r.o.Observer != nil {
		r.o.Observer.Observe(Event{Type: EventNote, Text: fmt.Sprintf(format, args...)})
	}
}

func (r *run) emit(o ObjectResult) {
	r.res.Objects = append(r.res.Objects, o)
	if r.o.Observer != nil {
		r.o.Observer.Observe(Event{Type: EventObject, Object: o})
	}
}

func newRun(c *Cluster, src Source, o Options) *run {
	return &run{c: c, src: src, o: o, res: &Result{Stack: o.Stack, Namespace: o.Namespace, RollbackOf: src.RollbackOf}}
}

// Apply releases src to the cluster: it takes the stack's lock, reads the
// inventory and the live objects, makes the plan, asks for confirmation of
// destructive changes, records its intent, applies, prunes and records the
// revision. With Options.DryRun it makes the same plan and sends the
// objects as a server dry run, changing nothing. The Result says what
// became of every object, even when the error is not nil.
func Apply(ctx context.Context, c *Cluster, src Source, o Options) (*Result, error) {
	r := newRun(c, src, o)
	tctx, cancel := context.WithDeadline(ctx, o.Deadline)
	defer cancel()
	err := r.apply(ctx, tctx)
	return r.res, AsTimeout(tctx, err, o.Timeout)
}

func (r *run) apply(ctx, tctx context.Context) error {
	if r.o.DryRun {
		inv, err := r.loadInventory(tctx)
		if err != nil {
			return err
		}
		r.inv = inv
		if err := r.prepare(tctx); err != nil {
			return err
		}
		return r.dryRun(ctx, tctx)
	}
	if err := r.checkImplicit(tctx); err != nil {
		return err
	}
	return r.locked(ctx, tctx, func(actx, dctx context.Context, l *lock.Lock) error {
		inv, err := r.loadInventory(dctx)
		if err != nil {
			return err
		}
		r.inv = inv
		if r.fromInventory != nil {
			// A rollback: the source is a revision, read under the lock.
			if r.src, err = r.fromInventory(dctx); err != nil {
				return err
			}
			r.res.RollbackOf = r.src.RollbackOf
		}
		if err := r.prepare(dctx); err != nil {
			return err
		}
		return r.change(ctx, actx, dctx, l)
	})
}

// locked runs fn holding the stack's lock. actx ends when the lock is
// lost (someone else may be applying) or ctx does; dctx also at the run's
// deadline. The engine takes actx with the time left as its own bound, so
// that it can still explain, after that bound, what did not become ready.
func (r *run) locked(ctx, tctx context.Context, fn func(actx, dctx context.Context, l *lock.Lock) error) error {
	var waitedFor *lock.HeldError
	lopts := lock.Options{
		Namespace: r.o.Namespace, Stack: r.o.Stack, Holder: r.o.Holder,
		Wait: r.o.WaitLock, LeaseDuration: r.o.LockLease,
		OnWait: func(h *lock.HeldError) {
			waitedFor = h
			r.note("obsctl: waiting for the lock held by %s since %s (lease %s/%s)", h.Holder, h.Since.UTC().Format(time.RFC3339), h.Namespace, h.Lease)
		},
	}
	l, err := acquireLock(tctx, r.c, lopts)
	if err != nil {
		var held *lock.HeldError
		switch {
		case errors.As(err, &held):
			return err
		case waitedFor != nil && tctx.Err() != nil:
			return &TimeoutError{Timeout: r.o.Timeout, Err: fmt.Errorf("gave up waiting for the lock: %w", waitedFor)}
		}
		return err
	}
	// The lock creates the stack's namespace when it is missing; the
	// release then reports the Namespace as created, not configured.
	r.createdNS = l.CreatedNamespace()
	defer func() {
		// A fresh context: the run's may have ended (timeout, ^C), and a
		// lock left behind holds up the next run for a lease.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if err := l.Release(rctx); err != nil {
			r.note("obsctl: warning: %v", err)
		}
	}()
	actx, acancel := context.WithCancelCause(ctx)
	defer acancel(nil)
	go func() {
		select {
		case <-l.Lost():
			acancel(l.Err())
		case <-actx.Done():
		}
	}()
	dctx, dcancel := context.WithDeadline(actx, r.o.Deadline)
	defer dcancel()
	err = fn(actx, dctx, l)
	if lerr := l.Err(); lerr != nil {
		return fmt.Errorf("the release stopped before it finished (its intent is recorded: the next run finishes it): %w", lerr)
	}
	return err
}

// acquireLock takes the stack's lock, trying again while the API server
// has transient trouble (as right after a cluster was created).
func acquireLock(ctx context.Context, c *Cluster, opts lock.Options) (*lock.Lock, error) {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		l, err := lock.Acquire(ctx, c.Dynamic, opts)
		if err == nil || !kube.IsTransient(err) {
			return l, err
		}
		if kube.Sleep(ctx, 500*time.Millisecond) != nil {
			return nil, &kube.RetryError{What: "take the stack's lock", Attempts: attempt, Elapsed: time.Since(start), Last: err, Ctx: ctx.Err()}
		}
	}
}

func (r *run) loadInventory(ctx context.Context) (*inventory.Inventory, error) {
	var inv *inventory.Inventory
	err := kube.Retry(ctx, "load the inventory", func(ctx context.Context) error {
		var err error
		inv, err = inventory.Load(ctx, r.c.Dynamic, r.o.Namespace, r.o.Stack)
		return err
	})
	return inv, err
}

// previous returns the objects the stack's inventory holds: the latest
// revision's, which after a roll forward are also those of the run that
// was interrupted before it recorded its revision.
func (r *run) previous() []kube.Ref {
	if latest := r.inv.Latest(); latest != nil {
		return latest.Refs()
	}
	return nil
}

func (r *run) previousProfile() string {
	if latest := r.inv.Latest(); latest != nil {
		return latest.Profile
	}
	return ""
}

// rollForward turns the intent an interrupted run left into a revision
// (in memory: the release's own record writes it), so that its objects
// are the stack's and this run prunes what it no longer has.
func (r *run) rollForward() {
	if rf := r.inv.RollForward(); rf != nil {
		r.rolledForward = true
		r.note("obsctl: revision %d was interrupted (%s); this run finishes it: its objects are the stack's, and those this set no longer has are pruned", rf.Number, rf.Who())
	}
}

// prepare reads the live state and makes the plan.
func (r *run) prepare(ctx context.Context) error {
	r.rollForward()
	if err := r.checkRepo(); err != nil {
		return err
	}
	r.noteDefaults()
	desired, err := r.c.resolveNamespaces(r.src.Objects, r.o.Namespace)
	if err != nil {
		return err
	}
	r.desired = desired
	refs := make([]kube.Ref, 0, len(r.desired)+len(r.src.Generated))
	for _, o := range r.desired {
		refs = append(refs, kube.RefOf(o))
	}
	refs = append(refs, generatedRefs(r.src.Generated)...)
	refs = append(refs, requiredRefs(r.src.Requires)...)
	refs = append(refs, r.previous()...)
	live, err := r.c.readLive(ctx, r.o.Stack, refs)
	if err != nil {
		return err
	}
	r.live = live
	if err := r.waitDeleted(ctx); err != nil {
		return err
	}
	if err := r.checkShared(); err != nil {
		return err
	}
	getenv := r.o.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	// A generated Secret given among the manifests too (obsctl secrets
	// output applied with the render): the cluster's values win, then
	// the manifest's; it is applied once.
	known := map[kube.Ref]*unstructured.Unstructured{}
	maps.Copy(known, live)
	genIDs := map[kube.Ref]bool{}
	for _, ref := range generatedRefs(r.src.Generated) {
		genIDs[ref.ID()] = true
	}
	kept := r.desired[:0]
	for _, o := range r.desired {
		id := kube.RefOf(o).ID()
		if !genIDs[id] {
			kept = append(kept, o)
			continue
		}
		if known[id] == nil {
			known[id] = o
		}
	}
	r.desired = kept
	gen, notes, err := generated(r.src.Generated, r.o.Stack, known, getenv)
	if err != nil {
		return err
	}
	r.notes = append(r.notes, notes...)
	r.desired = append(r.desired, gen...)

	in := PlanInput{
		Stack: r.o.Stack, Namespace: r.o.Namespace,
		Desired: r.desired, Live: live, Previous: r.previous(),
		Adopt: r.o.Adopt, Prune: r.o.Prune, PruneProtected: r.o.PruneProtected,
		Unchanged: func(desired, live *unstructured.Unstructured) bool {
			return apply.NoChange(desired, live, r.o.Stack)
		},
		Profile: r.src.Profile, PreviousProfile: r.previousProfile(), ProfileNamed: r.src.ProfileNamed,
	}
	if in.NeedsReplace, err = r.needsReplace(ctx, in); err != nil {
		return err
	}
	namespaces, crds := Candidates(in)
	if len(namespaces)+len(crds) > 0 {
		in.Holders, in.CustomResources = map[string][]string{}, map[string][]string{}
		for _, ns := range namespaces {
			h, err := r.c.holders(ctx, ns)
			if err != nil {
				r.note("obsctl: cannot tell what namespace %s holds: %v", ns, err)
			}
			in.Holders[ns] = h
		}
		for _, name := range crds {
			crd := live[kube.Ref{Group: kube.GKCRD.Group, Kind: kube.GKCRD.Kind, Name: name}]
			crs, err := r.c.customResources(ctx, crd)
			if err != nil {
				r.note("obsctl: cannot tell whether custom resources of %s exist: %v", name, err)
			}
			in.CustomResources[name] = crs
		}
	}
	plan, err := MakePlan(in)
	if err != nil {
		return err
	}
	r.plan = plan
	r.res.Confirm = plan.Confirm
	r.portConflicts(ctx)
	r.missing = r.checkRequires()
	return nil
}

// needsReplace asks the API server, with a server dry run of the stack's
// StatefulSets that would change, which cannot change in place.
func (r *run) needsReplace(ctx context.Context, in PlanInput) (map[kube.Ref]string, error) {
	var objs []*unstructured.Unstructured
	for _, o := range r.desired {
		ref := kube.RefOf(o)
		live := r.live[ref.ID()]
		if ref.GroupKind() != kube.GKStatefulSet || live == nil {
			continue
		}
		if who, _ := ownerOf(live, r.o.Stack); who != ownerStack || in.Unchanged(o, live) {
			continue
		}
		objs = append(objs, o)
	}
	if len(objs) == 0 {
		return nil, nil
	}
	res, err := r.c.Applier.Apply(ctx, objs, apply.Options{
		Stack: r.o.Stack, Namespace: r.o.Namespace, DryRun: apply.DryRunServer,
		Conflicts: apply.ConflictsTake, Live: liveFor(objs, r.live), Timeout: time.Until(r.o.Deadline),
	})
	if res == nil {
		return nil, err
	}
	out := map[kube.Ref]string{}
	for _, o := range res.Objects {
		var rn *apply.ReplaceNeededError
		if errors.As(o.Err, &rn) {
			out[o.Object.ID()] = rn.Message
		}
	}
	return out, nil
}

// liveFor returns the live objects of objs, for the engine.
func liveFor(objs []*unstructured.Unstructured, live map[kube.Ref]*unstructured.Unstructured) map[kube.Ref]*unstructured.Unstructured {
	out := make(map[kube.Ref]*unstructured.Unstructured, len(objs))
	for _, o := range objs {
		id := kube.RefOf(o).ID()
		if l := live[id]; l != nil {
			out[id] = l
		}
	}
	return out
}

// noteDefaults says, before anything is applied, which items of the
// default content the repo builds on changed since the stack's last
// revision: another obsctl brings other defaults. A revision of an
// obsctl that recorded none says nothing.
func (r *run) noteDefaults() {
	prev := r.inv.Latest()
	if prev == nil || r.src.Defaults == nil {
		return
	}
	if prev.Defaults == nil {
		if prev.Repo == r.src.Repo && prev.RollbackOf == 0 {
			r.note("obsctl: the repo now builds on obsctl's default content (%d alerts, recording rules, dashboards and pipelines), which revision %d did not: obsctl.yaml's defaults: false keeps the stack to the repo's own", len(r.src.Defaults), prev.Number)
		}
		return
	}
	added, removed, changed := layer.ItemChanges(prev.Defaults, r.src.Defaults)
	if len(added)+len(removed)+len(changed) == 0 {
		return
	}
	from := cmp.Or(prev.ObsctlVersion, "an unknown version")
	r.note("obsctl: the default content changed since revision %d (obsctl %s, now %s): %d added, %d removed, %d changed",
		prev.Number, from, version.Get().Version, len(added), len(removed), len(changed))
	const most = 20
	n := 0
	for _, l := range []struct {
		mark  string
		items []string
	}{{"+", added}, {"-", removed}, {"~", changed}} {
		for _, it := range l.items {
			if n == most {
				r.note("obsctl:   ... and %d more", len(added)+len(removed)+len(changed)-most)
				return
			}
			r.note("obsctl:   %s %s", l.mark, it)
			n++
		}
	}
}

// checkRepo refuses to stand the embedded default repo's stack up where
// another repo released this stack: run from a sub-folder of a repo whose
// discovery failed, or from a folder without one, obsctl would otherwise
// replace a team's stack with the defaults.
func (r *run) checkRepo() error {
	if !r.src.Implicit {
		return nil
	}
	for _, rev := range []*inventory.Revision{r.inv.Latest()} {
		if rev != nil && rev.Repo != "" && rev.Repo != r.src.Repo {
			return &RepoError{Msg: fmt.Sprintf("stack %s in namespace %s was released from %s, and no obsctl.yaml was found here: obsctl will not replace it with the embedded default stack. Run obsctl from that repo (or pass --repo), or name the stack you mean with --stack",
				r.o.Stack, r.o.Namespace, rev.Repo)}
		}
	}
	return nil
}

// checkShared refuses, for the embedded default taken implicitly, a
// cluster where another stack owns the CRDs: a second stack from defaults
// nobody chose is a mistake, not a plan.
func (r *run) checkShared() error { return r.checkSharedIn(r.desired, r.live) }

// checkImplicit makes checkRepo's and checkShared's checks of the embedded
// default taken implicitly before the lock is taken: the lock creates the
// stack's namespace when it is missing, and a release refused must leave
// nothing behind. prepare makes them again under the lock.
func (r *run) checkImplicit(ctx context.Context) error {
	if !r.src.Implicit {
		return nil
	}
	inv, err := r.loadInventory(ctx)
	if err != nil {
		return err
	}
	r.inv = inv
	if err := r.checkRepo(); err != nil {
		return err
	}
	var crds []kube.Ref
	for _, o := range r.src.Objects {
		if ref := kube.RefOf(o); ref.GroupKind() == kube.GKCRD {
			crds = append(crds, ref)
		}
	}
	live, err := r.c.readLive(ctx, r.o.Stack, crds)
	if err != nil {
		return err
	}
	return r.checkSharedIn(r.src.Objects, live)
}

func (r *run) checkSharedIn(desired []*unstructured.Unstructured, live map[kube.Ref]*unstructured.Unstructured) error {
	if !r.src.Implicit || r.inv.Latest() != nil {
		return nil
	}
	for _, o := range desired {
		ref := kube.RefOf(o)
		if ref.GroupKind() != kube.GKCRD {
			continue
		}
		if who, other := ownerOf(live[ref.ID()], r.o.Stack); who == ownerOther {
			return &RepoError{Msg: fmt.Sprintf("stack %s is on this cluster (it owns %s), and no obsctl.yaml was found here: obsctl will not stand up the embedded default stack %s beside it. Run obsctl from your repo (or pass --repo), or name the stack with --stack to release the defaults on purpose",
				other, ref.Name, r.o.Stack)}
		}
	}
	return nil
}

// change carries out the plan, holding the lock.
func (r *run) change(ctx, actx, dctx context.Context, l *lock.Lock) error {
	p := r.plan
	if len(p.Confirm) > 0 && !r.o.Yes {
		ok := false
		if r.o.Confirm != nil {
			var err error
			if ok, err = r.o.Confirm(p.Confirm); err != nil {
				return err
			}
		}
		if !ok {
			r.reportPlanOnly()
			return &ConfirmError{Stack: r.o.Stack, Changes: p.Confirm}
		}
	}
	for _, n := range r.notes {
		r.note("obsctl: %s", n)
	}
	noop := r.noop()
	began := false
	if !noop {
		if _, err := r.inv.Begin(dctx, r.c.Dynamic, r.revision(nil)); err != nil {
			return fmt.Errorf("record the release's intent (nothing changed): %w", err)
		}
		began = true
	}
	r.pause(actx, "intent")
	applied, applyErr := r.engine(actx, false)
	r.pause(actx, "applied")
	if lerr := l.Err(); lerr != nil {
		return lerr
	}
	// Marking shared CRDs and recording the revision may go on a little
	// past the deadline: what was applied must be recorded.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Until(r.o.Deadline)+recordGrace)
	defer cancel()
	r.useShared(sctx)
	pruneErr := error(nil)
	carried := r.carried()
	if applyErr == nil || errors.As(applyErr, new(*apply.NotReadyError)) {
		var failed []kube.Ref
		failed, pruneErr = r.prune(dctx)
		carried = append(carried, failed...)
	} else if n := r.plan.Count(Pruned); n > 0 {
		r.note("obsctl: %d object(s) not pruned: the apply did not complete; they stay in the inventory", n)
		carried = append(carried, r.pruneRefs()...)
		r.reportPrunesSkipped()
	}
	r.pause(actx, "pruned")
	if noop && r.res.Count(Created)+r.res.Count(Configured)+r.res.Count(Replaced)+r.res.Count(Pruned) == 0 {
		return errors.Join(applyErr, pruneErr, r.conflictErr())
	}
	rev := r.revision(applied)
	rev.Carry(carried...)
	if !began {
		// The fast path saw no change and the engine made one after all
		// (the server normalised a field differently): record it.
		r.note("obsctl: the apply changed objects the plan expected unchanged; recording the revision")
	}
	stored, recErr := r.inv.Commit(sctx, r.c.Dynamic, rev)
	if recErr != nil {
		recErr = fmt.Errorf("record the revision (the next run finishes it from the recorded intent): %w", recErr)
	} else {
		r.res.Revision = stored.Number
	}
	return errors.Join(applyErr, pruneErr, recErr, r.conflictErr())
}

// conflictErr is what ends a release that applied all it could: objects
// left alone as conflicts, components held back for missing Secrets.
func (r *run) conflictErr() error {
	var errs []error
	if c := r.plan.Conflicts(); len(c) > 0 {
		errs = append(errs, &ConflictError{Conflicts: c})
	}
	if r.missing != nil && !r.diff {
		errs = append(errs, r.missing)
	}
	return errors.Join(errs...)
}

// noop reports whether the plan changes nothing: every object unchanged
// (as far as the fast path can tell), nothing to prune or forget, no
// profile change, and not a rollback.
func (r *run) noop() bool {
	if r.src.RollbackOf > 0 || r.plan.ProfileChange != "" || r.rolledForward || r.inv.Latest() == nil {
		return false
	}
	if r.src.Defaults != nil && !maps.Equal(r.inv.Latest().Defaults, r.src.Defaults) {
		return false // another obsctl's defaults: recorded, or every run would say so again
	}
	for _, c := range r.plan.Changes {
		switch {
		case c.Action == Unchanged, c.Action == Kept && !c.Forget, c.Action == Conflict:
		default:
			return false
		}
	}
	return true
}

// reportPlanOnly reports the plan without carrying it out: a release that
// stopped for confirmation says what it would have done.
func (r *run) reportPlanOnly() {
	for _, c := range r.plan.Changes {
		switch c.Action {
		case Unchanged, Kept:
			continue // nothing to do: nothing held up
		}
		r.emit(ObjectResult{Ref: c.Ref, Wave: kube.WaveOf(c.Ref.GroupKind()), Action: Skipped, Note: "would be " + string(c.Action) + "; nothing changed until the destructive changes are confirmed", Destructive: c.Destructive})
	}
}

// heldBack returns, for each desired object in a namespace whose Namespace
// is a conflict, why it is held back: applying it would put the stack's
// objects into someone else's namespace.
func (r *run) heldBack() map[kube.Ref]string {
	conflictNS := map[string]bool{}
	for _, c := range r.plan.Conflicts() {
		if c.Ref.GroupKind() == kube.GKNamespace {
			conflictNS[c.Ref.Name] = true
		}
	}
	out := r.heldByRequirements()
	for _, c := range r.plan.Changes {
		if c.Applies() && conflictNS[c.Ref.Namespace] {
			out[c.Ref.ID()] = "held back: Namespace " + c.Ref.Namespace + " is not the stack's (--adopt takes it over)"
		}
	}
	return out
}

// engine sends the plan's objects through the apply engine (a server dry
// run with dryRun) and reports each. It returns the objects applied, as
// the inventory records them.
func (r *run) engine(ctx context.Context, dryRun bool) ([]*unstructured.Unstructured, error) {
	held := r.heldBack()
	var unchecked map[kube.Ref]string
	if dryRun {
		unchecked = r.unchecked()
	}
	var objs []*unstructured.Unstructured
	replace := map[kube.Ref]bool{}
	for _, c := range r.plan.Changes {
		switch {
		case !c.Applies():
		case held[c.Ref.ID()] != "", unchecked[c.Ref.ID()] != "":
		default:
			objs = append(objs, c.Desired)
			if c.Action == Replaced {
				replace[c.Ref.ID()] = true
			}
		}
	}
	if r.o.Observer != nil {
		r.o.Observer.Observe(Event{Type: EventObjects, Objects: objs})
	}
	// Decisions that are not the engine's are reported first, in apply
	// order, with the engine's outcomes.
	byRef := map[kube.Ref]Change{}
	for _, c := range r.plan.Changes {
		byRef[c.Ref.ID()] = c
	}
	for _, c := range r.plan.Changes {
		if c.Desired == nil && c.Action != Unchanged {
			continue // prunes and keeps of objects the set no longer has
		}
		switch {
		case held[c.Ref.ID()] != "":
			r.emit(ObjectResult{Ref: c.Ref, Wave: kube.WaveOf(c.Ref.GroupKind()), Action: Skipped, Note: held[c.Ref.ID()], DryRun: dryRun})
		case !c.Applies():
			r.emit(ObjectResult{Ref: c.Ref, Wave: kube.WaveOf(c.Ref.GroupKind()), Action: c.Action, Note: c.Reason, DryRun: dryRun})
		case unchecked[c.Ref.ID()] != "":
			or := ObjectResult{Ref: c.Ref, Wave: kube.WaveOf(c.Ref.GroupKind()), Action: c.Action, Note: unchecked[c.Ref.ID()], DryRun: true, Destructive: c.Destructive}
			if r.diff {
				or.Before, or.After = redact.ForDiff(cleanForDiff(c.Live), cleanForDiff(withOwnership(c.Desired, r.o.Stack)))
			}
			r.emit(or)
		}
	}
	if len(objs) == 0 {
		return nil, nil
	}
	mode := apply.DryRunNone
	if dryRun {
		mode = apply.DryRunServer
	}
	left := time.Until(r.o.Deadline)
	if left <= 0 {
		return nil, &TimeoutError{Timeout: r.o.Timeout, Err: errors.New("no time left to apply")}
	}
	res, err := r.c.Applier.Apply(ctx, objs, apply.Options{
		Stack: r.o.Stack, Namespace: r.o.Namespace, DryRun: mode,
		Conflicts: r.o.Conflicts, Wait: r.o.Wait && !dryRun, Timeout: left,
		Live: liveFor(objs, r.live), Replace: replace,
		Observer: apply.ObserverFunc(func(e apply.Event) {
			if e.Action == apply.Ready {
				if r.o.Observer != nil {
					r.o.Observer.Observe(Event{Type: EventReady, Object: ObjectResult{Ref: e.Object, Wave: e.Wave}})
				}
				return
			}
			c := byRef[e.Object.ID()]
			or := ObjectResult{Ref: e.Object, Wave: e.Wave, Action: Action(e.Action), DryRun: e.DryRun, Note: e.Note, Err: e.Err, Duration: e.Duration, Destructive: c.Destructive}
			if r.createdNS && e.Object.GroupKind() == kube.GKNamespace && e.Object.Name == r.o.Namespace && or.Action == Configured {
				// The lock created it a moment before; configured, it
				// was not yet applied by anyone (another run may have).
				or.Action = Created
			}
			switch {
			case c.Reason == "":
			case or.Note == "" && (or.Action == Configured || or.Action == Created || or.Action == Replaced):
				or.Note = c.Reason
			case or.Action == Configured || or.Action == Created:
				// The plan's reason (adopted, needed by the stack) comes
				// first; what the engine did (fields taken back) after.
				or.Note = c.Reason + "; " + or.Note
			}
			r.emit(or)
		}),
	})
	if res == nil {
		return nil, err
	}
	var nr *apply.NotReadyError
	if errors.As(err, &nr) {
		// The engine had what was left of the run's time; the user set
		// the whole.
		nr.Timeout, nr.Waited = r.o.Timeout, time.Since(r.o.Deadline.Add(-r.o.Timeout))
	}
	r.res.Patches += res.Patches
	r.res.Requests += res.Requests
	if r.diff {
		at := map[kube.Ref]int{}
		for i, o := range r.res.Objects {
			at[o.Ref.ID()] = i
		}
		for _, o := range res.Objects {
			if i, ok := at[o.Object.ID()]; ok {
				withDiff(&r.res.Objects[i], o)
				if o.Action == apply.Replaced && o.Applied == nil && o.Live != nil {
					// The server cannot dry-run creating what still
					// exists: a replaced object shows as it is and as
					// the set has it.
					r.res.Objects[i].Before, r.res.Objects[i].After = redact.ForDiff(cleanForDiff(o.Live), cleanForDiff(withOwnership(byRef[o.Object.ID()].Desired, r.o.Stack)))
				}
			}
		}
	}
	applied := make([]*unstructured.Unstructured, 0, len(objs))
	for i, o := range res.Objects {
		if o.Action != apply.Skipped || r.live[o.Object.ID()] != nil {
			// Applied, or tried, or not applied but the stack's already:
			// the inventory names it, so a later run can prune it.
			cp := objs[i].DeepCopy()
			cp.SetNamespace(o.Object.Namespace)
			applied = append(applied, cp)
		}
	}
	return applied, err
}

// useShared marks the shared CRDs this stack uses but another owns, with
// the stack's own field manager, so their owner does not prune them.
func (r *run) useShared(ctx context.Context) {
	for _, c := range r.plan.Changes {
		if !c.UseShared || c.Live == nil {
			continue
		}
		if _, ok := c.Live.GetAnnotations()[AnnotationUsedByPrefix+r.o.Stack]; ok {
			continue
		}
		body := fmt.Sprintf(`{"apiVersion":%q,"kind":%q,"metadata":{"name":%q,"annotations":{%q:""}}}`,
			c.Live.GetAPIVersion(), c.Live.GetKind(), c.Live.GetName(), AnnotationUsedByPrefix+r.o.Stack)
		ri, err := r.c.resource(c.Ref)
		if err == nil && ri != nil {
			err = RetryRequest(ctx, func(ctx context.Context) error {
				_, err := ri.Patch(ctx, c.Ref.Name, "application/apply-patch+yaml", []byte(body), metav1.PatchOptions{FieldManager: sharedManager(r.o.Stack)})
				return err
			})
		}
		if err != nil && !apierrors.IsNotFound(err) {
			r.note("obsctl: warning: could not mark %s as used by stack %s: %v", c.Ref, r.o.Stack, err)
		}
	}
}

// sharedManager is the field manager a stack marks shared objects with:
// its own, so that the owner's fields are not touched.
func sharedManager(stack string) string { return "obsctl-" + stack }

// carried returns the refs the new revision keeps without applying them:
// objects kept from the previous revision (not forgotten) and shared CRDs
// the stack uses.
func (r *run) carried() []kube.Ref {
	var out []kube.Ref
	held := r.heldBack()
	for _, c := range r.plan.Changes {
		switch {
		case c.Action == Kept && !c.Forget && !c.UseShared:
			out = append(out, c.Ref)
		case held[c.Ref.ID()] != "" && c.Live != nil:
			// Held back, but the stack's already: it stays so.
			out = append(out, c.Ref)
		}
	}
	return out
}

func (r *run) pruneRefs() []kube.Ref {
	var out []kube.Ref
	for _, c := range r.plan.Changes {
		if c.Action == Pruned {
			out = append(out, c.Ref)
		}
	}
	return out
}

func (r *run) reportPrunesSkipped() {
	for _, c := range r.plan.Changes {
		if c.Action == Pruned {
			r.emit(ObjectResult{Ref: c.Ref, Wave: kube.WaveOf(c.Ref.GroupKind()), Action: Kept, Note: "not pruned: the apply did not complete"})
		}
	}
}

// dryRun sends the plan's objects as a server dry run and reports the
// plan's prunes and keeps, changing nothing.
func (r *run) dryRun(ctx, tctx context.Context) error {
	for _, n := range r.notes {
		r.note("obsctl: %s (server dry run: not created)", n)
	}
	_, err := r.engine(tctx, true)
	for _, c := range r.plan.Changes {
		if c.Desired != nil || c.Action == Unchanged {
			continue
		}
		or := ObjectResult{Ref: c.Ref, Wave: kube.WaveOf(c.Ref.GroupKind()), Action: c.Action, Note: c.Reason, Destructive: c.Destructive, DryRun: true}
		if r.diff && c.Action == Pruned {
			withPruneDiff(&or, c.Live)
		}
		r.emit(or)
	}
	for _, c := range r.plan.Confirm {
		r.note("obsctl: needs --yes: %s", c)
	}
	return errors.Join(err, r.conflictErr())
}

// revision returns the revision this release records: the objects applied
// (those of the plan before the engine ran) and where they came from.
func (r *run) revision(applied []*unstructured.Unstructured) inventory.Revision {
	if applied == nil {
		for _, c := range r.plan.Changes {
			if c.Applies() {
				applied = append(applied, c.Desired)
			}
		}
	}
	rev := inventory.Revision{
		User: r.o.User, Host: r.o.Host, Message: r.o.Message,
		Repo: r.src.Repo, Profile: r.plan.Profile, RollbackOf: r.src.RollbackOf,
		Summary: inventory.Summary{
			Created: r.res.Count(Created), Configured: r.res.Count(Configured), Unchanged: r.res.Count(Unchanged),
			Replaced: r.res.Count(Replaced), Pruned: r.res.Count(Pruned), Kept: r.res.Count(Kept),
			Conflict: r.res.Count(Conflict), Failed: r.res.Count(Failed),
		},
	}
	rev.Git = r.src.Git
	rev.ObsctlVersion = version.Get().Version
	rev.Defaults = r.src.Defaults
	rev.KubeUser, rev.KubeGroups = r.whoAmI()
	if err := rev.SetObjects(slices.Clone(applied)); err != nil {
		r.note("obsctl: warning: %v", err)
	}
	return rev
}

// PauseEnv names the environment variable that makes a release stop at a
// point of its work (intent, applied, pruned) until it is killed: the seam
// through which the end-to-end tests kill obsctl at each point and check
// that the next run finishes its work.
const PauseEnv = "OBSCTL_TEST_PAUSE_AT"

func (r *run) pause(ctx context.Context, point string) {
	if r.o.Getenv == nil || r.o.Getenv(PauseEnv) != point {
		return
	}
	r.note("obsctl: paused at %s (%s)", point, PauseEnv)
	<-ctx.Done()
}

// deletingTimeout bounds the wait for an object of the set that is still
// being deleted (a prune a moment ago, in the foreground: custom resources
// wait for the garbage collector to learn their kind).
const deletingTimeout = time.Minute

// waitDeleted waits until the set's objects that are the stack's and on
// their way out are gone, so that the release creates them afresh instead
// of refusing them: someone removed an object and put it back. A dry run
// does not wait: it reports them as created once gone.
func (r *run) waitDeleted(ctx context.Context) error {
	for _, o := range r.desired {
		id := kube.RefOf(o).ID()
		live := r.live[id]
		if live == nil || live.GetDeletionTimestamp() == nil {
			continue
		}
		if who, _ := ownerOf(live, r.o.Stack); who != ownerStack {
			continue
		}
		if r.o.DryRun {
			delete(r.live, id)
			continue
		}
		ri, err := r.c.resource(id)
		if err != nil || ri == nil {
			continue
		}
		r.note("obsctl: %s is still being deleted; waiting for it to go, to create it again", id)
		wctx, cancel := context.WithTimeout(ctx, deletingTimeout)
		for {
			_, err := ri.Get(wctx, live.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				delete(r.live, id)
				break
			}
			if kube.Sleep(wctx, 500*time.Millisecond) != nil {
				break // the plan says it is being deleted
			}
		}
		cancel()
	}
	return nil
}
