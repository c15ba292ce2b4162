package inventory

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/obsctl/obsctl/test/cluster"
)

func load(t *testing.T, cs cluster.Client, ns string) *Inventory {
	t.Helper()
	inv, err := Load(cluster.Context(t), cs, ns, "prod")
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// TestSaveLoad saves revisions to the cluster and reads them back, and
// checks what the stored Secret holds, raw.
func TestSaveLoad(t *testing.T) {
	t.Parallel()
	cs := clusterClient(t)
	ctx := cluster.Context(t)
	ns := harness.Cluster(t).Namespace(t, "inventory")

	inv := load(t, cs, ns)
	if inv.Latest() != nil || len(inv.Revisions()) != 0 {
		t.Fatalf("a stack never applied has revisions: %v", inv.Revisions())
	}
	first := inv.Append(revisionOf(t, stackObjects(), Summary{Created: 5}))
	if err := inv.Save(ctx, cs); err != nil {
		t.Fatal(err)
	}

	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, "obsctl-inventory-prod", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sec.Type != SecretType || sec.Labels[labelManagedBy] != "obsctl" || sec.Labels[labelStack] != "prod" {
		t.Errorf("secret type %q labels %v", sec.Type, sec.Labels)
	}
	if _, ok := sec.Data[indexKey]; !ok || len(sec.Data) != 1 {
		t.Errorf("secret keys %v", keysOf(sec.Data))
	}
	packs := packsOf(t, cs, ns)
	if len(packs) != 1 {
		t.Fatalf("%d packs, want 1", len(packs))
	}
	for name, p := range packs {
		if !strings.HasPrefix(name, "obsctl-inventory-prod-r1-") || p.Labels[labelManagedBy] != "obsctl" || p.Labels[labelStack] != "prod" {
			t.Errorf("pack %s labels %v", name, p.Labels)
		}
	}
	plain := dump(t, sec, packs)
	for _, f := range []string{"sup3rs3cr3t", base64.StdEncoding.EncodeToString([]byte("slack_api_url: https://hooks.example/T0/B0/sup3rs3cr3t"))} {
		for _, s := range append(slices.Collect(maps.Values(packs)), sec) {
			for k, v := range s.Data {
				if bytes.Contains(v, []byte(f)) {
					t.Errorf("stored %s/%s contains %q", s.Name, k, f)
				}
			}
		}
		if bytes.Contains(plain, []byte(f)) {
			t.Errorf("stored inventory, decompressed, contains %q", f)
		}
	}

	back := load(t, cs, ns)
	if !reflect.DeepEqual(back.Revisions(), []Revision{first}) {
		t.Fatalf("loaded %+v\nwant %+v", back.Revisions(), first)
	}

	// Someone labels the Secret; the next save keeps the label.
	sec.Labels["team"] = "sre"
	if _, err := cs.CoreV1().Secrets(ns).Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	back = load(t, cs, ns)
	objs := append(stackObjects()[1:], configMap("monitoring", "extra", map[string]any{"k": "v"}))
	second := back.Append(revisionOf(t, objs, Summary{Created: 1, Unchanged: 4}))
	if err := back.Save(ctx, cs); err != nil {
		t.Fatal(err)
	}
	again := load(t, cs, ns)
	if got := numbers(again.Revisions()); !reflect.DeepEqual(got, []int{1, 2}) {
		t.Fatalf("revisions %v, want [1 2]", got)
	}
	if !reflect.DeepEqual(*again.Latest(), second) {
		t.Errorf("latest %+v\nwant %+v", again.Latest(), second)
	}
	if got := Prune(again.Revision(1).Refs(), again.Latest().Refs()); len(got) != 1 || got[0].Kind != "Namespace" {
		t.Errorf("prune candidates %v, want the namespace", got)
	}
	sec, err = cs.CoreV1().Secrets(ns).Get(ctx, "obsctl-inventory-prod", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sec.Labels["team"] != "sre" {
		t.Errorf("labels %v: Save dropped someone else's label", sec.Labels)
	}
	// The same inventory saved again writes the same bytes, and no pack.
	p, err := again.plan()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.index, sec.Data[indexKey]) || len(p.fresh) != 0 {
		t.Errorf("re-encoding a loaded inventory changes its bytes, or writes %d packs", len(p.fresh))
	}
	// The second revision's pack holds only what it changed.
	if packs := packsOf(t, cs, ns); len(packs) != 2 {
		t.Errorf("%d packs after two revisions, want 2", len(packs))
	}
}

// packsOf returns the stack prod's packs in ns.
func packsOf(t *testing.T, cs cluster.Client, ns string) map[string]*corev1.Secret {
	t.Helper()
	packs, err := listPacks(cluster.Context(t), cs, ns, "prod")
	if err != nil {
		t.Fatal(err)
	}
	return packs
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestConcurrentSave: two applies that read the same inventory cannot both
// write it; the loser gets a *ConflictError and the winner's revision stays.
func TestConcurrentSave(t *testing.T) {
	t.Parallel()
	cs := clusterClient(t)
	for _, tc := range []struct {
		name     string
		existing bool // whether the Secret exists before the race
	}{
		{"create", false},
		{"update", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := harness.Cluster(t).Namespace(t, "inventory")
			if tc.existing {
				inv := load(t, cs, ns)
				inv.Append(revisionOf(t, stackObjects(), Summary{Created: 5}))
				if err := inv.Save(cluster.Context(t), cs); err != nil {
					t.Fatal(err)
				}
			}
			a, b := load(t, cs, ns), load(t, cs, ns)
			ra := revisionOf(t, stackObjects(), Summary{Unchanged: 5})
			ra.User = "alice"
			rb := ra
			rb.User = "bob"
			a.Append(ra)
			b.Append(rb)

			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, inv := range []*Inventory{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = inv.Save(cluster.Context(t), cs)
				}()
			}
			wg.Wait()

			var conflicts, ok int
			winner := ""
			for i, err := range errs {
				var ce *ConflictError
				switch {
				case err == nil:
					ok++
					winner = []string{"alice", "bob"}[i]
				case errors.As(err, &ce):
					conflicts++
					if ce.Namespace != ns || ce.Name != "obsctl-inventory-prod" || !strings.Contains(err.Error(), "changed since it was read") {
						t.Errorf("conflict error %v", err)
					}
				default:
					t.Errorf("save %d: %v, want nil or a *ConflictError", i, err)
				}
			}
			if ok != 1 || conflicts != 1 {
				t.Fatalf("%d saves succeeded and %d conflicted, want one each: %v", ok, conflicts, errs)
			}
			latest := load(t, cs, ns).Latest()
			if latest.User != winner {
				t.Errorf("latest revision by %s, want the winner %s", latest.User, winner)
			}
		})
	}
}

