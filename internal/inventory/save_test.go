package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/kube"
)

const ns = "monitoring"

// ctx is a test's context with a deadline: Save retries until it ends.
func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func loadFake(t *testing.T, api *fakeAPI) *Inventory {
	t.Helper()
	inv, err := Load(ctx(t), api, ns, "prod")
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// checkStored checks that the packs in the cluster are exactly those the
// index names, and that every kept revision's manifests read back.
func checkStored(t *testing.T, api *fakeAPI) *Inventory {
	t.Helper()
	inv := loadFake(t, api)
	idx := api.secret(ns, SecretName("prod"))
	b, err := decompress(idx.Data[indexKey], maxDecompressed)
	if err != nil {
		t.Fatal(err)
	}
	var head index
	if err := json.Unmarshal(b, &head); err != nil {
		t.Fatal(err)
	}
	var stored []string
	for name, s := range api.secrets(ns) {
		if s.Type == PackType {
			stored = append(stored, name)
		}
	}
	slices.Sort(stored)
	if named := slices.Sorted(maps.Keys(head.Packs)); !slices.Equal(stored, named) {
		t.Errorf("packs stored %v, the index names %v", stored, named)
	}
	for _, r := range append(inv.Revisions(), ptrs(inv.Pending())...) {
		if _, err := r.Manifests(); err != nil || r.HasManifests() != (r.ManifestsDropped == "") {
			t.Errorf("revision %d (%s): manifests %v, %v", r.Number, r.State, r.HasManifests(), err)
		}
	}
	return inv
}

func ptrs(r *Revision) []Revision {
	if r == nil {
		return nil
	}
	return []Revision{*r}
}

// format1Secret is the index Secret a format 1 obsctl wrote for the
// fixture, rebuilt from the dump kept in testdata/format1.golden.
func format1Secret(t *testing.T) *corev1.Secret {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "format1.golden"))
	if err != nil {
		t.Fatal(err)
	}
	data := map[string][]byte{}
	var key string
	var body strings.Builder
	flush := func() {
		if key != "" {
			data[key] = compress([]byte(body.String()))
		}
		body.Reset()
	}
	for line := range strings.Lines(string(b)) {
		if k, ok := strings.CutPrefix(line, "== "); ok {
			flush()
			key = strings.TrimSuffix(k, " ==\n")
			continue
		}
		body.WriteString(line)
	}
	flush()
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SecretName("prod"), Namespace: ns, Labels: map[string]string{labelManagedBy: "obsctl", labelStack: "prod"}},
		Type:       SecretType, Data: data,
	}
}

// TestFormat1 loads an inventory a format 1 obsctl wrote, and saves it as
// format 2: the same revisions, entries with the digests SetObjects gives
// today, and manifests that read back.
func TestFormat1(t *testing.T) {
	api := newFakeAPI(t)
	api.put(format1Secret(t))
	inv := loadFake(t, api)
	want := fixture(t)
	if got := numbers(inv.Revisions()); !reflect.DeepEqual(got, []int{1, 2, 3}) {
		t.Fatalf("revisions %v", got)
	}
	for _, w := range want.Revisions() {
		r := inv.Revision(w.Number)
		if !slices.Equal(r.Entries, w.Entries) {
			t.Errorf("revision %d entries\n%v\nwant\n%v", r.Number, r.Entries, w.Entries)
		}
		if !reflect.DeepEqual(r.objects, w.objects) || r.Summary != w.Summary || !r.Time.Equal(w.Time) || r.Who() != w.Who() {
			t.Errorf("revision %d differs from the one format 1 stored: %s", r.Number, r.String())
		}
	}
	if err := inv.Save(ctx(t), api); err != nil {
		t.Fatal(err)
	}
	idx := api.secret(ns, SecretName("prod"))
	if keys := slices.Sorted(maps.Keys(idx.Data)); !slices.Equal(keys, []string{indexKey}) {
		t.Errorf("index keys %v after the save, want only %s", keys, indexKey)
	}
	back := checkStored(t, api)
	if !reflect.DeepEqual(back.Revisions(), inv.Revisions()) {
		t.Error("revisions differ after the save as format 2")
	}
	// Converted objects are stored in the pack of the revision that first
	// had them.
	for name := range back.packs {
		if !strings.HasPrefix(name, "obsctl-inventory-prod-r1-") && !strings.HasPrefix(name, "obsctl-inventory-prod-r2-") {
			t.Errorf("pack %s: objects of revision 3 are all in revisions 1 and 2", name)
		}
	}
}

