package inventory

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/kube"
)

// Summary counts what an apply did to the objects of a revision.
type Summary struct {
	Created    int `json:"created"`
	Configured int `json:"configured"`
	Unchanged  int `json:"unchanged"`
	Pruned     int `json:"pruned"`
	// Replaced are objects deleted and created again (a field that
	// cannot change in place, such as a StatefulSet's selector).
	Replaced int `json:"replaced,omitempty"`
	// Kept are objects the apply would have pruned and kept instead
	// (protected, or no longer the stack's).
	Kept int `json:"kept,omitempty"`
	// Conflict are objects the apply refused to take over: another
	// stack's, or ones obsctl did not create.
	Conflict int `json:"conflict,omitempty"`
	Failed   int `json:"failed,omitempty"`
}

// String formats s for `obsctl history`: "3 created, 1 configured, 290
// unchanged, 2 pruned", with the rarer counts only when they are not 0.
func (s Summary) String() string {
	out := fmt.Sprintf("%d created, %d configured, %d unchanged, %d pruned", s.Created, s.Configured, s.Unchanged, s.Pruned)
	for _, c := range []struct {
		n    int
		what string
	}{{s.Replaced, "replaced"}, {s.Kept, "kept"}, {s.Conflict, "conflict"}, {s.Failed, "failed"}} {
		if c.n > 0 {
			out += fmt.Sprintf(", %d %s", c.n, c.what)
		}
	}
	return out
}

// StateRolledForward is the State of a revision that a run recorded as its
// intent (see Inventory.Begin) and never committed, because it was killed
// or lost the cluster: the next run records it (Inventory.RollForward) so
// that what it may have applied is not orphaned.
const StateRolledForward = "rolled-forward"

// GitInfo is the git commit of the repo a revision was rendered from.
type GitInfo struct {
	// Commit is the full hash of HEAD.
	Commit string `json:"commit"`
	// Dirty is set when the work tree had changes not in Commit: the
	// revision is then not reproducible from the commit alone.
	Dirty   bool   `json:"dirty,omitempty"`
	Author  string `json:"author,omitempty"`
	Subject string `json:"subject,omitempty"`
}

// Short returns the commit's first 7 characters, with "-dirty" after them
// when the work tree had changes, as git describe --dirty says it.
func (g *GitInfo) Short() string {
	if g == nil || g.Commit == "" {
		return ""
	}
	s := g.Commit[:min(7, len(g.Commit))]
	if g.Dirty {
		s += "-dirty"
	}
	return s
}

// Entry is one object of a revision.
type Entry struct {
	kube.Ref
	// Digest is "sha256:<hex>" of the object as SetObjects stored it: the
	// key of its manifest in the inventory's packs. It is empty for an
	// object the revision carries without a manifest: one an apply kept
	// from the revision before (not pruned, or failed to prune) so that a
	// later apply can still prune it.
	Digest string `json:"digest,omitempty"`
}

// Revision is one apply of a stack.
type Revision struct {
	// Number counts the stack's applies from 1; Append sets it.
	Number int `json:"number"`
	// Time is when the apply ran, in UTC to the second; Append sets it to
	// now when zero.
	Time time.Time `json:"time"`
	// RunID identifies the run that recorded the revision, so that a run
	// whose write landed without an answer can recognise it, and a pending
	// intent can be told from this run's own. Append and Begin set a random
	// one when it is empty.
	RunID string `json:"runID,omitempty"`
	// State is empty for a revision its run committed; StateRolledForward
	// for one the next run recorded from the intent of an interrupted run.
	State string `json:"state,omitempty"`
	// User and Host say who ran the apply on which machine (the OS user).
	User string `json:"user,omitempty"`
	Host string `json:"host,omitempty"`
	// KubeUser and KubeGroups are the Kubernetes identity the apply ran
	// as, as the API server saw it: who the cluster's audit log names.
	KubeUser   string   `json:"kubeUser,omitempty"`
	KubeGroups []string `json:"kubeGroups,omitempty"`
	// Repo is where the objects came from: the repo's folder, "embedded
	// default", or the manifest paths of apply -f.
	Repo string `json:"repo,omitempty"`
	// Git is the repo's commit; nil when the repo is not in git.
	Git *GitInfo `json:"git,omitempty"`
	// Message is the user's note on the apply (apply -m).
	Message string `json:"message,omitempty"`
	// Profile is the stack's profile the apply rendered (minimal, ha).
	Profile string `json:"profile,omitempty"`
	// ObsctlVersion is the version of the obsctl that ran it.
	ObsctlVersion string `json:"obsctlVersion,omitempty"`
	// Defaults are the items of obsctl's default content the repo built
	// on, as that obsctl shipped them, each with a digest (layer.Items):
	// the next apply of another obsctl says which of them it changes.
	// Empty when the repo built on none.
	Defaults map[string]string `json:"defaults,omitempty"`
	// RollbackOf is the revision a rollback re-applied; 0 for an apply.
	RollbackOf int `json:"rollbackOf,omitempty"`
	// Summary counts what the apply did.
	Summary Summary `json:"summary"`
	// Entries are every object the apply meant to apply, failed ones
	// included (so that a later apply can prune them), sorted by their
	// references' Compare. The next apply prunes only from these.
	Entries []Entry `json:"entries"`
	// ManifestsDropped says why the revision no longer holds its manifests
	// (to keep the inventory within its Secrets' size); empty otherwise.
	// The entries keep their digests, so history still tells which objects
	// changed.
	ManifestsDropped string `json:"manifestsDropped,omitempty"`

	// objects are the revision's stored objects by digest, as compact
	// JSON; nil when the revision holds no manifests. The byte slices are
	// shared between revisions that have the same object: never modified.
	objects map[string][]byte
}

