package inventory

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/obsctl/obsctl/internal/kube"
)

// format is the version of the encoding. Format 1 held every revision's
// manifests in the index Secret; format 2 holds each distinct object once,
// in packs. This obsctl reads both and writes 2.
const format = 2

// gcGrace is how old a pack that no index names must be before Save
// deletes it. Such a pack is left by a run killed between writing its packs
// and its index, or is being written by a run that has not written its
// index yet (one that does not hold the stack's lock): the grace spares the
// latter.
const gcGrace = 10 * time.Minute

// index is the JSON of index.json.gz in format 2.
type index struct {
	Format    int            `json:"format"`
	Stack     string         `json:"stack"`
	Revisions []wireRevision `json:"revisions"`
	// Pending is the intent of a run that has not committed.
	Pending *wireRevision `json:"pending,omitempty"`
	// Packs names the pack Secrets and the digests in each that the
	// revisions and the intent need.
	Packs map[string][]string `json:"packs,omitempty"`
}

type wireRevision struct {
	Revision
	// Manifests is set when the revision holds its manifests: every
	// digest of its entries is in a pack.
	Manifests bool `json:"manifests,omitempty"`
}

// indexV1 is the JSON of index.json.gz in format 1.
type indexV1 struct {
	Stack     string `json:"stack"`
	Revisions []struct {
		Revision
		Objects []ObjectRef `json:"objects"`
		// Manifests is the data key holding the revision's manifests.
		Manifests string `json:"manifests,omitempty"`
	} `json:"revisions"`
}

// packFile is the JSON of a pack's objects.json.gz.
type packFile struct {
	Format  int                        `json:"format"`
	Stack   string                     `json:"stack"`
	Objects map[string]json.RawMessage `json:"objects"`
}

// packInfo is what the inventory knows of one pack: every digest it
// holds, sorted (the index needs some of them), and the size of its
// objects, uncompressed.
type packInfo struct {
	digests []string
	size    int
}

// pack is a pack Save writes: its name, what it holds and its data.
type pack struct {
	name string
	packInfo
	data []byte
}

// compactBelow is the share of a pack's bytes that the objects still
// needed must reach for Save to keep the pack as it is; below it, they
// move to a new pack and the old one goes. Without it, a pack that held a
// stack's CRDs, long changed, would stay for the few small objects in it
// that never change. Packs smaller than compactMin are left alone: not
// worth a write.
const (
	compactBelow = 4 // a quarter
	compactMin   = 64 << 10
)

// savePlan is what Save writes.
type savePlan struct {
	index []byte
	// packs are every pack the index names.
	packs map[string]packInfo
	// fresh are the packs to write, in the order to write them.
	fresh []pack
	// adopted is set when the write found a later index that records this
	// change, and the inventory was reloaded from it.
	adopted bool
	// raw is what Load will decompress: the index and every pack it names.
	raw int
}

func (inv *Inventory) limit() limits {
	l := inv.limits
	l.index = cmp.Or(l.index, MaxIndexSize)
	l.pack = cmp.Or(l.pack, MaxPackSize)
	l.packs = cmp.Or(l.packs, MaxPacks)
	l.raw = cmp.Or(l.raw, maxDecompressed)
	return l
}

// holders are the revisions, oldest first, and then the pending intent:
// whatever may hold manifests, in the order their objects were first
// stored.
func (inv *Inventory) holders() []*Revision {
	out := make([]*Revision, 0, len(inv.revisions)+1)
	for i := range inv.revisions {
		out = append(out, &inv.revisions[i])
	}
	if inv.pending != nil {
		out = append(out, inv.pending)
	}
	return out
}

// errTooLarge says one object does not fit in a pack.
type errTooLarge struct{ digest string }

func (e errTooLarge) Error() string { return "object " + e.digest + " does not fit in a pack" }

