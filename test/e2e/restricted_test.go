package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// TestApplyRestricted runs obsctl as an identity bound to nothing but what
// `obsctl rbac` prints for the stack (its namespace, a ClusterRole and a
// Role there): diff, a server dry run, apply, an unchanged re-apply, prune,
// history and rollback all work, and a kind the policy does not cover is
// refused by the API server.
func TestApplyRestricted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "e2e-restricted")
	e.writeStack("stack")
	user := e.ns + "-deployer"

	// The policy and its bindings, applied by an administrator as kubectl
	// apply would: the stack's namespace first, unowned, for obsctl's
	// first apply to adopt.
	r := e.obsctl("rbac", "-f", "stack", "-n", e.ns, "--name", user, "--user", user)
	if r.code != 0 {
		t.Fatalf("obsctl rbac: exit %d", r.code)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		_ = e.typed.RbacV1().ClusterRoleBindings().Delete(ctx, user, metav1.DeleteOptions{})
		_ = e.typed.RbacV1().ClusterRoles().Delete(ctx, user, metav1.DeleteOptions{})
	})
	for _, doc := range strings.Split(r.stdout, "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{Object: m}
		ri, _, err := e.clients.ResourceFor(obj)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ri.Apply(e.ctx(), obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "kubectl", Force: true}); err != nil {
			t.Fatalf("apply the printed %s %s as admin: %v", obj.GetKind(), obj.GetName(), err)
		}
	}

	kubeconfig, err := e.c.UserKubeconfig(user)
	if err != nil {
		t.Fatal(err)
	}
	e.vars["KUBECONFIG"] = kubeconfig
	if r := e.obsctl("diff", "-f", "stack"); r.code != 1 {
		t.Errorf("diff as %s: exit %d, want 1 (changes)", user, r.code)
	}
	if r := e.obsctl("apply", "-f", "stack", "--dry-run=server"); r.code != 0 {
		t.Errorf("server dry run as %s: exit %d", user, r.code)
	}
	r = e.obsctl("apply", "-f", "stack", "--timeout", "60s")
	if r.code != 0 {
		t.Fatalf("apply as %s: exit %d", user, r.code)
	}
	if !strings.Contains(r.stderr, "revision 1: 24 created, 1 configured") {
		t.Errorf("apply as %s did not create the 24 objects and take over the namespace", user)
	}
	r = e.obsctl("apply", "-f", "stack", "--timeout", "60s")
	if r.code != 0 || !strings.Contains(r.stderr, "no revision (nothing changed): 0 created, 0 configured, 25 unchanged, 0 pruned") {
		t.Errorf("unchanged re-apply as %s: exit %d, want 0 with 25 unchanged", user, r.code)
	}
	if err := os.Remove(filepath.Join(e.dir, "stack", "11-configmap-extra.yaml")); err != nil {
		t.Fatal(err)
	}
	r = e.obsctl("apply", "-f", "stack", "--timeout", "60s")
	if r.code != 0 || !strings.HasPrefix(objectLines(t, r.stdout)["ConfigMap "+e.ns+"/extra"], "pruned") {
		t.Errorf("apply with a file gone, as %s: exit %d, want 0 with extra pruned", user, r.code)
	}
	if r := e.obsctl("history", "-o", "json"); r.code != 0 || strings.Count(r.stdout, `"revision": `) != 2 {
		t.Errorf("history as %s: exit %d, want 0 listing 2 revisions (the unchanged re-apply records none)", user, r.code)
	}
	r = e.obsctl("rollback", "--timeout", "60s")
	if r.code != 0 || !strings.HasPrefix(objectLines(t, r.stdout)["ConfigMap "+e.ns+"/extra"], "created") {
		t.Errorf("rollback as %s: exit %d, want 0 with extra created again", user, r.code)
	}

	// A kind the ClusterRole was not printed for.
	e.writeFile("other/priorityclass.yaml", "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: __NS__-urgent}\nvalue: 1000\n")
	r = e.obsctl("apply", "-f", "other", "--stack", e.ns+"-other", "-n", e.ns)
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "forbidden") {
		t.Errorf("apply of a PriorityClass as %s: exit %d, want 1 saying it is forbidden", user, r.code)
	}
	if _, err := e.typed.SchedulingV1().PriorityClasses().Get(e.ctx(), e.ns+"-urgent", metav1.GetOptions{}); err == nil {
		t.Errorf("the PriorityClass was created")
		_ = e.typed.SchedulingV1().PriorityClasses().Delete(context.Background(), e.ns+"-urgent", metav1.DeleteOptions{})
	}
}
