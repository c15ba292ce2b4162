package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/cli"
	"github.com/obsctl/obsctl/internal/inventory"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/lock"
)

// The plain values of the stack's Secrets, which no output may show.
var secretValues = []string{"hunter2-e2e-plaintext", "db-e2e-plaintext", "ZGItZTJlLXBsYWludGV4dA=="}

// TestApplyLifecycle takes a stack through its life: diff before anything
// exists, the first apply with its rollout wait, an unchanged re-apply, the
// JSON result, diffs of changed manifests, a server dry run, and an apply
// that prunes a removed manifest and nothing else.
func TestApplyLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-life")
	stack := e.writeStack("stack")
	objs := e.objects(stack)
	if len(objs) != 25 {
		t.Fatalf("%d objects in the stack, want 25", len(objs))
	}

	// Nothing exists yet: diff shows every object as added, though the
	// namespace and the CRD do not exist, and redacts the Secrets.
	r := e.obsctl("diff", "-f", "stack")
	if r.code != 1 {
		t.Fatalf("diff before the first apply: exit %d, want 1", r.code)
	}
	if n := strings.Count(r.stdout, "--- /dev/null\n"); n != 25 {
		t.Errorf("diff shows %d objects as added, want 25", n)
	}
	for _, want := range []string{
		"+++ obsctl/v1.ConfigMap." + e.ns + ".web-config\n",
		"+++ obsctl/" + e.ns + ".e2e.obsctl.dev.v1.Gadget." + e.ns + ".g1\n",
		"+  password: (redacted, 21 bytes)\n",
		"+  password: (redacted, 16 bytes)\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("diff lacks %q", want)
		}
	}

	// A server dry run on the fresh cluster: every object would be
	// created, those the server cannot check yet say why, and nothing is
	// written, not even the lock's namespace.
	r = e.obsctl("apply", "-f", "stack", "--dry-run=server")
	if r.code != 0 {
		t.Fatalf("server dry run before the first apply: exit %d", r.code)
	}
	lines := objectLines(t, r.stdout)
	if len(lines) != 25 {
		t.Errorf("%d object lines, want 25", len(lines))
	}
	for obj, rest := range lines {
		if !strings.HasPrefix(rest, "created (server dry run") {
			t.Errorf("%s: %q, want created (server dry run...)", obj, rest)
		}
	}
	if got := lines["Gadget "+e.ns+"/g1"]; !strings.Contains(got, "its CustomResourceDefinition is not installed yet") {
		t.Errorf("Gadget g1: %q does not say why it was not checked", got)
	}
	if got := lines["ConfigMap "+e.ns+"/web-config"]; !strings.Contains(got, "namespace "+e.ns+" does not exist yet") {
		t.Errorf("ConfigMap web-config: %q does not say why it was not checked", got)
	}
	if _, err := e.typed.CoreV1().Namespaces().Get(e.ctx(), e.ns, metav1.GetOptions{}); err == nil {
		t.Errorf("the server dry run created the namespace")
	}

	// First apply: every object created, in waves, rolled out.
	r = e.obsctl("apply", "-f", "stack", "--timeout", "60s")
	if r.code != 0 {
		t.Fatalf("first apply: exit %d", r.code)
	}
	lines = objectLines(t, r.stdout)
	if len(lines) != 25 {
		t.Errorf("%d object lines, want 25", len(lines))
	}
	for obj, rest := range lines {
		if !strings.HasPrefix(rest, "created (") {
			t.Errorf("%s: %q, want created", obj, rest)
		}
	}
	if first := strings.SplitN(r.stdout, "\n", 2)[0]; !strings.HasPrefix(first, "CustomResourceDefinition ") {
		t.Errorf("first line %q: the CRD wave goes first", first)
	}
	deploy := &unstructured.Unstructured{}
	deploy.SetAPIVersion("apps/v1")
	deploy.SetKind("Deployment")
	deploy.SetNamespace(e.ns)
	deploy.SetName("web")
	if n, _, _ := unstructured.NestedInt64(e.get(deploy).Object, "status", "availableReplicas"); n != 3 {
		t.Errorf("Deployment web has %d available replicas after apply, want 3: the rollout was not waited for", n)
	}
	if !strings.Contains(r.stderr, "revision 1: 25 created, 0 configured, 0 unchanged, 0 pruned") {
		t.Errorf("stderr lacks the summary of revision 1")
	}

	// Second apply, unchanged: nothing written.
	before := e.resourceVersions(objs)
	r = e.obsctl("apply", "-f", "stack", "--timeout", "60s")
	if r.code != 0 {
		t.Fatalf("second apply: exit %d", r.code)
	}
	if !strings.Contains(r.stderr, "no revision (nothing changed): 0 created, 0 configured, 25 unchanged") {
		t.Errorf("stderr lacks the no-op summary")
	}
	for obj, rest := range objectLines(t, r.stdout) {
		if !strings.HasPrefix(rest, "unchanged (") {
			t.Errorf("second apply: %s: %q, want unchanged", obj, rest)
		}
	}
	if after := e.resourceVersions(objs); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("resourceVersions changed by an unchanged apply:\nbefore %v\nafter  %v", before, after)
	}

	// -o json: one JSON document and nothing else on stdout.
	r = e.obsctl("apply", "-f", "stack", "-o", "json")
	if r.code != 0 {
		t.Fatalf("apply -o json: exit %d", r.code)
	}
	var res struct {
		Stack     string         `json:"stack"`
		Namespace string         `json:"namespace"`
		Revision  int            `json:"revision"`
		ExitCode  int            `json:"exitCode"`
		Counts    map[string]int `json:"counts"`
		Requests  map[string]int `json:"requests"`
		Objects   []struct {
			APIVersion, Kind, Namespace, Name, Action, Error string
		} `json:"objects"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.stdout)
	}
	var raw map[string]any
	_ = json.Unmarshal([]byte(r.stdout), &raw)
	if _, ok := raw["durationSeconds"]; !ok {
		t.Errorf("JSON result lacks durationSeconds: %v", raw)
	}
	// A release that changes nothing records no revision: history keeps
	// the changes, not every run of a hook.
	if res.Stack != e.ns || res.Namespace != e.ns || res.Revision != 0 || res.ExitCode != 0 {
		t.Errorf("JSON result: stack %q namespace %q revision %d exit code %d; want %s, %s, no revision, 0", res.Stack, res.Namespace, res.Revision, res.ExitCode, e.ns, e.ns)
	}
	if res.Counts["unchanged"] != 25 || res.Counts["created"] != 0 || res.Counts["pruned"] != 0 {
		t.Errorf("JSON counts %v, want 25 unchanged", res.Counts)
	}
	if res.Requests["patches"] != 0 {
		t.Errorf("an unchanged apply sent %d patches", res.Requests["patches"])
	}
	if len(res.Objects) != 25 || res.Objects[0].Kind != "CustomResourceDefinition" || res.Objects[0].Action != "unchanged" || res.Objects[0].APIVersion != "apiextensions.k8s.io/v1" {
		t.Errorf("JSON objects: %d, first %+v", len(res.Objects), res.Objects[0])
	}

	// In sync: diff says nothing and exits 0.
	r = e.obsctl("diff", "-f", "stack")
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("diff in sync: exit %d, stdout %q; want 0 and nothing", r.code, r.stdout)
	}

	// A changed ConfigMap value and a changed Secret: diff exits 1 and
	// shows the field, and the Secret's change without its values.
	e.editFile("stack/09-configmap-web.yaml", "level: info", "level: debug")
	e.editFile("stack/12-secret-web.yaml", "hunter2-e2e-plaintext", "hunter3-e2e-plaintext")
	r = e.obsctl("diff", "-f", "stack")
	if r.code != 1 {
		t.Fatalf("diff after a change: exit %d, want 1", r.code)
	}
	for _, want := range []string{
		"--- live/v1.ConfigMap." + e.ns + ".web-config\n+++ obsctl/v1.ConfigMap." + e.ns + ".web-config\n",
		"-  level: info\n+  level: debug\n",
		"-  password: (redacted, 21 bytes)\n+  password: (redacted, 21 bytes, changed)\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("diff lacks %q", want)
		}
	}
	if n := strings.Count(r.stdout, "+++ "); n != 2 {
		t.Errorf("diff shows %d objects, want the 2 changed ones", n)
	}

	// A server dry run says what would change and changes nothing.
	cm := &unstructured.Unstructured{}
	cm.SetAPIVersion("v1")
	cm.SetKind("ConfigMap")
	cm.SetNamespace(e.ns)
	cm.SetName("web-config")
	rvBefore := e.get(cm).GetResourceVersion()
	r = e.obsctl("apply", "-f", "stack", "--dry-run=server")
	if r.code != 0 {
		t.Fatalf("server dry run: exit %d", r.code)
	}
	lines = objectLines(t, r.stdout)
	if got := lines["ConfigMap "+e.ns+"/web-config"]; !strings.HasPrefix(got, "configured (server dry run") {
		t.Errorf("dry run: web-config %q, want configured (server dry run...)", got)
	}
	if got := lines["Deployment "+e.ns+"/web"]; !strings.HasPrefix(got, "unchanged (server dry run") {
		t.Errorf("dry run: web %q, want unchanged (server dry run...)", got)
	}
	live := e.get(cm)
	if live.GetResourceVersion() != rvBefore {
		t.Errorf("the server dry run changed ConfigMap web-config")
	}
	if v, _, _ := unstructured.NestedString(live.Object, "data", "level"); v != "info" {
		t.Errorf("after the dry run level = %q, want info", v)
	}

	// Remove one manifest; an object of the same namespace that obsctl
	// did not apply must survive the prune.
	ctx := e.ctx()
	unrelated := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "not-obsctls", Namespace: e.ns}, Data: map[string]string{"a": "b"}}
	if _, err := e.typed.CoreV1().ConfigMaps(e.ns).Create(ctx, unrelated, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(stack, "11-configmap-extra.yaml")); err != nil {
		t.Fatal(err)
	}
	r = e.obsctl("diff", "-f", "stack")
	if r.code != 1 || !strings.Contains(r.stdout, "--- live/v1.ConfigMap."+e.ns+".extra\n+++ /dev/null\n") {
		t.Errorf("diff does not show ConfigMap extra as removed (exit %d)", r.code)
	}
	r = e.obsctl("apply", "-f", "stack")
	if r.code != 0 {
		t.Fatalf("apply after removing a manifest: exit %d", r.code)
	}
	lines = objectLines(t, r.stdout)
	if got := lines["ConfigMap "+e.ns+"/extra"]; !strings.HasPrefix(got, "pruned (") {
		t.Errorf("extra: %q, want pruned", got)
	}
	if got := lines["ConfigMap "+e.ns+"/web-config"]; !strings.HasPrefix(got, "configured (") {
		t.Errorf("web-config: %q, want configured", got)
	}
	pruned := 0
	for _, rest := range lines {
		if strings.HasPrefix(rest, "pruned") {
			pruned++
		}
	}
	if pruned != 1 {
		t.Errorf("%d objects pruned, want 1", pruned)
	}
	extra := cm.DeepCopy()
	extra.SetName("extra")
	if got := e.get(extra); got != nil && got.GetDeletionTimestamp() == nil {
		t.Errorf("ConfigMap extra still exists after its prune")
	}
	if _, err := e.typed.CoreV1().ConfigMaps(e.ns).Get(ctx, "not-obsctls", metav1.GetOptions{}); err != nil {
		t.Errorf("the unrelated ConfigMap did not survive the prune: %v", err)
	}
	for _, o := range e.objects(stack) {
		if e.get(o) == nil {
			t.Errorf("%s is gone after the prune", kube.Describe(o))
		}
	}
	e.assertNoSecrets(append(secretValues, "hunter3-e2e-plaintext")...)
}

// TestApplyLocked: while another run holds the stack's lock, apply with
// --wait-lock=false fails at once naming the holder, and a waiting apply
// gives up at its --timeout.
func TestApplyLocked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-lock")
	e.writeFile("m/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: __NS__}\ndata: {a: b}\n")
	ctx := e.ctx()
	l, err := lock.Acquire(ctx, e.typed, lock.Options{Namespace: e.ns, Stack: e.ns, Holder: "ci-runner@build-7 pid 99"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)

	r := e.obsctl("apply", "-f", "m", "--wait-lock=false")
	if r.code != cli.ExitLocked {
		t.Fatalf("exit %d, want %d", r.code, cli.ExitLocked)
	}
	if !strings.Contains(r.stderr, "ci-runner@build-7 pid 99") {
		t.Errorf("stderr does not name the holder")
	}
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}

	r = e.obsctl("apply", "-f", "m", "--timeout", "2s", "-o", "json")
	if r.code != cli.ExitLocked {
		t.Fatalf("waiting apply: exit %d, want %d", r.code, cli.ExitLocked)
	}
	if !strings.Contains(r.stderr, "waiting for the lock held by ci-runner@build-7 pid 99 since ") {
		t.Errorf("stderr does not say whom it waits for")
	}
	if r.took > 8*time.Second {
		t.Errorf("the waiting apply took %s with --timeout 2s", r.took)
	}
	var res struct {
		ExitCode int    `json:"exitCode"`
		Error    string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.ExitCode != cli.ExitLocked || !strings.Contains(res.Error, "ci-runner@build-7") {
		t.Errorf("JSON result %+v (%v), want exit code 5 and the holder", res, err)
	}

	// Released, the lock is free again.
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if r := e.obsctl("apply", "-f", "m", "--wait-lock=false"); r.code != 0 {
		t.Errorf("apply after the release: exit %d", r.code)
	}
	if _, err := e.typed.CoordinationV1().Leases(e.ns).Get(ctx, lock.LeaseName(e.ns), metav1.GetOptions{}); err == nil {
		t.Errorf("apply left its lock behind")
	}
}

// TestApplyNotReady: a Deployment no node can take makes apply exit 4 at its
// --timeout, saying why.
func TestApplyNotReady(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-notready")
	e.writeFile("m/stuck.yaml", `apiVersion: v1
kind: Namespace
metadata: {name: __NS__}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck, namespace: __NS__}
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
`)
	r := e.obsctl("apply", "-f", "m", "--timeout", "5s")
	if r.code != cli.ExitNotReady {
		t.Fatalf("exit %d, want %d", r.code, cli.ExitNotReady)
	}
	if r.took > 5*time.Second+15*time.Second {
		t.Errorf("apply took %s with --timeout 5s", r.took)
	}
	if lines := objectLines(t, r.stdout); !strings.HasPrefix(lines["Deployment "+e.ns+"/stuck"], "created") {
		t.Errorf("the Deployment was not reported created: %v", lines)
	}
	for _, want := range []string{"Deployment " + e.ns + "/stuck", "FailedScheduling", "didn't match Pod's node affinity/selector"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
}

// TestApplyConflict: a field another manager owns makes apply fail naming
// the manager; --force-conflicts takes it over.
func TestApplyConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-conflict")
	ctx := e.ctx()
	if _, err := e.typed.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"shared","namespace":%q},"data":{"mode":"theirs"}}`, e.ns)
	if _, err := e.typed.CoreV1().ConfigMaps(e.ns).Patch(ctx, "shared", types.ApplyPatchType, []byte(body), metav1.PatchOptions{FieldManager: "team-blue"}); err != nil {
		t.Fatal(err)
	}
	e.writeFile("m/shared.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: __NS__}\ndata: {mode: ours}\n")

	// An object obsctl did not create is not taken over: it is left
	// alone, named, and the run exits 1.
	r := e.obsctl("apply", "-f", "m")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1", r.code)
	}
	if want := "ConfigMap " + e.ns + "/shared conflict: left alone, it exists and obsctl did not create it; --adopt takes it over"; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks %q", want)
	}
	live := func() *corev1.ConfigMap {
		cm, err := e.typed.CoreV1().ConfigMaps(e.ns).Get(ctx, "shared", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cm
	}
	if cm := live(); cm.Data["mode"] != "theirs" || cm.Labels[apply.LabelStack] != "" {
		t.Errorf("the foreign ConfigMap was changed: data %v labels %v", cm.Data, cm.Labels)
	}

	// Adopted, but with --conflicts=fail: the field team-blue owns is
	// named, with the way out, and nothing changes.
	r = e.obsctl("apply", "-f", "m", "--adopt", "--conflicts=fail")
	if r.code != 1 {
		t.Fatalf("--adopt --conflicts=fail: exit %d, want 1", r.code)
	}
	if !strings.Contains(r.stdout, "ConfigMap "+e.ns+"/shared failed: conflict with field manager \"team-blue\" over .data.mode") {
		t.Errorf("stdout does not name the conflicting manager and field")
	}
	if !strings.Contains(r.stderr, `"team-blue"`) || !strings.Contains(r.stderr, "--conflicts=take") {
		t.Errorf("stderr does not name the manager and the way out")
	}

	// Adopted with the default policy: the field is taken back, and the
	// line says from whom.
	r = e.obsctl("apply", "-f", "m", "--adopt")
	if r.code != 0 {
		t.Fatalf("--adopt: exit %d, want 0", r.code)
	}
	if want := `took back .data.mode from "team-blue"`; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks %q", want)
	}
	if cm := live(); cm.Data["mode"] != "ours" || cm.Labels[apply.LabelStack] != e.ns {
		t.Errorf("after --adopt data %v labels %v", cm.Data, cm.Labels)
	}

	// team-blue writes its value again (kubectl edit, say): the next
	// apply takes the field back, and diff names the manager first.
	if _, err := e.typed.CoreV1().ConfigMaps(e.ns).Patch(ctx, "shared", types.MergePatchType, []byte(`{"data":{"mode":"theirs"}}`), metav1.PatchOptions{FieldManager: "team-blue"}); err != nil {
		t.Fatal(err)
	}
	r = e.obsctl("diff", "-f", "m")
	if r.code != 1 || !strings.Contains(r.stdout, `took back .data.mode from "team-blue"`) || !strings.Contains(r.stdout, "-  mode: theirs") {
		t.Errorf("diff of the drift: exit %d, want 1 with the manager named and the change shown", r.code)
	}
	if r = e.obsctl("apply", "-f", "m"); r.code != 0 || live().Data["mode"] != "ours" {
		t.Errorf("apply over the drift: exit %d, data %v", r.code, live().Data)
	}
}

