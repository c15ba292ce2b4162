package inventory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/obsctl/obsctl/internal/kube"
)

const (
	// SecretType is the type of an inventory's index Secret.
	SecretType corev1.SecretType = "obsctl.dev/inventory"
	// PackType is the type of the Secrets that hold an inventory's stored
	// objects.
	PackType corev1.SecretType = "obsctl.dev/inventory-pack"
	// DefaultKeep is how many revisions an inventory keeps when Keep is 0.
	DefaultKeep = 30

	// MaxIndexSize is how many bytes the index Secret's data may take:
	// below the 1 MiB the API server allows a Secret, with room for its
	// metadata.
	MaxIndexSize = 900 << 10
	// MaxPackSize is how many bytes one pack Secret's data may take.
	MaxPackSize = 900 << 10
	// MaxPacks is how many pack Secrets one inventory may use: with
	// MaxPackSize, about 57 MiB of etcd at most, for one stack's history.
	MaxPacks = 64

	indexKey     = "index.json.gz"
	packKey      = "objects.json.gz"
	fieldManager = "obsctl"

	labelManagedBy = kube.LabelManagedBy
	labelStack     = kube.LabelStack
)

// DroppedForSize is the ManifestsDropped of a revision whose manifests Save
// removed to keep the inventory within MaxPacks packs of MaxPackSize.
const DroppedForSize = "manifests dropped to keep the inventory within its Secrets' size"

// SecretName returns the name of stack's inventory (index) Secret.
func SecretName(stack string) string { return "obsctl-inventory-" + stack }

// Inventory is the revision history of one stack.
type Inventory struct {
	// Keep is how many revisions to keep, the newest; 0 means DefaultKeep.
	Keep int

	namespace, stack string
	secret           *corev1.Secret // the index as loaded or last saved; nil when there is none yet
	revisions        []Revision     // oldest first
	pending          *Revision      // the intent of a run not committed yet

	// packs are the pack Secrets the index names, by name.
	packs map[string]packInfo
	// salt makes the names of the packs this value writes its own: a
	// retry writes the same names, another run never does.
	salt string
	// written are the packs this value created, for the clean-up after a
	// conflict and the garbage collection after a save.
	written map[string]bool
	// compressed caches packs built by Save by name, so that a retry and
	// the next attempt to fit do not compress again.
	compressed map[string][]byte
	// mark is the last change made to the inventory, by which a retried
	// save recognises that its write landed.
	mark mark
	// limits are the size limits; zero fields mean the constants. Tests
	// lower them.
	limits limits
	// now is the clock for the garbage collection; nil means time.Now.
	now func() time.Time
}

// mark identifies a change: the revision of run runID in state state was
// appended, or, when pending, the intent of run runID was recorded.
type mark struct {
	runID, state string
	pending      bool
}

// limits bound the index's bytes, a pack's bytes, the number of packs,
// and the bytes Load decompresses.
type limits struct{ index, pack, packs, raw int }

// New returns an empty inventory for stack in namespace, as Load does when
// the stack has none yet.
func New(namespace, stack string) *Inventory {
	return &Inventory{
		namespace: namespace, stack: stack,
		packs: map[string]packInfo{}, salt: NewRunID(),
		written: map[string]bool{}, compressed: map[string][]byte{},
	}
}

// ConflictError is returned by Save when the inventory changed since it
// was loaded: another obsctl wrote a revision in between.
type ConflictError struct {
	Namespace, Name string
	Err             error
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("inventory %s/%s changed since it was read (another apply?): %v", e.Namespace, e.Name, e.Err)
}

func (e *ConflictError) Unwrap() error { return e.Err }

// Load reads stack's inventory from namespace: the index and the packs
// its revisions' manifests are in. A stack without one (never applied, or
// its namespace missing) has an empty inventory. A Secret of that name that
// is not an inventory, or cannot be read, is an error: an apply must not
// prune from a history it does not understand. A pack that is gone or
// damaged is not: the revisions whose manifests it held lose them (see
// ManifestsDropped), and keep their entries. Load makes one attempt; the
// caller retries transient errors.
func Load(ctx context.Context, client dynamic.Interface, namespace, stack string) (*Inventory, error) {
	inv := New(namespace, stack)
	if err := inv.load(ctx, client); err != nil {
		return nil, fmt.Errorf("load inventory %s/%s: %w", namespace, inv.Name(), err)
	}
	return inv, nil
}