// TestIntent: a run records its intent, is killed, and the next run rolls
// it forward before its own, which it commits.
func TestIntent(t *testing.T) {
	api := newFakeAPI(t)
	base := stackObjects()
	first := loadFake(t, api)
	r1, err := first.Commit(ctx(t), api, revisionOf(t, base, Summary{Created: 5}))
	if err != nil || r1.Number != 1 {
		t.Fatalf("commit without an intent: %d, %v", r1.Number, err)
	}

	// Run A drops the deployment, adds a ConfigMap, and is killed after
	// Begin.
	a := loadFake(t, api)
	objsA := append(slices.Clone(base[:1]), base[2:]...)
	objsA = append(objsA, configMap(ns, "a", map[string]any{"k": "a"}))
	intent, err := a.Begin(ctx(t), api, revisionOf(t, objsA, Summary{}))
	if err != nil {
		t.Fatal(err)
	}
	if intent.RunID == "" || intent.Number != 2 || intent.State != "" {
		t.Errorf("intent %+v", intent)
	}
	if a.Latest().Number != 1 || a.Pending().RunID != intent.RunID {
		t.Errorf("after Begin: latest %d, pending %v", a.Latest().Number, a.Pending())
	}

	// Run B finds it.
	b := checkStored(t, api)
	p := b.Pending()
	if p == nil || p.RunID != intent.RunID || !p.HasManifests() || len(p.Entries) != 5 {
		t.Fatalf("pending %+v", p)
	}
	if _, err := b.Begin(ctx(t), api, revisionOf(t, base, Summary{})); err == nil || !strings.Contains(err.Error(), "roll it forward first") {
		t.Errorf("Begin over another run's intent: %v", err)
	}
	rf := b.RollForward()
	if rf == nil || rf.Number != 2 || rf.State != StateRolledForward || rf.RunID != intent.RunID || !rf.HasManifests() {
		t.Fatalf("rolled forward %+v", rf)
	}
	// Its entries: the intent's, and the deployment of revision 1 it
	// never pruned, carried.
	if got := len(rf.Entries); got != 6 {
		t.Errorf("rolled forward with %d entries, want 6: %v", got, rf.Entries)
	}
	for _, e := range rf.Entries {
		if (e.Kind == "Deployment") != (e.Digest == "") {
			t.Errorf("entry %s digest %q", e.Qualified(), e.Digest)
		}
	}
	if b.Pending() != nil || b.Latest().Number != 2 || b.RollForward() != nil {
		t.Error("the intent is still pending after RollForward")
	}
	// B prunes from the rolled-forward revision: the deployment too.
	if got := Prune(b.Latest().Refs(), refsOf(base[1:])); len(got) != 2 {
		t.Errorf("prune %v, want the namespace and the ConfigMap a", got)
	}
	own := revisionOf(t, base[1:], Summary{Unchanged: 4, Pruned: 2})
	own.Message = "run B"
	ownIntent, err := b.Begin(ctx(t), api, own)
	if err != nil {
		t.Fatal(err)
	}
	mid := checkStored(t, api)
	if mid.Latest().State != StateRolledForward || mid.Pending() == nil || mid.Pending().RunID != ownIntent.RunID {
		t.Errorf("after B's Begin: latest %s, pending %v", mid.Latest(), mid.Pending())
	}
	own.RunID = ""
	if _, err := b.Commit(ctx(t), api, Revision{RunID: "someone-else"}); err == nil {
		t.Error("Commit of another run's intent succeeded")
	}
	done, err := b.Commit(ctx(t), api, own)
	if err != nil {
		t.Fatal(err)
	}
	if done.Number != 3 || done.RunID != ownIntent.RunID || done.State != "" {
		t.Errorf("committed %+v", done)
	}
	final := checkStored(t, api)
	var states []string
	for _, r := range final.Revisions() {
		states = append(states, r.State)
	}
	if !reflect.DeepEqual(states, []string{"", StateRolledForward, ""}) || final.Pending() != nil || final.Latest().Message != "run B" {
		t.Errorf("revisions in states %q, pending %v, latest %s", states, final.Pending(), final.Latest())
	}
}

// refsOf returns the references of objs.
func refsOf(objs []*unstructured.Unstructured) []ObjectRef {
	out := make([]ObjectRef, len(objs))
	for i, o := range objs {
		out[i] = RefOf(o)
	}
	return out
}