// TestPruneNamespace: a Namespace removed from the set is a protected
// kind, kept unless --prune-protected=namespaces names it, and even then
// pruned only once nothing outside the stack lives in it, since deleting a
// namespace deletes everything in it; until then it stays in the inventory.
func TestPruneNamespace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-prune-ns")
	other := e.ns + "-b"
	t.Cleanup(func() { _ = e.typed.CoreV1().Namespaces().Delete(context.Background(), other, metav1.DeleteOptions{}) })
	e.writeFile("m/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: __NS__}\n")
	e.writeFile("m/b.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: __NS__-b}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: in-b, namespace: __NS__-b}\n")
	if r := e.obsctl("apply", "-f", "m"); r.code != 0 {
		t.Fatalf("apply: exit %d", r.code)
	}
	ctx := e.ctx()
	theirs := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "theirs", Namespace: other}}
	if _, err := e.typed.CoreV1().ConfigMaps(other).Create(ctx, theirs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(e.dir, "m", "b.yaml")); err != nil {
		t.Fatal(err)
	}

	// Without --prune-protected=namespaces, a namespace is never pruned:
	// deleting it deletes everything in it. It stays the stack's.
	r := e.obsctl("apply", "-f", "m")
	if r.code != 0 {
		t.Fatalf("apply without namespace b: exit %d", r.code)
	}
	lines := objectLines(t, r.stdout)
	if got := lines["ConfigMap "+other+"/in-b"]; !strings.HasPrefix(got, "pruned") {
		t.Errorf("ConfigMap in-b: %q, want pruned", got)
	}
	if got := lines["Namespace "+other]; !strings.HasPrefix(got, "kept (namespaces are pruned only with --prune-protected=namespaces") {
		t.Errorf("Namespace %s: %q, want kept as a protected kind", other, got)
	}

	// With it, still not while it holds objects outside the stack.
	r = e.obsctl("apply", "-f", "m", "--prune-protected=namespaces")
	if r.code != 0 {
		t.Fatalf("apply --prune-protected=namespaces: exit %d", r.code)
	}
	if want := "Namespace " + other + " kept (it holds objects outside the stack, which deleting it would delete: ConfigMap " + other + "/theirs)"; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks %q", want)
	}
	if ns, err := e.typed.CoreV1().Namespaces().Get(ctx, other, metav1.GetOptions{}); err != nil || ns.DeletionTimestamp != nil {
		t.Fatalf("namespace %s was deleted with an object outside the stack in it (%v)", other, err)
	}

	// Once it is empty, the next apply prunes it: it stayed in the
	// inventory.
	if err := e.typed.CoreV1().ConfigMaps(other).Delete(ctx, "theirs", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Deleting a namespace deletes what is in it: it needs confirming.
	r = e.obsctl("apply", "-f", "m", "--prune-protected=namespaces")
	if r.code != cli.ExitConfirm || !strings.Contains(r.stderr, "Namespace "+other+" pruned: everything in the namespace is deleted with it") {
		t.Fatalf("third apply without --yes: exit %d, want 7 naming the namespace", r.code)
	}
	if ns, err := e.typed.CoreV1().Namespaces().Get(ctx, other, metav1.GetOptions{}); err != nil || ns.DeletionTimestamp != nil {
		t.Fatalf("namespace %s was deleted without confirmation (%v)", other, err)
	}
	r = e.obsctl("apply", "-f", "m", "--prune-protected=namespaces", "--yes")
	if r.code != 0 {
		t.Fatalf("third apply: exit %d", r.code)
	}
	if got := objectLines(t, r.stdout)["Namespace "+other]; !strings.HasPrefix(got, "pruned") {
		t.Errorf("Namespace %s: %q, want pruned", other, got)
	}
}

