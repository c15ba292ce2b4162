package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/cli"
)

// mixedStack is the first set of TestOneAnswer: the stack's namespace, an
// extra namespace, three ConfigMaps, a Deployment and a StatefulSet with a
// volume claim template (and its headless Service).
var mixedStack = map[string]string{
	"namespace.yaml": `apiVersion: v1
kind: Namespace
metadata: {name: __NS__}
`,
	"extra-namespace.yaml": `apiVersion: v1
kind: Namespace
metadata: {name: __NS__-extra}
`,
	"settings.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: __NS__}
data:
  level: info
`,
	"static.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: static, namespace: __NS__}
data:
  motd: nothing changes here
`,
	"retired.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: retired, namespace: __NS__}
data:
  note: dropped by the second set
`,
	"web.yaml": `apiVersion: apps/v1
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
      - name: web
        image: registry.k8s.io/pause:3.10
        envFrom:
        - configMapRef: {name: settings}
`,
	"db.yaml": `apiVersion: v1
kind: Service
metadata: {name: db, namespace: __NS__}
spec:
  clusterIP: None
  selector: {app: db}
  ports:
  - {name: db, port: 5432}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: __NS__}
spec:
  replicas: 1
  serviceName: db
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: db
        image: registry.k8s.io/pause:3.10
        volumeMounts:
        - {name: data, mountPath: /data}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests: {storage: 1Gi}
