package apply

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"

	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/parallel"
)

// Applier applies objects to one cluster. Its fields are the clients; the
// zero value is not usable.
type Applier struct {
	// Dynamic sends every request.
	Dynamic dynamic.Interface
	// Mapper maps kinds to resources. When it is a
	// meta.ResettableRESTMapper (kube.Discovery is), the engine resets it after it has created or changed CRDs, and
	// once when it meets a kind the mapper does not know.
	Mapper meta.RESTMapper
	// Retry, when set, runs every request: it may call op again on a
	// transient error, with backoff. Server-side apply and list are
	// idempotent, so every request may be retried. Nil runs op once.
	Retry func(ctx context.Context, op func(context.Context) error) error
}

// Options say how to apply.
type Options struct {
	// Stack names the stack the objects belong to; it becomes the value of
	// the obsctl.dev/stack label, so it must be a valid label value.
	// Required.
	Stack string
	// Namespace is given to namespaced objects that name none; empty means
	// "default".
	Namespace string
	// Conflicts says what to do when other field managers changed fields
	// obsctl declares (kubectl edit, kubectl patch, another tool). The
	// default, ConflictsTake, takes them back and says so
	// (ObjectResult.TookBack): the stack's declared state is the one to
	// have, and a conflict left unresolved at 3 a.m. blocks the delivery
	// of everything after it. ConflictsFail fails the object with a
	// *ConflictError instead.
	Conflicts ConflictPolicy
	// ForceConflicts takes over fields other field managers own without
	// asking first: one request instead of two, but the result cannot say
	// which fields were taken. It overrides Conflicts.
	ForceConflicts bool
	// DryRun set to DryRunServer sends every apply as a server dry run:
	// admission and validation run, nothing is stored, and nothing is
	// waited for.
	DryRun DryRun
	// Concurrency bounds the requests in flight within a wave; 0 means 16.
	Concurrency int
	// Wait makes Apply wait, after the last wave, until Deployments,
	// StatefulSets and DaemonSets have rolled out. CRDs are always waited
	// for until Established, since what follows them needs them.
	Wait bool
	// Timeout bounds the whole Apply, waiting included; 0 means 5 minutes.
	Timeout time.Duration
	// PollInterval is how often the rollout wait looks at the objects
	// again; 0 means 500ms.
	PollInterval time.Duration
	// Observer, if set, hears one Event per object.
	Observer Observer
	// Replace holds the IDs (kube.Ref.ID(), with the namespace the object
	// is applied in) of the objects Apply may delete and create again
	// when the API server will not change them in place: a StatefulSet
	// whose volume claim templates, selector or service name changed.
	// That recreates its pods, so the caller decides it (the release,
	// after a confirmation); any other such object fails with a
	// *ReplaceNeededError.
	Replace map[ObjectRef]bool
	// Live, when not nil, is the live state of the input, given by the
	// caller: the object found for each input object, by ID (kube.Ref.ID(),
	// with the namespace the object is applied in); an absent key means
	// the object does not exist. The engine then lists nothing. The
	// release lists once for its plan, objects without the stack's labels
	// included, and passes what it found, so that the engine's "created"
	// and "configured" are exact (it otherwise sees only the stack's
	// objects, and guesses from the answer whether the others existed).
	// Kinds whose CRD this run creates have no live objects, whatever the
	// map says. The objects must be as the API server returns them, with
	// their managedFields (they say who owns spec.replicas); they are not
	// modified.
	Live map[ObjectRef]*unstructured.Unstructured
}

// ConflictPolicy says what Apply does about server-side apply conflicts:
// fields obsctl sets that another field manager owns with another value.
type ConflictPolicy int

// The conflict policies.
const (
	// ConflictsTake applies without force first; on a conflict it applies
	// again with force and reports the fields it took back, and from whom.
	ConflictsTake ConflictPolicy = iota
	// ConflictsFail fails the object with a *ConflictError.
	ConflictsFail
)

// String returns "take" or "fail".
func (p ConflictPolicy) String() string {
	switch p {
	case ConflictsTake:
		return "take"
	case ConflictsFail:
		return "fail"
	}
	return fmt.Sprintf("ConflictPolicy(%d)", int(p))
}

