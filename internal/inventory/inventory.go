package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/obsctl/obsctl/internal/kube"
)

const (
	// SecretType is the type of inventory Secrets.
	SecretType corev1.SecretType = "obsctl.dev/inventory"
	// DefaultKeep is how many revisions an inventory keeps when Keep is 0.
	DefaultKeep = 10
	// MaxSize is how many bytes of data a Secret may hold, as the API
	// server counts them: the sum of its values' lengths.
	MaxSize = 1 << 20

	// format is the version of the encoding; a later obsctl that changes
	// it must still read this one.
	format       = 1
	indexKey     = "index.json.gz"
	fieldManager = "obsctl"

	labelManagedBy = "app.kubernetes.io/managed-by"
	labelStack     = "obsctl.dev/stack"
)

// DroppedForSize is the ManifestsDropped of a revision whose manifests Save
// removed to stay within MaxSize.
const DroppedForSize = "manifests dropped to keep the inventory within a Secret's 1 MiB"

// SecretName returns the name of stack's inventory Secret.
func SecretName(stack string) string { return "obsctl-inventory-" + stack }

// Inventory is the revision history of one stack.
type Inventory struct {
	// Keep is how many revisions to keep, the newest; 0 means DefaultKeep.
	Keep int

	namespace, stack string
	secret           *corev1.Secret // as loaded or last saved; nil when there is none yet
	revisions        []Revision     // oldest first
	maxBytes         int            // 0 means MaxSize; tests lower it
}

// New returns an empty inventory for stack in namespace, as Load does when
// the stack has none yet.
func New(namespace, stack string) *Inventory {
	return &Inventory{namespace: namespace, stack: stack}
}

// ConflictError is returned by Save when the inventory Secret changed
// since it was loaded: another obsctl wrote a revision in between.
type ConflictError struct {
	Namespace, Name string
	Err             error
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("inventory %s/%s changed since it was read (another apply?): %v", e.Namespace, e.Name, e.Err)
}

func (e *ConflictError) Unwrap() error { return e.Err }