func (inv *Inventory) load(ctx context.Context, client dynamic.Interface) error {
	sec, err := kube.Secrets(client, inv.namespace).Get(ctx, inv.Name(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	readPacks := func() (map[string]*corev1.Secret, error) {
		packs, err := listPacks(ctx, client, inv.namespace, inv.stack)
		if err != nil {
			return nil, fmt.Errorf("list its packs: %w", err)
		}
		return packs, nil
	}
	if err := inv.decode(sec, readPacks); err != nil {
		return err
	}
	inv.secret = sec
	return nil
}

// Namespace returns the namespace of the inventory Secrets.
func (inv *Inventory) Namespace() string { return inv.namespace }

// Stack returns the stack the inventory is about.
func (inv *Inventory) Stack() string { return inv.stack }

// Name returns the name of the inventory's index Secret.
func (inv *Inventory) Name() string { return SecretName(inv.stack) }

// Latest returns the newest revision, or nil when there is none.
func (inv *Inventory) Latest() *Revision {
	if len(inv.revisions) == 0 {
		return nil
	}
	r := inv.revisions[len(inv.revisions)-1]
	return &r
}

// Revision returns the revision numbered n, or nil when the inventory does
// not have it (any more).
func (inv *Inventory) Revision(n int) *Revision {
	for _, r := range inv.revisions {
		if r.Number == n {
			return &r
		}
	}
	return nil
}

// Revisions returns the revisions, oldest first.
func (inv *Inventory) Revisions() []Revision { return slices.Clone(inv.revisions) }

// Pending returns the intent a run recorded with Begin and did not
// commit, or nil. After Load, it is the intent of a run that was killed
// or lost the cluster (or of one still running, when the caller does not
// hold the stack's lock): the caller rolls it forward before its own run.
func (inv *Inventory) Pending() *Revision {
	if inv.pending == nil {
		return nil
	}
	r := inv.pending.clone()
	return &r
}

func (inv *Inventory) next() int {
	if latest := inv.Latest(); latest != nil {
		return latest.Number + 1
	}
	return 1
}

// stamp gives rev what every recorded revision has: a run ID, a time in
// UTC to the second (now when zero) and sorted entries, each object once.
func stamp(rev Revision) Revision {
	rev = rev.clone()
	if rev.RunID == "" {
		rev.RunID = NewRunID()
	}
	if rev.Time.IsZero() {
		rev.Time = time.Now()
	}
	rev.Time = rev.Time.UTC().Truncate(time.Second)
	rev.normalize()
	return rev
}

// Append adds rev as the newest revision and returns it as stored:
// numbered one past the latest, stamped (see Begin) and its entries
// sorted. The oldest revisions beyond Keep are dropped. It changes nothing
// in the cluster until Save.
func (inv *Inventory) Append(rev Revision) Revision {
	rev = stamp(rev)
	rev.Number = inv.next()
	inv.revisions = append(inv.revisions, rev)
	inv.trim()
	inv.mark = mark{runID: rev.RunID, state: rev.State}
	return rev
}

// Begin records rev, with its manifests, as the intent of a run that is
// about to change the cluster, and saves the inventory: if the run is
// killed or loses the cluster before Commit, the next run finds it
// (Pending) and rolls it forward, so that what it applied is neither
// orphaned nor unrecorded. rev gets a RunID when it has none, the number it
// will have when committed, and its time. It is an error when another
// run's intent is pending: roll that one forward first.
func (inv *Inventory) Begin(ctx context.Context, client dynamic.Interface, rev Revision) (Revision, error) {
	if p := inv.pending; p != nil && (rev.RunID == "" || p.RunID != rev.RunID) {
		return Revision{}, fmt.Errorf("inventory %s/%s: the intent of run %s (revision %d) is pending: roll it forward first", inv.namespace, inv.Name(), p.RunID, p.Number)
	}
	rev = stamp(rev)
	rev.State = ""
	rev.Number = inv.next()
	inv.pending = &rev
	inv.mark = mark{runID: rev.RunID, pending: true}
	return rev.clone(), inv.Save(ctx, client)
}

// Commit records rev as the run's revision, in place of its intent, and
// saves the inventory; it returns the revision as stored (see Append). rev
// takes the intent's RunID when it has none. Without an intent, Commit is
// Append and Save. It is an error when the pending intent is another run's.
func (inv *Inventory) Commit(ctx context.Context, client dynamic.Interface, rev Revision) (Revision, error) {
	if p := inv.pending; p != nil {
		if rev.RunID == "" {
			rev.RunID = p.RunID
		}
		if rev.RunID != p.RunID {
			return Revision{}, fmt.Errorf("inventory %s/%s: the pending intent is run %s's, not this run's (%s)", inv.namespace, inv.Name(), p.RunID, rev.RunID)
		}
		inv.pending = nil
	}
	rev.State = ""
	stored := inv.Append(rev)
	return stored, inv.Save(ctx, client)
}

// RollForward records the pending intent of an interrupted run as a
// revision in state StateRolledForward and returns it, or returns nil when
// nothing is pending. The run may have applied any part of its objects and
// pruned none, so both its objects and the latest revision's are the
// stack's until a run completes: the revision's entries are the intent's
// and, carried without manifests, the latest revision's others. It is
// then the latest revision, the one the caller's run prunes from. Nothing
// changes in the cluster until the next Save, Begin or Commit, which writes
// it together with the caller's own change.
func (inv *Inventory) RollForward() *Revision {
	p := inv.pending
	if p == nil {
		return nil
	}
	rev := p.clone()
	if latest := inv.Latest(); latest != nil {
		rev.Carry(latest.Refs()...)
	}
	rev.State = StateRolledForward
	inv.pending = nil
	stored := inv.Append(rev)
	return &stored
}

func (inv *Inventory) keep() int {
	if inv.Keep > 0 {
		return inv.Keep
	}
	return DefaultKeep
}

func (inv *Inventory) trim() {
	if n := len(inv.revisions) - inv.keep(); n > 0 {
		inv.revisions = slices.Delete(inv.revisions, 0, n)
	}
}

// Save writes the inventory: first the packs holding the objects no pack
// has yet, then the index, which carries the resourceVersion it was loaded
// with, and last it deletes the packs no kept revision or pending intent
// needs any more. A run killed at any point leaves an index that names only
// packs that exist. Save retries transient API errors until ctx ends, and
// recognises its own write when an earlier attempt landed without an
// answer (an etcd stall, a timeout): it then succeeds instead of
// reporting a conflict or writing twice. It fails with a *ConflictError
// when someone else wrote or created the index since Load; the caller
// should load again rather than overwrite their revision. To fit, Save may
// drop old revisions' manifests (see DroppedForSize) and, as a last
// resort, the oldest revisions themselves; the inventory then reflects
// what Save wrote, or tried to. Labels and annotations others put on the
// index Secret are kept.
func (inv *Inventory) Save(ctx context.Context, client dynamic.Interface) error {
	p, err := inv.plan()
	if err != nil {
		return fmt.Errorf("save inventory %s/%s: %w", inv.namespace, inv.Name(), err)
	}
	if err := inv.write(ctx, client, p); err != nil {
		return fmt.Errorf("save inventory %s/%s: %w", inv.namespace, inv.Name(), err)
	}
	return nil
}

func (inv *Inventory) write(ctx context.Context, client dynamic.Interface, p *savePlan) error {
	if sec := inv.secret; sec != nil && len(p.fresh) == 0 && string(sec.Data[indexKey]) == string(p.index) && len(sec.Data) == 1 &&
		sec.Labels[labelManagedBy] == "obsctl" && sec.Labels[labelStack] == inv.stack {
		return nil // what is there already
	}
	secrets := kube.Secrets(client, inv.namespace)
	var wrote []string
	for _, pk := range p.fresh {
		err := kube.Retry(ctx, "write pack "+pk.name, func(ctx context.Context) error {
			return inv.writePack(ctx, secrets, pk)
		})
		if err != nil {
			return err
		}
		wrote = append(wrote, pk.name)
	}
	before := inv.packs
	err := kube.Retry(ctx, "write index", func(ctx context.Context) error {
		return inv.writeIndex(ctx, client, p)
	})
	var ce *ConflictError
	if errors.As(err, &ce) {
		// The index is someone else's: the packs only this value wrote
		// are nobody's.
		for _, name := range wrote {
			_ = secrets.Delete(ctx, name, metav1.DeleteOptions{})
		}
	}
	if err != nil {
		return err
	}
	if p.adopted {
		return nil // inv was reloaded from what is there
	}
	inv.packs = p.packs
	inv.collect(ctx, client, before)
	return nil
}

// writePack creates one pack. One that exists already is this value's
// own (pack names are salted): an earlier attempt that landed without an
// answer.
func (inv *Inventory) writePack(ctx context.Context, secrets kube.Typed[corev1.Secret, *corev1.Secret], pk pack) error {
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: pk.name, Namespace: inv.namespace, Labels: inv.labels()},
		Type:       PackType,
		Data:       map[string][]byte{packKey: pk.data},
	}
	_, err := secrets.Create(ctx, sec, metav1.CreateOptions{FieldManager: fieldManager})
	if apierrors.IsAlreadyExists(err) {
		got, gerr := secrets.Get(ctx, pk.name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if got.Type == PackType && string(got.Data[packKey]) == string(pk.data) {
			err = nil
		} else {
			err = fmt.Errorf("pack %s exists with other contents", pk.name)
		}
	}
	if err == nil {
		inv.written[pk.name] = true
	}
	return err
}

func (inv *Inventory) labels() map[string]string {
	return map[string]string{labelManagedBy: "obsctl", labelStack: inv.stack}
}

// writeIndex writes the index, once. A conflict is checked against what
// is there: the write of an earlier attempt, or of someone else.
func (inv *Inventory) writeIndex(ctx context.Context, client dynamic.Interface, p *savePlan) error {
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: inv.Name(), Namespace: inv.namespace}}
	if inv.secret != nil {
		sec = inv.secret.DeepCopy()
		sec.ManagedFields = nil
	}
	if sec.Labels == nil {
		sec.Labels = map[string]string{}
	}
	sec.Labels[labelManagedBy] = "obsctl"
	sec.Labels[labelStack] = inv.stack
	sec.Type = SecretType
	sec.Data = map[string][]byte{indexKey: p.index}
	sec.StringData = nil

	secrets := kube.Secrets(client, inv.namespace)
	var got *corev1.Secret
	var err error
	if inv.secret == nil {
		got, err = secrets.Create(ctx, sec, metav1.CreateOptions{FieldManager: fieldManager})
	} else {
		// Update carries the loaded resourceVersion: a write in between is
		// a conflict, not a lost revision.
		got, err = secrets.Update(ctx, sec, metav1.UpdateOptions{FieldManager: fieldManager})
	}
	switch {
	case err == nil:
		inv.secret = got
		return nil
	case apierrors.IsAlreadyExists(err), apierrors.IsConflict(err), apierrors.IsNotFound(err) && inv.secret != nil:
		ours, rerr := inv.recognise(ctx, client, p)
		if rerr != nil || ours {
			return rerr
		}
		if apierrors.IsNotFound(err) {
			err = fmt.Errorf("deleted since it was read: %w", err)
		}
		return &ConflictError{Namespace: inv.namespace, Name: inv.Name(), Err: err}
	default:
		return err
	}
}