// TestSaveRetried: transient errors are retried, and a write that landed
// without an answer is recognised, not written twice nor reported as a
// conflict.
func TestSaveRetried(t *testing.T) {
	index := SecretName("prod")
	unavailable := apierrors.NewServiceUnavailable("etcdserver: leader changed")
	for _, tc := range []struct {
		name   string
		fresh  bool // the stack has no inventory yet
		fault  fault
		intent bool // Begin instead of Append and Save
		writes int  // writes of the index that applied
	}{
		{"index update answer lost", false, fault{verb: "update", name: index, after: true, times: 1, err: timeout}, false, 1},
		{"index update answer lost twice", false, fault{verb: "update", name: index, after: true, times: 2, err: timeout}, false, 1},
		{"index create answer lost", true, fault{verb: "create", name: index, after: true, times: 1, err: timeout}, false, 1},
		{"pack create answer lost", false, fault{verb: "create", name: index + "-*", after: true, times: 1, err: timeout}, false, 1},
		{"server unavailable", false, fault{verb: "update", name: index, times: 3, err: unavailable}, false, 1},
		{"pack create unavailable", false, fault{verb: "create", name: index + "-*", times: 2, err: unavailable}, false, 1},
		{"begin answer lost", false, fault{verb: "update", name: index, after: true, times: 1, err: timeout}, true, 1},
		{"begin create answer lost", true, fault{verb: "create", name: index, after: true, times: 1, err: timeout}, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t)
			if !tc.fresh {
				inv := loadFake(t, api)
				inv.Append(revisionOf(t, stackObjects(), Summary{Created: 5}))
				if err := inv.Save(ctx(t), api); err != nil {
					t.Fatal(err)
				}
			}
			verb := map[bool]string{true: "create ", false: "update "}[tc.fresh]
			before := api.writes[verb+index]
			inv := loadFake(t, api)
			api.fail(tc.fault)
			rev := revisionOf(t, append(stackObjects(), configMap(ns, "new", map[string]any{"k": "v"})), Summary{Created: 1})
			var err error
			if tc.intent {
				rev, err = inv.Begin(ctx(t), api, rev)
			} else {
				rev = inv.Append(rev)
				err = inv.Save(ctx(t), api)
			}
			if err != nil {
				t.Fatalf("save: %v", err)
			}
			if got := api.writes[verb+index] - before; got != tc.writes {
				t.Errorf("the index was written %d times, want %d", got, tc.writes)
			}
			back := checkStored(t, api)
			if tc.intent {
				if back.Pending() == nil || back.Pending().RunID != rev.RunID {
					t.Errorf("pending %v, want run %s", back.Pending(), rev.RunID)
				}
			} else if back.Latest().RunID != rev.RunID || len(back.Revisions()) != len(inv.Revisions()) {
				t.Errorf("revisions %v, latest run %s, want %s", numbers(back.Revisions()), back.Latest().RunID, rev.RunID)
			}
			// The inventory goes on from what it wrote: the next save is
			// not a conflict.
			inv.Append(revisionOf(t, stackObjects(), Summary{Pruned: 1}))
			if err := inv.Save(ctx(t), api); err != nil {
				t.Errorf("the save after: %v", err)
			}
		})
	}
}

