package apply_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/test/cluster"
)

var (
	gvrCRD        = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	gvrNamespaces = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrConfigMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrDeploy     = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

// stackObjects returns the 29 objects of testdata/stack.yaml and a 30th built
// from a typed object, as a renderer working with client-go types makes
// them (with creationTimestamp: null and the like).
func stackObjects(t *testing.T, n func(string) string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile("testdata/stack.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeObjects(t, []byte(n(string(data))))
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "typed", Namespace: n("apply-stack")},
		Data:       map[string]string{"from": "typed"},
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
	if err != nil {
		t.Fatal(err)
	}
	return append(objs, &unstructured.Unstructured{Object: m})
}

func encode(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	b, err := json.Marshal(objs)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// renamer returns a function that gives the cluster-wide names of the
// tests (namespaces, CRD groups, cluster-scoped objects) a suffix unique to
// the call, so that running the tests again (-count) against the same
// cluster never meets the objects of the run before, still being deleted.
func renamer() func(string) string {
	sfx := fmt.Sprintf("-%05x", rand.IntN(1<<20))
	var pairs []string
	for _, base := range []string{"apply-stack", "apply-conflict", "apply-notready", "apply-failure", "apply-noop", "apply-scale", "apply-live", "e2e.obsctl.dev", "obsctl-e2e-stack"} {
		pairs = append(pairs, base, base+sfx)
	}
	return strings.NewReplacer(pairs...).Replace
}

// deleteAfter removes cluster-scoped objects and namespaces when the test
// ends.
func deleteAfter(t *testing.T, c *client, gvr schema.GroupVersionResource, names ...string) {
	t.Cleanup(func() {
		for _, n := range names {
			_ = c.dyn.Resource(gvr).Delete(context.Background(), n, metav1.DeleteOptions{})
		}
	})
}

func actions(res *apply.Result) map[string]apply.Action {
	out := map[string]apply.Action{}
	for _, o := range res.Objects {
		out[o.Object.String()] = o.Action
	}
	return out
}

// TestApplyStack applies a stack spanning every wave to a fresh cluster,
// waits for it to roll out, and re-applies it unchanged and with single
// changes.
func TestApplyStack(t *testing.T) {
	t.Parallel()
	n := renamer()
	c := newClient(t)
	ctx := cluster.Context(t)
	deleteAfter(t, c, gvrNamespaces, n("apply-stack"))
	deleteAfter(t, c, gvrCRD, n("widgets.e2e.obsctl.dev"))
	deleteAfter(t, c, schema.GroupVersionResource{Group: "scheduling.k8s.io", Version: "v1", Resource: "priorityclasses"}, n("obsctl-e2e-stack"))
	deleteAfter(t, c, schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}, n("obsctl-e2e-stack-agent"))
	deleteAfter(t, c, schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}, n("obsctl-e2e-stack-agent"))

	objs := stackObjects(t, n)
	gvrWidgets := schema.GroupVersionResource{Group: n("e2e.obsctl.dev"), Version: "v1", Resource: "widgets"}
	if len(objs) != 30 {
		t.Fatalf("%d objects in the stack, want 30", len(objs))
	}
	before := encode(t, objs)
	opts := apply.Options{Stack: "e2e-stack", Wait: true, Timeout: 90 * time.Second}

	// First apply: everything is created, in waves, and rolls out.
	rec := &recorder{}
	opts.Observer = rec
	c.requests.take()
	res, err := c.applier(t).Apply(ctx, objs, opts)
	if err != nil {
		t.Fatalf("first apply: %v", err)
	}
	t.Logf("first apply: %s, %d requests (%v)", res.Duration.Round(time.Millisecond), res.Requests, c.requests.take())
	for _, o := range res.Objects {
		if o.Action != apply.Created || o.Err != nil || o.DryRun {
			t.Errorf("%s: %s, %v; want created", o.Object, o.Verb(), o.Err)
		}
	}
	if res.Patches != len(objs) {
		t.Errorf("first apply sent %d patches, want %d", res.Patches, len(objs))
	}
	if got := encode(t, objs); got != before {
		t.Errorf("Apply modified the caller's objects:\n got %s\nwant %s", got, before)
	}
	// One event per object, then one Ready per waited-for object: the CRD
	// and the three workloads.
	if n := rec.count(apply.Created); n != len(objs) {
		t.Errorf("%d created events, want %d", n, len(objs))
	}
	if n := rec.count(apply.Ready); n != 4 {
		t.Errorf("%d ready events, want 4", n)
	}
	// The waves ran in order: no object of a wave was reported before an
	// object of an earlier wave.
	last := apply.WaveCRDs
	for _, e := range rec.events {
		if e.Action == apply.Ready {
			continue
		}
		if e.Wave < last {
			t.Errorf("%s (wave %s) reported after wave %s", e.Object, e.Wave, last)
		}
		last = e.Wave
	}

	// Wait means rolled out: the Deployment has its three replicas.
	d, err := c.dyn.Resource(gvrDeploy).Namespace(n("apply-stack")).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := unstructured.NestedInt64(d.Object, "status", "availableReplicas"); n != 3 {
		t.Errorf("deployment web has %d available replicas after the wait, want 3", n)
	}
	// Ownership labels and the hash are on the objects, and no
	// last-applied annotation.
	w, err := c.dyn.Resource(gvrWidgets).Namespace(n("apply-stack")).Get(ctx, "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*unstructured.Unstructured{d, w} {
		l := u.GetLabels()
		if l[apply.LabelManagedBy] != "obsctl" || l[apply.LabelStack] != "e2e-stack" {
			t.Errorf("%s %s labels %v lack the ownership labels", u.GetKind(), u.GetName(), l)
		}
		a := u.GetAnnotations()
		if a[apply.AnnotationHash] == "" {
			t.Errorf("%s %s has no %s", u.GetKind(), u.GetName(), apply.AnnotationHash)
		}
		if _, ok := a[corev1.LastAppliedConfigAnnotation]; ok {
			t.Errorf("%s %s has a last-applied annotation", u.GetKind(), u.GetName())
		}
		if mf := u.GetManagedFields(); len(mf) == 0 || mf[0].Manager != apply.FieldManager {
			t.Errorf("%s %s: managed fields %v, want obsctl's first", u.GetKind(), u.GetName(), mf)
		}
	}

	// Second apply, unchanged: no PATCH, and few requests in all.
	c.requests.take()
	rec = &recorder{}
	opts.Observer = rec
	res, err = c.applier(t).Apply(ctx, objs, opts)
	if err != nil {
		t.Fatalf("unchanged apply: %v", err)
	}
	byMethod := c.requests.take()
	t.Logf("unchanged apply: %s, %d engine requests, %d HTTP requests with discovery (%v)",
		res.Duration.Round(time.Millisecond), res.Requests, sum(byMethod), byMethod)
	for _, o := range res.Objects {
		if o.Action != apply.Unchanged {
			t.Errorf("unchanged apply: %s %s, %v", o.Object, o.Verb(), o.Err)
		}
	}
	if res.Patches != 0 || byMethod["PATCH"] != 0 {
		t.Errorf("unchanged apply sent %d patches (%d PATCH requests), want 0", res.Patches, byMethod["PATCH"])
	}
	// One list per kind and namespace, none per object.
	lists := map[string]bool{}
	for _, o := range objs {
		lists[o.GroupVersionKind().String()+" "+o.GetNamespace()] = true
	}
	if res.Requests != len(lists) {
		t.Errorf("unchanged apply sent %d requests, want one per kind and namespace: %d", res.Requests, len(lists))
	}
	for m := range byMethod {
		if m != "GET" {
			t.Errorf("unchanged apply sent %d %s requests", byMethod[m], m)
		}
	}
	if n := rec.count(apply.Unchanged); n != len(objs) {
		t.Errorf("%d unchanged events, want %d", n, len(objs))
	}

	// One changed field: exactly that object is configured.
	changed := cloneAll(objs)
	cm := find(t, changed, "ConfigMap", "web-config")
	if err := unstructured.SetNestedField(cm.Object, "debug", "data", "level"); err != nil {
		t.Fatal(err)
	}
	res, err = c.applier(t).Apply(ctx, changed, opts)
	if err != nil {
		t.Fatalf("apply with one change: %v", err)
	}
	c.requests.take()
	wantOne(t, res, n("ConfigMap apply-stack/web-config"), apply.Configured)
	if res.Patches != 1 {
		t.Errorf("apply with one change sent %d patches, want 1", res.Patches)
	}

	// A field removed from the desired object is removed live: the hash
	// tells the engine the object changed although live ⊇ desired.
	removed := cloneAll(changed)
	unstructured.RemoveNestedField(find(t, removed, "ConfigMap", "agent-config").Object, "data", "extra")
	res, err = c.applier(t).Apply(ctx, removed, opts)
	if err != nil {
		t.Fatalf("apply with a removed field: %v", err)
	}
	wantOne(t, res, n("ConfigMap apply-stack/agent-config"), apply.Configured)
	live, err := c.dyn.Resource(gvrConfigMaps).Namespace(n("apply-stack")).Get(ctx, "agent-config", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := unstructured.NestedString(live.Object, "data", "extra"); ok {
		t.Errorf("data.extra is still live after its removal: %v", live.Object["data"])
	}

	// A new image is configured and waited for until rolled out.
	rollout := cloneAll(removed)
	dep := find(t, rollout, "Deployment", "web")
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	containers[0].(map[string]any)["image"] = "registry.k8s.io/pause:3.9"
	if err := unstructured.SetNestedSlice(dep.Object, containers, "spec", "template", "spec", "containers"); err != nil {
		t.Fatal(err)
	}
	res, err = c.applier(t).Apply(ctx, rollout, opts)
	if err != nil {
		t.Fatalf("apply with a new image: %v", err)
	}
	wantOne(t, res, n("Deployment apply-stack/web"), apply.Configured)
	d, err = c.dyn.Resource(gvrDeploy).Namespace(n("apply-stack")).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	og, _, _ := unstructured.NestedInt64(d.Object, "status", "observedGeneration")
	upd, _, _ := unstructured.NestedInt64(d.Object, "status", "updatedReplicas")
	avail, _, _ := unstructured.NestedInt64(d.Object, "status", "availableReplicas")
	if og < d.GetGeneration() || upd != 3 || avail != 3 {
		t.Errorf("after the wait: generation %d, observed %d, updated %d, available %d", d.GetGeneration(), og, upd, avail)
	}

	// A server dry run reports the change and stores nothing.
	dry := cloneAll(rollout)
	if err := unstructured.SetNestedField(find(t, dry, "Widget", "w1").Object, int64(10), "spec", "size"); err != nil {
		t.Fatal(err)
	}
	dopts := opts
	dopts.DryRun = apply.DryRunServer
	res, err = c.applier(t).Apply(ctx, dry, dopts)
	if err != nil {
		t.Fatalf("server dry run: %v", err)
	}
	wantOne(t, res, n("Widget apply-stack/w1"), apply.Configured)
	for _, o := range res.Objects {
		if !o.DryRun {
			t.Errorf("%s: not marked as a dry run", o.Object)
		}
	}
	if v := res.Objects[len(res.Objects)-1].Verb(); v != "unchanged (server dry run)" {
		t.Errorf("verb %q", v)
	}
	w, err = c.dyn.Resource(gvrWidgets).Namespace(n("apply-stack")).Get(ctx, "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if size, _, _ := unstructured.NestedInt64(w.Object, "spec", "size"); size != 1 {
		t.Errorf("server dry run changed w1: size %d", size)
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func cloneAll(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o.DeepCopy()
	}
	return out
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s", kind, name)
	return nil
}

// wantOne checks that the object named ref ended with action a and every
// other object was unchanged.
func wantOne(t *testing.T, res *apply.Result, ref string, a apply.Action) {
	t.Helper()
	for _, o := range res.Objects {
		want := apply.Unchanged
		if o.Object.String() == ref {
			want = a
		}
		if o.Action != want {
			t.Errorf("%s: %s (%v), want %s", o.Object, o.Action, o.Err, want)
		}
	}
}

// TestApplyConflict: fields another manager took over are, with
// ConflictsFail, a conflict naming that manager; with the default,
// ConflictsTake, they are taken back and named, in a server dry run as in
// the real apply; ForceConflicts takes them back without asking.
func TestApplyConflict(t *testing.T) {
	t.Parallel()
	n := renamer()
	c := newClient(t)
	ctx := cluster.Context(t)
	deleteAfter(t, c, gvrNamespaces, n("apply-conflict"))
	objs := decodeObjects(t, []byte(n(`
apiVersion: v1
kind: Namespace
metadata: {name: apply-conflict}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: apply-conflict}
data: {mode: fast, level: info, owner: obsctl}
`)))
	if _, err := c.applier(t).Apply(ctx, objs, apply.Options{Stack: "e2e-conflict"}); err != nil {
		t.Fatal(err)
	}
	cms := c.dyn.Resource(gvrConfigMaps).Namespace(n("apply-conflict"))
	drift := func() {
		t.Helper()
		// kubectl-edit takes data.mode over with an apply of its own; a
		// plain update by "manual" takes data.level.
		edit := []byte(n(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"settings","namespace":"apply-conflict"},"data":{"mode":"slow"}}`))
		force := true
		if _, err := cms.Patch(ctx, "settings", types.ApplyPatchType, edit, metav1.PatchOptions{FieldManager: "kubectl-edit", Force: &force}); err != nil {
			t.Fatal(err)
		}
		if _, err := cms.Patch(ctx, "settings", types.MergePatchType, []byte(`{"data":{"level":"debug"}}`), metav1.PatchOptions{FieldManager: "manual"}); err != nil {
			t.Fatal(err)
		}
	}
	data := func() map[string]string {
		t.Helper()
		live, err := cms.Get(ctx, "settings", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d, _, _ := unstructured.NestedStringMap(live.Object, "data")
		return d
	}
	drift()
	want := []apply.FieldConflict{{Manager: "kubectl-edit", Field: ".data.mode"}, {Manager: "manual", Field: ".data.level"}}
	cmRef := n("ConfigMap apply-conflict/settings")

	// Fail: a *ConflictError naming the managers and fields.
	res, err := c.applier(t).Apply(ctx, objs, apply.Options{Stack: "e2e-conflict", Conflicts: apply.ConflictsFail})
	var ce *apply.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *ConflictError", err)
	}
	if !apierrors.IsConflict(err) {
		t.Errorf("apierrors.IsConflict(%v) = false", err)
	}
	if !reflect.DeepEqual(ce.Conflicts, want) {
		t.Errorf("conflicts %+v, want %+v", ce.Conflicts, want)
	}
	for _, s := range []string{cmRef, `"kubectl-edit"`, `"manual"`, ".data.mode", "--conflicts=take"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
	if got := actions(res)[cmRef]; got != apply.Failed {
		t.Errorf("conflicting object: %s, want failed", got)
	}

	// Take, as a server dry run: it says what the apply would take back
	// and takes nothing.
	wantNote := `took back .data.mode from "kubectl-edit", .data.level from "manual"`
	took := func(res *apply.Result, verb string) {
		t.Helper()
		for _, o := range res.Objects {
			if o.Object.String() != cmRef {
				continue
			}
			if o.Verb() != verb || !reflect.DeepEqual(o.TookBack, want) || o.Note != wantNote {
				t.Errorf("%s: %s, took back %+v (%q); want %s, %+v (%q)", o.Object, o.Verb(), o.TookBack, o.Note, verb, want, wantNote)
			}
		}
	}
	res, err = c.applier(t).Apply(ctx, objs, apply.Options{Stack: "e2e-conflict", DryRun: apply.DryRunServer})
	if err != nil {
		t.Fatalf("server dry run: %v", err)
	}
	took(res, "configured (server dry run)")
	if d := data(); d["mode"] != "slow" || d["level"] != "debug" {
		t.Errorf("the dry run took fields back: data = %v", d)
	}

	// Take: the fields are obsctl's again, and the note says from whom.
	res, err = c.applier(t).Apply(ctx, objs, apply.Options{Stack: "e2e-conflict"})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	took(res, "configured")
	if res.Patches != 2 {
		t.Errorf("%d patches, want 2: the one that met the conflict, the forced one", res.Patches)
	}
	if d := data(); d["mode"] != "fast" || d["level"] != "info" {
		t.Errorf("after taking back, data = %v", d)
	}
	res, err = c.applier(t).Apply(ctx, objs, apply.Options{Stack: "e2e-conflict"})
	if err != nil || res.Patches != 0 {
		t.Errorf("re-apply: %v, %d patches; want none", err, res.Patches)
	}

	// Force: taken back at once, without naming.
	drift()
	res, err = c.applier(t).Apply(ctx, objs, apply.Options{Stack: "e2e-conflict", ForceConflicts: true, Conflicts: apply.ConflictsFail})
	if err != nil {
		t.Fatalf("forced apply: %v", err)
	}
	if got := actions(res)[cmRef]; got != apply.Configured || res.Patches != 1 {
		t.Errorf("forced apply: %s after %d patches, want configured after 1", got, res.Patches)
	}
	if d := data(); d["mode"] != "fast" || d["level"] != "info" {
		t.Errorf("after the forced apply data = %v", d)
	}
}

// TestApplyLeavesScaledReplicas: after kubectl scale (an update of the
// scale subresource by another field manager), re-applies leave the
// replicas to it: no conflict, whatever the policy, the scaled count
// stays, and an unchanged re-apply sends no patch.
func TestApplyLeavesScaledReplicas(t *testing.T) {
	t.Parallel()
	n := renamer()
	c := newClient(t)
	ctx := cluster.Context(t)
	deleteAfter(t, c, gvrNamespaces, n("apply-scale"))
	manifest := func(replicas int, env string) []*unstructured.Unstructured {
		return decodeObjects(t, []byte(n(fmt.Sprintf(`
apiVersion: v1
kind: Namespace
metadata: {name: apply-scale}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: apply-scale}
spec:
  replicas: %d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.k8s.io/pause:3.10, env: [{name: MODE, value: %s}]}]
`, replicas, env))))
	}
	opts := apply.Options{Stack: "e2e-scale"}
	if _, err := c.applier(t).Apply(ctx, manifest(2, "a"), opts); err != nil {
		t.Fatal(err)
	}
	deploys := c.dyn.Resource(gvrDeploy).Namespace(n("apply-scale"))
	// As kubectl scale does: an update of the scale subresource, again
	// when the deployment controller changed the object in between.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		scale, err := deploys.Get(ctx, "web", metav1.GetOptions{}, "scale")
		if err != nil {
			return err
		}
		if err := unstructured.SetNestedField(scale.Object, int64(4), "spec", "replicas"); err != nil {
			return err
		}
		_, err = deploys.Update(ctx, scale, metav1.UpdateOptions{FieldManager: "kubectl-scale"}, "scale")
		return err
	})
	if err != nil {
		t.Fatalf("scale: %v", err)
	}
	replicas := func() int64 {
		t.Helper()
		d, err := deploys.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
		return n
	}
	ref := n("Deployment apply-scale/web")
	wantLeft := []apply.FieldConflict{{Manager: "kubectl-scale", Field: ".spec.replicas"}}
	check := func(step string, res *apply.Result, err error, verb string, patches int) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		for _, o := range res.Objects {
			if o.Object.String() != ref {
				continue
			}
			if o.Verb() != verb || !reflect.DeepEqual(o.LeftTo, wantLeft) || o.Note != "replicas left to kubectl-scale (4)" {
				t.Errorf("%s: %s, left to %+v (%q); want %s, left to kubectl-scale", step, o.Verb(), o.LeftTo, o.Note, verb)
			}
		}
		if res.Patches != patches {
			t.Errorf("%s: %d patches, want %d", step, res.Patches, patches)
		}
		if got := replicas(); got != 4 {
			t.Errorf("%s: %d replicas, want the 4 kubectl scale set", step, got)
		}
	}

	dopts := opts
	dopts.DryRun = apply.DryRunServer
	res, err := c.applier(t).Apply(ctx, manifest(2, "a"), dopts)
	check("server dry run", res, err, "unchanged (server dry run)", 0)
	res, err = c.applier(t).Apply(ctx, manifest(2, "a"), opts)
	check("re-apply", res, err, "unchanged", 0)
	// A change elsewhere is applied, with no conflict even when
	// conflicts fail, and the stack's own new count is left too.
	fopts := opts
	fopts.Conflicts = apply.ConflictsFail
	res, err = c.applier(t).Apply(ctx, manifest(3, "b"), fopts)
	check("changed", res, err, "configured", 1)
	d, err := deploys.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprint(d.Object["spec"]), "MODE value:b") {
		t.Errorf("the change did not land: %v", d.Object["spec"])
	}
	res, err = c.applier(t).Apply(ctx, manifest(3, "b"), opts)
	check("re-apply after the change", res, err, "unchanged", 0)
}

// TestApplyGivenLive: with the live objects given (as the release lists
// them, a ConfigMap without the stack's labels among them), the engine
// lists nothing, and the dry run and the apply say configured for the
// existing object, created for the new one.
func TestApplyGivenLive(t *testing.T) {
	t.Parallel()
	n := renamer()
	c := newClient(t)
	ctx := cluster.Context(t)
	deleteAfter(t, c, gvrNamespaces, n("apply-live"))
	objs := decodeObjects(t, []byte(n(`
apiVersion: v1
kind: Namespace
metadata: {name: apply-live}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: theirs, namespace: apply-live}
data: {mode: fast}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: fresh, namespace: apply-live}
data: {mode: fast}
`)))
	opts := apply.Options{Stack: "e2e-live"}
	if _, err := c.applier(t).Apply(ctx, objs[:1], opts); err != nil {
		t.Fatal(err)
	}
	cms := c.dyn.Resource(gvrConfigMaps).Namespace(n("apply-live"))
	theirs := objs[1].DeepCopy()
	unstructured.RemoveNestedField(theirs.Object, "data")
	if _, err := cms.Create(ctx, theirs, metav1.CreateOptions{FieldManager: "kubectl-create"}); err != nil {
		t.Fatal(err)
	}
	// What the release finds: every input object, by ID.
	lookup := func() map[apply.ObjectRef]*unstructured.Unstructured {
		t.Helper()
		live := map[apply.ObjectRef]*unstructured.Unstructured{}
		for _, o := range objs {
			ref := apply.RefOf(o)
			var ri dynamic.ResourceInterface = c.dyn.Resource(gvrConfigMaps).Namespace(ref.Namespace)
			if ref.Kind == "Namespace" {
				ri = c.dyn.Resource(gvrNamespaces)
			}
			u, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
			case err != nil:
				t.Fatal(err)
			default:
				live[ref.ID()] = u
			}
		}
		return live
	}
	want := map[string]apply.Action{
		n("Namespace apply-live"):        apply.Unchanged,
		n("ConfigMap apply-live/theirs"): apply.Configured,
		n("ConfigMap apply-live/fresh"):  apply.Created,
	}
	for _, dry := range []apply.DryRun{apply.DryRunServer, apply.DryRunNone} {
		o := opts
		o.DryRun, o.Live = dry, lookup()
		res, err := c.applier(t).Apply(ctx, objs, o)
		if err != nil {
			t.Fatalf("dry run %q: %v", dry, err)
		}
		if got := actions(res); !reflect.DeepEqual(got, want) {
			t.Errorf("dry run %q: actions %v, want %v", dry, got, want)
		}
		if res.Requests != 2 || res.Patches != 2 {
			t.Errorf("dry run %q: %d requests, %d patches; want the 2 patches alone", dry, res.Requests, res.Patches)
		}
	}
	o := opts
	o.Live = lookup()
	res, err := c.applier(t).Apply(ctx, objs, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 0 || res.Count(apply.Unchanged) != 3 {
		t.Errorf("re-apply: %v after %d requests, want all unchanged after none", actions(res), res.Requests)
	}
}

// TestApplyNotReady: a Deployment no node can take times out with an
// explanation naming the unschedulable pod.
func TestApplyNotReady(t *testing.T) {
	t.Parallel()
	n := renamer()
	c := newClient(t)
	ctx := cluster.Context(t)
	deleteAfter(t, c, gvrNamespaces, n("apply-notready"))
	objs := decodeObjects(t, []byte(n(`
