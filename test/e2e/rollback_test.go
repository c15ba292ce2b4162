package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// rollbackStack is a small stack: a Deployment, its ConfigMap and Secret,
// and a ConfigMap the second revision drops.
var rollbackStack = map[string]string{
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
        - configMapRef: {name: web-config}
`,
	"config.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: __NS__}
data:
  level: info
`,
	"secret.yaml": `apiVersion: v1
kind: Secret
metadata: {name: web-creds, namespace: __NS__}
type: Opaque
stringData:
  password: rollback-e2e-first-value
`,
	"extra.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: extra, namespace: __NS__}
data:
  note: only in revision 1
`,
}

// TestRollback rolls a stack back to earlier revisions: changed objects
// return to the revision's state, dropped ones come back, added ones are
// pruned, Secrets keep their values, and a Secret whose values changed
// since stops the rollback before anything changes.
func TestRollback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-rollback")
	for name, content := range rollbackStack {
		e.writeFile(filepath.Join("stack", name), content)
	}
	apply := func(what string) {
		t.Helper()
		if r := e.obsctl("apply", "-f", "stack", "--timeout", "60s"); r.code != 0 {
			t.Fatalf("%s: exit %d", what, r.code)
		}
	}
	obj := func(apiVersion, kind, name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(apiVersion)
		u.SetKind(kind)
		u.SetNamespace(e.ns)
		u.SetName(name)
		return u
	}
	webConfig, extra, added := obj("v1", "ConfigMap", "web-config"), obj("v1", "ConfigMap", "extra"), obj("v1", "ConfigMap", "added")
	deploy := obj("apps/v1", "Deployment", "web")
	password := func() string {
		t.Helper()
		s, err := e.typed.CoreV1().Secrets(e.ns).Get(e.ctx(), "web-creds", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return string(s.Data["password"])
	}
	level := func() string {
		t.Helper()
		v, _, _ := unstructured.NestedString(e.get(webConfig).Object, "data", "level")
		return v
	}

	// Nothing applied yet: nothing to roll back to.
	r := e.obsctl("rollback")
	if r.code != 1 || !strings.Contains(r.stderr, "has no revisions") {
		t.Errorf("rollback before any apply: exit %d, want 1 saying there are no revisions", r.code)
	}

	apply("revision 1")
	// Revision 2: a new image and log level, extra dropped, added added.
	e.editFile("stack/web.yaml", "pause:3.10", "pause:3.9")
	e.editFile("stack/config.yaml", "level: info", "level: debug")
	if err := os.Remove(filepath.Join(e.dir, "stack", "extra.yaml")); err != nil {
		t.Fatal(err)
	}
	e.writeFile("stack/added.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: added, namespace: __NS__}\ndata: {note: only in revision 2}\n")
	apply("revision 2")
	// A pruned object may still be on its way out (foreground deletion).
	gone := func(o *unstructured.Unstructured) bool {
		live := e.get(o)
		return live == nil || live.GetDeletionTimestamp() != nil
	}
	if !gone(extra) || gone(added) || level() != "debug" {
		t.Fatal("revision 2 is not in place")
	}

	// Back to revision 1, the default target.
	r = e.obsctl("rollback", "--timeout", "60s")
	if r.code != 0 {
		t.Fatalf("rollback: exit %d", r.code)
	}
	lines := objectLines(t, r.stdout)
	for obj, want := range map[string]string{
		"ConfigMap " + e.ns + "/extra":      "created",
		"ConfigMap " + e.ns + "/web-config": "configured",
		"Deployment " + e.ns + "/web":       "configured",
		"Secret " + e.ns + "/web-creds":     "unchanged",
		"ConfigMap " + e.ns + "/added":      "pruned",
	} {
		if !strings.HasPrefix(lines[obj], want) {
			t.Errorf("rollback: %s: %q, want %s", obj, lines[obj], want)
		}
	}
	if !strings.Contains(r.stderr, "rolling stack "+e.ns+" back to revision 1") || !strings.Contains(r.stderr, "revision 3 (rollback to revision 1)") {
		t.Errorf("rollback's stderr does not say what it did:\n%s", r.stderr)
	}
	if gone(extra) || !gone(added) || level() != "info" {
		t.Error("after the rollback: extra, added or web-config's level are not revision 1's")
	}
	if img, _, _ := unstructured.NestedSlice(e.get(deploy).Object, "spec", "template", "spec", "containers"); !strings.Contains(fmt.Sprint(img), "pause:3.10") {
		t.Errorf("Deployment web's containers after the rollback: %v, want image pause:3.10", img)
	}
	if n, _, _ := unstructured.NestedInt64(e.get(deploy).Object, "status", "updatedReplicas"); n != 2 {
		t.Errorf("Deployment web has %d updated replicas: the rollout was not waited for", n)
	}
	if got := password(); got != "rollback-e2e-first-value" {
		t.Errorf("Secret value after the rollback: %q", got)
	}
	r = e.obsctl("history", "-o", "json")
	var hist struct {
		Revisions []struct {
			Revision, RollbackOf int
		} `json:"revisions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &hist); err != nil || len(hist.Revisions) != 3 {
		t.Fatalf("history: %v, %d revisions, want 3\n%s", err, len(hist.Revisions), r.stdout)
	}
	if hist.Revisions[0].Revision != 3 || hist.Revisions[0].RollbackOf != 1 {
		t.Errorf("history's newest revision %+v, want 3, a rollback of 1", hist.Revisions[0])
	}

	// Revision 4 changes the Secret: rolling back to 3 cannot restore its
	// values, so it stops before changing anything.
	e.editFile("stack/secret.yaml", "rollback-e2e-first-value", "rollback-e2e-second-value")
	apply("revision 4")
	before := e.resourceVersions([]*unstructured.Unstructured{webConfig, deploy, added})
	r = e.obsctl("rollback", "3")
	if r.code != 1 {
		t.Fatalf("rollback over a changed Secret: exit %d, want 1", r.code)
	}
	for _, want := range []string{"nothing rolled back", "Secret " + e.ns + "/web-creds", "--keep-secret-values"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("rollback over a changed Secret: stderr lacks %q", want)
		}
	}
	if after := e.resourceVersions([]*unstructured.Unstructured{webConfig, deploy, added}); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a refused rollback changed objects:\nbefore %v\nafter  %v", before, after)
	}
	if r := e.obsctl("history", "-o", "json"); !strings.Contains(r.stdout, `"revision": 4`) || strings.Contains(r.stdout, `"revision": 5`) {
		t.Errorf("a refused rollback recorded a revision:\n%s", r.stdout)
	}

	// --keep-secret-values rolls back the rest and leaves the Secret.
	r = e.obsctl("rollback", "3", "--keep-secret-values", "--timeout", "60s", "-o", "json")
	if r.code != 0 {
		t.Fatalf("rollback --keep-secret-values: exit %d", r.code)
	}
	var res struct {
		Revision, RollbackOf int
		Counts               map[string]int
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("rollback -o json: %v\n%s", err, r.stdout)
	}
	if res.Revision != 5 || res.RollbackOf != 3 || res.Counts["pruned"] != 1 || res.Counts["created"] != 1 {
		t.Errorf("rollback -o json: %+v, want revision 5, rollback of 3, extra created and added pruned", res)
	}
	if got := password(); got != "rollback-e2e-second-value" {
		t.Errorf("Secret value after rollback --keep-secret-values: %q, want the current one", got)
	}
	if !strings.Contains(r.stderr, "web-creds keeps its current values") {
		t.Errorf("stderr does not say the Secret kept its values:\n%s", r.stderr)
	}

	// Revisions that do not exist, and arguments that are not revisions.
	if r := e.obsctl("rollback", "99"); r.code != 1 || !strings.Contains(r.stderr, "has no revision 99 (the inventory holds revisions 1 to 5)") {
		t.Errorf("rollback 99: exit %d, want 1 naming the revisions held", r.code)
	}
	if r := e.obsctl("rollback", "latest"); r.code != 2 {
		t.Errorf("rollback latest: exit %d, want 2", r.code)
	}
	e.assertNoSecrets("rollback-e2e-first-value", "rollback-e2e-second-value")
}