// TestSaveLarge: an inventory whose revisions need packs close to
// MaxPackSize, split, is accepted by the API server and reads back whole.
func TestSaveLarge(t *testing.T) {
	t.Parallel()
	cs := clusterClient(t)
	ctx := cluster.Context(t)
	ns := harness.Cluster(t).Namespace(t, "inventory")
	for i := range 3 {
		inv := load(t, cs, ns)
		// About 1.2 MB compressed: two packs each.
		inv.Append(revisionOf(t, randomConfigMaps(t, 1500, 1024, fmt.Sprintf("rev%d", i)), Summary{Created: 1500}))
		if err := inv.Save(ctx, cs); err != nil {
			t.Fatalf("save revision %d: %v", i+1, err)
		}
	}
	inv := load(t, cs, ns)
	revs := inv.Revisions()
	if len(revs) != 3 {
		t.Fatalf("revisions %v", numbers(revs))
	}
	for _, r := range revs {
		objs, err := r.Manifests()
		if err != nil || len(objs) != 1500 || !r.HasManifests() {
			t.Errorf("revision %d: %d objects, manifests %v, %v", r.Number, len(objs), r.HasManifests(), err)
		}
	}
	packs := packsOf(t, cs, ns)
	if len(packs) < 6 {
		t.Errorf("%d packs, want at least 2 a revision", len(packs))
	}
	for name, p := range packs {
		if n := len(p.Data[packKey]); n > MaxPackSize || n < MaxPackSize/4 {
			t.Errorf("pack %s: %d bytes; want close to, and within, %d", name, n, MaxPackSize)
		}
	}
}

