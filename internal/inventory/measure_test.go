package inventory_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/obsctl/obsctl/internal/compile"
	"github.com/obsctl/obsctl/internal/inventory"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/render"
)

// The series the issue measures history on: the default stack, every
// revision editing a PrometheusRule and a dashboard, two of them changing
// the Prometheus Operator's version, its CRDs included.
const (
	seriesLength = 24
	minKept      = 20
)

// operatorBumps are the revisions (from 1) that change the operator's
// version.
var operatorBumps = []int{8, 16}

// defaultStack renders the embedded default repo, as obsctl apply does
// without a repo: about a hundred objects, the operator's ten CRDs among
// them.
func defaultStack(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	r, err := load.Load(load.Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := compile.Compile(r)
	if err != nil {
		t.Fatal(err)
	}
	res, err := render.Render(c, "")
	if err != nil {
		t.Fatal(err)
	}
	return res.Objects
}

// series returns the objects of each revision of the series: revision n
// edits the n-th PrometheusRule and dashboard (in turn) on top of what the
// revisions before changed, and the bumps change the operator's version:
// its Deployment's image and labels, and every CRD's version annotation and
// a description, so that their bytes differ.
func series(t *testing.T) [][]*unstructured.Unstructured {
	t.Helper()
	base := defaultStack(t)
	var rules, dashboards []int
	crds := 0
	for i, o := range base {
		switch {
		case o.GetKind() == "PrometheusRule":
			rules = append(rules, i)
		case o.GetKind() == "ConfigMap" && strings.HasPrefix(o.GetName(), "grafana-dashboard-") && o.GetName() != "grafana-dashboard-provider":
			dashboards = append(dashboards, i)
		case o.GetKind() == "CustomResourceDefinition":
			crds++
		}
	}
	if len(base) < 90 || len(rules) < 5 || len(dashboards) < 5 || crds != 10 {
		t.Fatalf("the default stack has %d objects, %d rules, %d dashboards, %d CRDs", len(base), len(rules), len(dashboards), crds)
	}
	cur := make([]*unstructured.Unstructured, len(base))
	for i, o := range base {
		cur[i] = o.DeepCopy()
	}
	out := make([][]*unstructured.Unstructured, seriesLength)
	operator := "v0.92.1"
	for n := 1; n <= seriesLength; n++ {
		if n > 1 {
			editRule(t, cur[rules[n%len(rules)]], n)
			editDashboard(t, cur[dashboards[n%len(dashboards)]], n)
		}
		if slices.Contains(operatorBumps, n) {
			operator = fmt.Sprintf("v0.%d.0", 92+n)
			for _, o := range cur {
				bumpOperator(t, o, operator)
			}
		}
		revision := make([]*unstructured.Unstructured, len(cur))
		for i, o := range cur {
			revision[i] = o.DeepCopy()
		}
		out[n-1] = revision
	}
	return out
}

// editRule changes the first rule's for: and a label, as a rules edit
// does.
func editRule(t *testing.T, o *unstructured.Unstructured, n int) {
	t.Helper()
	groups, _, _ := unstructured.NestedSlice(o.Object, "spec", "groups")
	g := groups[0].(map[string]any)
	rules := g["rules"].([]any)
	r := rules[0].(map[string]any)
	r["for"] = fmt.Sprintf("%dm", n)
	labels, _ := r["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
	}
	labels["team"] = fmt.Sprintf("sre-%d", n)
	r["labels"] = labels
	if err := unstructured.SetNestedSlice(o.Object, groups, "spec", "groups"); err != nil {
		t.Fatal(err)
	}
}

// editDashboard changes a dashboard's version and a panel's title.
func editDashboard(t *testing.T, o *unstructured.Unstructured, n int) {
	t.Helper()
	data, _, _ := unstructured.NestedStringMap(o.Object, "data")
	for k, v := range data {
		var d map[string]any
		if err := json.Unmarshal([]byte(v), &d); err != nil {
			t.Fatalf("%s %s: %v", o.GetName(), k, err)
		}
		d["version"] = n
		if panels, ok := d["panels"].([]any); ok && len(panels) > 0 {
			p := panels[0].(map[string]any)
			p["title"] = fmt.Sprintf("%v (rev %d)", p["title"], n)
		}
		b, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		data[k] = string(b)
	}
	if err := unstructured.SetNestedStringMap(o.Object, data, "data"); err != nil {
		t.Fatal(err)
	}
}

// bumpOperator gives the operator's objects version v: the CRDs an
// annotation and a changed description, the Deployment its image.
func bumpOperator(t *testing.T, o *unstructured.Unstructured, v string) {
	t.Helper()
	switch {
	case o.GetKind() == "CustomResourceDefinition":
		anns := o.GetAnnotations()
		if anns == nil {
			anns = map[string]string{}
		}
		anns["operator.prometheus.io/version"] = v
		o.SetAnnotations(anns)
		versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
		for _, ver := range versions {
			schema := ver.(map[string]any)["schema"].(map[string]any)["openAPIV3Schema"].(map[string]any)
			schema["description"] = fmt.Sprintf("%v (operator %s)", schema["description"], v)
		}
		if err := unstructured.SetNestedSlice(o.Object, versions, "spec", "versions"); err != nil {
			t.Fatal(err)
		}
	case o.GetLabels()[render.LabelComponent] == "prometheusOperator" || o.GetLabels()[render.LabelName] == "prometheus-operator":
		labels := o.GetLabels()
		labels[render.LabelVersion] = v
		o.SetLabels(labels)
		if o.GetKind() == "Deployment" {
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			for _, c := range containers {
				c := c.(map[string]any)
				image, _ := c["image"].(string)
				c["image"] = image[:strings.LastIndex(image, ":")+1] + v
			}
			if err := unstructured.SetNestedSlice(o.Object, containers, "spec", "template", "spec", "containers"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// stored is what an inventory takes in the cluster: its Secrets, and the
// bytes of their data, as the API server counts a Secret's size.
type stored struct {
	index, packs, packBytes, total int
}

func measure(t *testing.T, ctx context.Context, client dynamic.Interface, ns string) stored {
	t.Helper()
	list, err := client.Resource(corev1.SchemeGroupVersion.WithResource("secrets")).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var s stored
	for _, u := range list.Items {
		var sec corev1.Secret
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &sec); err != nil {
			t.Fatal(err)
		}
		size := 0
		for _, v := range sec.Data {
			size += len(v)
		}
		switch sec.Type {
		case inventory.SecretType:
			s.index = size
		case inventory.PackType:
			s.packs++
			s.packBytes += size
			if size > inventory.MaxPackSize {
				t.Errorf("pack %s: %d bytes, over %d", sec.Name, size, inventory.MaxPackSize)
			}
		default:
			continue
		}
		s.total += size
	}
	return s
}

// recordSeries applies the series to the inventory of stack prod in ns as
// runs do (load, intent, commit), and checks that every kept revision
// reads back with its manifests. It logs the bytes each revision costs.
func recordSeries(t *testing.T, ctx context.Context, client dynamic.Interface, ns string) {
	revs := series(t)
	var want []inventory.Revision
	var sizes []stored
	for n, objs := range revs {
		inv, err := inventory.Load(ctx, client, ns, "prod")
		if err != nil {
			t.Fatalf("load before revision %d: %v", n+1, err)
		}
		rev := inventory.Revision{User: "ci", Host: "runner", Repo: "embedded default", Profile: "minimal",
			Git: &inventory.GitInfo{Commit: fmt.Sprintf("%040d", n+1), Author: "CI <ci@example.com>", Subject: "edit rules"}}
		if err := rev.SetObjects(objs); err != nil {
			t.Fatal(err)
		}
		if inventory.SameAs(inv.Latest(), &rev) {
			t.Fatalf("revision %d is the same as the one before: the series edits nothing", n+1)
		}
		if rev, err = inv.Begin(ctx, client, rev); err != nil {
			t.Fatalf("begin revision %d: %v", n+1, err)
		}
		rev.Summary = inventory.Summary{Configured: 2, Unchanged: len(objs) - 2}
		done, err := inv.Commit(ctx, client, rev)
		if err != nil {
			t.Fatalf("commit revision %d: %v", n+1, err)
		}
		want = append(want, done)
		sizes = append(sizes, measure(t, ctx, client, ns))
	}

	inv, err := inventory.Load(ctx, client, ns, "prod")
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, w := range want {
		r := inv.Revision(w.Number)
		if r == nil {
			continue
		}
		if !r.HasManifests() {
			t.Errorf("revision %d has no manifests: %s", r.Number, r.ManifestsDropped)
			continue
		}
		// The manifests read back from the packs are those the run
		// recorded, object for object.
		got, err := r.Manifests()
		if err != nil {
			t.Fatalf("revision %d: %v", r.Number, err)
		}
		recorded, err := w.Manifests()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(revs[r.Number-1]) || !slices.Equal(r.Entries, w.Entries) || !sameJSON(t, got, recorded) {
			t.Errorf("revision %d: %d manifests, not those it recorded", r.Number, len(got))
			continue
		}
		kept++
	}
	if kept < minKept || kept != seriesLength {
		t.Errorf("%d revisions can be rolled back to, want all %d (at least %d)", kept, seriesLength, minKept)
	}
	last := sizes[len(sizes)-1]
	if last.index > inventory.MaxIndexSize || last.packs > inventory.MaxPacks {
		t.Errorf("index %d bytes, %d packs: over the limits", last.index, last.packs)
	}

	// What a revision would cost with every manifest in it, as format 1
	// stored it: the whole stack, gzipped.
	var whole []byte
	for _, o := range revs[0] {
		b, _ := json.Marshal(o.Object)
		whole = append(whole, b...)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d objects; %d revisions, %d rollbackable; stored %d bytes (index %d, %d packs of %d bytes); format 1 would take %d bytes a revision (whole stack gzipped)\n",
		len(revs[0]), len(revs), kept, last.total, last.index, last.packs, last.packBytes, len(gz(whole)))
	prev := stored{}
	for i, s := range sizes {
		note := ""
		if slices.Contains(operatorBumps, i+1) {
			note = "  (operator and CRDs changed)"
		}
		fmt.Fprintf(&b, "  revision %2d: +%7d bytes, total %8d, index %6d, %2d packs%s\n", i+1, s.total-prev.total, s.total, s.index, s.packs, note)
		prev = s
	}
	t.Log(b.String())
}

// TestHistoryFits measures the series on a fake cluster: each revision's
// cost and the total, and that every revision can be rolled back to.
func TestHistoryFits(t *testing.T) {
	if testing.Short() {
		t.Skip("renders and stores 24 revisions of the default stack")
	}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{corev1.SchemeGroupVersion.WithResource("secrets"): "SecretList"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	recordSeries(t, ctx, client, "monitoring")
}

// TestHistoryFitsCluster is TestHistoryFits on the real control plane:
// what it stores is what an API server accepts.
func TestHistoryFitsCluster(t *testing.T) {
	t.Parallel()
	cs, ns := inventory.ClusterForTest(t, "inventory")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	recordSeries(t, ctx, cs, ns)
}

func sameJSON(t *testing.T, a, b []*unstructured.Unstructured) bool {
	t.Helper()
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, err := json.Marshal(a[i].Object)
		if err != nil {
			t.Fatal(err)
		}
		y, err := json.Marshal(b[i].Object)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}
