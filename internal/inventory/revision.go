package inventory

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Summary counts what an apply did to the objects of a revision.
type Summary struct {
	Created    int `json:"created"`
	Configured int `json:"configured"`
	Unchanged  int `json:"unchanged"`
	Pruned     int `json:"pruned"`
	Failed     int `json:"failed,omitempty"`
}

// String formats s for `obsctl history`: "3 created, 1 configured, 290
// unchanged, 2 pruned".
func (s Summary) String() string {
	out := fmt.Sprintf("%d created, %d configured, %d unchanged, %d pruned", s.Created, s.Configured, s.Unchanged, s.Pruned)
	if s.Failed > 0 {
		out += fmt.Sprintf(", %d failed", s.Failed)
	}
	return out
}

// Revision is one apply of a stack.
type Revision struct {
	// Number counts the stack's applies from 1; Append sets it.
	Number int `json:"number"`
	// Time is when the apply ran, in UTC to the second; Append sets it to
	// now when zero.
	Time time.Time `json:"time"`
	// User and Host say who ran the apply.
	User string `json:"user,omitempty"`
	Host string `json:"host,omitempty"`
	// ObsctlVersion is the version of the obsctl that ran it.
	ObsctlVersion string `json:"obsctlVersion,omitempty"`
	// RollbackOf is the revision a rollback re-applied; 0 for an apply.
	RollbackOf int `json:"rollbackOf,omitempty"`
	// Summary counts what the apply did.
	Summary Summary `json:"summary"`
	// Objects are every object the apply meant to apply, failed ones
	// included (so that a later apply can prune them), sorted by Compare.
	// The next apply prunes only from these.
	Objects []ObjectRef `json:"objects"`
	// ManifestsDropped says why the revision no longer holds its manifests
	// (to keep the inventory within a Secret's size); empty otherwise.
	ManifestsDropped string `json:"manifestsDropped,omitempty"`

	// manifests are the redacted objects as gzip-compressed JSON, nil when
	// there are none.
	manifests []byte
}

// SetObjects records objs as what the revision applied: their references
// in Objects, and their manifests, with every Secret's values replaced by
// a digest (see Redacted), server-set metadata, status and the
// kubectl last-applied annotation removed. objs is not modified. Two
// objects with the same group, kind, namespace and name are an error.
func (r *Revision) SetObjects(objs []*unstructured.Unstructured) error {
	type entry struct {
		ref ObjectRef
		obj *unstructured.Unstructured
	}
	entries := make([]entry, 0, len(objs))
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
		red, err := redact(obj)
		if err != nil {
			return fmt.Errorf("object %s: %w", ref.Qualified(), err)
		}
		entries = append(entries, entry{ref, red})
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.ref.Compare(b.ref) })

	var buf bytes.Buffer
	buf.WriteString("[\n")
	refs := make([]ObjectRef, len(entries))
	for i, e := range entries {
		refs[i] = e.ref
		b, err := encodeJSON(e.obj.Object)
		if err != nil {
			return fmt.Errorf("object %s: %w", e.ref.Qualified(), err)
		}
		buf.Write(b)
		if i < len(entries)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("]\n")
	r.Objects = refs
	r.manifests = compress(buf.Bytes())
	r.ManifestsDropped = ""
	return nil
}

// HasManifests reports whether the revision still holds the manifests it
// applied, so that it can be rolled back to.
func (r *Revision) HasManifests() bool { return len(r.manifests) > 0 }

// Manifests returns the objects the revision applied, sorted like Objects,
// as SetObjects stored them: Secrets are redacted and must be rendered again
// from their source before they are applied (see Redacted). It returns nil
// when the revision holds no manifests.
func (r *Revision) Manifests() ([]*unstructured.Unstructured, error) {
	if !r.HasManifests() {
		return nil, nil
	}
	raw, err := decompress(r.manifests)
	if err != nil {
		return nil, fmt.Errorf("manifests of revision %d: %w", r.Number, err)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("manifests of revision %d: %w", r.Number, err)
	}
	out := make([]*unstructured.Unstructured, len(items))
	for i, item := range items {
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(item); err != nil {
			return nil, fmt.Errorf("manifests of revision %d, object %d: %w", r.Number, i, err)
		}
		out[i] = obj
	}
	return out, nil
}

// stored is one object of a revision's manifests, in its stored form.
type stored struct {
	ref  ObjectRef
	json []byte
}

func (r *Revision) manifestsByIdentity() (map[identity]stored, error) {
	objs, err := r.Manifests()
	if err != nil {
		return nil, err
	}
	out := make(map[identity]stored, len(objs))
	for _, obj := range objs {
		b, err := encodeJSON(obj.Object)
		if err != nil {
			return nil, err
		}
		ref := RefOf(obj)
		out[ref.ID()] = stored{ref, b}
	}
	return out, nil
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

// maxDecompressed bounds what decompress accepts, so that a doctored
// Secret cannot make obsctl allocate without limit.
const maxDecompressed = 256 << 20

func decompress(b []byte) ([]byte, error) {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(r, maxDecompressed+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxDecompressed {
		return nil, fmt.Errorf("more than %d bytes decompressed", maxDecompressed)
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
	if !r.HasManifests() {
		b.WriteString("  (no manifests kept)")
	}
	return b.String()
}
