package inventory

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// object builds an object from apiVersion, kind, namespace, name and its
// other top-level fields.
func object(apiVersion, kind, ns, name string, fields map[string]any) *unstructured.Unstructured {
	meta := map[string]any{"name": name}
	if ns != "" {
		meta["namespace"] = ns
	}
	o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}
	for k, v := range fields {
		o[k] = v
	}
	return &unstructured.Unstructured{Object: o}
}

func configMap(ns, name string, data map[string]any) *unstructured.Unstructured {
	return object("v1", "ConfigMap", ns, name, map[string]any{"data": data})
}

// secret builds a Secret with data (encoded here) and stringData.
func secret(ns, name string, data, stringData map[string]string) *unstructured.Unstructured {
	d := map[string]any{}
	for k, v := range data {
		d[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	fields := map[string]any{"type": "Opaque", "data": d}
	if stringData != nil {
		sd := map[string]any{}
		for k, v := range stringData {
			sd[k] = v
		}
		fields["stringData"] = sd
	}
	return object("v1", "Secret", ns, name, fields)
}

// stackObjects is a small stack: a namespace, a deployment, a CRD, a rule
// and an Alertmanager config Secret.
func stackObjects() []*unstructured.Unstructured {
	return []*unstructured.Unstructured{
		object("v1", "Namespace", "", "monitoring", nil),
		object("apps/v1", "Deployment", "monitoring", "grafana", map[string]any{
			"spec": map[string]any{"replicas": int64(1)},
		}),
		object("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "prometheusrules.monitoring.coreos.com", map[string]any{
			"spec": map[string]any{"group": "monitoring.coreos.com"},
		}),
		object("monitoring.coreos.com/v1", "PrometheusRule", "monitoring", "node", map[string]any{
			"spec": map[string]any{"groups": []any{map[string]any{"name": "node", "rules": []any{
				map[string]any{"alert": "NodeDown", "expr": `up{job="node"} < 1 and on() vector(1) > 0`},
			}}}},
		}),
		secret("monitoring", "alertmanager-main", map[string]string{"alertmanager.yaml": "slack_api_url: https://hooks.example/T0/B0/sup3rs3cr3t"}, nil),
	}
}

func revisionOf(t *testing.T, objs []*unstructured.Unstructured, s Summary) Revision {
	t.Helper()
	r := Revision{User: "alice", Host: "ci-7", ObsctlVersion: "v0.4.0", Summary: s}
	if err := r.SetObjects(objs); err != nil {
		t.Fatal(err)
	}
	return r
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture is an inventory of three revisions: the stack, the stack with a
// changed rule and an extra ConfigMap, and without the deployment. Its
// salt is fixed, so that its packs' names are.
func fixture(t *testing.T) *Inventory {
	t.Helper()
	inv := New("monitoring", "prod")
	inv.salt = "fixture"
	objs := stackObjects()
	r := revisionOf(t, objs, Summary{Created: 5})
	r.Time, r.RunID = t0, "run-1"
	inv.Append(r)

	objs = append(stackObjects(), configMap("monitoring", "dashboards", map[string]any{"home.json": "{}"}))
	objs[3].Object["spec"].(map[string]any)["groups"].([]any)[0].(map[string]any)["name"] = "node-v2"
	r = revisionOf(t, objs, Summary{Created: 1, Configured: 1, Unchanged: 4})
	r.Time, r.RunID = t0.Add(time.Hour), "run-2"
	r.KubeUser, r.KubeGroups = "system:serviceaccount:ci:deployer", []string{"system:authenticated", "system:serviceaccounts"}
	r.Repo, r.Profile, r.Message = "/src/observability", "ha", "faster node alerts"
	r.Git = &GitInfo{Commit: "0123456789abcdef0123456789abcdef01234567", Dirty: true, Author: "Alice <alice@example.com>", Subject: "node: alert sooner"}
	inv.Append(r)

	objs = slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool { return o.GetKind() == "Deployment" })
	r = revisionOf(t, objs, Summary{Unchanged: 5, Pruned: 1})
	r.Time, r.RunID = t0.Add(2*time.Hour), "run-3"
	inv.Append(r)
	return inv
}

// encoded returns what Save would write for inv, a new inventory: the
// index Secret and the pack Secrets by name.
func encoded(t *testing.T, inv *Inventory) (*corev1.Secret, map[string]*corev1.Secret) {
	t.Helper()
	p, err := inv.plan()
	if err != nil {
		t.Fatal(err)
	}
	packs := map[string]*corev1.Secret{}
	for _, pk := range p.fresh {
		packs[pk.name] = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: pk.name}, Type: PackType, Data: map[string][]byte{packKey: pk.data}}
	}
	return &corev1.Secret{Type: SecretType, Data: map[string][]byte{indexKey: p.index}}, packs
}