`,
}

// planObject is one object of a -o json result, as TestOneAnswer compares
// them.
type planObject struct {
	APIVersion  string `json:"apiVersion"`
	Kind        string `json:"kind"`
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	Action      string `json:"action"`
	Note        string `json:"note"`
	Destructive string `json:"destructive"`
}

func (o planObject) key() string {
	if o.Namespace == "" {
		return fmt.Sprintf("%s %s %s", o.APIVersion, o.Kind, o.Name)
	}
	return fmt.Sprintf("%s %s %s/%s", o.APIVersion, o.Kind, o.Namespace, o.Name)
}

// planResult is what diff -o json and apply -o json print, as far as
// TestOneAnswer reads them.
type planResult struct {
	Stack       string       `json:"stack"`
	Namespace   string       `json:"namespace"`
	Changed     bool         `json:"changed"`
	DryRun      string       `json:"dryRun"`
	Revision    int          `json:"revision"`
	ExitCode    int          `json:"exitCode"`
	Objects     []planObject `json:"objects"`
	Destructive []string     `json:"destructive"`
}

// byObject returns the result's objects by key, failing on an object
// reported twice: one object, one answer.
func (p planResult) byObject(t *testing.T, what string) map[string]planObject {
	t.Helper()
	out := map[string]planObject{}
	for _, o := range p.Objects {
		if prev, dup := out[o.key()]; dup {
			t.Errorf("%s reports %s twice: %s and %s", what, o.key(), prev.Action, o.Action)
		}
		out[o.key()] = o
	}
	return out
}

func decodePlan(t *testing.T, what, stdout string) planResult {
	t.Helper()
	var p planResult
	if err := json.Unmarshal([]byte(stdout), &p); err != nil {
		t.Fatalf("%s: stdout is not one JSON document: %v\n%s", what, err, stdout)
	}
	return p
}

// TestOneAnswer: one mixed change (create, update, conflict, replace,
// prune, keep, and an object of the user's beside the stack) gets the same
// answer, object by object, from diff -o json, apply --dry-run=server -o
// json and the real apply -o json, and each answer is the right one; the
// replace is marked destructive in all three. Without --yes the apply
// exits 7 and changes nothing; with it, everything but the conflict is
// applied and it exits 1 for the conflict.
func TestOneAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-agree")
	extraNS := e.ns + "-extra"
	pvName := e.ns + "-data"
	t.Cleanup(func() {
		ctx := context.Background()
		_ = e.typed.CoreV1().Namespaces().Delete(ctx, extraNS, metav1.DeleteOptions{})
		_ = e.typed.CoreV1().PersistentVolumes().Delete(ctx, pvName, metav1.DeleteOptions{})
	})
	for name, content := range mixedStack {
		e.writeFile(filepath.Join("mixed", name), content)
	}
	ctx := e.ctx()
	ns := e.ns
	obj := func(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(apiVersion)
		u.SetKind(kind)
		u.SetNamespace(namespace)
		u.SetName(name)
		return u
	}

	// The StatefulSet's claim binds to a volume made for it, so that its
	// pod runs and the rollouts finish, as they would with a provisioner.
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: pvName},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + pvName}},
			ClaimRef:                      &corev1.ObjectReference{Namespace: e.ns, Name: "data-db-0"},
		},
	}
	if _, err := e.typed.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	if r := e.obsctl("apply", "-f", "mixed", "--timeout", "120s"); r.code != 0 {
		t.Fatalf("first apply: exit %d", r.code)
	}
	statefulSet := obj("apps/v1", "StatefulSet", ns, "db")
	if n, _, _ := unstructured.NestedInt64(e.get(statefulSet).Object, "status", "readyReplicas"); n != 1 {
		t.Fatalf("StatefulSet db has %d ready replicas after the first apply, want 1", n)
	}

	// Objects that are not the stack's: one the next set also has (made
	// by another field manager, without obsctl's labels), and one of the
	// user's that no set has.
	theirsBody := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"theirs","namespace":%q},"data":{"owner":"team-blue"}}`, e.ns)
	if _, err := e.typed.CoreV1().ConfigMaps(e.ns).Patch(ctx, "theirs", types.ApplyPatchType, []byte(theirsBody), metav1.PatchOptions{FieldManager: "team-blue"}); err != nil {
		t.Fatal(err)
	}
	usersOwn := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "users-own", Namespace: e.ns}, Data: map[string]string{"mine": "yes"}}
	if _, err := e.typed.CoreV1().ConfigMaps(e.ns).Create(ctx, usersOwn, metav1.CreateOptions{FieldManager: "someone"}); err != nil {
		t.Fatal(err)
	}

	// The second set: settings changed, added new, theirs claimed, the
	// claim template grown (a field a StatefulSet cannot change), retired
	// and the extra namespace dropped.
	e.editFile("mixed/settings.yaml", "level: info", "level: debug")
	e.writeFile("mixed/added.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: added, namespace: __NS__}\ndata: {note: new in the second set}\n")
	e.writeFile("mixed/theirs.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: theirs, namespace: __NS__}\ndata: {owner: the stack}\n")
	e.editFile("mixed/db.yaml", "storage: 1Gi", "storage: 2Gi")
	for _, f := range []string{"retired.yaml", "extra-namespace.yaml"} {
		if err := os.Remove(filepath.Join(e.dir, "mixed", f)); err != nil {
			t.Fatal(err)
		}
	}

	want := map[string]string{
		"v1 Namespace " + ns:                "unchanged",
		"v1 Namespace " + extraNS:           "kept",
		"v1 ConfigMap " + ns + "/settings":  "configured",
		"v1 ConfigMap " + ns + "/static":    "unchanged",
		"v1 ConfigMap " + ns + "/added":     "created",
		"v1 ConfigMap " + ns + "/theirs":    "conflict",
		"v1 ConfigMap " + ns + "/retired":   "pruned",
		"v1 Service " + ns + "/db":          "unchanged",
		"apps/v1 StatefulSet " + ns + "/db": "replaced",
		"apps/v1 Deployment " + ns + "/web": "unchanged",
	}
	destructive := []string{"apps/v1 StatefulSet " + ns + "/db"}

	// Everything the test looks at, to tell whether a run changed any.
	watched := append(e.objects(filepath.Join(e.dir, "mixed")),
		obj("v1", "Namespace", "", extraNS),
		obj("v1", "ConfigMap", ns, "retired"),
		obj("v1", "ConfigMap", ns, "users-own"),
		obj("v1", "PersistentVolumeClaim", ns, "data-db-0"),
		obj("v1", "Pod", ns, "db-0"),
	)
	before := e.resourceVersions(watched)
	if _, ok := before["ConfigMap "+ns+"/added"]; ok {
		t.Fatal("ConfigMap added exists before the second release")
	}
	stsUID := e.get(statefulSet).GetUID()
	unchangedSince := func(step string) {
		t.Helper()
		if after := e.resourceVersions(watched); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("%s changed objects:\nbefore %v\nafter  %v", step, before, after)
		}
	}

	// check compares one command's answer with the expected one, object
	// by object, destructive marks included.
	check := func(what string, p planResult) map[string]planObject {
		t.Helper()
		got := p.byObject(t, what)
		for _, k := range slices.Sorted(maps.Keys(want)) {
			o, ok := got[k]
			switch {
			case !ok:
				t.Errorf("%s: %s missing", what, k)
			case o.Action != want[k]:
				t.Errorf("%s: %s %s (%s), want %s", what, k, o.Action, o.Note, want[k])
			}
			if ok && (o.Destructive != "") != slices.Contains(destructive, k) {
				t.Errorf("%s: %s destructive %q, want it marked only for %v", what, k, o.Destructive, destructive)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(got)) {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: reports %s (%s), which neither set nor the inventory has", what, k, got[k].Action)
			}
		}
		if len(p.Destructive) != 1 || !strings.Contains(p.Destructive[0], "StatefulSet "+ns+"/db") {
			t.Errorf("%s: destructive changes %q, want StatefulSet %s/db's replace only", what, p.Destructive, ns)
		}
		return got
	}
	foreign := func(what string, r result) {
		t.Helper()
		if strings.Contains(r.stdout, "users-own") || strings.Contains(r.stderr, "users-own") {
			t.Errorf("%s mentions the user's ConfigMap users-own, which is no set's", what)
		}
	}

	// diff -o json: the plan, with changes, so exit 1.
	r := e.obsctl("diff", "-f", "mixed", "-o", "json")
	if r.code != 1 {
		t.Errorf("diff: exit %d, want 1 (changes)", r.code)
	}
	diff := decodePlan(t, "diff", r.stdout)
	if !diff.Changed || diff.Stack != ns || diff.Namespace != ns {
		t.Errorf("diff: changed %v, stack %q, namespace %q; want true, %s, %s", diff.Changed, diff.Stack, diff.Namespace, ns, ns)
	}
	diffObjs := check("diff -o json", diff)
	var diffs struct {
		Objects []struct {
			planObject
			Diff string `json:"diff"`
		} `json:"objects"`
	}
	_ = json.Unmarshal([]byte(r.stdout), &diffs)
	for _, o := range diffs.Objects {
		if want[o.key()] != "unchanged" && want[o.key()] != "kept" && want[o.key()] != "conflict" && o.Diff == "" {
			t.Errorf("diff -o json: %s (%s) comes without its diff", o.key(), o.Action)
		}
	}
	foreign("diff", r)
	unchangedSince("diff")

	// The server dry run: the same plan, the conflict reported as a real
	// apply would, so exit 1; nothing changes.
	r = e.obsctl("apply", "-f", "mixed", "--dry-run=server", "-o", "json")
	dry := decodePlan(t, "apply --dry-run=server", r.stdout)
	if r.code != cli.ExitFailure || dry.ExitCode != r.code || dry.DryRun != "server" {
		t.Errorf("apply --dry-run=server: exit %d, JSON exit code %d, dryRun %q; want 1 (the conflict), the same, server", r.code, dry.ExitCode, dry.DryRun)
	}
	dryObjs := check("apply --dry-run=server -o json", dry)
	foreign("apply --dry-run=server", r)
	unchangedSince("apply --dry-run=server")

	// Without --yes: exit 7, the replace listed, nothing changed.
	r = e.obsctl("apply", "-f", "mixed", "-o", "json", "--timeout", "120s")
	unconfirmed := decodePlan(t, "apply without --yes", r.stdout)
	if r.code != cli.ExitConfirm || unconfirmed.ExitCode != cli.ExitConfirm {
		t.Errorf("apply without --yes: exit %d, JSON exit code %d; want %d", r.code, unconfirmed.ExitCode, cli.ExitConfirm)
	}
	if !strings.Contains(strings.Join(unconfirmed.Destructive, "\n"), "StatefulSet "+ns+"/db") {
		t.Errorf("apply without --yes: its list of destructive changes %q does not name StatefulSet %s/db", unconfirmed.Destructive, ns)
	}
	if unconfirmed.Revision != 0 {
		t.Errorf("apply without --yes recorded revision %d", unconfirmed.Revision)
	}
	for _, o := range unconfirmed.Objects {
		switch o.Action {
		case "created", "configured", "replaced", "pruned":
			t.Errorf("apply without --yes: %s %s", o.key(), o.Action)
		}
	}
	foreign("apply without --yes", r)
	unchangedSince("apply without --yes")
	if uid := e.get(statefulSet).GetUID(); uid != stsUID {
		t.Errorf("apply without --yes replaced the StatefulSet")
	}

	// Confirmed: everything applied but the conflict, which makes it exit 1.
	r = e.obsctl("apply", "-f", "mixed", "-o", "json", "--yes", "--timeout", "120s")
	applied := decodePlan(t, "apply --yes", r.stdout)
	if r.code != cli.ExitFailure || applied.ExitCode != cli.ExitFailure {
		t.Errorf("apply --yes: exit %d, JSON exit code %d; want 1 (the conflict)", r.code, applied.ExitCode)
	}
	if applied.Revision != 2 {
		t.Errorf("apply --yes recorded revision %d, want 2", applied.Revision)
	}
	realObjs := check("apply --yes -o json", applied)
	foreign("apply --yes", r)

	// One answer per object, whichever command looked.
	for _, k := range slices.Sorted(maps.Keys(want)) {
		d, s, a := diffObjs[k].Action, dryObjs[k].Action, realObjs[k].Action
		if d != s || s != a {
			t.Errorf("%s: diff says %q, the server dry run %q, apply %q", k, d, s, a)
		}
	}

	// What the apply did is what it said.
	cm := func(name string) *corev1.ConfigMap {
		t.Helper()
		c, err := e.typed.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("ConfigMap %s: %v", name, err)
			return &corev1.ConfigMap{}
		}
		return c
	}
	if c := cm("settings"); c.Data["level"] != "debug" {
		t.Errorf("ConfigMap settings: level %q, want debug", c.Data["level"])
	}
	if c := cm("added"); c.Labels[apply.LabelStack] != ns {
		t.Errorf("ConfigMap added: labels %v, want the stack's", c.Labels)
	}
	if c := cm("theirs"); c.Data["owner"] != "team-blue" || c.Labels[apply.LabelStack] != "" || c.Labels[apply.LabelManagedBy] != "" {
		t.Errorf("the conflicting ConfigMap theirs was changed: data %v labels %v", c.Data, c.Labels)
	}
	if c := cm("users-own"); c.Data["mine"] != "yes" || c.ResourceVersion != before["ConfigMap "+ns+"/users-own"] {
		t.Errorf("the user's ConfigMap users-own was touched: data %v, resourceVersion %s (was %s)", c.Data, c.ResourceVersion, before["ConfigMap "+ns+"/users-own"])
	}
	if live := e.get(obj("v1", "ConfigMap", ns, "retired")); live != nil && live.GetDeletionTimestamp() == nil {
		t.Errorf("ConfigMap retired survived its prune")
	}
	if n, err := e.typed.CoreV1().Namespaces().Get(ctx, extraNS, metav1.GetOptions{}); err != nil || n.DeletionTimestamp != nil {
		t.Errorf("namespace %s, a protected kind, was pruned (%v)", extraNS, err)
	}
	sts := e.get(statefulSet)
	if sts == nil {
		t.Fatal("StatefulSet db is gone after its replace")
	}
	if sts.GetUID() == stsUID {
		t.Errorf("StatefulSet db was not replaced")
	}
	claims, _, _ := unstructured.NestedSlice(sts.Object, "spec", "volumeClaimTemplates")
	if !strings.Contains(fmt.Sprint(claims), "storage:2Gi") {
		t.Errorf("StatefulSet db's claim templates after the replace: %v, want 2Gi", claims)
	}
	if n, _, _ := unstructured.NestedInt64(sts.Object, "status", "readyReplicas"); n != 1 {
		t.Errorf("the new StatefulSet db has %d ready replicas: its rollout was not waited for", n)
	}
	// The replace keeps the data: the claim is the one from before.
	if pvc, err := e.typed.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data-db-0", metav1.GetOptions{}); err != nil || pvc.Spec.VolumeName != pvName {
		t.Errorf("claim data-db-0 after the replace: %v, want it still bound to %s", err, pvName)
	}
}