// TestSaveConflict: someone else's write is a conflict, whose packs this
// save leaves alone and whose own packs it removes; but a later write
// that records this save's change (it landed, and someone wrote on top)
// is not.
func TestSaveConflict(t *testing.T) {
	index := SecretName("prod")
	setup := func(t *testing.T) *fakeAPI {
		api := newFakeAPI(t)
		inv := loadFake(t, api)
		inv.Append(revisionOf(t, stackObjects(), Summary{Created: 5}))
		if err := inv.Save(ctx(t), api); err != nil {
			t.Fatal(err)
		}
		return api
	}
	other := func(t *testing.T, api *fakeAPI, user string) {
		client := api.second()
		o, err := Load(ctx(t), client, ns, "prod")
		if err != nil {
			t.Fatal(err)
		}
		r := revisionOf(t, append(stackObjects(), configMap(ns, user, map[string]any{"k": user})), Summary{})
		r.User = user
		o.Append(r)
		if err := o.Save(ctx(t), client); err != nil {
			t.Fatalf("%s's save: %v", user, err)
		}
	}

	t.Run("someone else wrote", func(t *testing.T) {
		api := setup(t)
		inv := loadFake(t, api)
		other(t, api, "bob")
		r := revisionOf(t, append(stackObjects(), configMap(ns, "alice", map[string]any{"k": "alice"})), Summary{})
		r.User = "alice"
		inv.Append(r)
		err := inv.Save(ctx(t), api)
		var ce *ConflictError
		if !errors.As(err, &ce) {
			t.Fatalf("save: %v, want a *ConflictError", err)
		}
		back := checkStored(t, api) // no pack of alice's left
		if back.Latest().User != "bob" {
			t.Errorf("latest by %s, want bob", back.Latest().User)
		}
	})

	t.Run("landed, then someone wrote on top", func(t *testing.T) {
		api := setup(t)
		inv := loadFake(t, api)
		api.fail(fault{verb: "update", name: index, after: true, times: 1, err: timeout, then: func() { other(t, api, "bob") }})
		r := revisionOf(t, append(stackObjects(), configMap(ns, "alice", map[string]any{"k": "alice"})), Summary{})
		r.User = "alice"
		mine := inv.Append(r)
		if err := inv.Save(ctx(t), api); err != nil {
			t.Fatalf("save: %v, want it recognised", err)
		}
		back := checkStored(t, api)
		if got := numbers(back.Revisions()); !reflect.DeepEqual(got, []int{1, 2, 3}) || back.Revision(2).RunID != mine.RunID || back.Latest().User != "bob" {
			t.Errorf("revisions %v", got)
		}
		// inv reloaded what is there: its next save builds on bob's.
		if inv.Latest().User != "bob" {
			t.Errorf("inventory not reloaded: latest by %s", inv.Latest().User)
		}
		inv.Append(revisionOf(t, stackObjects(), Summary{}))
		if err := inv.Save(ctx(t), api); err != nil {
			t.Errorf("the save after: %v", err)
		}
	})

	t.Run("outage past the deadline", func(t *testing.T) {
		api := setup(t)
		inv := loadFake(t, api)
		api.fail(fault{verb: "update", name: index, times: 1 << 30, err: apierrors.NewServiceUnavailable("down")})
		inv.Append(revisionOf(t, stackObjects(), Summary{}))
		c, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
		defer cancel()
		err := inv.Save(c, api)
		var re *kube.RetryError
		var ce *ConflictError
		if !errors.As(err, &re) || !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ce) {
			t.Errorf("save: %v, want a *kube.RetryError", err)
		}
	})
}

// TestCollect: packs no kept revision needs are deleted after the index
// is written; so are packs left by a killed run, once they are old, but
// not those of a run that may still write its index, nor any other Secret.
func TestCollect(t *testing.T) {
	api := newFakeAPI(t)
	crd := stackObjects()[2]
	save := func(objs ...*unstructured.Unstructured) *Inventory {
		t.Helper()
		inv := loadFake(t, api)
		inv.Keep = 2
		inv.now = func() time.Time { return api.now }
		inv.Append(revisionOf(t, objs, Summary{}))
		if err := inv.Save(ctx(t), api); err != nil {
			t.Fatal(err)
		}
		return inv
	}
	packNames := func() []string {
		var out []string
		for name, s := range api.secrets(ns) {
			if s.Type == PackType {
				out = append(out, strings.Split(name, "-")[3]) // r<N>
			}
		}
		slices.Sort(out)
		return out
	}
	dash := func(v string) *unstructured.Unstructured { return configMap(ns, "dash", map[string]any{"v": v}) }
	save(crd, dash("1"))
	save(crd, dash("2"))
	save(crd, dash("3"))
	// Revisions 2 and 3 are kept: revision 1's pack has the CRD.
	if got := packNames(); !reflect.DeepEqual(got, []string{"r1", "r2", "r3"}) {
		t.Errorf("packs %v", got)
	}
	save(dash("4"))
	if got := packNames(); !reflect.DeepEqual(got, []string{"r1", "r3", "r4"}) {
		t.Errorf("packs %v, want those of revisions 3 and 4, and the CRD's", got)
	}

	orphan := func(name string, age time.Duration) {
		api.now = t0.Add(-age)
		api.put(&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: SecretName("prod") + "-" + name, Namespace: ns, Labels: map[string]string{labelManagedBy: "obsctl", labelStack: "prod"}},
			Type:       PackType, Data: map[string][]byte{packKey: compress([]byte(`{"format":2,"stack":"prod","objects":{}}`))},
		})
		api.now = t0
	}
	orphan("r9-killed", time.Hour)
	orphan("r9-running", time.Minute)
	generated := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "grafana-admin", Namespace: ns, Labels: map[string]string{labelManagedBy: "obsctl", labelStack: "prod"}},
		Type:       corev1.SecretTypeOpaque, Data: map[string][]byte{"password": []byte("x")},
	}
	api.now = t0.Add(-24 * time.Hour)
	api.put(generated)
	api.now = t0
	save(dash("5"))
	if got := packNames(); !reflect.DeepEqual(got, []string{"r4", "r5", "r9"}) { // the CRD is no longer needed
		t.Errorf("packs %v, want those of revisions 4 and 5, and the running one", got)
	}
	if api.secret(ns, SecretName("prod")+"-r9-running") == nil || api.secret(ns, "grafana-admin") == nil {
		t.Error("a pack being written, or another Secret of the stack, was deleted")
	}
}

