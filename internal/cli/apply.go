package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/inventory"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/lock"
	"github.com/obsctl/obsctl/internal/parallel"
	"github.com/obsctl/obsctl/internal/version"
)

type applyOptions struct {
	*globalOptions
	cluster        clusterOptions
	files          []string
	dryRun         string
	prune          bool
	wait           bool
	waitLock       bool
	lockLease      time.Duration
	forceConflicts bool
	output         string
	profile        string
}

func newApplyCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &applyOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "apply [-f PATH...]",
		Short: "Apply the stack (or manifests) to a cluster: server-side, in waves, with prune, rollout wait and a lock",
		Long: `Apply the stack the repo describes (what obsctl render prints, plus the
Secrets obsctl generates: created once, never changed) or, with -f, other
Kubernetes manifests (files, folders read recursively in sorted order, or -
for standard input) to the cluster with server-side apply (field manager
obsctl), in waves: CustomResourceDefinitions (then wait until Established),
Namespaces, ServiceAccounts and roles, role bindings, ConfigMaps and
Secrets, Services, workloads, then custom resources. The stack is linted
first: lint errors stop the apply before it contacts the cluster.

A run holds the stack's lock (a Lease in the stack's namespace) from start to
end, so two applies of one stack never overlap: the second waits
(--wait-lock) or fails at once. Objects that the previous revision of the
stack's inventory holds and this set does not are deleted (--prune; never
anything outside the inventory, and only after every object applied). Each
run records a new revision in the inventory. With --wait (the default) apply
returns once Deployments, StatefulSets and DaemonSets have rolled out, and
says why an object is not ready when --timeout runs out. Secret values are
never printed.

--dry-run=client only reads and checks the manifests; --dry-run=server
sends every object as a server dry run and changes nothing: no lock, no
prune, no inventory revision.

Prints one line per object: KIND NAMESPACE/NAME ACTION (DURATION), the
action being created, configured, unchanged, pruned, skipped or failed. -o
json prints one JSON result instead.

Exit codes: 0 applied (and ready), 1 failed, 2 usage error, 4 not ready
within --timeout (or --timeout ran out), 5 the stack is locked by another
run and --wait-lock=false.`,
		Example: `  obsctl apply
  obsctl apply --profile ha --timeout 10m
  obsctl apply -f out/manifests/
  obsctl apply -f stack.yaml --stack prod -n monitoring --timeout 10m
  obsctl apply -f - --dry-run=server < stack.yaml
  obsctl apply -f out/ --wait-lock=false -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runApply(cmd.Context(), deps, o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&o.files, "filename", "f", nil, "manifests to apply instead of the repo's stack: files, folders or - for standard input (repeatable)")
	addProfileFlag(cmd, &o.profile)
	f.StringVar(&o.dryRun, "dry-run", "none", "none, client (check the manifests, contact no cluster) or server (the API server checks every object, nothing changes)")
	o.addRunFlags(f)
	return cmd
}

// addRunFlags adds the flags apply and rollback share.
func (o *applyOptions) addRunFlags(f *pflag.FlagSet) {
	f.BoolVar(&o.prune, "prune", true, "delete the objects of the previous revision that this set no longer has")
	f.BoolVar(&o.wait, "wait", true, "wait until Deployments, StatefulSets and DaemonSets have rolled out")
	f.BoolVar(&o.waitLock, "wait-lock", true, "wait while another run holds the stack's lock; false fails at once with exit code 5")
	f.DurationVar(&o.lockLease, "lock-lease", lock.DefaultLeaseDuration, "how long the stack's lock outlives a run that could not release it (renewed every third of it while the run lives)")
	f.BoolVar(&o.forceConflicts, "force-conflicts", false, "take over fields other field managers own instead of failing")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	o.cluster.addFlags(f)
}

func runApply(ctx context.Context, deps *Deps, o *applyOptions) error {
	switch o.dryRun {
	case "none", "client", "server":
	default:
		return usagef("--dry-run %q: want none, client or server", o.dryRun)
	}
	if err := o.checkRunFlags(); err != nil {
		return err
	}
	if err := o.cluster.resolve(deps, o.globalOptions); err != nil {
		return err
	}
	r := newApplyRun(deps, o)
	return r.finish(r.run(ctx))
}

// checkRunFlags checks the flags apply and rollback share.
func (o *applyOptions) checkRunFlags() error {
	switch o.output {
	case "text", "json":
	default:
		return usagef("unknown output format %q (want text or json)", o.output)
	}
	if o.lockLease < minLockLease || o.lockLease > maxLockLease {
		return usagef("--lock-lease %s: want between %s and %s", o.lockLease, minLockLease, maxLockLease)
	}
	return nil
}

// The bounds of --lock-lease: renewals every third of a shorter lease
// would be lost to an API server's ordinary hiccups; a longer one blocks
// the next run for too long after a crash.
const (
	minLockLease = 3 * time.Second
	maxLockLease = time.Hour
)

func newApplyRun(deps *Deps, o *applyOptions) *applyRun {
	r := &applyRun{deps: deps, o: o, start: time.Now()}
	r.rep = &applyReport{Stack: o.cluster.stack, Namespace: o.cluster.namespace, Objects: []reportObject{}}
	if o.dryRun != "none" {
		r.rep.DryRun = o.dryRun
	}
	return r
}

// finish prints the JSON result for -o json and returns the run's error.
func (r *applyRun) finish(err error) error {
	o, deps := r.o, r.deps
	r.rep.RollbackOf = r.rollbackOf
	if o.output == "json" {
		r.rep.Duration = time.Since(r.start).Seconds()
		r.rep.ExitCode = exitCode(err, io.Discard)
		if err != nil {
			r.rep.Error = err.Error()
		}
		enc := json.NewEncoder(deps.Stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(r.rep); werr != nil && err == nil {
			return werr
		}
	}
	return err
}

// applyReport is the result -o json prints.
type applyReport struct {
	Stack     string `json:"stack"`
	Namespace string `json:"namespace"`
	// DryRun is "client" or "server" for a dry run.
	DryRun string `json:"dryRun,omitempty"`
	// Revision is the inventory revision the run recorded; 0 when it
	// recorded none.
	Revision int `json:"revision,omitempty"`
	// RollbackOf is the revision a rollback re-applied.
	RollbackOf int            `json:"rollbackOf,omitempty"`
	Counts     reportCounts   `json:"counts"`
	Requests   reportRequests `json:"requests"`
	Objects    []reportObject `json:"objects"`
	Duration   float64        `json:"durationSeconds"`
	// ExitCode is the exit code obsctl exits with.
	ExitCode int    `json:"exitCode"`
	Error    string `json:"error,omitempty"`
}

type reportCounts struct {
	Created    int `json:"created"`
	Configured int `json:"configured"`
	Unchanged  int `json:"unchanged"`
	Pruned     int `json:"pruned"`
	Failed     int `json:"failed"`
	Skipped    int `json:"skipped"`
}

func (c *reportCounts) add(action string) {
	switch apply.Action(action) {
	case apply.Created:
		c.Created++
	case apply.Configured, apply.Replaced:
		c.Configured++
	case apply.Unchanged:
		c.Unchanged++
	case actionPruned:
		c.Pruned++
	case apply.Failed:
		c.Failed++
	case apply.Skipped:
		c.Skipped++
	}
}

// reportRequests counts the apply engine's API requests (discovery, the
// lock, the inventory and prune not included): an unchanged re-apply sends
// no patch.
type reportRequests struct {
	Patches int `json:"patches"`
	Total   int `json:"total"`
}

type reportObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// Action is created, configured, unchanged, pruned, failed or skipped;
	// checked for a client dry run; kept for an object prune left alone.
	Action string `json:"action"`
	// Note says more: why a dry run could not check an object, why an
	// object was not pruned.
	Note     string  `json:"note,omitempty"`
	Error    string  `json:"error,omitempty"`
	Duration float64 `json:"durationSeconds"`
}

// The actions apply adds to the engine's.
const (
	actionPruned  = "pruned"
	actionChecked = "checked"
	// actionKept is an object prune left alone; Note says why.
	actionKept = "kept"
)

// applyRun is the state of one `obsctl apply`.
type applyRun struct {
	deps  *Deps
	o     *applyOptions
	start time.Time
	rep   *applyReport
	out   *applyPrinter
	// rollbackOf is the revision a rollback re-applies; 0 for an apply.
	rollbackOf int
}

func (r *applyRun) deadline() time.Time { return r.start.Add(r.o.cluster.timeout) }

func (r *applyRun) run(ctx context.Context) error {
	set, err := readDesired(r.deps, r.o.globalOptions, r.o.files, r.o.profile, "apply")
	if err != nil {
		return err
	}
	objs := set.objs
	r.out = newApplyPrinter(r.deps, r.o, objs)
	defer r.out.finish()
	if r.o.dryRun == "client" {
		r.clientDryRun(objs)
		for _, g := range set.generated {
			r.out.note(fmt.Sprintf("obsctl: Secret %s/%s (%s) not checked: apply generates its values", g.Namespace, g.Name, g.Component))
		}
		return nil
	}
	tctx, cancel := context.WithDeadline(ctx, r.deadline())
	defer cancel()
	conn, err := r.o.cluster.connect(r.deps)
	if err != nil {
		return err
	}
	if r.o.dryRun == "server" {
		all, err := set.withGenerated(tctx, conn, r.o.cluster.stack, r.deps.Getenv)
		if err != nil {
			return asTimeout(err, r.o.cluster.timeout)
		}
		r.out.setObjects(all)
		return r.serverDryRun(ctx, tctx, conn, all)
	}
	return r.applyLocked(ctx, tctx, conn, func(tctx context.Context, _ *inventory.Inventory) ([]*unstructured.Unstructured, error) {
		// Generated Secrets are read under the lock: two runs must not
		// generate two different passwords.
		all, err := set.withGenerated(tctx, conn, r.o.cluster.stack, r.deps.Getenv)
		if err != nil {
			return nil, asTimeout(err, r.o.cluster.timeout)
		}
		r.out.setObjects(all)
		return all, nil
	})
}

// objectSource returns the objects a run applies, once it holds the lock
// and has read the inventory: the manifests for apply, a revision's for
// rollback.
type objectSource func(tctx context.Context, inv *inventory.Inventory) ([]*unstructured.Unstructured, error)

// applyLocked takes the stack's lock, reads the inventory, applies what
// source returns, prunes what the previous revision had and this set does
// not, and records the new revision.
func (r *applyRun) applyLocked(ctx, tctx context.Context, conn *clusterConn, source objectSource) error {
	userName, host := identity(r.deps)
	var waitedFor *lock.HeldError
	lopts := lock.Options{
		Namespace:     r.o.cluster.namespace,
		Stack:         r.o.cluster.stack,
		Holder:        fmt.Sprintf("%s@%s pid %d", userName, host, os.Getpid()),
		Wait:          r.o.waitLock,
		LeaseDuration: r.o.lockLease,
		OnWait: func(h *lock.HeldError) {
			waitedFor = h
			r.out.note(fmt.Sprintf("obsctl: waiting for the lock held by %s since %s (lease %s/%s)",
				h.Holder, h.Since.UTC().Format(time.RFC3339), h.Namespace, h.Lease))
		},
	}
	// The lock creates the namespace when it is missing; the run then
	// reports the Namespace as created, not as configured by itself.
	_, nerr := kube.Namespaces(conn.clients.Dynamic).Get(tctx, r.o.cluster.namespace, metav1.GetOptions{})
	if apierrors.IsNotFound(nerr) {
		r.out.createdNS = r.o.cluster.namespace
	}
	l, err := acquireLock(tctx, conn, lopts)
	if err != nil {
		var held *lock.HeldError
		switch {
		case errors.As(err, &held):
			return err
		case waitedFor != nil && tctx.Err() != nil:
			// The wait's last read may fail on the deadline itself; the
			// holder is what the user needs to hear about.
			return fmt.Errorf("gave up waiting for the lock after --timeout %s: %w", r.o.cluster.timeout, waitedFor)
		}
		return asTimeout(err, r.o.cluster.timeout)
	}
	defer func() {
		// A fresh context: the run's may have ended (timeout, ^C), and a
		// lock left behind would hold up the next run for a lease duration.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		if err := l.Release(rctx); err != nil {
			fmt.Fprintf(r.deps.Stderr, "obsctl: warning: %v\n", err)
		}
	}()
	// Stop the apply when the lock is lost: someone else may be applying.
	actx, acancel := context.WithCancelCause(ctx)
	defer acancel(nil)
	go func() {
		select {
		case <-l.Lost():
			acancel(l.Err())
		case <-actx.Done():
		}
	}()

	inv, err := r.loadInventory(tctx, conn)
	if err != nil {
		return err
	}
	objs, err := source(tctx, inv)
	if err != nil {
		return err
	}
	left := time.Until(r.deadline())
	if left <= 0 {
		return &timeoutError{timeout: r.o.cluster.timeout, err: errors.New("no time left to apply after taking the lock")}
	}
	res, applyErr := conn.applier.Apply(actx, objs, apply.Options{
		Stack:          r.o.cluster.stack,
		Namespace:      r.o.cluster.namespace,
		ForceConflicts: r.o.forceConflicts,
		// Until the release package decides conflicts, the CLI keeps
		// failing on them: --force-conflicts is the way out.
		Conflicts: apply.ConflictsFail,
		Replace:   statefulSets(objs, r.o.cluster.namespace),
		Wait:      r.o.wait,
		Timeout:   left,
		Observer:  r.out,
	})
	if lerr := l.Err(); lerr != nil {
		return fmt.Errorf("apply stopped before it finished (nothing pruned, no revision recorded; run it again once the API server answers): %w", lerr)
	}
	if res == nil {
		return applyErr
	}
	r.out.flush()
	r.report(res)
	var nr *apply.NotReadyError
	if errors.As(applyErr, &nr) {
		// The engine had what was left of the run's time; the user set
		// the whole.
		nr.Timeout, nr.Waited = r.o.cluster.timeout, time.Since(r.start)
	}
	applyErr = asTimeout(applyErr, r.o.cluster.timeout)

	var previous []inventory.ObjectRef
	if latest := inv.Latest(); latest != nil {
		previous = latest.Refs()
	}
	gone := inventory.Prune(previous, appliedRefs(objs, res))
	var pruneErr error
	carried := gone
	switch {
	case !r.o.prune:
		// Not deleted this time, but still the stack's: a later apply
		// with --prune deletes them.
	case applyErr != nil && len(gone) > 0:
		r.out.note(fmt.Sprintf("obsctl: %d objects not pruned: the apply did not complete", len(gone)))
	case len(gone) > 0:
		carried, pruneErr = r.prune(tctx, conn, gone)
		pruneErr = asTimeout(pruneErr, r.o.cluster.timeout)
	}
	rev, recErr := r.record(ctx, conn, inv, objs, res, carried)
	r.rep.Revision = rev
	if applyErr == nil && pruneErr == nil && recErr == nil {
		what := fmt.Sprintf("revision %d", rev)
		if r.rollbackOf > 0 {
			what += fmt.Sprintf(" (rollback to revision %d)", r.rollbackOf)
		}
		r.out.note(fmt.Sprintf("obsctl: stack %s %s: %s in %s", r.o.cluster.stack, what, r.summary(), formatDuration(time.Since(r.start))))
	}
	return errors.Join(applyErr, pruneErr, recErr)
}

// acquireLock takes the stack's lock, trying again while the API server
// has transient trouble (as right after a cluster was created). Acquire's
// own errors (held, or the wait's end) come back as they are: kube.Retry
// would explain a wait that ran out as a slow API server.
func acquireLock(ctx context.Context, conn *clusterConn, opts lock.Options) (*lock.Lock, error) {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		l, err := lock.Acquire(ctx, conn.clients.Dynamic, opts)
		if err == nil || !kube.IsTransient(err) {
			return l, err
		}
		if kube.Sleep(ctx, 500*time.Millisecond) != nil {
			return nil, &kube.RetryError{What: "take the stack's lock", Attempts: attempt, Elapsed: time.Since(start), Last: err, Ctx: ctx.Err()}
		}
	}
}

// summary counts the actions for the closing message.
// loadInventory reads the stack's revision history, retrying transient
// errors until the run's deadline.
func (r *applyRun) loadInventory(tctx context.Context, conn *clusterConn) (*inventory.Inventory, error) {
	var inv *inventory.Inventory
	err := kube.Retry(tctx, "load the inventory", func(ctx context.Context) error {
		var err error
		inv, err = inventory.Load(ctx, conn.clients.Dynamic, r.o.cluster.namespace, r.o.cluster.stack)
		return err
	})
	if err != nil {
		return nil, asTimeout(err, r.o.cluster.timeout)
	}
	return inv, nil
}

func (r *applyRun) summary() string {
	c := r.rep.Counts
	return fmt.Sprintf("%d created, %d configured, %d unchanged, %d pruned", c.Created, c.Configured, c.Unchanged, c.Pruned)
}

// report adds the engine's outcome to the JSON result, in apply order.
func (r *applyRun) report(res *apply.Result) {
	r.rep.Requests = reportRequests{Patches: res.Patches, Total: res.Requests}
	objs := slices.Clone(res.Objects)
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].Wave < objs[j].Wave })
	for _, o := range objs {
		ro := reportObject{
			APIVersion: schema.GroupVersion{Group: o.Object.Group, Version: o.Object.Version}.String(),
			Kind:       o.Object.Kind, Namespace: o.Object.Namespace, Name: o.Object.Name,
			Action: string(r.out.action(o.Object, o.Action)), Duration: o.Duration.Seconds(),
		}
		if o.Err != nil {
			ro.Error = reason(o.Object, o.Err)
		}
		ro.Note = o.Note
		r.addReport(ro)
	}
}

func (r *applyRun) addReport(ro reportObject) {
	r.rep.Objects = append(r.rep.Objects, ro)
	r.rep.Counts.add(ro.Action)
}

// appliedRefs returns the inventory references of the objects as the
// engine applied them, that is with the namespace it gave them.
// statefulSets allows the engine to replace every StatefulSet of objs, as
// it did on its own before apply.Options.Replace: until the release
// package confirms replaces, a real apply keeps doing that (a dry run and
// diff still report the refusal).
func statefulSets(objs []*unstructured.Unstructured, namespace string) map[apply.ObjectRef]bool {
	if namespace == "" {
		namespace = metav1.NamespaceDefault
	}
	out := map[apply.ObjectRef]bool{}
	for _, o := range objs {
		ref := apply.RefOf(o).ID()
		if ref.GroupKind() != kube.GKStatefulSet {
			continue
		}
		if ref.Namespace == "" {
			ref.Namespace = namespace
		}
		out[ref] = true
	}
	return out
}

func appliedRefs(objs []*unstructured.Unstructured, res *apply.Result) []inventory.ObjectRef {
	out := make([]inventory.ObjectRef, len(res.Objects))
	for i, o := range res.Objects {
		ref := inventory.RefOf(objs[i])
		ref.Namespace = o.Object.Namespace
		out[i] = ref
	}
	return out
}

// record appends a revision to the inventory and saves it: every object
// the run meant to apply, failed ones included, so that a later run can
// prune them, and the objects it kept from the previous revision (not
// pruned, or failed to prune). It returns the revision's number.
func (r *applyRun) record(ctx context.Context, conn *clusterConn, inv *inventory.Inventory, objs []*unstructured.Unstructured, res *apply.Result, carried []inventory.ObjectRef) (int, error) {
	applied := make([]*unstructured.Unstructured, len(objs))
	for i, o := range res.Objects {
		c := objs[i].DeepCopy()
		c.SetNamespace(o.Object.Namespace)
		applied[i] = c
	}
	userName, host := identity(r.deps)
	c := r.rep.Counts
	rev := inventory.Revision{
		User: userName, Host: host, ObsctlVersion: version.Get().Version, RollbackOf: r.rollbackOf,
		Summary: inventory.Summary{Created: c.Created, Configured: c.Configured, Unchanged: c.Unchanged, Pruned: c.Pruned, Failed: c.Failed},
	}
	if err := rev.SetObjects(applied); err != nil {
		return 0, fmt.Errorf("record the revision: %w", err)
	}
	// Kept objects have no manifests in this revision: only the
	// references, so that the next apply can still prune them.
	rev.Carry(carried...)
	stored := inv.Append(rev)
	// What was applied must be recorded even when the run's time is up
	// or it was interrupted: a few seconds more, at most.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordGraceDuration)
	defer cancel()
	if err := inv.Save(sctx, conn.clients.Dynamic); err != nil {
		return 0, err
	}
	return stored.Number, nil
}

// clientDryRun prints the objects that would be applied, in apply order,
// without contacting a cluster. Without discovery the namespace an object
// that names none goes to is a guess: the stack's, unless its kind is a
// built-in cluster-scoped one.
func (r *applyRun) clientDryRun(objs []*unstructured.Unstructured) {
	for _, b := range apply.Waves(objs) {
		for _, o := range b.Objects {
			ref := apply.RefOf(o)
			if ref.Namespace == "" && !clusterScoped[o.GroupVersionKind().GroupKind()] {
				ref.Namespace = r.o.cluster.namespace
			}
			r.out.line(fmt.Sprintf("%s %s (client dry run)", ref, actionChecked))
			r.addReport(reportObject{APIVersion: o.GetAPIVersion(), Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name, Action: actionChecked})
		}
	}
}

// clusterScoped are the built-in cluster-scoped kinds, for the client dry
// run's guess at namespaces.
var clusterScoped = map[schema.GroupKind]bool{
	{Kind: "Namespace"}:        true,
	{Kind: "Node"}:             true,
	{Kind: "PersistentVolume"}: true,
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:                 true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}:                         true,
	{Group: "rbac.authorization.k8s.io", Kind: "ClusterRoleBinding"}:                  true,
	{Group: "scheduling.k8s.io", Kind: "PriorityClass"}:                               true,
	{Group: "storage.k8s.io", Kind: "StorageClass"}:                                   true,
	{Group: "storage.k8s.io", Kind: "CSIDriver"}:                                      true,
	{Group: "node.k8s.io", Kind: "RuntimeClass"}:                                      true,
	{Group: "networking.k8s.io", Kind: "IngressClass"}:                                true,
	{Group: "apiregistration.k8s.io", Kind: "APIService"}:                             true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}:   true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:     true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}:        true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicyBinding"}: true,
}

// serverDryRun sends every object the API server can check as a server dry
// run and prints what would happen, then what would be pruned. It takes no
// lock and writes nothing.
func (r *applyRun) serverDryRun(ctx, tctx context.Context, conn *clusterConn, objs []*unstructured.Unstructured) error {
	check, later, err := splitDryRun(tctx, conn, objs, r.o.cluster.namespace)
	if err != nil {
		return asTimeout(err, r.o.cluster.timeout)
	}
	for _, u := range later {
		// Reported as the engine would report them, so that they print
		// in apply order.
		ref := apply.RefOf(u.obj)
		r.out.setNote(ref, u.reason)
		r.out.Observe(apply.Event{Object: ref, Wave: apply.WaveOf(u.obj.GroupVersionKind().GroupKind()), Action: apply.Created, DryRun: true})
	}
	inv, err := r.loadInventory(tctx, conn)
	if err != nil {
		return err
	}
	var res *apply.Result
	var applyErr error
	if len(check) > 0 {
		left := time.Until(r.deadline())
		if left <= 0 {
			return &timeoutError{timeout: r.o.cluster.timeout, err: errors.New("no time left for the dry run")}
		}
		res, applyErr = conn.applier.Apply(ctx, check, apply.Options{
			Stack: r.o.cluster.stack, Namespace: r.o.cluster.namespace, ForceConflicts: r.o.forceConflicts,
			Conflicts: apply.ConflictsFail, DryRun: apply.DryRunServer, Timeout: left, Observer: r.out,
		})
		if res == nil {
			return applyErr
		}
		r.rep.Requests = reportRequests{Patches: res.Patches, Total: res.Requests}
	}
	r.out.flush()
	// The JSON result in apply order: the checked objects and those that
	// could not be checked, by wave.
	var all []apply.ObjectResult
	notes := map[apply.ObjectRef]string{}
	if res != nil {
		all = append(all, res.Objects...)
	}
	for _, u := range later {
		ref := apply.RefOf(u.obj)
		notes[ref] = u.reason
		all = append(all, apply.ObjectResult{Object: ref, Wave: apply.WaveOf(u.obj.GroupVersionKind().GroupKind()), Action: apply.Created, DryRun: true})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Wave < all[j].Wave })
	for _, o := range all {
		ro := reportObject{
			APIVersion: schema.GroupVersion{Group: o.Object.Group, Version: o.Object.Version}.String(),
			Kind:       o.Object.Kind, Namespace: o.Object.Namespace, Name: o.Object.Name,
			Action: string(o.Action), Note: notes[o.Object], Duration: o.Duration.Seconds(),
		}
		if o.Err != nil {
			ro.Error = reason(o.Object, o.Err)
		}
		ro.Note = o.Note
		r.addReport(ro)
	}
	if r.o.prune && inv.Latest() != nil {
		var refs []inventory.ObjectRef
		for _, o := range all {
			refs = append(refs, inventory.ObjectRef{Group: o.Object.Group, Version: o.Object.Version, Kind: o.Object.Kind, Namespace: o.Object.Namespace, Name: o.Object.Name})
		}
		for _, g := range inventory.Prune(inv.Latest().Refs(), refs) {
			r.out.line(fmt.Sprintf("%s %s (server dry run)", pruneRef(g), actionPruned))
			r.addReport(reportObject{APIVersion: schema.GroupVersion{Group: g.Group, Version: g.Version}.String(), Kind: g.Kind, Namespace: g.Namespace, Name: g.Name, Action: actionPruned})
		}
	}
	return asTimeout(applyErr, r.o.cluster.timeout)
}

// dryRunLater is an object a server dry run cannot check: it would be
// created, but the API server cannot say more until something it needs
// exists.
// roleKey names a Role (with its namespace) or a ClusterRole.
type roleKey struct{ kind, namespace, name string }

// rolesIn returns the Roles and ClusterRoles of objs.
func rolesIn(objs []*unstructured.Unstructured, defaultNS string) map[roleKey]bool {
	out := map[roleKey]bool{}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		if gvk.Group != rbacGroup {
			continue
		}
		switch gvk.Kind {
		case "ClusterRole":
			out[roleKey{"ClusterRole", "", o.GetName()}] = true
		case "Role":
			ns := o.GetNamespace()
			if ns == "" {
				ns = defaultNS
			}
			out[roleKey{"Role", ns, o.GetName()}] = true
		}
	}
	return out
}

const rbacGroup = "rbac.authorization.k8s.io"

// roleNotYetCreated says why a server dry run cannot check a RoleBinding
// or ClusterRoleBinding of a role the set creates: unless the identity may
// bind any role, the API server reads the role's rules to see that the
// identity holds them, and the dry run did not create the role. It returns
// "" for any other object.
func roleNotYetCreated(ctx context.Context, conn *clusterConn, o *unstructured.Unstructured, ns string, roles map[roleKey]bool) (string, error) {
	gvk := o.GroupVersionKind()
	if gvk.Group != rbacGroup || (gvk.Kind != "RoleBinding" && gvk.Kind != "ClusterRoleBinding") {
		return "", nil
	}
	kind, _, _ := unstructured.NestedString(o.Object, "roleRef", "kind")
	name, _, _ := unstructured.NestedString(o.Object, "roleRef", "name")
	key := roleKey{kind, "", name}
	gvr := schema.GroupVersionResource{Group: rbacGroup, Version: "v1", Resource: "clusterroles"}
	if kind == "Role" {
		key.namespace = ns
		gvr.Resource = "roles"
	}
	if !roles[key] {
		return "", nil
	}
	ri := conn.clients.Dynamic.Resource(gvr).Namespace(key.namespace)
	var missing bool
	err := kube.Retry(ctx, "read "+kind+" "+name, func(ctx context.Context) error {
		_, err := ri.Get(ctx, name, metav1.GetOptions{})
		missing = apierrors.IsNotFound(err)
		if missing {
			return nil
		}
		return err
	})
	if err != nil || !missing {
		return "", err
	}
	return "the " + kind + " " + name + " it binds is not created yet", nil
}

type dryRunLater struct {
	obj    *unstructured.Unstructured // with the namespace it would go to
	index  int                        // its position in the input
	reason string
}

// splitDryRun picks out the objects a server dry run cannot check: those in
// namespaces that do not exist yet (the dry run would fail with NotFound,
// since the Namespace in the same set is not created) and custom resources
// of CustomResourceDefinitions in the set that are not installed yet.
// Everything else is to check.
func splitDryRun(ctx context.Context, conn *clusterConn, objs []*unstructured.Unstructured, defaultNS string) (check []*unstructured.Unstructured, later []dryRunLater, err error) {
	crdScope := map[schema.GroupKind]string{}
	for _, o := range objs {
		if o.GroupVersionKind().GroupKind() == gkCRD {
			group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
			scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
			crdScope[schema.GroupKind{Group: group, Kind: kind}] = scope
		}
	}
	exists := map[string]bool{}
	roles := rolesIn(objs, defaultNS)
	for i, o := range objs {
		gvk := o.GroupVersionKind()
		var namespaced bool
		var why string
		var m *meta.RESTMapping
		var noMatch error
		err := kube.Retry(ctx, "map "+kube.Describe(o)+" to a resource", func(context.Context) error {
			var err error
			m, err = conn.clients.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			noMatch = nil
			if meta.IsNoMatchError(err) {
				noMatch, err = err, nil // an answer, not trouble to retry
			}
			return err
		})
		if err == nil {
			err = noMatch
		}
		switch scope, fromSet := crdScope[gvk.GroupKind()]; {
		case meta.IsNoMatchError(err) && fromSet:
			namespaced = scope == "Namespaced"
			why = "its CustomResourceDefinition is not installed yet"
		case meta.IsNoMatchError(err):
			check = append(check, o) // the engine says the kind is unknown
			continue
		case err != nil:
			return nil, nil, err
		default:
			namespaced = m.Scope.Name() == meta.RESTScopeNameNamespace
		}
		ns := o.GetNamespace()
		if namespaced && ns == "" {
			ns = defaultNS
		}
		if namespaced && why == "" {
			ok, seen := exists[ns]
			if !seen {
				err := kube.Retry(ctx, "read namespace "+ns, func(ctx context.Context) error {
					_, err := kube.Namespaces(conn.clients.Dynamic).Get(ctx, ns, metav1.GetOptions{})
					switch {
					case apierrors.IsNotFound(err):
						ok = false
					case err == nil:
						ok = true
					default:
						return err
					}
					return nil
				})
				if err != nil {
					return nil, nil, err
				}
				exists[ns] = ok
			}
			if !ok {
				why = "namespace " + ns + " does not exist yet"
			}
		}
		if why == "" {
			var err error
			if why, err = roleNotYetCreated(ctx, conn, o, ns, roles); err != nil {
				return nil, nil, err
			}
		}
		if why == "" {
			check = append(check, o)
			continue
		}
		c := o.DeepCopy()
		if namespaced {
			c.SetNamespace(ns)
		} else {
			c.SetNamespace("")
		}
		later = append(later, dryRunLater{obj: c, index: i, reason: why + ", so the server did not check it"})
	}
	return check, later, nil
}

// reason is an object's error without the object's name in front, which
// the line already shows.
func reason(ref apply.ObjectRef, err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, ref.String()+": ")
	return strings.ReplaceAll(msg, "\n", " ")
}

// pruneRef names a pruned object like the engine names applied ones.
func pruneRef(r inventory.ObjectRef) apply.ObjectRef {
	return apply.ObjectRef{Group: r.Group, Version: r.Version, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
}

// prune deletes the objects of the previous revision that the new one no
// longer has, custom resources first and namespaces and CRDs last (the
// reverse of the apply order), with foreground propagation. It deletes an
// object only when it still carries the stack's labels, and a Namespace
// only when nothing outside the stack lives in it (deleting a namespace
// deletes everything in it). It returns the objects to keep in the
// inventory: those it left or failed to delete.
func (r *applyRun) prune(ctx context.Context, conn *clusterConn, refs []inventory.ObjectRef) (kept []inventory.ObjectRef, err error) {
	refs = slices.Clone(refs)
	sort.SliceStable(refs, func(i, j int) bool {
		return apply.WaveOf(refs[i].GroupVersionKind().GroupKind()) > apply.WaveOf(refs[j].GroupVersionKind().GroupKind())
	})
	var errs []error
	for i, ref := range refs {
		if ctx.Err() != nil {
			// Whatever the loop does not reach stays in the inventory.
			kept = append(kept, refs[i:]...)
			errs = append(errs, fmt.Errorf("prune: %w", ctx.Err()))
			break
		}
		start := time.Now()
		ar := pruneRef(ref)
		ro := reportObject{APIVersion: schema.GroupVersion{Group: ref.Group, Version: ref.Version}.String(), Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name}
		outcome, note, perr := r.pruneOne(ctx, conn, ref)
		ro.Duration = time.Since(start).Seconds()
		switch {
		case perr != nil:
			kept = append(kept, ref)
			errs = append(errs, fmt.Errorf("prune %s: %w", ar, perr))
			ro.Action, ro.Error = string(apply.Failed), perr.Error()
			r.out.line(fmt.Sprintf("%s %s: %s", ar, apply.Failed, ro.Error))
		case outcome == pruneKept:
			kept = append(kept, ref)
			fallthrough
		case outcome == pruneDropped:
			ro.Action, ro.Note = actionKept, note
			r.out.note(fmt.Sprintf("obsctl: %s not pruned: %s", ar, note))
		default:
			ro.Action, ro.Note = actionPruned, note
			text := fmt.Sprintf("%s %s (%s)", ar, actionPruned, formatDuration(time.Since(start)))
			if note != "" {
				text = fmt.Sprintf("%s %s (%s, %s)", ar, actionPruned, note, formatDuration(time.Since(start)))
			}
			r.out.line(text)
		}
		r.addReport(ro)
	}
	return kept, errors.Join(errs...)
}

type pruneOutcome int

const (
	pruneDeleted pruneOutcome = iota // deleted, or already gone
	pruneKept                        // left alone for now; stays in the inventory
	pruneDropped                     // left alone for good; leaves the inventory
)

func (r *applyRun) pruneOne(ctx context.Context, conn *clusterConn, ref inventory.ObjectRef) (pruneOutcome, string, error) {
	gk := ref.GroupVersionKind().GroupKind()
	if gk == (schema.GroupKind{Kind: "Namespace"}) && ref.Name == r.o.cluster.namespace {
		return pruneDropped, "it is the stack's namespace, which holds its lock and inventory", nil
	}
	m, err := conn.clients.Mapper.RESTMapping(gk, ref.Version)
	if meta.IsNoMatchError(err) {
		m, err = conn.clients.Mapper.RESTMapping(gk)
	}
	if meta.IsNoMatchError(err) {
		return pruneDeleted, "already gone: the cluster no longer has its kind", nil
	}
	if err != nil {
		return 0, "", err
	}
	ri := conn.clients.Dynamic.Resource(m.Resource).Namespace(ref.Namespace)
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		ri = conn.clients.Dynamic.Resource(m.Resource)
	}
	var live *unstructured.Unstructured
	err = retryRequest(ctx, func(ctx context.Context) error {
		var err error
		live, err = ri.Get(ctx, ref.Name, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return pruneDeleted, "already gone", nil
	}
	if err != nil {
		return 0, "", err
	}
	if l := live.GetLabels(); l[apply.LabelStack] != r.o.cluster.stack || l[apply.LabelManagedBy] != apply.FieldManager {
		return pruneDropped, fmt.Sprintf("it no longer carries the labels %s=%s and %s=%s", apply.LabelManagedBy, apply.FieldManager, apply.LabelStack, r.o.cluster.stack), nil
	}
	if live.GetDeletionTimestamp() != nil {
		return pruneDeleted, "already being deleted", nil
	}
	switch gk {
	case schema.GroupKind{Kind: "Namespace"}:
		foreign, err := r.foreignObjects(ctx, conn, ref.Name)
		if err != nil {
			return pruneKept, fmt.Sprintf("cannot tell whether it holds objects outside the stack: %v", err), nil
		}
		if len(foreign) > 0 {
			return pruneKept, "it holds objects outside the stack, which deleting it would delete: " + strings.Join(foreign, ", "), nil
		}
	case gkCRD:
		crs, err := customResources(ctx, conn, live)
		if err != nil {
			return pruneKept, fmt.Sprintf("cannot tell whether custom resources of it exist: %v", err), nil
		}
		if len(crs) > 0 {
			return pruneKept, "custom resources of it exist, which deleting it would delete: " + strings.Join(crs, ", "), nil
		}
	}
	uid := live.GetUID()
	fg := metav1.DeletePropagationForeground
	err = retryRequest(ctx, func(ctx context.Context) error {
		return ri.Delete(ctx, ref.Name, metav1.DeleteOptions{PropagationPolicy: &fg, Preconditions: &metav1.Preconditions{UID: &uid}})
	})
	switch {
	case apierrors.IsNotFound(err):
		return pruneDeleted, "already gone", nil
	case apierrors.IsConflict(err):
		return pruneKept, "it was replaced while obsctl looked at it", nil
	case err != nil:
		return 0, "", err
	}
	return pruneDeleted, "", nil
}

var gkCRD = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}

// customResources lists the custom resources of a CustomResourceDefinition
// that are not being deleted, in every namespace: deleting the CRD would
// delete them all, whoever made them.
func customResources(ctx context.Context, conn *clusterConn, crd *unstructured.Unstructured) ([]string, error) {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	version := ""
	for _, v := range versions {
		m, _ := v.(map[string]any)
		if served, _ := m["served"].(bool); served {
			version, _ = m["name"].(string)
			break
		}
	}
	if version == "" || plural == "" {
		return nil, nil // nothing served, nothing to lose
	}
	var l *unstructured.UnstructuredList
	err := retryRequest(ctx, func(ctx context.Context) error {
		var err error
		l, err = conn.clients.Dynamic.Resource(schema.GroupVersionResource{Group: group, Version: version, Resource: plural}).List(ctx, metav1.ListOptions{Limit: 50})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var found []string
	for _, o := range l.Items {
		if o.GetDeletionTimestamp() == nil {
			found = append(found, kube.Describe(&o))
		}
	}
	slices.Sort(found)
	if len(found) > maxForeign {
		found = append(found[:maxForeign], fmt.Sprintf("and %d more", len(found)-maxForeign))
	}
	return found, nil
}

// maxForeign is how many objects outside the stack a refused namespace
// prune names.
const maxForeign = 5

// foreignObjects lists objects in namespace ns that keep it from being
// pruned: anything not being deleted already, not owned by another object
// and not made by Kubernetes itself for every namespace. Objects of the
// stack count too: one still in the set would go with the namespace.
func (r *applyRun) foreignObjects(ctx context.Context, conn *clusterConn, ns string) ([]string, error) {
	resources, err := conn.clients.Discovery.Resources(ctx)
	if err != nil {
		return nil, err
	}
	type res struct {
		gvr  schema.GroupVersionResource
		kind string
	}
	var all []res
	for _, r := range resources {
		switch {
		case !r.Preferred, !r.Namespaced, !slices.Contains(r.Verbs, "list"):
			continue
		case r.Resource == "events", r.Resource == "endpoints":
			// Events and a Service's Endpoints go with what they are about.
			continue
		}
		all = append(all, res{r.GroupVersionResource, r.Kind})
	}
	var (
		mu    sync.Mutex
		found []string
		errs  []error
	)
	parallel.EachUpTo(len(all), 8, func(i int) {
		rs := all[i]
		var l *unstructured.UnstructuredList
		err := retryRequest(ctx, func(ctx context.Context) error {
			var err error
			l, err = conn.clients.Dynamic.Resource(rs.gvr).Namespace(ns).List(ctx, metav1.ListOptions{Limit: 50})
			return err
		})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
				errs = append(errs, fmt.Errorf("list %s: %w", rs.gvr.Resource, err))
			}
			return
		}
		for _, o := range l.Items {
			if o.GetDeletionTimestamp() != nil || len(o.GetOwnerReferences()) > 0 || builtinPerNamespace(rs.kind, o.GetName()) {
				continue
			}
			found = append(found, rs.kind+" "+ns+"/"+o.GetName())
		}
	})
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.Sort(found)
	if len(found) > maxForeign {
		found = append(found[:maxForeign], fmt.Sprintf("and %d more", len(found)-maxForeign))
	}
	return found, nil
}

// builtinPerNamespace reports whether an object is one Kubernetes makes in
// every namespace.
func builtinPerNamespace(kind, name string) bool {
	return (kind == "ConfigMap" && name == "kube-root-ca.crt") || (kind == "ServiceAccount" && name == "default")
}

// applyPrinter prints one line per object and, on a terminal, a live
// progress line on stderr. It is the engine's Observer. Lines of a wave
// are held until the wave is done and then printed in input order, so the
// output does not depend on which request answered first.
type applyPrinter struct {
	mu    sync.Mutex
	out   io.Writer // stdout; nil with -o json
	err   io.Writer // stderr
	term  bool      // stderr is a terminal: show the progress line
	waves []apply.Wave
	size  map[apply.Wave]int
	order map[apply.ObjectRef]int
	held  map[apply.Wave][]heldLine
	notes map[apply.ObjectRef]string
	heard map[apply.ObjectRef]bool // objects whose apply was reported
	// waits says which applied objects the engine then waits for.
	waits func(apply.Event) bool
	// createdNS is the stack's namespace when the lock created it in this
	// run, just before the apply configured it.
	createdNS string

	total, done, waiting int
	wave                 int // 1-based position in waves of the wave last heard of
	shown                int // length of the progress line on screen; 0 if none
}

type heldLine struct {
	order int
	text  string
}

func newApplyPrinter(deps *Deps, o *applyOptions, objs []*unstructured.Unstructured) *applyPrinter {
	p := &applyPrinter{
		err:   deps.Stderr,
		term:  deps.IsTerminal(deps.Stderr),
		size:  map[apply.Wave]int{},
		order: map[apply.ObjectRef]int{},
		held:  map[apply.Wave][]heldLine{},
		notes: map[apply.ObjectRef]string{},
		heard: map[apply.ObjectRef]bool{},
	}
	if o.output == "text" {
		p.out = deps.Stdout
	}
	p.setObjects(objs)
	waitWorkloads := o.wait && o.dryRun == "none"
	p.waits = func(e apply.Event) bool {
		if e.DryRun {
			return false
		}
		switch e.Action {
		case apply.Created, apply.Configured, apply.Replaced, apply.Unchanged:
		default:
			return false
		}
		gk := schema.GroupKind{Group: e.Object.Group, Kind: e.Object.Kind}
		switch gk {
		case schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:
			return true
		case schema.GroupKind{Group: "apps", Kind: "Deployment"}, schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, schema.GroupKind{Group: "apps", Kind: "DaemonSet"}:
			return waitWorkloads
		}
		return false
	}
	return p
}

// setObjects tells the printer what the run applies, for the progress
// line and the order of lines within a wave. A rollback knows only once it
// has read the inventory, under the lock.
func (p *applyPrinter) setObjects(objs []*unstructured.Unstructured) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = len(objs)
	p.waves = p.waves[:0]
	clear(p.size)
	clear(p.order)
	for _, b := range apply.Waves(objs) {
		p.waves = append(p.waves, b.Wave)
		p.size[b.Wave] = len(b.Objects)
	}
	for i, obj := range objs {
		ref := apply.RefOf(obj)
		ref.Version = ""
		if _, dup := p.order[ref]; !dup {
			p.order[ref] = i
		}
	}
}

// orderOf returns the input position of an object the engine reports with
// the namespace it gave it.
func (p *applyPrinter) orderOf(ref apply.ObjectRef) int {
	ref.Version = ""
	if i, ok := p.order[ref]; ok {
		return i
	}
	ref.Namespace = ""
	if i, ok := p.order[ref]; ok {
		return i
	}
	return len(p.order)
}

func (p *applyPrinter) setNote(ref apply.ObjectRef, note string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notes[ref] = note
}

// Observe hears the engine.
func (p *applyPrinter) Observe(e apply.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Action == apply.Ready {
		p.waiting = max(0, p.waiting-1)
		p.redraw()
		return
	}
	if p.heard[e.Object] {
		// A second word after the apply's: a CustomResourceDefinition
		// that will never be Established failed. Its wait is over.
		p.waiting = max(0, p.waiting-1)
		p.emit(p.format(e))
		p.redraw()
		return
	}
	p.heard[e.Object] = true
	p.done++
	if p.waits(e) {
		p.waiting++
	}
	if i := slices.Index(p.waves, e.Wave); i >= 0 {
		p.wave = max(p.wave, i+1)
	}
	e.Action = p.action(e.Object, e.Action)
	p.held[e.Wave] = append(p.held[e.Wave], heldLine{p.orderOf(e.Object), p.format(e)})
	if len(p.held[e.Wave]) >= p.size[e.Wave] {
		p.flushWave(e.Wave)
	}
	p.redraw()
}

// action is what the run did to an object: the engine's action, but
// created for the stack's namespace when the lock created it just before.
func (p *applyPrinter) action(ref apply.ObjectRef, a apply.Action) apply.Action {
	if a == apply.Configured && p.createdNS != "" && ref.Group == "" && ref.Kind == "Namespace" && ref.Name == p.createdNS {
		return apply.Created
	}
	return a
}

func (p *applyPrinter) format(e apply.Event) string {
	switch e.Action {
	case apply.Failed:
		msg := "unknown error"
		if e.Err != nil {
			msg = reason(e.Object, e.Err)
		}
		return fmt.Sprintf("%s %s: %s", e.Object, e.Action, msg)
	case apply.Skipped:
		if e.Note != "" {
			return fmt.Sprintf("%s %s (%s)", e.Object, e.Action, e.Note)
		}
		return fmt.Sprintf("%s %s (not applied: an earlier wave failed or the run ended)", e.Object, e.Action)
	}
	var detail []string
	if e.DryRun {
		detail = append(detail, "server dry run")
	}
	if n := p.notes[e.Object]; n != "" {
		detail = append(detail, n)
	} else if e.Note != "" {
		detail = append(detail, e.Note, formatDuration(e.Duration))
	} else {
		detail = append(detail, formatDuration(e.Duration))
	}
	return fmt.Sprintf("%s %s (%s)", e.Object, e.Action, strings.Join(detail, "; "))
}

// flushWave prints the held lines of wave w in input order. The caller
// holds mu.
func (p *applyPrinter) flushWave(w apply.Wave) {
	lines := p.held[w]
	delete(p.held, w)
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].order < lines[j].order })
	for _, l := range lines {
		p.emit(l.text)
	}
}

// flush prints every held line: the engine stopped before some waves were
// complete.
func (p *applyPrinter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range p.waves {
		if len(p.held[w]) > 0 {
			p.flushWave(w)
		}
	}
	p.redraw()
}

// line prints one object line at once.
func (p *applyPrinter) line(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.emit(text)
	p.redraw()
}

// note prints a message on stderr.
func (p *applyPrinter) note(text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintln(p.err, text)
	p.redraw()
}

// emit prints an object line on stdout, above the progress line. The
// caller holds mu.
func (p *applyPrinter) emit(text string) {
	if p.out == nil {
		return
	}
	p.clear()
	fmt.Fprintln(p.out, text)
}

// redraw rewrites the progress line. The caller holds mu.
func (p *applyPrinter) redraw() {
	if !p.term || p.done == 0 {
		return
	}
	text := fmt.Sprintf("[wave %d/%d] %d/%d applied", p.wave, len(p.waves), p.done, p.total)
	if p.waiting > 0 {
		text += fmt.Sprintf(", %d waiting", p.waiting)
	}
	text += "…"
	pad := ""
	if n := p.shown - len(text); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprint(p.err, "\r"+text+pad)
	p.shown = len(text)
}

// clear removes the progress line. The caller holds mu.
func (p *applyPrinter) clear() {
	if p.shown == 0 {
		return
	}
	fmt.Fprint(p.err, "\r"+strings.Repeat(" ", p.shown)+"\r")
	p.shown = 0
}

// finish clears the progress line for good.
func (p *applyPrinter) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	p.term = false
}