// Load reads stack's inventory from namespace. A stack without one (never
// applied, or its namespace missing) has an empty inventory. A Secret of
// that name that is not an inventory, or cannot be read, is an error: an
// apply must not prune from a history it does not understand.
func Load(ctx context.Context, client dynamic.Interface, namespace, stack string) (*Inventory, error) {
	inv := New(namespace, stack)
	sec, err := kube.Secrets(client, namespace).Get(ctx, inv.Name(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return inv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load inventory %s/%s: %w", namespace, inv.Name(), err)
	}
	if err := inv.decode(sec); err != nil {
		return nil, fmt.Errorf("load inventory %s/%s: %w", namespace, inv.Name(), err)
	}
	inv.secret = sec
	return inv, nil
}

// Namespace returns the namespace of the inventory Secret.
func (inv *Inventory) Namespace() string { return inv.namespace }

// Stack returns the stack the inventory is about.
func (inv *Inventory) Stack() string { return inv.stack }

// Name returns the name of the inventory Secret.
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

// Append adds rev as the newest revision and returns it as stored: numbered
// one past the latest, its time in UTC to the second (now when zero) and
// its Objects sorted. The oldest revisions beyond Keep are dropped. It
// changes nothing in the cluster until Save.
func (inv *Inventory) Append(rev Revision) Revision {
	rev.Number = 1
	if latest := inv.Latest(); latest != nil {
		rev.Number = latest.Number + 1
	}
	if rev.Time.IsZero() {
		rev.Time = time.Now()
	}
	rev.Time = rev.Time.UTC().Truncate(time.Second)
	rev.Objects = sortRefs(rev.Objects)
	inv.revisions = append(inv.revisions, rev)
	inv.trim()
	return rev
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

// Save writes the inventory to its Secret, creating it the first time. It
// fails with a *ConflictError when someone else wrote or created the Secret
// since Load; the caller should load again rather than overwrite their
// revision. To fit the Secret, Save may drop old revisions' manifests (see
// DroppedForSize) and, as a last resort, the oldest revisions themselves;
// the inventory then reflects what Save wrote, or tried to. Labels and
// annotations others put on the Secret are kept.
func (inv *Inventory) Save(ctx context.Context, client dynamic.Interface) error {
	data, err := inv.encode()
	if err != nil {
		return fmt.Errorf("save inventory %s/%s: %w", inv.namespace, inv.Name(), err)
	}
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
	sec.Data = data
	sec.StringData = nil

	secrets := kube.Secrets(client, inv.namespace)
	var got *corev1.Secret
	if inv.secret == nil {
		got, err = secrets.Create(ctx, sec, metav1.CreateOptions{FieldManager: fieldManager})
	} else {
		// Update carries the loaded resourceVersion: a write in between is
		// a conflict, not a lost revision.
		got, err = secrets.Update(ctx, sec, metav1.UpdateOptions{FieldManager: fieldManager})
	}
	switch {
	case apierrors.IsAlreadyExists(err), apierrors.IsConflict(err):
		return &ConflictError{Namespace: inv.namespace, Name: inv.Name(), Err: err}
	case apierrors.IsNotFound(err) && inv.secret != nil:
		return &ConflictError{Namespace: inv.namespace, Name: inv.Name(), Err: fmt.Errorf("deleted since it was read: %w", err)}
	case err != nil:
		return fmt.Errorf("save inventory %s/%s: %w", inv.namespace, inv.Name(), err)
	}
	inv.secret = got
	return nil
}

// index is the JSON of index.json.gz.
type index struct {
	Format    int            `json:"format"`
	Stack     string         `json:"stack"`
	Revisions []wireRevision `json:"revisions"`
}

type wireRevision struct {
	Revision
	// Manifests is the data key holding the revision's manifests.
	Manifests string `json:"manifests,omitempty"`
}

func manifestsKey(n int) string { return "manifests." + strconv.Itoa(n) + ".json.gz" }

func (inv *Inventory) limit() int {
	if inv.maxBytes > 0 {
		return inv.maxBytes
	}
	return MaxSize
}

// encode returns the Secret's data, dropping the oldest manifests, then
// the oldest revisions, until it fits.
func (inv *Inventory) encode() (map[string][]byte, error) {
	inv.trim()
	for {
		data, size, err := inv.encodeOnce()
		if err != nil {
			return nil, err
		}
		if size <= inv.limit() {
			return data, nil
		}
		if i := slices.IndexFunc(inv.revisions, func(r Revision) bool { return r.HasManifests() }); i >= 0 {
			inv.revisions[i].manifests = nil
			inv.revisions[i].ManifestsDropped = DroppedForSize
			continue
		}
		if len(inv.revisions) > 1 {
			inv.revisions = slices.Delete(inv.revisions, 0, 1)
			continue
		}
		return nil, fmt.Errorf("one revision's object references take %d bytes, over the %d a Secret holds", size, inv.limit())
	}
}

func (inv *Inventory) encodeOnce() (data map[string][]byte, size int, err error) {
	idx := index{Format: format, Stack: inv.stack, Revisions: make([]wireRevision, len(inv.revisions))}
	data = map[string][]byte{}
	for i, r := range inv.revisions {
		w := wireRevision{Revision: r}
		if r.HasManifests() {
			w.Manifests = manifestsKey(r.Number)
			data[w.Manifests] = r.manifests
			size += len(r.manifests)
		}
		idx.Revisions[i] = w
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(idx); err != nil {
		return nil, 0, err
	}
	data[indexKey] = compress(buf.Bytes())
	size += len(data[indexKey])
	return data, size, nil
}

func (inv *Inventory) decode(sec *corev1.Secret) error {
	if sec.Type != SecretType {
		return fmt.Errorf("the Secret exists but is not an obsctl inventory (type %q, want %q)", sec.Type, SecretType)
	}
	raw, ok := sec.Data[indexKey]
	if !ok {
		return fmt.Errorf("no %s", indexKey)
	}
	b, err := decompress(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", indexKey, err)
	}
	var idx index
	if err := json.Unmarshal(b, &idx); err != nil {
		return fmt.Errorf("%s: %w", indexKey, err)
	}
	switch {
	case idx.Format != format:
		return fmt.Errorf("%s: format %d, this obsctl reads %d (written by a newer obsctl?)", indexKey, idx.Format, format)
	case idx.Stack != inv.stack:
		return fmt.Errorf("%s: inventory of stack %q, not %q", indexKey, idx.Stack, inv.stack)
	}
	revs := make([]Revision, len(idx.Revisions))
	for i, w := range idx.Revisions {
		r := w.Revision
		if i > 0 && r.Number <= revs[i-1].Number {
			return fmt.Errorf("%s: revision %d follows %d", indexKey, r.Number, revs[i-1].Number)
		}
		if w.Manifests != "" {
			m, ok := sec.Data[w.Manifests]
			if !ok {
				return errors.New("revision " + strconv.Itoa(r.Number) + ": no " + w.Manifests)
			}
			r.manifests = m
		}
		revs[i] = r
	}
	inv.revisions = revs
	return nil
}