const (
	defaultConcurrency  = 16
	defaultTimeout      = 5 * time.Minute
	defaultPollInterval = 500 * time.Millisecond
	// crdPollInterval is short: the Established wait holds up every
	// later wave, and a new CRD is usually established within a second.
	crdPollInterval = 100 * time.Millisecond
	// freshKindTimeout bounds how long a kind of a just-established CRD
	// may stay unknown to discovery or unserved.
	freshKindTimeout = 30 * time.Second
	// explainTimeout bounds the reads that explain a timeout, which run
	// after the Apply's own deadline has passed.
	explainTimeout = 10 * time.Second
)

// Apply applies objs wave by wave (see Waves) and returns the outcome for
// every object. The objects are not modified.
//
// The error is nil when every object was applied (and, with Options.Wait,
// became ready); a *FailedError when objects failed, in which case their
// dependents were held back (see ObjectResult.HeldBackBy), everything else
// was applied, and nothing was waited for; a *NotReadyError when objects
// did not become ready in time; or an error about the arguments, in which
// case nothing was sent and the Result is nil.
func (a *Applier) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts Options) (*Result, error) {
	start := time.Now()
	if a.Dynamic == nil || a.Mapper == nil {
		return nil, errors.New("apply: the Applier has no dynamic client or no RESTMapper")
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	opts.defaults()
	r := &run{a: a, opts: opts, start: start, listed: map[listKey]map[string]*unstructured.Unstructured{}}
	if opts.Live != nil {
		r.live = make(map[ObjectRef]*unstructured.Unstructured, len(opts.Live))
		for ref, obj := range opts.Live {
			r.live[ref.ID()] = obj
		}
	}
	if err := r.newItems(objs); err != nil {
		return nil, err
	}
	tctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	err := r.apply(ctx, tctx)

	res := &Result{DryRun: opts.DryRun, Patches: int(r.patches.Load()), Requests: int(r.requests.Load())}
	for _, it := range r.items {
		res.Objects = append(res.Objects, it.res)
	}
	res.Duration = time.Since(start)
	return res, err
}

func (o *Options) check() error {
	if o.Stack == "" {
		return errors.New("apply: no stack name")
	}
	if errs := validation.IsValidLabelValue(o.Stack); len(errs) > 0 {
		return fmt.Errorf("apply: stack name %q: %s", o.Stack, errs[0])
	}
	switch o.Conflicts {
	case ConflictsTake, ConflictsFail:
	default:
		return fmt.Errorf("apply: conflict policy %s: want take or fail", o.Conflicts)
	}
	switch o.DryRun {
	case DryRunNone, DryRunServer:
	default:
		return fmt.Errorf("apply: dry run %q: want %q or none (a client dry run is the caller's)", o.DryRun, DryRunServer)
	}
	return nil
}

func (o *Options) defaults() {
	if o.Concurrency <= 0 {
		o.Concurrency = defaultConcurrency
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.PollInterval <= 0 {
		o.PollInterval = defaultPollInterval
	}
	if o.Namespace == "" {
		o.Namespace = metav1.NamespaceDefault
	}
}

// run is the state of one Apply.
type run struct {
	a     *Applier
	opts  Options
	start time.Time
	items []*item // input order

	// crdKinds are the kinds the input's CRDs define, crdsOf the CRDs
	// defining each; freshKinds those of them whose CRD this run created or
	// changed, newKinds those whose CRD it created.
	crdKinds   map[schema.GroupKind]bool
	crdsOf     map[schema.GroupKind][]*item
	freshKinds map[schema.GroupKind]bool
	newKinds   map[schema.GroupKind]bool
	missReset  bool // the mapper was reset for an unknown kind

	// byID indexes the input by ID, with the namespace each object is
	// applied in; blocked says, by ID, why the objects that failed or were
	// held back hold back their dependents.
	byID    map[ObjectRef]*item
	blocked map[ObjectRef]string

	// live is Options.Live by ID; nil when the engine lists.
	live map[ObjectRef]*unstructured.Unstructured

	mu     sync.Mutex
	listed map[listKey]map[string]*unstructured.Unstructured // nil map: the list failed

	requests, patches atomic.Int64
	obsMu             sync.Mutex
}

// item is one input object on its way.
type item struct {
	src     *unstructured.Unstructured
	gvk     schema.GroupVersionKind
	mapping *meta.RESTMapping
	err     error     // why it cannot be sent: unknown kind, bad object
	p       *prepared // what is applied
	full    *prepared // the whole desired object, when p leaves replicas out
	key     listKey
	live    *unstructured.Unstructured
	res     ObjectResult
	done    time.Time // when its apply ended
}

// listKey is one list request: a resource in a namespace ("" for
// cluster-scoped resources).
type listKey struct {
	gvr       schema.GroupVersionResource
	namespace string
}

func (r *run) newItems(objs []*unstructured.Unstructured) error {
	seen := map[ObjectRef]bool{}
	r.crdKinds = map[schema.GroupKind]bool{}
	r.crdsOf = map[schema.GroupKind][]*item{}
	r.freshKinds = map[schema.GroupKind]bool{}
	r.newKinds = map[schema.GroupKind]bool{}
	for i, o := range objs {
		if o == nil {
			return fmt.Errorf("apply: object %d is nil", i)
		}
		ref := RefOf(o)
		if ref.Kind == "" || ref.Version == "" || ref.Name == "" {
			return fmt.Errorf("apply: object %d (%s): apiVersion, kind and metadata.name are required", i, ref)
		}
		key := ref
		key.Version = ""
		if seen[key] {
			return fmt.Errorf("apply: %s is given twice", ref)
		}
		seen[key] = true
		gvk := o.GroupVersionKind()
		// In a server dry run every result is the dry run's word, held
		// back and skipped objects included.
		res := ObjectResult{Object: ref, Wave: WaveOf(gvk.GroupKind()), DryRun: r.opts.DryRun == DryRunServer}
		it := &item{src: o, gvk: gvk, res: res}
		r.items = append(r.items, it)
		if gvk.GroupKind() == gkCRD {
			if gk, ok := crdDefines(o); ok {
				r.crdKinds[gk] = true
				r.crdsOf[gk] = append(r.crdsOf[gk], it)
			}
		}
	}
	return nil
}

// crdDefines returns the kind a CustomResourceDefinition defines.
func crdDefines(crd *unstructured.Unstructured) (schema.GroupKind, bool) {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	return schema.GroupKind{Group: group, Kind: kind}, kind != ""
}

// apply runs the waves and the wait. parent is the caller's context, ctx
// the one bounded by Options.Timeout.
func (r *run) apply(parent, ctx context.Context) error {
	// Map every kind the cluster knows now and list the live objects of
	// every wave at once: one round of requests instead of one per wave.
	// Objects of later waves are not touched by earlier ones, so these
	// lists stay as good as lists made just before each wave.
	for _, it := range r.items {
		r.resolve(it)
	}
	r.byID = make(map[ObjectRef]*item, len(r.items))
	r.blocked = map[ObjectRef]string{}
	for _, it := range r.items {
		if it.p == nil {
			it.res.Object.Namespace = r.namespaceOf(it)
		}
		r.byID[it.res.Object.ID()] = it
	}
	r.listAll(ctx, r.items)

	waves := map[Wave][]*item{}
	for _, it := range r.items {
		waves[it.res.Wave] = append(waves[it.res.Wave], it)
	}
	var stop error // why the remaining waves are not applied
	for w := WaveCRDs; w <= WaveOther; w++ {
		items := waves[w]
		if len(items) == 0 {
			continue
		}
		if stop == nil && ctx.Err() != nil {
			stop = fmt.Errorf("apply: stopped before wave %s: %w", w, ctx.Err())
		}
		if stop != nil {
			for _, it := range items {
				it.res.Action = Skipped
				it.res.Note = "not applied: the run ended first"
				r.observe(it, it.res.Action, 0)
			}
			continue
		}
		// Objects whose dependencies failed are held back; the rest of
		// the wave goes.
		var send []*item
		for _, it := range items {
			if r.holdBack(it) {
				r.observe(it, it.res.Action, 0)
				continue
			}
			send = append(send, it)
		}
		r.applyWave(ctx, send)
		if w == WaveCRDs {
			stop = r.afterCRDs(parent, ctx, send)
		}
		r.settle(send)
	}
	fe := &FailedError{}
	for _, it := range r.items {
		switch it.res.Action {
		case Failed:
			fe.Failed = append(fe.Failed, it.res)
		case Skipped:
			fe.Skipped++
		}
	}
	if len(fe.Failed) > 0 {
		return fe
	}
	if stop != nil {
		return stop
	}
	if !r.opts.Wait || r.opts.DryRun != DryRunNone {
		return nil
	}
	var workloads []*item
	for _, it := range r.items {
		if gk := it.gvk.GroupKind(); gk != gkCRD && waitsFor(gk) {
			workloads = append(workloads, it)
		}
	}
	return r.waitReady(parent, ctx, workloads, r.opts.PollInterval)
}

// resolve maps the item's kind and prepares its body. Kinds the input's CRDs
// define may not exist yet; they are resolved again after the CRD wave.
func (r *run) resolve(it *item) {
	it.mapping, it.p, it.err = nil, nil, nil
	m, err := r.mapping(it.gvk, !r.crdKinds[it.gvk.GroupKind()])
	if err != nil {
		it.err = fmt.Errorf("%s: %w", it.res.Object, err)
		return
	}
	r.prepare(it, m)
}

func (r *run) prepare(it *item, m *meta.RESTMapping) {
	namespaced := m.Scope.Name() == meta.RESTScopeNameNamespace
	p, err := prepare(it.src, r.opts.Stack, namespaced, r.opts.Namespace)
	if err != nil {
		it.err = fmt.Errorf("%s: %w", it.res.Object, err)
		return
	}
	it.mapping, it.p = m, p
	it.res.Object.Namespace = p.obj.GetNamespace()
	it.key = listKey{gvr: m.Resource, namespace: p.obj.GetNamespace()}
}

// mapping asks the mapper, resetting it once per run on an unknown kind
// when resetOnMiss is set: the mapper's cache may predate a CRD someone
// else installed.
func (r *run) mapping(gvk schema.GroupVersionKind, resetOnMiss bool) (*meta.RESTMapping, error) {
	m, err := r.a.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil && meta.IsNoMatchError(err) && resetOnMiss && !r.missReset {
		if rm, ok := r.a.Mapper.(meta.ResettableRESTMapper); ok {
			r.missReset = true
			rm.Reset()
			m, err = r.a.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
	}
	return m, err
}

// listAll lists, in parallel, the live objects of the stack for every
// resource and namespace of items not listed yet, and gives each item its
// live object; with Options.Live it takes them from there instead.
func (r *run) listAll(ctx context.Context, items []*item) {
	if r.live != nil {
		for _, it := range items {
			if it.mapping != nil && !r.newKinds[it.gvk.GroupKind()] {
				it.live = r.live[it.res.Object.ID()]
			} else {
				it.live = nil
			}
		}
		return
	}
	var keys []listKey
	want := map[listKey]bool{}
	r.mu.Lock()
	for _, it := range items {
		if it.mapping == nil || want[it.key] {
			continue
		}
		if _, done := r.listed[it.key]; done {
			continue
		}
		if r.newKinds[it.gvk.GroupKind()] {
			// The kind did not exist before this run: nothing to list,
			// and its first list would wait for its new watch cache.
			r.listed[it.key] = map[string]*unstructured.Unstructured{}
			continue
		}
		want[it.key] = true
		keys = append(keys, it.key)
	}
	r.mu.Unlock()
	r.parallel(len(keys), func(i int) {
		objs, err := r.list(ctx, keys[i])
		if err != nil {
			// Without the live objects every object is applied: a no-op
			// apply is harmless, and its error, if any, is the one to see.
			objs = nil
		}
		r.mu.Lock()
		r.listed[keys[i]] = objs
		r.mu.Unlock()
	})
	for _, it := range items {
		if it.mapping != nil {
			it.live = r.listed[it.key][it.p.obj.GetName()]
		}
	}
}

// list returns the objects of the stack in one resource and namespace, by
// name.
func (r *run) list(ctx context.Context, key listKey) (map[string]*unstructured.Unstructured, error) {
	ri := r.a.Dynamic.Resource(key.gvr).Namespace(key.namespace)
	lo := metav1.ListOptions{LabelSelector: r.selector(), Limit: 500}
	out := map[string]*unstructured.Unstructured{}
	for {
		var l *unstructured.UnstructuredList
		err := r.do(ctx, func(ctx context.Context) error {
			r.requests.Add(1)
			var err error
			l, err = ri.List(ctx, lo)
			return err
		})
		if err != nil {
			return nil, err
		}
		for i := range l.Items {
			out[l.Items[i].GetName()] = &l.Items[i]
		}
		if lo.Continue = l.GetContinue(); lo.Continue == "" {
			return out, nil
		}
	}
}

// selector selects the objects of this run's stack.
func (r *run) selector() string {
	return labels.Set{LabelManagedBy: FieldManager, LabelStack: r.opts.Stack}.String()
}

func (r *run) do(ctx context.Context, op func(context.Context) error) error {
	if r.a.Retry != nil {
		return r.a.Retry(ctx, op)
	}
	return op(ctx)
}

// parallel calls fn(0..n-1) with at most Options.Concurrency calls at once.
func (r *run) parallel(n int, fn func(i int)) { parallel.EachUpTo(n, r.opts.Concurrency, fn) }

func (r *run) observe(it *item, a Action, d time.Duration) {
	if r.opts.Observer == nil {
		return
	}
	r.obsMu.Lock()
	defer r.obsMu.Unlock()
	ev := Event{Object: it.res.Object, Wave: it.res.Wave, Action: a, DryRun: it.res.DryRun, Duration: d, Note: it.res.Note,
		HeldBackBy: it.res.HeldBackBy, TookBack: it.res.TookBack, LeftTo: it.res.LeftTo}
	if a == Failed {
		ev.Err = it.res.Err
	}
	r.opts.Observer.Observe(ev)
}

func (r *run) applyWave(ctx context.Context, items []*item) {
	r.parallel(len(items), func(i int) {
		it := items[i]
		r.applyOne(ctx, it)
		it.done = time.Now()
		r.observe(it, it.res.Action, it.res.Duration)
	})
}

// applyOne leaves an unchanged object alone and server-side applies any
// other, then tells from the answer what happened.
func (r *run) applyOne(ctx context.Context, it *item) {
	start := time.Now()
	defer func() { it.res.Duration = time.Since(start) }()
	it.res.DryRun = r.opts.DryRun == DryRunServer
	it.res.Live = it.live
	if it.err != nil {
		it.res.Action, it.res.Err = Failed, it.err
		return
	}
	if leavesReplicas(it) {
		it.leaveReplicas(replicasOwners(it.live))
	}
	if unchanged(it.p, it.live) {
		it.res.Action, it.res.Applied = Unchanged, it.live
		return
	}
	ri := r.a.Dynamic.Resource(it.key.gvr).Namespace(it.key.namespace)
	force := r.opts.ForceConflicts
	out, err := r.send(ctx, it, ri, force, start)
	if ce := applyConflict(it, err); ce != nil && leavesReplicas(it) && it.leaveReplicas(replicasConflict(ce)) {
		// Replicas someone else owns, which the live object did not
		// show: left to them, whatever the conflict policy. What
		// conflicts without them is an ordinary conflict.
		out, err = r.send(ctx, it, ri, force, start)
	}
	var tookBack []FieldConflict
	if ce := applyConflict(it, err); ce != nil && !force && r.opts.Conflicts == ConflictsTake {
		// Fields obsctl declares were changed by someone else: take
		// them back, and say from whom. Asking first (no force) is
		// what lets the result name them.
		tookBack, force = ce.Conflicts, true
		out, err = r.send(ctx, it, ri, force, start)
	}
	if err == nil && tookBack != nil {
		it.res.TookBack = tookBack
		it.addNote(tookBackNote(tookBack))
	}
	if err != nil && immutableStatefulSet(it, err) {
		r.replaceOne(ctx, it, ri, err, force, start)
		return
	}
	if err != nil {
		it.res.Action = Failed
		if apierrors.IsConflict(err) {
			it.res.Err = newConflictError(it.res.Object, err)
		} else {
			it.res.Err = fmt.Errorf("%s: %w", it.res.Object, err)
		}
		return
	}
	it.res.Applied = out
	switch {
	case it.live != nil && it.res.DryRun:
		// A dry run stores nothing, so the resourceVersion says nothing.
		it.res.Action = Configured
		if sameContent(it.live, out) {
			it.res.Action = Unchanged
		}
	case it.live != nil:
		it.res.Action = Configured
		if out.GetResourceVersion() == it.live.GetResourceVersion() {
			it.res.Action = Unchanged
		}
	case r.live != nil:
		// The caller looked: the object was not there.
		it.res.Action = Created
	case looksCreated(out):
		it.res.Action = Created
	default:
		it.res.Action = Configured
	}
}

// send server-side applies the item's body, forcing conflicts with force,
// as a dry run in a dry run. A kind this run's CRDs define may not be served
// for a moment after its CRD is Established: until freshKindTimeout after
// start, the engine asks again.
func (r *run) send(ctx context.Context, it *item, ri dynamic.ResourceInterface, force bool, start time.Time) (*unstructured.Unstructured, error) {
	po := metav1.PatchOptions{FieldManager: FieldManager, Force: &force}
	if it.res.DryRun {
		po.DryRun = []string{metav1.DryRunAll}
	}
	var out *unstructured.Unstructured
	err := r.do(ctx, func(ctx context.Context) error {
		for {
			r.requests.Add(1)
			r.patches.Add(1)
			var err error
			out, err = ri.Patch(ctx, it.p.obj.GetName(), types.ApplyPatchType, it.p.body, po)
			if err == nil || !r.notServedYet(it, err) || time.Since(start) > freshKindTimeout {
				return err
			}
			if err := kube.Sleep(ctx, crdPollInterval); err != nil {
				return err
			}
		}
	})
	return out, err
}

// applyConflict returns the server-side apply conflict err is, naming the
// other managers and their fields, or nil for any other error (or a
// conflict that names none: nothing to take back).
func applyConflict(it *item, err error) *ConflictError {
	if err == nil || !apierrors.IsConflict(err) {
		return nil
	}
	ce := newConflictError(it.res.Object, err)
	if len(ce.Conflicts) == 0 {
		return nil
	}
	return ce
}

// tookBackNote says which fields were taken back from whom:
// `took back .data.mode from "team-blue"`.
func tookBackNote(cs []FieldConflict) string {
	var parts []string
	for i := 0; i < len(cs); {
		m := cs[i].Manager
		var fields []string
		for ; i < len(cs) && cs[i].Manager == m; i++ {
			fields = append(fields, cs[i].Field)
		}
		parts = append(parts, fmt.Sprintf("%s from %q", strings.Join(fields, ", "), m))
	}
	return "took back " + strings.Join(parts, ", ")
}

// addNote adds to the item's note.
func (it *item) addNote(s string) {
	if it.res.Note != "" {
		it.res.Note += "; "
	}
	it.res.Note += s
}

// notServedYet reports whether err is the API server not serving, for a
// moment after its CRD was established, a kind this run's CRDs define.
func (r *run) notServedYet(it *item, err error) bool {
	if !r.freshKinds[it.gvk.GroupKind()] || !apierrors.IsNotFound(err) {
		return false
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Details != nil && status.Status().Details.Kind == "namespaces" {
		return false
	}
	return true
}

// looksCreated tells a created object from an existing one that was not
// found among the stack's objects (it lacked the labels). The answer to an
// apply that creates has obsctl as its only field manager, with the
// creation time as the time of its entry.
func looksCreated(obj *unstructured.Unstructured) bool {
	mf := obj.GetManagedFields()
	if len(mf) == 0 {
		return false
	}
	created := obj.GetCreationTimestamp().Time
	for _, e := range mf {
		if e.Manager != FieldManager || e.Operation != metav1.ManagedFieldsOperationApply || e.Time == nil {
			return false
		}
		if d := e.Time.Sub(created); d > time.Second || d < -time.Second {
			return false
		}
	}
	return true
}

// sameContent compares a live object with a dry run's answer, leaving out
// what every apply rewrites.
func sameContent(live, out *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy()
		unstructured.RemoveNestedField(c.Object, "metadata", "managedFields")
		unstructured.RemoveNestedField(c.Object, "metadata", "resourceVersion")
		return c.Object
	}
	return reflect.DeepEqual(strip(live), strip(out))
}

// afterCRDs waits until the CRDs are established, resets the mapper if
// CRDs were created or changed, and maps the kinds they define. A CRD that
// will never become Established by itself (its names are taken) is failed
// here, so that its custom resources are held back. It returns the error
// that stops the apply, if any: the run ended while waiting.
func (r *run) afterCRDs(parent, ctx context.Context, crds []*item) error {
	for _, it := range crds {
		if it.res.Action == Created || it.res.Action == Configured {
			if gk, ok := crdDefines(it.p.obj); ok {
				r.freshKinds[gk] = true
				r.newKinds[gk] = it.res.Action == Created
			}
		}
	}
	for _, it := range r.items {
		if r.newKinds[it.gvk.GroupKind()] {
			it.live = nil // whatever a stale mapper or Options.Live said
		}
	}
	if r.opts.DryRun == DryRunNone {
		err := r.waitReady(parent, ctx, crds, crdPollInterval)
		var nr *NotReadyError
		if !errors.As(err, &nr) || ctx.Err() != nil {
			if err != nil {
				return err
			}
		} else {
			r.failNotEstablished(crds, nr)
		}
	}
	var todo []*item
	for _, it := range r.items {
		gk := it.gvk.GroupKind()
		if r.crdKinds[gk] && !r.crdFailed(gk) && (it.mapping == nil || r.freshKinds[gk]) {
			todo = append(todo, it)
		}
	}
	if r.opts.DryRun != DryRunNone {
		for _, it := range todo {
			if it.mapping == nil {
				it.err = fmt.Errorf("%s: its CustomResourceDefinition is not installed, and a server dry run does not install it", it.res.Object)
			}
		}
		return nil
	}
	if len(todo) == 0 {
		return nil
	}
	rm, resettable := r.a.Mapper.(meta.ResettableRESTMapper)
	mctx, cancel := context.WithTimeout(ctx, freshKindTimeout)
	defer cancel()
	for {
		if resettable {
			rm.Reset()
		}
		var missing []*item
		for _, it := range todo {
			m, err := r.a.Mapper.RESTMapping(it.gvk.GroupKind(), it.gvk.Version)
			if err != nil {
				it.err = fmt.Errorf("%s: %w", it.res.Object, err)
				missing = append(missing, it)
				continue
			}
			it.err = nil
			r.prepare(it, m)
		}
		// Discovery may trail the Established condition for a moment.
		if len(missing) == 0 || !resettable || kube.Sleep(mctx, crdPollInterval) != nil {
			break
		}
		todo = missing
	}
	r.listAll(ctx, r.items)
	return nil
}

// failNotEstablished fails the CRDs the wait gave up on before the run's
// deadline: they will not become Established by themselves.
func (r *run) failNotEstablished(crds []*item, nr *NotReadyError) {
	for _, o := range nr.Objects {
		for _, it := range crds {
			if it.res.Object != o.Object {
				continue
			}
			it.res.Action = Failed
			it.res.Err = fmt.Errorf("%s: not Established: %s", it.res.Object, o.Status)
			r.observe(it, Failed, time.Since(it.done))
		}
	}
}

// crdFailed reports whether a CRD of the input defining gk failed.
func (r *run) crdFailed(gk schema.GroupKind) bool {
	for _, crd := range r.crdsOf[gk] {
		if crd.res.Action == Failed || crd.res.Action == Skipped {
			return true
		}
	}
	return false
}
