package inventory

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
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
	if _, ok := sec.Data[indexKey]; !ok || len(sec.Data[manifestsKey(1)]) == 0 {
		t.Errorf("secret keys %v", keysOf(sec.Data))
	}
	plain := dump(t, sec.Data)
	for _, f := range []string{"sup3rs3cr3t", base64.StdEncoding.EncodeToString([]byte("slack_api_url: https://hooks.example/T0/B0/sup3rs3cr3t"))} {
		for k, v := range sec.Data {
			if bytes.Contains(v, []byte(f)) {
				t.Errorf("stored %s contains %q", k, f)
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
	if got := Prune(again.Revision(1).Objects, again.Latest().Objects); len(got) != 1 || got[0].Kind != "Namespace" {
		t.Errorf("prune candidates %v, want the namespace", got)
	}
	sec, err = cs.CoreV1().Secrets(ns).Get(ctx, "obsctl-inventory-prod", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sec.Labels["team"] != "sre" {
		t.Errorf("labels %v: Save dropped someone else's label", sec.Labels)
	}
	// The same inventory saved again writes the same bytes.
	data, err := again.encode()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(data, sec.Data) {
		t.Error("re-encoding a loaded inventory changes its bytes")
	}
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

// TestSaveLarge: an inventory that has to drop manifests to fit is accepted
// by the API server and reads back whole.
func TestSaveLarge(t *testing.T) {
	t.Parallel()
	cs := clusterClient(t)
	ctx := cluster.Context(t)
	ns := harness.Cluster(t).Namespace(t, "inventory")
	for i := range 5 {
		inv := load(t, cs, ns)
		inv.Append(revisionOf(t, randomConfigMaps(t, 300, 1024, fmt.Sprintf("rev%d", i)), Summary{Created: 300}))
		if err := inv.Save(ctx, cs); err != nil {
			t.Fatalf("save revision %d: %v", i+1, err)
		}
	}
	inv := load(t, cs, ns)
	revs := inv.Revisions()
	if len(revs) != 5 || !inv.Latest().HasManifests() || revs[0].HasManifests() || revs[0].ManifestsDropped != DroppedForSize {
		t.Fatalf("revisions %v; latest has manifests %v; first dropped %q", numbers(revs), inv.Latest().HasManifests(), revs[0].ManifestsDropped)
	}
	for _, r := range revs {
		if len(r.Objects) != 300 {
			t.Errorf("revision %d has %d objects", r.Number, len(r.Objects))
		}
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, "obsctl-inventory-prod", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, v := range sec.Data {
		total += len(v)
	}
	if total > MaxSize || total < MaxSize/2 {
		t.Errorf("stored %d bytes; want close to, and within, %d", total, MaxSize)
	}
	objs, err := inv.Latest().Manifests()
	if err != nil || len(objs) != 300 {
		t.Fatalf("latest manifests: %d objects, %v", len(objs), err)
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
	inv.Append(Revision{})
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
	// Saving without loading must not overwrite it either.
	fresh := New(ns, "prod")
	fresh.Append(Revision{})
	if err := fresh.Save(ctx, cs); !errors.As(err, &ce) {
		t.Errorf("save over a foreign Secret: %v, want a *ConflictError", err)
	}
}