apiVersion: v1
kind: Namespace
metadata: {name: apply-notready}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck, namespace: apply-notready}
spec:
  replicas: 2
  selector:
    matchLabels: {app: stuck}
  template:
    metadata:
      labels: {app: stuck}
    spec:
      nodeSelector: {obsctl.dev/no-such-node: "true"}
      containers:
      - {name: stuck, image: registry.k8s.io/pause:3.10}
`)))
	start := time.Now()
	res, err := c.applier(t).Apply(ctx, objs, apply.Options{Stack: "e2e-notready", Wait: true, Timeout: 3 * time.Second, PollInterval: 200 * time.Millisecond})
	if elapsed := time.Since(start); elapsed > 3*time.Second+12*time.Second {
		t.Errorf("Apply took %s with a 3s timeout", elapsed)
	}
	var nr *apply.NotReadyError
	if !errors.As(err, &nr) {
		t.Fatalf("err = %v, want a *NotReadyError", err)
	}
	t.Logf("%v", err)
	if res == nil || res.Count(apply.Created) != 2 {
		t.Errorf("result %+v: want both objects created", res)
	}
	if len(nr.Objects) != 1 || nr.Objects[0].Object.String() != n("Deployment apply-notready/stuck") {
		t.Fatalf("not ready: %+v", nr.Objects)
	}
	o := nr.Objects[0]
	if len(o.Pods) != 2 {
		t.Errorf("pods %q, want the two pending pods", o.Pods)
	}
	for _, p := range o.Pods {
		if !strings.Contains(p, "Pending") || !strings.Contains(p, "Unschedulable") || !strings.Contains(p, "node affinity/selector") {
			t.Errorf("pod explanation %q lacks Pending/Unschedulable/the selector", p)
		}
	}
	if !strings.Contains(err.Error(), "FailedScheduling on Pod stuck-") {
		t.Errorf("explanation lacks the FailedScheduling event:\n%v", err)
	}
	if !strings.Contains(strings.Join(o.Conditions, "\n"), "Available=False") {
		t.Errorf("conditions %q lack Available=False", o.Conditions)
	}
}

// TestApplyLargeCRD applies a CRD whose schema is over 1 MB, more than
// client-side apply's last-applied annotation can hold, and re-applies it
// without a patch.
func TestApplyLargeCRD(t *testing.T) {
	t.Parallel()
	n := renamer()
	c := newClient(t)
	ctx := cluster.Context(t)
	deleteAfter(t, c, gvrCRD, n("bigs.e2e.obsctl.dev"))
	props := map[string]any{}
	for i := range 200 {
		props[fmt.Sprintf("field%03d", i)] = map[string]any{
			"type":        "string",
			"description": fmt.Sprintf("field %d: %s", i, strings.Repeat("a long description of a field ", 180)),
		}
	}
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": n("bigs.e2e.obsctl.dev")},
		"spec": map[string]any{
			"group": n("e2e.obsctl.dev"),
			"scope": "Namespaced",
			"names": map[string]any{"plural": "bigs", "singular": "big", "kind": "Big", "listKind": "BigList"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type":       "object",
					"properties": map[string]any{"spec": map[string]any{"type": "object", "properties": props}},
				}},
			}},
		},
	}}
	schemaJSON, err := json.Marshal(props)
	if err != nil {
		t.Fatal(err)
	}
	if len(schemaJSON) <= 1<<20 {
		t.Fatalf("schema is %d bytes, want over 1 MiB", len(schemaJSON))
	}
	big := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": n("e2e.obsctl.dev/v1"), "kind": "Big",
		"metadata": map[string]any{"name": "b", "namespace": "default"},
		"spec":     map[string]any{"field007": "x"},
	}}
	t.Cleanup(func() {
		_ = c.dyn.Resource(schema.GroupVersionResource{Group: n("e2e.obsctl.dev"), Version: "v1", Resource: "bigs"}).Namespace("default").
			Delete(context.Background(), "b", metav1.DeleteOptions{})
	})
	objs := []*unstructured.Unstructured{crd, big}
	opts := apply.Options{Stack: "e2e-large", Wait: true, Timeout: time.Minute}
	res, err := c.applier(t).Apply(ctx, objs, opts)
	if err != nil {
		t.Fatalf("apply of a %d-byte schema: %v", len(schemaJSON), err)
	}
	if got := actions(res); got[n("CustomResourceDefinition bigs.e2e.obsctl.dev")] != apply.Created || got["Big default/b"] != apply.Created {
		t.Errorf("actions %v, want both created", got)
	}
	live, err := c.dyn.Resource(gvrCRD).Get(ctx, n("bigs.e2e.obsctl.dev"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := live.GetAnnotations()[corev1.LastAppliedConfigAnnotation]; ok {
		t.Error("the CRD has a last-applied annotation")
	}
	res, err = c.applier(t).Apply(ctx, objs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Count(apply.Unchanged) != 2 || res.Patches != 0 {
		t.Errorf("re-apply: %v, %d patches; want both unchanged and none", actions(res), res.Patches)
	}
}

// TestApplyFailureHoldsBackOnlyDependents: objects the server refuses fail
// with their names in the error; what depends on them (the objects of a
// Namespace, the binding of a Role, the custom resources of a CRD) is held
// back, and everything else, in every later wave, is applied. Every request
// goes through Applier.Retry.
func TestApplyFailureHoldsBackOnlyDependents(t *testing.T) {
	t.Parallel()
	n := renamer()
	c := newClient(t)
	ctx := cluster.Context(t)
	deleteAfter(t, c, gvrNamespaces, n("apply-failure"))
	objs := decodeObjects(t, []byte(n(`