// TestApplyInterrupted: ^C during the rollout wait stops apply with exit 1,
// releases the lock and still records what was applied.
func TestApplyInterrupted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-interrupt")
	e.writeFile("m/stuck.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: stuck, namespace: __NS__}
spec:
  replicas: 1
  selector:
    matchLabels: {app: stuck}
  template:
    metadata:
      labels: {app: stuck}
    spec:
      nodeSelector: {obsctl.dev/no-such-node: "true"}
      containers:
      - {name: stuck, image: registry.k8s.io/pause:3.10}
`)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	r := e.obsctlCtx(ctx, "", "apply", "-f", "m", "--timeout", "60s")
	if r.code != cli.ExitFailure || !strings.Contains(r.stderr, "obsctl: interrupted") {
		t.Fatalf("exit %d, stderr %q; want 1 and interrupted", r.code, r.stderr)
	}
	if r.took > 10*time.Second {
		t.Errorf("the interrupted apply took %s", r.took)
	}
	tctx := e.ctx()
	if _, err := e.typed.CoordinationV1().Leases(e.ns).Get(tctx, lock.LeaseName(e.ns), metav1.GetOptions{}); err == nil {
		t.Errorf("the interrupted apply left its lock behind")
	}
	inv, err := inventory.Load(tctx, e.typed, e.ns, e.ns)
	if err != nil {
		t.Fatal(err)
	}
	if rev := inv.Latest(); rev == nil || len(rev.Entries) != 1 || rev.Entries[0].Name != "stuck" {
		t.Errorf("the inventory does not record the applied Deployment: %+v", rev)
	}
}

// TestPruneCRD: a CustomResourceDefinition removed from the set is a
// protected kind, kept unless --prune-protected=crds names it, and even
// then not pruned while custom resources of it exist, since deleting it
// would delete them all; the stack's own custom resources go.
func TestPruneCRD(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-prune-crd")
	stack := e.writeStack("stack")
	for _, f := range []string{"16-deployment-web.yaml", "17-daemonset-agent.yaml", "18-statefulset-db.yaml"} {
		if err := os.Remove(filepath.Join(stack, f)); err != nil {
			t.Fatal(err)
		}
	}
	if r := e.obsctl("apply", "-f", "stack"); r.code != 0 {
		t.Fatalf("apply: exit %d", r.code)
	}
	theirs := &unstructured.Unstructured{}
	theirs.SetAPIVersion(e.ns + ".e2e.obsctl.dev/v1")
	theirs.SetKind("Gadget")
	theirs.SetNamespace(e.ns)
	theirs.SetName("theirs")
	ri, _, err := e.clients.ResourceFor(theirs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ri.Create(e.ctx(), theirs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"01-crd.yaml", "21-gadget-1.yaml", "22-gadget-2.yaml", "23-gadget-3.yaml", "24-gadget-4.yaml"} {
		if err := os.Remove(filepath.Join(stack, f)); err != nil {
			t.Fatal(err)
		}
	}
	r := e.obsctl("apply", "-f", "stack")
	if r.code != 0 {
		t.Fatalf("apply without the CRD: exit %d", r.code)
	}
	lines := objectLines(t, r.stdout)
	for i := 1; i <= 4; i++ {
		if got := lines[fmt.Sprintf("Gadget %s/g%d", e.ns, i)]; !strings.HasPrefix(got, "pruned") {
			t.Errorf("Gadget g%d: %q, want pruned", i, got)
		}
	}
	crd := "CustomResourceDefinition gadgets." + e.ns + ".e2e.obsctl.dev"
	if got := lines[crd]; !strings.HasPrefix(got, "kept (CustomResourceDefinitions are pruned only with --prune-protected=crds") {
		t.Errorf("%s: %q, want kept as a protected kind", crd, got)
	}
	r = e.obsctl("apply", "-f", "stack", "--prune-protected=crds")
	if r.code != 0 {
		t.Fatalf("apply --prune-protected=crds: exit %d", r.code)
	}
	if want := "kept (custom resources of it exist, which deleting it would delete: Gadget " + e.ns + "/theirs)"; !strings.Contains(objectLines(t, r.stdout)[crd], want) {
		t.Errorf("%s: %q lacks %q", crd, objectLines(t, r.stdout)[crd], want)
	}
	if _, err := ri.Get(e.ctx(), "theirs", metav1.GetOptions{}); err != nil {
		t.Errorf("the custom resource outside the stack is gone: %v", err)
	}
}

// TestApplyConcurrent: two applies of one stack at once both succeed, one
// after the other: the second waits for the first's lock, then finds
// nothing to change and records no revision.
func TestApplyConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-concurrent")
	e.writeFile("m/cm.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: __NS__}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: __NS__}\ndata: {a: b}\n")
	// A Deployment to roll out keeps the first run holding the lock for
	// a moment, so that the second surely finds it held.
	e.writeFile("m/web.yaml", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: __NS__}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - {name: web, image: registry.k8s.io/pause:3.10}
`)
	results := make(chan result, 2)
	for range 2 {
		go func() { results <- e.obsctl("apply", "-f", "m", "-o", "json") }()
	}
	revisions := map[int]bool{}
	waited := 0
	for range 2 {
		r := <-results
		if r.code != 0 {
			t.Errorf("exit %d", r.code)
		}
		var res struct {
			Revision int `json:"revision"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatal(err)
		}
		revisions[res.Revision] = true
		if strings.Contains(r.stderr, "waiting for the lock held by e2e@") {
			waited++
		}
	}
	if !revisions[1] || !revisions[0] {
		t.Errorf("revisions %v, want 1 and none: one run after the other, the second with nothing to change", revisions)
	}
	if waited != 1 {
		t.Errorf("%d runs waited for the lock, want 1", waited)
	}
}