// plan fits the inventory in its limits and encodes it: the oldest
// revisions beyond Keep go, then, while the packs are too many, the
// oldest manifests (after trying to pack everything again, tighter), then,
// while the index is too large, the oldest revisions.
func (inv *Inventory) plan() (*savePlan, error) {
	inv.trim()
	lim := inv.limit()
	for {
		p, err := inv.planOnce(lim)
		var tl errTooLarge
		switch {
		case errors.As(err, &tl):
			for _, h := range inv.holders() {
				if _, ok := h.objects[tl.digest]; ok {
					h.dropManifests(DroppedForSize)
				}
			}
			continue
		case err != nil:
			return nil, err
		case len(p.packs) > lim.packs:
			if h := inv.oldestWithManifests(); h != nil {
				h.dropManifests(DroppedForSize)
				continue
			}
			return nil, fmt.Errorf("%d packs without any manifests, over the %d an inventory may use", len(p.packs), lim.packs)
		case p.raw > lim.raw:
			// Load would refuse what it decompresses: never write that.
			if h := inv.oldestWithManifests(); h != nil {
				h.dropManifests(DroppedForSize)
				continue
			}
			return nil, fmt.Errorf("%d bytes of objects without any manifests, over the %d Load reads", p.raw, lim.raw)
		case len(p.index) > lim.index:
			if len(inv.revisions) > 1 {
				inv.revisions = slices.Delete(inv.revisions, 0, 1)
				continue
			}
			return nil, fmt.Errorf("one revision's entries take %d bytes, over the %d an index holds", len(p.index), lim.index)
		}
		return p, nil
	}
}

func (inv *Inventory) oldestWithManifests() *Revision {
	for _, h := range inv.holders() {
		if h.HasManifests() {
			return h
		}
	}
	return nil
}

// planOnce encodes the inventory as it is: the packs it has keep the
// objects they hold, and the objects no pack has go to new packs, grouped
// by the revision that first has them. When that makes too many packs, it
// packs every object again instead, as few packs as they fit in.
func (inv *Inventory) planOnce(lim limits) (*savePlan, error) {
	needed := map[string][]byte{}
	home := map[string]int{} // digest -> number of the oldest holder with it
	for _, h := range inv.holders() {
		if !h.HasManifests() {
			continue
		}
		for _, e := range h.Entries {
			if e.Digest == "" {
				continue
			}
			b, ok := h.objects[e.Digest]
			if !ok {
				return nil, fmt.Errorf("revision %d: no manifest for %s", h.Number, e.Qualified())
			}
			if _, ok := needed[e.Digest]; !ok {
				needed[e.Digest], home[e.Digest] = b, h.Number
			}
		}
	}

	packs := map[string]packInfo{}
	where := map[string]string{} // digest -> the pack the index says holds it
	for _, name := range slices.Sorted(maps.Keys(inv.packs)) {
		info := inv.packs[name]
		live, holds := 0, false
		for _, d := range info.digests {
			if b, ok := needed[d]; ok {
				if _, ok := where[d]; !ok {
					live += len(b)
					holds = true
				}
			}
		}
		if !holds || info.size >= compactMin && live*compactBelow < info.size {
			continue
		}
		packs[name] = info
		for _, d := range info.digests {
			if _, ok := needed[d]; ok {
				if _, ok := where[d]; !ok {
					where[d] = name
				}
			}
		}
	}
	var missing []string
	for d := range needed {
		if _, ok := where[d]; !ok {
			missing = append(missing, d)
		}
	}
	byHome := func(a, b string) int { return cmp.Or(cmp.Compare(home[a], home[b]), cmp.Compare(a, b)) }
	slices.SortFunc(missing, byHome)
	var fresh []pack
	for i := 0; i < len(missing); {
		j := i
		for j < len(missing) && home[missing[j]] == home[missing[i]] {
			j++
		}
		ps, err := inv.chunk(missing[i:j], needed, home, lim.pack)
		if err != nil {
			return nil, err
		}
		fresh = append(fresh, ps...)
		i = j
	}
	if len(packs)+len(fresh) > lim.packs {
		all := slices.SortedFunc(maps.Keys(needed), byHome)
		ps, err := inv.chunk(all, needed, home, lim.pack)
		if err != nil {
			return nil, err
		}
		if len(ps) < len(packs)+len(fresh) {
			packs, fresh, where = map[string]packInfo{}, ps, map[string]string{}
		}
	}
	for _, pk := range fresh {
		packs[pk.name] = pk.packInfo
		for _, d := range pk.digests {
			where[d] = pk.name
		}
	}

	idx := index{Format: format, Stack: inv.stack, Revisions: make([]wireRevision, len(inv.revisions))}
	for i, r := range inv.revisions {
		idx.Revisions[i] = wireRevision{Revision: r, Manifests: r.HasManifests()}
	}
	if inv.pending != nil {
		idx.Pending = &wireRevision{Revision: *inv.pending, Manifests: inv.pending.HasManifests()}
	}
	if len(where) > 0 {
		idx.Packs = map[string][]string{}
		for d, name := range where {
			idx.Packs[name] = append(idx.Packs[name], d)
		}
		for _, ds := range idx.Packs {
			slices.Sort(ds)
		}
	}
	b, err := encodeJSON(idx)
	if err != nil {
		return nil, err
	}
	raw := len(b)
	for _, info := range packs {
		raw += info.size
	}
	return &savePlan{index: compress(b), packs: packs, fresh: fresh, raw: raw}, nil
}