apiVersion: v1
kind: Namespace
metadata: {name: apply-failure}
---
apiVersion: v1
kind: Namespace
metadata: {name: apply-failure-bad, labels: {broken: "not a valid label value!"}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: brokens.e2e.obsctl.dev}
spec:
  group: e2e.obsctl.dev
  scope: Namespaced
  names: {plural: brokens, singular: broken, kind: Broken, listKind: BrokenList}
  versions: []
---
apiVersion: v1
kind: ConfigMap
metadata: {name: inside, namespace: apply-failure-bad}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: good, namespace: apply-failure}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: bad, namespace: apply-failure}
data: {"not a valid key!": "1"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: broken, namespace: apply-failure}
rules: [{apiGroups: [""], resources: [configmaps]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: broken, namespace: apply-failure}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: broken}
subjects: [{kind: ServiceAccount, name: default, namespace: apply-failure}]
---
apiVersion: e2e.obsctl.dev/v1
kind: NoSuchKind
metadata: {name: x, namespace: apply-failure}
---
apiVersion: e2e.obsctl.dev/v1
kind: Broken
metadata: {name: b, namespace: apply-failure}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apply-failure}
spec:
  ports: [{port: 80}]
`)))
	a := c.applier(t)
	var mu sync.Mutex
	calls := 0
	a.Retry = func(ctx context.Context, op func(context.Context) error) error {
		mu.Lock() // the engine calls Retry from its workers
		calls++
		mu.Unlock()
		return op(ctx)
	}
	rec := &recorder{}
	res, err := a.Apply(ctx, objs, apply.Options{Stack: "e2e-failure", Observer: rec})
	var fe *apply.FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a *FailedError", err)
	}
	t.Logf("%v", err)
	want := map[string]apply.Action{
		n("Namespace apply-failure"):                         apply.Created,
		n("Namespace apply-failure-bad"):                     apply.Failed,
		n("CustomResourceDefinition brokens.e2e.obsctl.dev"): apply.Failed,
		n("ConfigMap apply-failure-bad/inside"):              apply.Skipped,
		n("ConfigMap apply-failure/good"):                    apply.Created,
		n("ConfigMap apply-failure/bad"):                     apply.Failed,
		n("Role apply-failure/broken"):                       apply.Failed,
		n("RoleBinding apply-failure/broken"):                apply.Skipped,
		n("NoSuchKind apply-failure/x"):                      apply.Failed, // a ConfigMap's failure does not hold it back
		n("Broken apply-failure/b"):                          apply.Skipped,
		n("Service apply-failure/web"):                       apply.Created,
	}
	if got := actions(res); !reflect.DeepEqual(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
	heldBy := map[string]string{
		n("ConfigMap apply-failure-bad/inside"): n("Namespace apply-failure-bad"),
		n("RoleBinding apply-failure/broken"):   n("Role apply-failure/broken"),
		n("Broken apply-failure/b"):             n("CustomResourceDefinition brokens.e2e.obsctl.dev"),
	}
	for _, o := range res.Objects {
		if o.Action != apply.Skipped {
			continue
		}
		if o.HeldBackBy == nil || o.HeldBackBy.String() != heldBy[o.Object.String()] || o.Note != "held back: "+heldBy[o.Object.String()]+" failed" {
			t.Errorf("%s: held back by %v (%q), want %s", o.Object, o.HeldBackBy, o.Note, heldBy[o.Object.String()])
		}
	}
	if n := rec.count(apply.Skipped); n != 3 {
		t.Errorf("%d skipped events, want 3", n)
	}
	if len(fe.Failed) != 5 || fe.Skipped != 3 || !strings.Contains(err.Error(), n("ConfigMap apply-failure/bad: ")) || !apierrors.IsInvalid(err) {
		t.Errorf("failed error %v: want the bad ConfigMap named, invalid, 5 failed and 3 skipped", err)
	}
	if !strings.Contains(err.Error(), "no matches for kind") {
		t.Errorf("err = %v, want the unknown kind explained", err)
	}
	if calls != res.Requests || calls == 0 {
		t.Errorf("Retry ran %d requests, the engine sent %d", calls, res.Requests)
	}
}

// TestApplyCRDNotEstablished: a CRD whose kind another CRD already
// defines is stored but never Established; it fails, saying so, and holds
// back its custom resources, not the rest.
func TestApplyCRDNotEstablished(t *testing.T) {
	t.Parallel()
	n := renamer()
	c := newClient(t)
	ctx := cluster.Context(t)
	deleteAfter(t, c, gvrCRD, n("sprockets.e2e.obsctl.dev"), n("cogs.e2e.obsctl.dev"))
	crd := func(plural string) string {
		return n(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ` + plural + `.e2e.obsctl.dev}
spec:
  group: e2e.obsctl.dev
  scope: Namespaced
  names: {plural: ` + plural + `, kind: Sprocket, listKind: SprocketList}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`)
	}
	if _, err := c.applier(t).Apply(ctx, decodeObjects(t, []byte(crd("sprockets"))), apply.Options{Stack: "e2e-other"}); err != nil {
		t.Fatal(err)
	}
	objs := decodeObjects(t, []byte(crd("cogs")+n(`
---
apiVersion: e2e.obsctl.dev/v1
kind: Sprocket
metadata: {name: s, namespace: default}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: apply-crd-not-established, namespace: default}
data: {a: "1"}
`)))
	t.Cleanup(func() {
		_ = c.dyn.Resource(gvrConfigMaps).Namespace("default").Delete(context.Background(), "apply-crd-not-established", metav1.DeleteOptions{})
	})
	res, err := c.applier(t).Apply(ctx, objs, apply.Options{Stack: "e2e-crd", Timeout: 30 * time.Second})
	var fe *apply.FailedError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "not Established") {
		t.Fatalf("err = %v, want a *FailedError saying the CRD is not Established", err)
	}
	t.Logf("%v", err)
	want := map[string]apply.Action{
		n("CustomResourceDefinition cogs.e2e.obsctl.dev"): apply.Failed,
		"Sprocket default/s":                              apply.Skipped,
		"ConfigMap default/apply-crd-not-established":     apply.Created,
	}
	if got := actions(res); !reflect.DeepEqual(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
}