// decoded reads an inventory back from its Secrets, as Load does.
func decoded(t *testing.T, idx *corev1.Secret, packs map[string]*corev1.Secret) *Inventory {
	t.Helper()
	inv := New("monitoring", "prod")
	if err := inv.decode(idx, func() (map[string]*corev1.Secret, error) { return packs, nil }); err != nil {
		t.Fatal(err)
	}
	return inv
}

// dump renders an inventory's Secrets readably: the index, its JSON
// indented, and each pack, decompressed, in name order.
func dump(t *testing.T, idx *corev1.Secret, packs map[string]*corev1.Secret) []byte {
	t.Helper()
	var buf bytes.Buffer
	b, err := decompress(idx.Data[indexKey], maxDecompressed)
	if err != nil {
		t.Fatalf("index: %v", err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&buf, "== %s ==\n%s\n", indexKey, pretty.Bytes())
	for _, name := range slices.Sorted(maps.Keys(packs)) {
		b, err := decompress(packs[name].Data[packKey], maxDecompressed)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		fmt.Fprintf(&buf, "== %s ==\n%s", name, b)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	idx, packs := encoded(t, fixture(t))
	got := dump(t, idx, packs)
	path := filepath.Join("testdata", "fixture.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("encoding differs from %s (go test -update to accept):\n%s", path, got)
	}
}

func TestEncodeDecode(t *testing.T) {
	inv := fixture(t)
	idx, packs := encoded(t, inv)
	// Revision 1's objects, and the new ones of revisions 2 (the rule and
	// the ConfigMap): revision 3 adds none.
	if len(packs) != 2 {
		t.Errorf("%d packs, want 2: %v", len(packs), slices.Sorted(maps.Keys(packs)))
	}
	back := decoded(t, idx, packs)
	if !reflect.DeepEqual(inv.Revisions(), back.Revisions()) {
		t.Fatalf("revisions differ after a round trip:\n got %+v\nwant %+v", back.Revisions(), inv.Revisions())
	}
	latest := back.Latest()
	if latest.Number != 3 || !latest.Time.Equal(t0.Add(2*time.Hour)) || latest.Who() != "alice@ci-7" || latest.Summary.Pruned != 1 || latest.RunID != "run-3" {
		t.Errorf("latest revision %s", latest)
	}
	if r2 := back.Revision(2); r2.Git.Short() != "0123456-dirty" || r2.KubeUser == "" || len(r2.KubeGroups) != 2 || r2.Profile != "ha" || r2.Message == "" {
		t.Errorf("revision 2's metadata %+v", r2)
	}
	objs, err := latest.Manifests()
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(latest.Entries) {
		t.Fatalf("%d manifests for %d entries", len(objs), len(latest.Entries))
	}
	for i, o := range objs {
		if RefOf(o) != latest.Entries[i].Ref {
			t.Errorf("manifest %d is %s, entry %s", i, RefOf(o), latest.Entries[i].Ref)
		}
	}
	// Numbers keep their type through the round trip.
	first, err := back.Revision(1).Manifests()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range first {
		if o.GetKind() == "Deployment" {
			if n, ok, _ := unstructured.NestedInt64(o.Object, "spec", "replicas"); !ok || n != 1 {
				t.Errorf("replicas %v (found %v), want int64 1", o.Object["spec"], ok)
			}
		}
	}
	if back.Revision(4) != nil {
		t.Error("Revision(4) of three")
	}
}

// TestStoredOnce: an object several revisions have is stored once; the
// packs hold each digest once.
func TestStoredOnce(t *testing.T) {
	_, packs := encoded(t, fixture(t))
	seen := map[string]string{}
	for name, sec := range packs {
		budget := maxDecompressed
		held, _, err := readPack(sec, "prod", &budget)
		if err != nil {
			t.Fatal(err)
		}
		for d := range held {
			if other, ok := seen[d]; ok {
				t.Errorf("%s is in both %s and %s", d, other, name)
			}
			seen[d] = name
		}
	}
	// 5 objects, then a changed rule and a new ConfigMap.
	if len(seen) != 7 {
		t.Errorf("%d objects stored, want 7", len(seen))
	}
}

func TestDecodeErrors(t *testing.T) {
	goodIdx, goodPacks := encoded(t, fixture(t))
	for _, tc := range []struct {
		name   string
		change func(*corev1.Secret)
		want   string
	}{
		{"foreign type", func(s *corev1.Secret) { s.Type = corev1.SecretTypeOpaque }, "not an obsctl inventory"},
		{"no index", func(s *corev1.Secret) { delete(s.Data, indexKey) }, "no index.json.gz"},
		{"index not gzip", func(s *corev1.Secret) { s.Data[indexKey] = []byte("{}") }, "index.json.gz"},
		{"newer format", func(s *corev1.Secret) { s.Data[indexKey] = compress([]byte(`{"format":3,"stack":"prod"}`)) }, "format 3"},
		{"other stack", func(s *corev1.Secret) { s.Data[indexKey] = compress([]byte(`{"format":2,"stack":"dev"}`)) }, `stack "dev"`},
		{"out of order", func(s *corev1.Secret) {
			s.Data[indexKey] = compress([]byte(`{"format":2,"stack":"prod","revisions":[{"number":2},{"number":2}]}`))
		}, "revision 2 follows 2"},
		{"format 1 missing manifests", func(s *corev1.Secret) {
			s.Data[indexKey] = compress([]byte(`{"format":1,"stack":"prod","revisions":[{"number":2,"manifests":"manifests.2.json.gz"}]}`))
		}, "no manifests.2.json.gz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := goodIdx.DeepCopy()
			tc.change(s)
			err := New("monitoring", "prod").decode(s, func() (map[string]*corev1.Secret, error) { return goodPacks, nil })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestDamagedPacks: a pack that is gone or damaged costs the revisions
// whose objects it held their manifests, and says so; the history stays.
func TestDamagedPacks(t *testing.T) {
	idx, packs := encoded(t, fixture(t))
	names := slices.Sorted(maps.Keys(packs)) // r1-..., r2-...
	for _, tc := range []struct {
		name   string
		change func(map[string]*corev1.Secret)
		want   string
	}{
		{"gone", func(p map[string]*corev1.Secret) { delete(p, names[1]) }, "manifests lost: pack " + names[1] + " is gone"},
		{"other bytes", func(p map[string]*corev1.Secret) {
			b, _ := decompress(p[names[1]].Data[packKey], maxDecompressed)
			p[names[1]].Data[packKey] = compress(bytes.Replace(b, []byte("node-v2"), []byte("node-v3"), 1))
		}, "does not match its digest"},
		{"not gzip", func(p map[string]*corev1.Secret) { p[names[1]].Data[packKey] = []byte("{}") }, "is damaged"},
		{"another stack's", func(p map[string]*corev1.Secret) {
			b, _ := decompress(p[names[1]].Data[packKey], maxDecompressed)
			p[names[1]].Data[packKey] = compress(bytes.Replace(b, []byte(`"stack":"prod"`), []byte(`"stack":"dev"`), 1))
		}, `stack "dev"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := map[string]*corev1.Secret{}
			for k, v := range packs {
				p[k] = v.DeepCopy()
			}
			tc.change(p)
			inv := decoded(t, idx, p)
			if r1 := inv.Revision(1); !r1.HasManifests() {
				t.Errorf("revision 1 lost its manifests: %s", r1.ManifestsDropped)
			}
			for _, n := range []int{2, 3} {
				r := inv.Revision(n)
				if r.HasManifests() || !strings.Contains(r.ManifestsDropped, tc.want) || len(r.Entries) != 6-(n-2) {
					t.Errorf("revision %d: manifests %v, dropped %q (want %q), %d entries", n, r.HasManifests(), r.ManifestsDropped, tc.want, len(r.Entries))
				}
			}
		})
	}
}

// TestDeterministic: the same objects, given in any order and built in any
// map order, encode to the same bytes.
func TestDeterministic(t *testing.T) {
	var first []byte
	for i := range 20 {
		objs := stackObjects()
		rng := mrand.New(mrand.NewPCG(uint64(i), 0))
		rng.Shuffle(len(objs), func(a, b int) { objs[a], objs[b] = objs[b], objs[a] })
		inv := New("monitoring", "prod")
		inv.salt = "fixed"
		r := revisionOf(t, objs, Summary{Created: 5})
		r.Time = t0.Add(123 * time.Millisecond) // stored to the second
		r.RunID = "run"
		inv.Append(r)
		idx, packs := encoded(t, inv)
		got := dump(t, idx, packs)
		if first == nil {
			first = got
			continue
		}
		if !bytes.Equal(got, first) {
			t.Fatalf("order %d encodes differently:\n%s\nvs\n%s", i, got, first)
		}
	}
}

// TestSecretRedaction: no form of a Secret's values reaches the stored
// inventory, compressed or not, and the stored Secret says it is redacted.
func TestSecretRedaction(t *testing.T) {
	values := []string{"hunter2-password-value", "sk_live_ABCDEFGHIJKLMNOP", "string-data-token-123"}
	lastApplied := `{"apiVersion":"v1","kind":"Secret","data":{"password":"` + base64.StdEncoding.EncodeToString([]byte(values[0])) + `"}}`
	s := secret("monitoring", "creds", map[string]string{"password": values[0], "api-key": values[1]}, map[string]string{"token": values[2]})
	s.SetAnnotations(map[string]string{annotationLastApplied: lastApplied, "team": "sre"})
	s.Object["metadata"].(map[string]any)["managedFields"] = []any{map[string]any{"manager": "kubectl", "fieldsV1": map[string]any{"f:data": map[string]any{"f:password": map[string]any{}}}}}
	original := s.DeepCopy()

	inv := New("monitoring", "prod")
	inv.Append(revisionOf(t, []*unstructured.Unstructured{s, configMap("monitoring", "plain", map[string]any{"k": "v"})}, Summary{Created: 2}))
	idx, packs := encoded(t, inv)
	if !reflect.DeepEqual(s, original) {
		t.Error("SetObjects changed the Secret it was given")
	}
	data := map[string][]byte{indexKey: idx.Data[indexKey]}
	for name, p := range packs {
		data[name] = p.Data[packKey]
	}

	var forms []string
	for _, v := range values {
		forms = append(forms, v, base64.StdEncoding.EncodeToString([]byte(v)), base64.RawStdEncoding.EncodeToString([]byte(v)))
	}
	plain := dump(t, idx, packs)
	for key, raw := range data {
		for _, f := range forms {
			if bytes.Contains(raw, []byte(f)) {
				t.Errorf("stored %s contains %q", key, f)
			}
		}
	}
	for _, f := range forms {
		if bytes.Contains(plain, []byte(f)) {
			t.Errorf("decompressed inventory contains %q:\n%s", f, plain)
		}
	}

	objs, err := inv.Latest().Manifests()
	if err != nil {
		t.Fatal(err)
	}
	var stored *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Secret" {
			stored = o
		} else if Redacted(o) {
			t.Errorf("%s marked redacted", RefOf(o))
		}
	}
	if !Redacted(stored) {
		t.Fatal("stored Secret not marked redacted")
	}
	wantDigest, wantKeys, err := SecretDigest(original)
	if err != nil {
		t.Fatal(err)
	}
	anns := stored.GetAnnotations()
	if anns[AnnotationRedacted] != wantDigest || anns[AnnotationRedactedKeys] != "api-key,password,token" || strings.Join(wantKeys, ",") != "api-key,password,token" {
		t.Errorf("annotations %v, want digest %s and keys api-key,password,token", anns, wantDigest)
	}
	if anns["team"] != "sre" {
		t.Errorf("other annotations lost: %v", anns)
	}
	for _, f := range []string{"data", "stringData"} {
		if _, ok := stored.Object[f]; ok {
			t.Errorf("stored Secret has %s", f)
		}
	}
	if _, ok := stored.Object["metadata"].(map[string]any)["managedFields"]; ok {
		t.Error("stored Secret kept managedFields")
	}
	if stored.Object["type"] != "Opaque" {
		t.Errorf("stored Secret type %v", stored.Object["type"])
	}
}

func TestSecretDigest(t *testing.T) {
	digest := func(s *unstructured.Unstructured) string {
		t.Helper()
		d, _, err := SecretDigest(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	base := digest(secret("ns", "s", map[string]string{"a": "1", "b": "2"}, nil))
	if !strings.HasPrefix(base, "sha256:") || len(base) != len("sha256:")+64 {
		t.Fatalf("digest %q", base)
	}
	for _, tc := range []struct {
		name string
		s    *unstructured.Unstructured
		same bool
	}{
		{"same data", secret("other", "other", map[string]string{"b": "2", "a": "1"}, nil), true},
		{"as stringData", secret("ns", "s", nil, map[string]string{"a": "1", "b": "2"}), true},
		{"stringData wins", secret("ns", "s", map[string]string{"a": "1", "b": "old"}, map[string]string{"b": "2"}), true},
		{"changed value", secret("ns", "s", map[string]string{"a": "1", "b": "3"}, nil), false},
		{"renamed key", secret("ns", "s", map[string]string{"a": "1", "c": "2"}, nil), false},
		{"moved boundary", secret("ns", "s", map[string]string{"a": "12", "b": ""}, nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := digest(tc.s); (got == base) != tc.same {
				t.Errorf("digest %s vs %s, want same=%v", got, base, tc.same)
			}
		})
	}
	bad := secret("ns", "s", nil, nil)
	bad.Object["data"] = map[string]any{"a": "not base64!"}
	if _, _, err := SecretDigest(bad); err == nil {
		t.Error("no error for data that is not base64")
	}
}

func TestSetObjectsErrors(t *testing.T) {
	var r Revision
	err := r.SetObjects([]*unstructured.Unstructured{configMap("ns", "a", nil), object("v1", "ConfigMap", "ns", "a", nil)})
	if err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("duplicate: %v", err)
	}
	// Another version of the same object is the same object.
	err = r.SetObjects([]*unstructured.Unstructured{
		object("autoscaling/v1", "HorizontalPodAutoscaler", "ns", "a", nil),
		object("autoscaling/v2", "HorizontalPodAutoscaler", "ns", "a", nil),
	})
	if err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("duplicate in two versions: %v", err)
	}
	if err := r.SetObjects([]*unstructured.Unstructured{object("v1", "ConfigMap", "ns", "", nil)}); err == nil {
		t.Error("no error for an object without a name")
	}
}

// randomConfigMaps returns n ConfigMaps of size bytes of incompressible
// data each.
func randomConfigMaps(t *testing.T, n, size int, prefix string) []*unstructured.Unstructured {
	t.Helper()
	objs := make([]*unstructured.Unstructured, n)
	buf := make([]byte, size*3/4)
	for i := range objs {
		if _, err := rand.Read(buf); err != nil {
			t.Fatal(err)
		}
		objs[i] = configMap("monitoring", fmt.Sprintf("%s-%03d", prefix, i), map[string]any{"blob": base64.StdEncoding.EncodeToString(buf)})
	}
	return objs
}

// TestSizeLimit: when the packs would be too many, manifests are dropped
// oldest first, keeping every revision's entries and summary; when the
// index would be too large, the oldest revisions go.
func TestSizeLimit(t *testing.T) {
	inv := New("monitoring", "prod")
	// Packs of 64 KiB, at most 8: each revision of 100 incompressible
	// ConfigMaps of 1 KiB takes 2 packs, so 4 revisions keep manifests.
	inv.limits = limits{pack: 64 << 10, packs: 8}
	for i := range 7 {
		inv.Append(revisionOf(t, randomConfigMaps(t, 100, 1024, fmt.Sprintf("rev%d", i)), Summary{Created: 100}))
	}
	idx, packs := encoded(t, inv)
	if len(packs) > 8 {
		t.Fatalf("%d packs, over 8", len(packs))
	}
	for name, p := range packs {
		if n := len(p.Data[packKey]); n > 64<<10 {
			t.Errorf("pack %s: %d bytes, over %d", name, n, 64<<10)
		}
	}
	revs := inv.Revisions()
	if len(revs) != 7 {
		t.Fatalf("%d revisions, want all 7", len(revs))
	}
	kept := 0
	for i, r := range revs {
		if len(r.Entries) != 100 || r.Summary.Created != 100 {
			t.Errorf("revision %d lost its entries or summary: %d entries, %+v", r.Number, len(r.Entries), r.Summary)
		}
		switch {
		case r.HasManifests():
			kept++
		case r.ManifestsDropped != DroppedForSize:
			t.Errorf("revision %d: no manifests, dropped %q", r.Number, r.ManifestsDropped)
		case kept > 0:
			t.Errorf("revision %d lost its manifests after revision %d kept them", r.Number, revs[i-1].Number)
		}
	}
	if kept < 3 || !inv.Latest().HasManifests() {
		t.Errorf("%d revisions kept manifests (latest: %v), want the newest few", kept, inv.Latest().HasManifests())
	}
	back := decoded(t, idx, packs)
	if !reflect.DeepEqual(back.Revisions(), inv.Revisions()) {
		t.Error("revisions differ after a round trip")
	}
	if !strings.Contains(string(dump(t, idx, nil)), `"manifestsDropped": "`+DroppedForSize+`"`) {
		t.Error("the stored index does not say the manifests were dropped")
	}
	for _, r := range back.Revisions() {
		if !r.HasManifests() && r.Entries[0].Digest == "" {
			t.Errorf("revision %d lost its digests with its manifests", r.Number)
		}
	}

	t.Run("latest too large", func(t *testing.T) {
		inv := New("monitoring", "prod")
		inv.limits = limits{pack: 64 << 10, packs: 2}
		inv.Append(revisionOf(t, randomConfigMaps(t, 300, 1024, "big"), Summary{Created: 300}))
		if _, err := inv.plan(); err != nil {
			t.Fatal(err)
		}
		l := inv.Latest()
		if l.HasManifests() || l.ManifestsDropped != DroppedForSize || len(l.Entries) != 300 {
			t.Errorf("latest: manifests %v, dropped %q, %d entries", l.HasManifests(), l.ManifestsDropped, len(l.Entries))
		}
	})

	t.Run("more than Load reads", func(t *testing.T) {
		inv := New("monitoring", "prod")
		// Each revision's objects take about 170 KB uncompressed.
		inv.limits = limits{raw: 560 << 10}
		for i := range 5 {
			inv.Append(revisionOf(t, randomConfigMaps(t, 100, 1024, fmt.Sprintf("rev%d", i)), Summary{Created: 100}))
		}
		p, err := inv.plan()
		if err != nil {
			t.Fatal(err)
		}
		var with []int
		for _, r := range inv.Revisions() {
			if r.HasManifests() {
				with = append(with, r.Number)
			}
		}
		if !reflect.DeepEqual(with, []int{3, 4, 5}) || p.raw > 560<<10 {
			t.Errorf("revisions %v keep manifests, %d bytes to read; want the newest 3 within %d", with, p.raw, 560<<10)
		}
	})

	t.Run("object larger than a pack", func(t *testing.T) {
		inv := New("monitoring", "prod")
		inv.limits = limits{pack: 4 << 10}
		inv.Append(revisionOf(t, append(randomConfigMaps(t, 1, 8<<10, "huge"), configMap("monitoring", "small", map[string]any{"k": "v"})), Summary{}))
		if _, err := inv.plan(); err != nil {
			t.Fatal(err)
		}
		if l := inv.Latest(); l.HasManifests() || len(l.Entries) != 2 {
			t.Errorf("latest: manifests %v, %d entries", l.HasManifests(), len(l.Entries))
		}
	})

	t.Run("entries too large", func(t *testing.T) {
		inv := New("monitoring", "prod")
		for range 5 {
			r := Revision{}
			r.Carry(ObjectRef{Version: "v1", Kind: "ConfigMap", Name: base64.StdEncoding.EncodeToString([]byte(rand.Text()))})
			inv.Append(r)
		}
		p, err := inv.plan()
		if err != nil {
			t.Fatal(err)
		}
		inv.limits.index = len(p.index) - 1
		if _, err := inv.plan(); err != nil {
			t.Fatal(err)
		}
		revs := inv.Revisions()
		if len(revs) != 4 || inv.Latest().Number != 5 {
			t.Errorf("kept revisions %v, want the newest few", numbers(revs))
		}
		inv.limits.index = 100
		if _, err := inv.plan(); err == nil || !strings.Contains(err.Error(), "over the 100") {
			t.Errorf("error %v, want one saying even one revision does not fit", err)
		}
	})
}

func numbers(revs []Revision) []int {
	var out []int
	for _, r := range revs {
		out = append(out, r.Number)
	}
	return out
}

func TestAppend(t *testing.T) {
	inv := New("monitoring", "prod")
	if inv.Latest() != nil || len(inv.Revisions()) != 0 {
		t.Fatal("a new inventory is not empty")
	}
	before := time.Now().Add(-time.Second)
	r := inv.Append(Revision{Entries: []Entry{
		{Ref: ObjectRef{Version: "v1", Kind: "Service", Namespace: "b", Name: "x"}},
		{Ref: ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "a", Name: "y"}},
		{Ref: ObjectRef{Version: "v1", Kind: "Service", Namespace: "b", Name: "x"}},
		{Ref: ObjectRef{Version: "v1", Kind: "Service", Namespace: "b", Name: "x"}, Digest: "sha256:1"},
	}})
	if r.Number != 1 || r.Time.Before(before) || r.Time.Location() != time.UTC || r.Time.Nanosecond() != 0 {
		t.Errorf("first revision %d at %s", r.Number, r.Time)
	}
	if want := []ObjectRef{{Version: "v1", Kind: "ConfigMap", Namespace: "a", Name: "y"}, {Version: "v1", Kind: "Service", Namespace: "b", Name: "x"}}; !reflect.DeepEqual(r.Refs(), want) || r.Entries[1].Digest != "sha256:1" || r.RunID == "" {
		t.Errorf("entries %v (run %q), want sorted and deduplicated %v, the one with a digest kept", r.Entries, r.RunID, want)
	}
	inv.Keep = 4
	for range 10 {
		inv.Append(Revision{Time: t0})
	}
	if got := numbers(inv.Revisions()); !reflect.DeepEqual(got, []int{8, 9, 10, 11}) {
		t.Errorf("kept %v, want the last 4", got)
	}
	inv.Keep = 0
	for range 10 {
		inv.Append(Revision{Time: t0})
	}
	for range 30 {
		inv.Append(Revision{Time: t0})
	}
	if got := numbers(inv.Revisions()); len(got) != DefaultKeep || DefaultKeep < 30 || got[len(got)-1] != 51 {
		t.Errorf("kept %v, want the last %d ending at 51", got, DefaultKeep)
	}
}

func ref(apiVersion, kind, ns, name string) ObjectRef {
	return RefOf(object(apiVersion, kind, ns, name, nil))
}

func TestPrune(t *testing.T) {
	ns := ref("v1", "Namespace", "", "monitoring")
	cm := ref("v1", "ConfigMap", "monitoring", "dash")
	deploy := ref("apps/v1", "Deployment", "monitoring", "grafana")
	hpaV1 := ref("autoscaling/v1", "HorizontalPodAutoscaler", "monitoring", "grafana")
	hpaV2 := ref("autoscaling/v2", "HorizontalPodAutoscaler", "monitoring", "grafana")
	cmOtherNS := ref("v1", "ConfigMap", "other", "dash")
	for _, tc := range []struct {
		name           string
		previous, next []ObjectRef
		want           []ObjectRef
	}{
		{"nothing before", nil, []ObjectRef{ns, cm}, nil},
		{"same set", []ObjectRef{ns, cm}, []ObjectRef{cm, ns}, nil},
		{"removed", []ObjectRef{ns, deploy, cm}, []ObjectRef{ns}, []ObjectRef{cm, deploy}},
		{"everything removed", []ObjectRef{deploy, ns}, nil, []ObjectRef{ns, deploy}},
		{"new version of the same object", []ObjectRef{hpaV1}, []ObjectRef{hpaV2}, nil},
		{"same name in another namespace", []ObjectRef{cm}, []ObjectRef{cmOtherNS}, []ObjectRef{cm}},
		{"only from previous", []ObjectRef{cm}, []ObjectRef{deploy, ns}, []ObjectRef{cm}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Prune(tc.previous, tc.next)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Prune = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestObjectRef(t *testing.T) {
	refs := []ObjectRef{
		ref("monitoring.coreos.com/v1", "PrometheusRule", "monitoring", "node"),
		ref("apps/v1", "Deployment", "monitoring", "grafana"),
		ref("v1", "Namespace", "", "monitoring"),
		ref("v1", "ConfigMap", "monitoring", "b"),
		ref("v1", "ConfigMap", "monitoring", "a"),
	}
	var got []string
	for _, r := range sortRefs(refs) {
		got = append(got, r.Qualified())
	}
	want := []string{
		"ConfigMap.v1 monitoring/a",
		"ConfigMap.v1 monitoring/b",
		"Namespace.v1 monitoring",
		"Deployment.v1.apps monitoring/grafana",
		"PrometheusRule.v1.monitoring.coreos.com monitoring/node",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sorted\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if gvk := refs[1].GroupVersionKind(); gvk.Group != "apps" || gvk.Version != "v1" || gvk.Kind != "Deployment" {
		t.Errorf("GroupVersionKind %v", gvk)
	}
}

func TestDiff(t *testing.T) {
	inv := fixture(t)
	r1, r2, r3 := inv.Revision(1), inv.Revision(2), inv.Revision(3)
	for _, tc := range []struct {
		name     string
		from, to *Revision
		want     string
		added    []string
		removed  []string
		changed  []string
	}{
		{"1 to 2", r1, r2, "1 added, 1 changed", []string{"ConfigMap.v1 monitoring/dashboards"}, nil, []string{"PrometheusRule.v1.monitoring.coreos.com monitoring/node"}},
		{"2 to 3", r2, r3, "1 removed", nil, []string{"Deployment.v1.apps monitoring/grafana"}, nil},
		{"1 to 3", r1, r3, "1 added, 1 removed, 1 changed", []string{"ConfigMap.v1 monitoring/dashboards"}, []string{"Deployment.v1.apps monitoring/grafana"}, []string{"PrometheusRule.v1.monitoring.coreos.com monitoring/node"}},
		{"3 to 3", r3, r3, "no change", nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := DiffRevisions(tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			strs := func(refs []ObjectRef) []string {
				var out []string
				for _, r := range refs {
					out = append(out, r.Qualified())
				}
				return out
			}
			if !reflect.DeepEqual(strs(c.Added), tc.added) || !reflect.DeepEqual(strs(c.Removed), tc.removed) || !reflect.DeepEqual(strs(c.Changed), tc.changed) {
				t.Errorf("added %v removed %v changed %v, want %v %v %v", strs(c.Added), strs(c.Removed), strs(c.Changed), tc.added, tc.removed, tc.changed)
			}
			if c.Empty() != (tc.want == "no change") {
				t.Errorf("Empty() = %v", c.Empty())
			}
		})
	}

	t.Run("secret value changed", func(t *testing.T) {
		a := revisionOf(t, []*unstructured.Unstructured{secret("m", "s", map[string]string{"k": "old"}, nil)}, Summary{})
		b := revisionOf(t, []*unstructured.Unstructured{secret("m", "s", map[string]string{"k": "new"}, nil)}, Summary{})
		c, err := DiffRevisions(&a, &b)
		if err != nil {
			t.Fatal(err)
		}
		if c.String() != "1 changed" {
			t.Errorf("%s, want the Secret changed", c)
		}
	})

	t.Run("without manifests", func(t *testing.T) {
		from := *r1
		from.dropManifests(DroppedForSize)
		c, err := DiffRevisions(&from, r2)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.String(), "1 added, 1 changed"; got != want || !c.Compared {
			t.Errorf("%q (compared %v), want %q: the digests tell without the manifests", got, c.Compared, want)
		}
		// A revision of format 1 that lost its manifests has no digests.
		from.Entries = slices.Clone(from.Entries)
		for i := range from.Entries {
			from.Entries[i].Digest = ""
		}
		c, err = DiffRevisions(&from, r2)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := c.String(), "1 added (manifests not compared)"; got != want || c.Compared {
			t.Errorf("%q (compared %v), want %q", got, c.Compared, want)
		}
		if got := Diff(r3.Refs(), r3.Refs()).String(); got != "same objects (manifests not compared)" {
			t.Errorf("Diff of equal sets: %q", got)
		}
	})
}

func TestRevisionString(t *testing.T) {
	r := fixture(t).Revision(2)
	want := "2  2025-03-01T13:00:00Z  alice@ci-7  obsctl v0.4.0  1 created, 1 configured, 4 unchanged, 0 pruned"
	if got := r.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	r.RollbackOf, r.Summary.Failed, r.Summary.Replaced, r.State = 1, 2, 1, StateRolledForward
	r.dropManifests(DroppedForSize)
	want = "2  2025-03-01T13:00:00Z  alice@ci-7  obsctl v0.4.0  1 created, 1 configured, 4 unchanged, 0 pruned, 1 replaced, 2 failed  (rollback to 1)  (rolled-forward)  (no manifests kept)"
	if got := r.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestUnredact(t *testing.T) {
	applied := secret("monitoring", "creds", map[string]string{"password": "v1-password"}, map[string]string{"token": "v1-token"})
	applied.SetAnnotations(map[string]string{"team": "sre"})
	inv := New("monitoring", "prod")
	inv.Append(revisionOf(t, []*unstructured.Unstructured{applied}, Summary{Created: 1}))
	objs, err := inv.Latest().Manifests()
	if err != nil {
		t.Fatal(err)
	}
	stored := objs[0]

	// The cluster stores stringData as data, and others may add keys.
	live := secret("monitoring", "creds", map[string]string{"password": "v1-password", "token": "v1-token", "added-by-someone": "x"}, nil)
	out, same, err := Unredact(stored, live)
	if err != nil {
		t.Fatal(err)
	}
	if !same {
		t.Error("Unredact says the live values differ from the revision's; they are the same")
	}
	if Redacted(out) {
		t.Error("the result is still marked redacted")
	}
	if got := out.GetAnnotations(); len(got) != 1 || got["team"] != "sre" {
		t.Errorf("annotations %v, want only team=sre", got)
	}
	// Each key in the form the revision gave it, and no key it did not.
	data, _, _ := unstructured.NestedStringMap(out.Object, "data")
	stringData, _, _ := unstructured.NestedStringMap(out.Object, "stringData")
	if len(data) != 1 || data["password"] != base64.StdEncoding.EncodeToString([]byte("v1-password")) {
		t.Errorf("data %v, want password only", data)
	}
	if len(stringData) != 1 || stringData["token"] != "v1-token" {
		t.Errorf("stringData %v, want token only, as a string", stringData)
	}
	if d, _, _ := SecretDigest(out); d != stored.GetAnnotations()[AnnotationRedacted] {
		t.Errorf("result digest %s, want the revision's", d)
	}

	changed := secret("monitoring", "creds", map[string]string{"password": "v2-password", "token": "v1-token"}, nil)
	if _, same, err := Unredact(stored, changed); err != nil || same {
		t.Errorf("Unredact with a changed password: same=%v err=%v, want different", same, err)
	}
	missingKey := secret("monitoring", "creds", map[string]string{"password": "v1-password"}, nil)
	if _, same, err := Unredact(stored, missingKey); err != nil || same {
		t.Errorf("Unredact with a key gone: same=%v err=%v, want different", same, err)
	}
	if _, _, err := Unredact(configMap("monitoring", "plain", nil), live); err == nil {
		t.Error("Unredact of a ConfigMap succeeded")
	}
}