// chunk packs digests, in order, into packs of at most max bytes: one
// when they fit, else split by their size and each part packed again.
func (inv *Inventory) chunk(digests []string, objs map[string][]byte, home map[string]int, max int) ([]pack, error) {
	pk := inv.packOf(digests, objs, home[digests[0]])
	if len(pk.data) <= max {
		return []pack{pk}, nil
	}
	if len(digests) == 1 {
		return nil, errTooLarge{digests[0]}
	}
	// As many parts as the compressed size says, and a few more: parts
	// compress less well than the whole. Each part is packed again, and
	// split again if it must.
	parts := min(len(digests), (len(pk.data)*5/4)/max+1)
	total := 0
	for _, d := range digests {
		total += len(objs[d])
	}
	var cuts []int // where each part ends
	acc := 0
	for i, d := range digests {
		acc += len(objs[d])
		if i == len(digests)-1 || acc*parts >= total*(len(cuts)+1) {
			cuts = append(cuts, i+1)
		}
	}
	if len(cuts) == 1 {
		// One object is most of the size, at the end: halve by count.
		cuts = []int{len(digests) / 2, len(digests)}
	}
	var out []pack
	start := 0
	for _, end := range cuts {
		ps, err := inv.chunk(digests[start:end], objs, home, max)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
		start = end
	}
	return out, nil
}

// packOf builds the pack of digests, named for the index, the revision
// that first has them (n), and a hash of this value's salt and the
// contents: a retry builds the same name, another run another one.
func (inv *Inventory) packOf(digests []string, objs map[string][]byte, n int) pack {
	var raw bytes.Buffer
	stack, _ := json.Marshal(inv.stack)
	fmt.Fprintf(&raw, `{"format":%d,"stack":%s,"objects":{`, format, stack)
	for i, d := range digests {
		if i > 0 {
			raw.WriteByte(',')
		}
		raw.WriteString("\n\"" + d + "\":")
		raw.Write(objs[d])
	}
	raw.WriteString("\n}}\n")
	h := sha256.New()
	h.Write([]byte(inv.salt))
	h.Write(raw.Bytes())
	name := inv.Name() + "-r" + strconv.Itoa(n) + "-" + hex.EncodeToString(h.Sum(nil))[:10]
	data, ok := inv.compressed[name]
	if !ok {
		data = compress(raw.Bytes())
		inv.compressed[name] = data
	}
	return pack{name: name, packInfo: packInfo{digests: slices.Sorted(slices.Values(digests)), size: raw.Len()}, data: data}
}

var secretsGVR = corev1.SchemeGroupVersion.WithResource("secrets")

// listPacks returns stack's pack Secrets in namespace by name: one request
// for all of them.
func listPacks(ctx context.Context, client dynamic.Interface, namespace, stack string) (map[string]*corev1.Secret, error) {
	list, err := client.Resource(secretsGVR).Namespace(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(labels.Set{labelManagedBy: "obsctl", labelStack: stack}).String(),
		// Only packs: the stack's other Secrets hold values obsctl has
		// no business reading here.
		FieldSelector: "type=" + string(PackType),
	})
	if err != nil {
		return nil, err
	}
	out := map[string]*corev1.Secret{}
	for i := range list.Items {
		if t, _ := list.Items[i].Object["type"].(string); t != string(PackType) {
			continue // a client that ignores the field selector
		}
		var sec corev1.Secret
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(list.Items[i].Object, &sec); err != nil {
			return nil, fmt.Errorf("pack %s: %w", list.Items[i].GetName(), err)
		}
		out[sec.Name] = &sec
	}
	return out, nil
}