// TestApplyServerDryRun: a server dry run of a new CRD with a custom
// resource says the CRD would be created and why the resource cannot be
// checked, and stores nothing.
func TestApplyServerDryRun(t *testing.T) {
	t.Parallel()
	n := renamer()
	c := newClient(t)
	ctx := cluster.Context(t)
	objs := decodeObjects(t, []byte(n(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.e2e.obsctl.dev}
spec:
  group: e2e.obsctl.dev
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget, listKind: GadgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: dry, namespace: default}
data: {a: "1"}
---
apiVersion: e2e.obsctl.dev/v1
kind: Gadget
metadata: {name: g, namespace: default}
`)))
	res, err := c.applier(t).Apply(ctx, objs, apply.Options{Stack: "e2e-dry", DryRun: apply.DryRunServer, Wait: true})
	if err == nil || !strings.Contains(err.Error(), "a server dry run does not install it") {
		t.Errorf("err = %v, want the Gadget explained", err)
	}
	want := []string{"created (server dry run)", "created (server dry run)", "failed"}
	for i, o := range res.Objects {
		if o.Verb() != want[i] {
			t.Errorf("%s: %s, want %s", o.Object, o.Verb(), want[i])
		}
	}
	if _, err := c.dyn.Resource(gvrCRD).Get(ctx, n("gadgets.e2e.obsctl.dev"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the dry run stored the CRD: %v", err)
	}
	if _, err := c.dyn.Resource(gvrConfigMaps).Namespace("default").Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the dry run stored the ConfigMap: %v", err)
	}
}

// TestApplyNoOpPatchIsUnchanged: when the live object differs in a way the
// comparison cannot see through (here a port another manager added to the
// list obsctl applies), the engine applies, and reports unchanged because
// the server changed nothing.
func TestApplyNoOpPatchIsUnchanged(t *testing.T) {
	t.Parallel()
	n := renamer()
	c := newClient(t)
	ctx := cluster.Context(t)
	deleteAfter(t, c, gvrNamespaces, n("apply-noop"))
	objs := decodeObjects(t, []byte(n(`
apiVersion: v1
kind: Namespace
metadata: {name: apply-noop}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: apply-noop}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80}]
`)))
	opts := apply.Options{Stack: "e2e-noop"}
	if _, err := c.applier(t).Apply(ctx, objs, opts); err != nil {
		t.Fatal(err)
	}
	extra := []byte(n(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"apply-noop"},"spec":{"ports":[{"name":"admin","port":9090}]}}`))
	if _, err := c.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "services"}).Namespace(n("apply-noop")).
		Patch(ctx, "web", types.ApplyPatchType, extra, metav1.PatchOptions{FieldManager: "sidecar-injector"}); err != nil {
		t.Fatal(err)
	}
	res, err := c.applier(t).Apply(ctx, objs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(res)[n("Service apply-noop/web")]; got != apply.Unchanged || res.Patches != 1 {
		t.Errorf("Service: %s after %d patches, want unchanged after 1", got, res.Patches)
	}
}