// TestLoadMissingOrForeign: no namespace means no inventory yet; a Secret
// of the inventory's name that is not one is an error, not an empty
// history to prune from.
func TestLoadMissingOrForeign(t *testing.T) {
	t.Parallel()
	cs := clusterClient(t)
	ctx := cluster.Context(t)

	missing := "inventory-none-" + rand.String(6)
	inv := load(t, cs, missing)
	if inv.Latest() != nil {
		t.Fatal("inventory in a namespace that does not exist")
	}
	inv.Append(revisionOf(t, stackObjects(), Summary{}))
	var ce *ConflictError
	if err := inv.Save(ctx, cs); err == nil || errors.As(err, &ce) {
		t.Errorf("save into a missing namespace: %v, want a plain error", err)
	}

	ns := harness.Cluster(t).Namespace(t, "inventory")
	_, err := cs.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: SecretName("prod")},
		StringData: map[string]string{"password": "x"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, cs, ns, "prod"); err == nil || !strings.Contains(err.Error(), "not an obsctl inventory") {
		t.Errorf("load of a foreign Secret: %v", err)
	}
	// Saving without loading must not overwrite it either, and leaves
	// no pack behind.
	fresh := New(ns, "prod")
	fresh.Append(revisionOf(t, stackObjects(), Summary{}))
	if err := fresh.Save(ctx, cs); !errors.As(err, &ce) {
		t.Errorf("save over a foreign Secret: %v, want a *ConflictError", err)
	}
	if packs := packsOf(t, cs, ns); len(packs) != 0 {
		t.Errorf("packs %v left after a conflict", slices.Collect(maps.Keys(packs)))
	}
}

// TestFormat1Cluster: an inventory a format 1 obsctl wrote loads from the
// cluster, and the next save writes format 2, which the API server
// accepts and which reads back the same.
func TestFormat1Cluster(t *testing.T) {
	t.Parallel()
	cs := clusterClient(t)
	ctx := cluster.Context(t)
	ns := harness.Cluster(t).Namespace(t, "inventory")
	old := format1Secret(t)
	old.Namespace = ns
	if _, err := cs.CoreV1().Secrets(ns).Create(ctx, old, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	inv := load(t, cs, ns)
	if got := numbers(inv.Revisions()); !reflect.DeepEqual(got, []int{1, 2, 3}) || !inv.Latest().HasManifests() {
		t.Fatalf("format 1 revisions %v", got)
	}
	inv.Append(revisionOf(t, stackObjects(), Summary{Unchanged: 5}))
	if err := inv.Save(ctx, cs); err != nil {
		t.Fatal(err)
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, SecretName("prod"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sec.Data) != 1 || len(packsOf(t, cs, ns)) == 0 {
		t.Errorf("after the save: index keys %v, %d packs", keysOf(sec.Data), len(packsOf(t, cs, ns)))
	}
	back := load(t, cs, ns)
	if !reflect.DeepEqual(back.Revisions(), inv.Revisions()) {
		t.Error("revisions differ after the save as format 2")
	}
	// Revision 4 applied what revision 1 did: nothing new stored for it.
	for name := range back.packs {
		if strings.Contains(name, "-r4-") {
			t.Errorf("pack %s: revision 4 has no object revision 1 did not", name)
		}
	}
}