// decode reads the index Secret sec and, for format 2, the objects of the
// packs it names from those readPacks returns by name (nil when only the
// index is wanted: the revisions then hold no manifests). It bounds what it
// decompresses, all Secrets together.
func (inv *Inventory) decode(sec *corev1.Secret, readPacks func() (map[string]*corev1.Secret, error)) error {
	if sec.Type != SecretType {
		return fmt.Errorf("the Secret exists but is not an obsctl inventory (type %q, want %q)", sec.Type, SecretType)
	}
	raw, ok := sec.Data[indexKey]
	if !ok {
		return fmt.Errorf("no %s", indexKey)
	}
	budget := maxDecompressed
	b, err := decompress(raw, budget)
	if err != nil {
		return fmt.Errorf("%s: %w", indexKey, err)
	}
	budget -= len(b)
	var head struct {
		Format int    `json:"format"`
		Stack  string `json:"stack"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("%s: %w", indexKey, err)
	}
	switch {
	case head.Format != 1 && head.Format != format:
		return fmt.Errorf("%s: format %d, this obsctl reads 1 and %d (written by a newer obsctl?)", indexKey, head.Format, format)
	case head.Stack != inv.stack:
		return fmt.Errorf("%s: inventory of stack %q, not %q", indexKey, head.Stack, inv.stack)
	case head.Format == 1:
		return inv.decodeV1(sec, b, budget)
	}
	var idx index
	if err := json.Unmarshal(b, &idx); err != nil {
		return fmt.Errorf("%s: %w", indexKey, err)
	}

	// The objects of the packs the index names, each checked against its
	// digest. A pack that is gone or damaged costs the manifests it held,
	// not the history.
	var packs map[string]*corev1.Secret
	if readPacks != nil && len(idx.Packs) > 0 {
		if packs, err = readPacks(); err != nil {
			return err
		}
	}
	objects := map[string][]byte{}
	lost := map[string]string{} // digest -> why it is not there
	inv.packs = map[string]packInfo{}
	for _, name := range slices.Sorted(maps.Keys(idx.Packs)) {
		why := ""
		sec, ok := packs[name]
		switch {
		case !ok:
			why = "pack " + name + " is gone"
		default:
			held, size, err := readPack(sec, inv.stack, &budget)
			if errors.Is(err, errTooMuch) {
				return fmt.Errorf("pack %s: %w", name, err)
			}
			if err != nil {
				why = "pack " + name + " is damaged: " + err.Error()
				break
			}
			inv.packs[name] = packInfo{digests: slices.Sorted(maps.Keys(held)), size: size}
			maps.Copy(objects, held)
		}
		for _, d := range idx.Packs[name] {
			if _, ok := objects[d]; !ok && why != "" {
				lost[d] = why
			}
		}
	}
	attach := func(w wireRevision) Revision {
		r := w.Revision
		if !w.Manifests || readPacks == nil {
			r.objects = nil
			return r
		}
		r.objects = map[string][]byte{}
		for _, e := range r.Entries {
			if e.Digest == "" {
				continue
			}
			b, ok := objects[e.Digest]
			if !ok {
				why := cmp.Or(lost[e.Digest], "no pack holds "+e.Digest)
				r.dropManifests("manifests lost: " + why)
				return r
			}
			r.objects[e.Digest] = b
		}
		return r
	}
	revs := make([]Revision, len(idx.Revisions))
	for i, w := range idx.Revisions {
		if i > 0 && w.Number <= revs[i-1].Number {
			return fmt.Errorf("%s: revision %d follows %d", indexKey, w.Number, revs[i-1].Number)
		}
		revs[i] = attach(w)
	}
	inv.revisions = revs
	inv.pending = nil
	if idx.Pending != nil {
		p := attach(*idx.Pending)
		inv.pending = &p
	}
	return nil
}

// readPack returns the objects of a pack by digest, each checked against
// it, and their size, taking what it decompresses from budget.
func readPack(sec *corev1.Secret, stack string, budget *int) (map[string][]byte, int, error) {
	if sec.Type != PackType {
		return nil, 0, fmt.Errorf("type %q, want %q", sec.Type, PackType)
	}
	raw, ok := sec.Data[packKey]
	if !ok {
		return nil, 0, fmt.Errorf("no %s", packKey)
	}
	b, err := decompress(raw, max(*budget, 0))
	if err != nil {
		return nil, 0, err
	}
	*budget -= len(b)
	var pf packFile
	if err := json.Unmarshal(b, &pf); err != nil {
		return nil, 0, err
	}
	if pf.Stack != stack {
		return nil, 0, fmt.Errorf("a pack of stack %q, not %q", pf.Stack, stack)
	}
	out := make(map[string][]byte, len(pf.Objects))
	for d, obj := range pf.Objects {
		if digestOf(obj) != d {
			return nil, 0, fmt.Errorf("object %s does not match its digest", d)
		}
		out[d] = obj
	}
	return out, len(b), nil
}

// decodeV1 reads an index of format 1, whose manifests are in the index
// Secret itself, one key per revision. Its objects get their digests
// here; the next Save writes format 2.
func (inv *Inventory) decodeV1(sec *corev1.Secret, b []byte, budget int) error {
	var idx indexV1
	if err := json.Unmarshal(b, &idx); err != nil {
		return fmt.Errorf("%s: %w", indexKey, err)
	}
	revs := make([]Revision, len(idx.Revisions))
	for i, w := range idx.Revisions {
		r := w.Revision
		if i > 0 && r.Number <= revs[i-1].Number {
			return fmt.Errorf("%s: revision %d follows %d", indexKey, r.Number, revs[i-1].Number)
		}
		digests := map[identity]string{}
		if w.Manifests != "" {
			m, ok := sec.Data[w.Manifests]
			if !ok {
				return fmt.Errorf("revision %d: no %s", r.Number, w.Manifests)
			}
			raw, err := decompress(m, max(budget, 0))
			if err != nil {
				return fmt.Errorf("revision %d: %s: %w", r.Number, w.Manifests, err)
			}
			budget -= len(raw)
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				return fmt.Errorf("revision %d: %s: %w", r.Number, w.Manifests, err)
			}
			r.objects = make(map[string][]byte, len(items))
			for _, item := range items {
				var meta struct {
					APIVersion string `json:"apiVersion"`
					Kind       string `json:"kind"`
					Metadata   struct {
						Name      string `json:"name"`
						Namespace string `json:"namespace"`
					} `json:"metadata"`
				}
				if err := json.Unmarshal(item, &meta); err != nil {
					return fmt.Errorf("revision %d: %s: %w", r.Number, w.Manifests, err)
				}
				gv, err := schema.ParseGroupVersion(meta.APIVersion)
				if err != nil {
					return fmt.Errorf("revision %d: %s: %w", r.Number, w.Manifests, err)
				}
				ref := ObjectRef{Group: gv.Group, Version: gv.Version, Kind: meta.Kind, Namespace: meta.Metadata.Namespace, Name: meta.Metadata.Name}
				d := digestOf(item)
				digests[ref.ID()] = d
				r.objects[d] = slices.Clone([]byte(item))
			}
		}
		r.Entries = make([]Entry, len(w.Objects))
		for j, ref := range w.Objects {
			r.Entries[j] = Entry{Ref: ref, Digest: digests[ref.ID()]}
		}
		r.normalize()
		revs[i] = r
	}
	inv.revisions = revs
	inv.pending = nil
	inv.packs = map[string]packInfo{}
	return nil
}

// collect deletes, best effort, the packs the index no longer names: those
// the index named before this save, those this value wrote, and any other
// of the stack's packs older than gcGrace. What it misses, the next save
// deletes.
func (inv *Inventory) collect(ctx context.Context, client dynamic.Interface, before map[string]packInfo) {
	all, err := listPacks(ctx, client, inv.namespace, inv.stack)
	if err != nil {
		return
	}
	now := inv.serverNow()
	secrets := kube.Secrets(client, inv.namespace)
	for name, sec := range all {
		if _, ok := inv.packs[name]; ok {
			continue
		}
		_, named := before[name]
		if named || inv.written[name] || now.Sub(sec.CreationTimestamp.Time) > gcGrace {
			if err := secrets.Delete(ctx, name, metav1.DeleteOptions{}); err == nil || apierrors.IsNotFound(err) {
				delete(inv.written, name)
			}
		}
	}
}

// serverNow is the API server's time as the index's last write says it,
// so that a skewed clock here does not make fresh packs look old.
func (inv *Inventory) serverNow() time.Time {
	if inv.now != nil {
		return inv.now()
	}
	var t time.Time
	if inv.secret != nil {
		for _, f := range inv.secret.ManagedFields {
			if f.Time != nil && f.Time.After(t) {
				t = f.Time.Time
			}
		}
	}
	if t.IsZero() {
		return time.Now()
	}
	return t
}