// NewRunID returns a random identifier for a run: 16 hexadecimal digits,
// enough that two runs of one stack never share one.
func NewRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail
	return hex.EncodeToString(b[:])
}

// Refs returns the references of the revision's entries, in their order:
// the objects a later apply may prune.
func (r *Revision) Refs() []ObjectRef {
	out := make([]ObjectRef, len(r.Entries))
	for i, e := range r.Entries {
		out[i] = e.Ref
	}
	return out
}

// SetObjects records objs as what the revision applied: an entry for each,
// and their manifests, with every Secret's values replaced by a digest (see
// Redacted), server-set metadata, status and the kubectl last-applied
// annotation removed. objs is not modified. Two objects with the same
// group, kind, namespace and name are an error.
func (r *Revision) SetObjects(objs []*unstructured.Unstructured) error {
	entries := make([]Entry, 0, len(objs))
	stored := make(map[string][]byte, len(objs))
	seen := make(map[identity]bool, len(objs))
	for _, obj := range objs {
		ref := RefOf(obj)
		if err := validateRef(ref); err != nil {
			return err
		}
		if seen[ref.ID()] {
			return fmt.Errorf("object %s appears twice", ref.Qualified())
		}
		seen[ref.ID()] = true
		red, err := forStorage(obj)
		if err != nil {
			return fmt.Errorf("object %s: %w", ref.Qualified(), err)
		}
		b, err := encodeJSON(red.Object)
		if err != nil {
			return fmt.Errorf("object %s: %w", ref.Qualified(), err)
		}
		d := digestOf(b)
		entries = append(entries, Entry{Ref: ref, Digest: d})
		stored[d] = b
	}
	slices.SortFunc(entries, compareEntries)
	r.Entries = entries
	r.objects = stored
	r.ManifestsDropped = ""
	return nil
}

// Carry adds refs to the revision's entries without manifests: objects
// the apply did not apply but that stay the stack's, such as those it did
// not prune. A ref the revision already has is left as it is.
func (r *Revision) Carry(refs ...ObjectRef) {
	have := make(map[identity]bool, len(r.Entries))
	for _, e := range r.Entries {
		have[e.ID()] = true
	}
	for _, ref := range refs {
		if !have[ref.ID()] {
			have[ref.ID()] = true
			r.Entries = append(r.Entries, Entry{Ref: ref})
		}
	}
	slices.SortFunc(r.Entries, compareEntries)
}

func compareEntries(a, b Entry) int {
	if c := a.Compare(b.Ref); c != 0 {
		return c
	}
	return strings.Compare(a.Digest, b.Digest)
}

// normalize sorts the entries and drops duplicates of one object, keeping
// the one with a manifest: Append's guarantee that a revision names each
// object once.
func (r *Revision) normalize() {
	es := slices.Clone(r.Entries)
	slices.SortFunc(es, compareEntries)
	out := es[:0]
	seen := make(map[identity]int, len(es))
	for _, e := range es {
		if i, ok := seen[e.ID()]; ok {
			if out[i].Digest == "" && e.Digest != "" {
				out[i] = e
			}
			continue
		}
		seen[e.ID()] = len(out)
		out = append(out, e)
	}
	r.Entries = out
}