// TestApplyReplacesStatefulSet changes what a StatefulSet cannot change
// (emptyDir to a volume claim, as a profile change does): without
// Options.Replace the apply and its dry run fail with a
// *ReplaceNeededError; with it the dry run says replaced and deletes
// nothing, and the apply replaces it, and the new one's pods roll out.
func TestApplyReplacesStatefulSet(t *testing.T) {
	t.Parallel()
	n := renamer()
	c := newClient(t)
	ctx := cluster.Context(t)
	deleteAfter(t, c, gvrNamespaces, n("apply-replace"))
	manifest := func(claims string) []*unstructured.Unstructured {
		return decodeObjects(t, []byte(n(`
apiVersion: v1
kind: Namespace
metadata: {name: apply-replace}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: apply-replace}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: registry.k8s.io/pause:3.10}]
`+claims)))
	}
	opts := apply.Options{Stack: "e2e-replace", Wait: true, Timeout: 30 * time.Second}
	if _, err := c.applier(t).Apply(ctx, manifest(""), opts); err != nil {
		t.Fatal(err)
	}
	sts := c.dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}).Namespace(n("apply-replace"))
	before, err := sts.Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	claims := manifest(`  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`)
	statefulSet := func(res *apply.Result) apply.ObjectResult {
		for _, o := range res.Objects {
			if o.Object.Kind == "StatefulSet" {
				return o
			}
		}
		t.Fatal("no StatefulSet in the result")
		return apply.ObjectResult{}
	}
	sameUID := func(step string) {
		t.Helper()
		now, err := sts.Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if now.GetUID() != before.GetUID() {
			t.Fatalf("%s replaced the StatefulSet", step)
		}
	}
	// Not allowed, in a dry run and for real: a *ReplaceNeededError with
	// the server's reason, and nothing deleted.
	allowed := map[apply.ObjectRef]bool{{Group: "apps", Kind: "StatefulSet", Namespace: n("apply-replace"), Name: "db"}: true}
	for _, dry := range []apply.DryRun{apply.DryRunServer, apply.DryRunNone} {
		res, err := c.applier(t).Apply(ctx, claims, apply.Options{Stack: "e2e-replace", DryRun: dry})
		var rn *apply.ReplaceNeededError
		if !errors.As(err, &rn) || !strings.Contains(rn.Message, "updates to statefulset spec for fields other than") || !apierrors.IsInvalid(err) {
			t.Fatalf("dry run %q: err = %v, want a *ReplaceNeededError", dry, err)
		}
		if got := statefulSet(res); got.Action != apply.Failed {
			t.Errorf("dry run %q: %s, want failed", dry, got.Verb())
		}
		sameUID("a refused replace")
	}
	// Allowed, in a server dry run: said, not done.
	res, err := c.applier(t).Apply(ctx, claims, apply.Options{Stack: "e2e-replace", DryRun: apply.DryRunServer, Replace: allowed})
	if err != nil {
		t.Fatal(err)
	}
	if got := statefulSet(res); got.Verb() != "replaced (server dry run)" || !strings.Contains(got.Note, "would be replaced") {
		t.Errorf("dry run: %s (%q), want replaced (server dry run)", got.Verb(), got.Note)
	}
	sameUID("a dry run")

	// Allowed: replaced.
	res, err = c.applier(t).Apply(ctx, claims, apply.Options{Stack: "e2e-replace", Replace: allowed})
	if err != nil {
		t.Fatal(err)
	}
	if got := statefulSet(res); got.Action != apply.Replaced || !strings.Contains(got.Note, "replaced") {
		t.Fatalf("StatefulSet: %s (%q), want replaced with a note", got.Action, got.Note)
	}
	after, err := sts.Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if after.GetUID() == before.GetUID() {
		t.Error("the StatefulSet was not replaced")
	}
	if claims, _, _ := unstructured.NestedSlice(after.Object, "spec", "volumeClaimTemplates"); len(claims) != 1 {
		t.Errorf("the new StatefulSet has %d volume claim templates, want 1", len(claims))
	}
	// Its pod is the new one's: created after the replacement, with the
	// claim's volume (no storage here, so it stays Pending).
	pods := c.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace(n("apply-replace"))
	var pod *unstructured.Unstructured
	for deadline := time.Now().Add(20 * time.Second); ; {
		pod, err = pods.Get(ctx, "db-0", metav1.GetOptions{})
		if err == nil && len(pod.GetOwnerReferences()) == 1 && pod.GetOwnerReferences()[0].UID == after.GetUID() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pod db-0 of the new StatefulSet after 20s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if refs := pod.GetOwnerReferences(); len(refs) != 1 || refs[0].UID != after.GetUID() {
		t.Errorf("pod db-0 is owned by %v, want the new StatefulSet %s", refs, after.GetUID())
	}
	if vols, _, _ := unstructured.NestedSlice(pod.Object, "spec", "volumes"); !strings.Contains(fmt.Sprint(vols), "data") {
		t.Errorf("pod db-0 has no data volume: %v", vols)
	}
}