// recognise reads the index after a conflict and reports whether it holds
// this value's change: exactly what p writes (an earlier attempt landed),
// or a later index that records the change (someone wrote after it), which
// inv then reloads.
func (inv *Inventory) recognise(ctx context.Context, client dynamic.Interface, p *savePlan) (bool, error) {
	got, err := kube.Secrets(client, inv.namespace).Get(ctx, inv.Name(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if got.Type != SecretType {
		return false, nil
	}
	if string(got.Data[indexKey]) == string(p.index) {
		inv.secret = got
		return true, nil
	}
	if inv.mark == (mark{}) {
		return false, nil
	}
	other := New(inv.namespace, inv.stack)
	if err := other.decode(got, nil); err != nil || !other.has(inv.mark) {
		return false, nil
	}
	fresh := New(inv.namespace, inv.stack)
	if err := fresh.load(ctx, client); err != nil {
		return false, err
	}
	inv.secret, inv.revisions, inv.pending, inv.packs = fresh.secret, fresh.revisions, fresh.pending, fresh.packs
	p.adopted = true
	return true, nil
}

// has reports whether the inventory records the change m.
func (inv *Inventory) has(m mark) bool {
	if m.pending {
		return inv.pending != nil && inv.pending.RunID == m.runID
	}
	return slices.ContainsFunc(inv.revisions, func(r Revision) bool { return r.RunID == m.runID && r.State == m.state })
}