// TestLoadLostPack: a pack deleted by someone costs the manifests it held;
// the next save records that and no longer names it.
func TestLoadLostPack(t *testing.T) {
	api := newFakeAPI(t)
	inv := loadFake(t, api)
	for _, r := range fixture(t).Revisions() {
		r.Number = 0
		inv.Append(r)
	}
	if err := inv.Save(ctx(t), api); err != nil {
		t.Fatal(err)
	}
	var r2 string
	for name := range inv.packs {
		if strings.Contains(name, "-r2-") {
			r2 = name
		}
	}
	if err := api.remove(ctx(t), r2); err != nil {
		t.Fatal(err)
	}
	back := loadFake(t, api)
	if !back.Revision(1).HasManifests() || back.Revision(2).HasManifests() || !strings.Contains(back.Revision(3).ManifestsDropped, "is gone") {
		t.Fatalf("manifests after the loss: %v %v %v", back.Revision(1).HasManifests(), back.Revision(2).HasManifests(), back.Revision(3).ManifestsDropped)
	}
	back.Append(revisionOf(t, stackObjects(), Summary{}))
	if err := back.Save(ctx(t), api); err != nil {
		t.Fatal(err)
	}
	again := checkStored(t, api)
	if again.Revision(2).HasManifests() || again.Revision(2).ManifestsDropped == "" {
		t.Errorf("revision 2 after the save: %v %q", again.Revision(2).HasManifests(), again.Revision(2).ManifestsDropped)
	}
}

// remove deletes the Secret called name, as someone else would.
func (f *fakeAPI) remove(ctx context.Context, name string) error {
	return kube.Secrets(f, ns).Delete(ctx, name, metav1.DeleteOptions{})
}

func TestSameAs(t *testing.T) {
	base := revisionOf(t, stackObjects(), Summary{Created: 5})
	base.Profile, base.Repo = "ha", "/src/obs"
	edited := stackObjects()
	edited[3].Object["spec"] = map[string]any{"groups": []any{}}
	for _, tc := range []struct {
		name   string
		change func(*Revision)
		same   bool
	}{
		{"identical", func(*Revision) {}, true},
		{"other metadata", func(r *Revision) {
			r.Time, r.User, r.Message, r.RunID, r.Summary = t0, "bob", "again", "x", Summary{Unchanged: 5}
			r.Git = &GitInfo{Commit: "abc"}
		}, true},
		{"objects in another order", func(r *Revision) { slices.Reverse(r.Entries) }, true},
		{"an object changed", func(r *Revision) {
			if err := r.SetObjects(edited); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"an object carried", func(r *Revision) { r.Carry(ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: "old"}) }, false},
		{"an object gone", func(r *Revision) { r.Entries = r.Entries[1:] }, false},
		{"profile", func(r *Revision) { r.Profile = "minimal" }, false},
		{"repo", func(r *Revision) { r.Repo = "embedded default" }, false},
		{"rollback", func(r *Revision) { r.RollbackOf = 3 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base.clone()
			tc.change(&c)
			if got := SameAs(&base, &c); got != tc.same {
				t.Errorf("SameAs = %v, want %v", got, tc.same)
			}
		})
	}
	if SameAs(nil, &base) {
		t.Error("a first revision is the same as none")
	}
}

// TestCompaction: a pack whose objects are mostly no longer needed is not
// kept for the few that are: they move to a new pack.
func TestCompaction(t *testing.T) {
	api := newFakeAPI(t)
	small := configMap(ns, "small", map[string]any{"k": "v"})
	save := func(big *unstructured.Unstructured) *Inventory {
		t.Helper()
		inv := loadFake(t, api)
		inv.Keep = 1
		inv.Append(revisionOf(t, []*unstructured.Unstructured{big, small}, Summary{}))
		if err := inv.Save(ctx(t), api); err != nil {
			t.Fatal(err)
		}
		return inv
	}
	first := save(randomConfigMaps(t, 1, 200<<10, "big1")[0])
	if len(first.packs) != 1 {
		t.Fatalf("packs %v", first.packs)
	}
	inv := save(randomConfigMaps(t, 1, 200<<10, "big2")[0])
	back := checkStored(t, api)
	for name := range back.packs {
		if !strings.Contains(name, "-r2-") {
			t.Errorf("pack %s kept: revision 1's pack held mostly its own object", name)
		}
	}
	if _, err := back.Latest().Manifests(); err != nil || len(inv.packs) == 0 {
		t.Errorf("latest: %v", err)
	}
}