// HasManifests reports whether the revision still holds the manifests it
// applied, so that it can be rolled back to.
func (r *Revision) HasManifests() bool { return r.objects != nil }

// hasDigests reports whether the revision's entries say which version of
// each object it applied, even when the manifests themselves are gone.
func (r *Revision) hasDigests() bool {
	return r.HasManifests() || slices.ContainsFunc(r.Entries, func(e Entry) bool { return e.Digest != "" })
}

// Manifests returns the objects the revision applied, in the order of its
// entries (carried entries have none), as SetObjects stored them: Secrets
// are redacted and must be rendered again from their source before they
// are applied (see Redacted). It returns nil when the revision holds no
// manifests.
func (r *Revision) Manifests() ([]*unstructured.Unstructured, error) {
	if !r.HasManifests() {
		return nil, nil
	}
	var out []*unstructured.Unstructured
	for _, e := range r.Entries {
		if e.Digest == "" {
			continue
		}
		b, ok := r.objects[e.Digest]
		if !ok {
			return nil, fmt.Errorf("manifests of revision %d: no object %s for %s", r.Number, e.Digest, e.Qualified())
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(b); err != nil {
			return nil, fmt.Errorf("manifests of revision %d, %s: %w", r.Number, e.Qualified(), err)
		}
		out = append(out, obj)
	}
	return out, nil
}

// dropManifests forgets the revision's manifests, saying why; its entries
// keep their digests.
func (r *Revision) dropManifests(why string) {
	r.objects = nil
	r.ManifestsDropped = why
}

// SameAs reports whether candidate would record nothing that latest does
// not already say: the same objects in the same versions (entries and
// digests), the same profile, repo and rollback. An apply whose revision
// is the same as the latest changed nothing worth a revision, so it
// records none; the rest of the metadata (time, who, commit, message) is
// not a reason to take one of the inventory's slots. A nil latest is
// never the same: a first apply is always recorded.
func SameAs(latest, candidate *Revision) bool {
	if latest == nil || candidate == nil {
		return false
	}
	if latest.Profile != candidate.Profile || latest.Repo != candidate.Repo || latest.RollbackOf != candidate.RollbackOf {
		return false
	}
	a, b := *latest, *candidate
	a.normalize()
	b.normalize()
	return slices.Equal(a.Entries, b.Entries)
}

// Who returns "user@host", or whichever of the two is known.
func (r *Revision) Who() string {
	switch {
	case r.User != "" && r.Host != "":
		return r.User + "@" + r.Host
	case r.User != "":
		return r.User
	default:
		return r.Host
	}
}

// digestOf returns the key a stored object is kept under.
func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// encodeJSON writes v as compact JSON with sorted map keys and without
// HTML escaping, so PromQL's > and < stay readable.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// compress gzips b with an empty header (no name, no time), so the same
// input always compresses to the same bytes.
func compress(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	_, _ = w.Write(b)                                       // a bytes.Buffer does not fail
	_ = w.Close()
	return buf.Bytes()
}

// maxDecompressed bounds what Load decompresses, all of an inventory's
// Secrets together, so that a doctored Secret cannot make obsctl allocate
// without limit.
const maxDecompressed = 256 << 20

// errTooMuch is the error of decompress beyond its limit: Load's bound on
// the whole inventory, not damage to one Secret.
var errTooMuch = errors.New("too much data decompressed")

// decompress gunzips b, failing when it would give more than limit bytes.
func decompress(b []byte, limit int) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(out) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", errTooMuch, limit)
	}
	return out, nil
}

// String formats r as one line of `obsctl history`.
func (r *Revision) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d  %s  %s  obsctl %s  %s", r.Number, r.Time.UTC().Format(time.RFC3339), r.Who(), r.ObsctlVersion, r.Summary)
	if r.RollbackOf > 0 {
		fmt.Fprintf(&b, "  (rollback to %d)", r.RollbackOf)
	}
	if r.State != "" {
		fmt.Fprintf(&b, "  (%s)", r.State)
	}
	if !r.HasManifests() {
		b.WriteString("  (no manifests kept)")
	}
	return b.String()
}

// clone returns a copy of r whose slices and maps the caller may change
// without changing r.
func (r Revision) clone() Revision {
	r.Entries = slices.Clone(r.Entries)
	r.KubeGroups = slices.Clone(r.KubeGroups)
	if r.Git != nil {
		g := *r.Git
		r.Git = &g
	}
	if r.objects != nil {
		r.objects = maps.Clone(r.objects)
	}
	return r
}
