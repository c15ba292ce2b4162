package e2ehistory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/cli"
	"github.com/obsctl/obsctl/internal/inventory"
	"github.com/obsctl/obsctl/test/cluster"
)

// result is what one in-process run of obsctl gave.
type result struct {
	code           int
	stdout, stderr string
}

// obsctl runs the CLI in-process with KUBECONFIG set to kubeconfig, from an
// empty working directory (so no obsctl.yaml supplies defaults).
func obsctl(t *testing.T, kubeconfig string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(cluster.Context(t), args, cli.Deps{
		Stdout:  &out,
		Stderr:  &errb,
		WorkDir: t.TempDir(),
		Getenv: func(k string) string {
			if k == "KUBECONFIG" {
				return kubeconfig
			}
			return ""
		},
	})
	return result{code, out.String(), errb.String()}
}

func object(apiVersion, kind, ns, name string, data map[string]any) *unstructured.Unstructured {
	meta := map[string]any{"name": name}
	if ns != "" {
		meta["namespace"] = ns
	}
	o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}
	if data != nil {
		o["data"] = data
	}
	return &unstructured.Unstructured{Object: o}
}

// saveRevisions saves three revisions of stack prod in ns, as three applies
// would: the stack, the stack with a changed and an added ConfigMap, and a
// rollback to the first.
func saveRevisions(t *testing.T, ctx context.Context, cs cluster.Client, ns string) {
	t.Helper()
	first := []*unstructured.Unstructured{
		object("v1", "Namespace", "", ns, nil),
		object("v1", "ConfigMap", ns, "grafana", map[string]any{"theme": "dark"}),
		object("v1", "ConfigMap", ns, "prometheus", map[string]any{"interval": "30s"}),
	}
	second := []*unstructured.Unstructured{
		first[0], first[2],
		object("v1", "ConfigMap", ns, "grafana", map[string]any{"theme": "light"}),
		object("v1", "ConfigMap", ns, "dashboards", map[string]any{"home.json": "{}"}),
	}
	for i, rev := range []struct {
		objs       []*unstructured.Unstructured
		summary    inventory.Summary
		rollbackOf int
	}{
		{first, inventory.Summary{Created: 3}, 0},
		{second, inventory.Summary{Created: 1, Configured: 1, Unchanged: 2}, 0},
		{first, inventory.Summary{Configured: 1, Unchanged: 2, Pruned: 1}, 1},
	} {
		inv, err := inventory.Load(ctx, cs, ns, "prod")
		if err != nil {
			t.Fatal(err)
		}
		r := inventory.Revision{User: "alice", Host: "ci-7", ObsctlVersion: "v0.5.0", Summary: rev.summary, RollbackOf: rev.rollbackOf}
		if err := r.SetObjects(rev.objs); err != nil {
			t.Fatal(err)
		}
		inv.Append(r)
		if err := inv.Save(ctx, cs); err != nil {
			t.Fatalf("save revision %d: %v", i+1, err)
		}
	}
}

func TestHistory(t *testing.T) {
	c := kube.Cluster(t)
	ctx := cluster.Context(t)
	cs := cluster.NewClient(t, c.RESTConfig())
	nsObj, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "history-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns := nsObj.Name
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	saveRevisions(t, ctx, cs, ns)
	admin := c.Kubeconfig()

	t.Run("table", func(t *testing.T) {
		r := obsctl(t, admin, "history", "-n", ns, "--stack", "prod")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 4 {
			t.Fatalf("want a header and 3 rows:\n%s", r.stdout)
		}
		for i, want := range []struct{ rev, objects, changes, note string }{
			{"3", "3", "+0 -1 ~1", "rollback of 1"},
			{"2", "4", "+1 -0 ~1", ""},
			{"1", "3", "+3 -0 ~0", ""},
		} {
			// REVISION TIME WHO PROFILE COMMIT OBSCTL OBJECTS CHANGES NOTE
			f := strings.Fields(lines[i+1])
			if len(f) < 10 || f[0] != want.rev || f[2] != "alice@ci-7" || f[3] != "-" || f[4] != "-" || f[5] != "v0.5.0" || f[6] != want.objects ||
				strings.Join(f[7:10], " ") != want.changes || strings.Join(f[10:], " ") != want.note {
				t.Errorf("row %d: %q, want revision %s, %s objects, changes %q, note %q", i+1, lines[i+1], want.rev, want.objects, want.changes, want.note)
			}
		}
	})

	t.Run("json", func(t *testing.T) {
		r := obsctl(t, admin, "history", "-n", ns, "--stack", "prod", "-o", "json")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		var got struct {
			Stack, Namespace string
			Revisions        []struct {
				Revision, RollbackOf int
				Summary              inventory.Summary
				Changes              struct{ Added, Removed, Changed []inventory.ObjectRef }
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("%v:\n%s", err, r.stdout)
		}
		if got.Stack != "prod" || got.Namespace != ns || len(got.Revisions) != 3 {
			t.Fatalf("%+v", got)
		}
		latest := got.Revisions[0]
		if latest.Revision != 3 || latest.RollbackOf != 1 || latest.Summary.Pruned != 1 ||
			len(latest.Changes.Removed) != 1 || latest.Changes.Removed[0].Name != "dashboards" ||
			len(latest.Changes.Changed) != 1 || latest.Changes.Changed[0].Name != "grafana" {
			t.Errorf("latest revision %+v", latest)
		}
	})

	t.Run("revision", func(t *testing.T) {
		r := obsctl(t, admin, "history", "-n", ns, "--stack", "prod", "--revision", "2")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		for _, want := range []string{
			"Revision: 2",
			"Applied:  1 created, 1 configured, 2 unchanged, 0 pruned",
			"Changes from revision 1: 1 added, 1 changed.",
			"  + ConfigMap.v1 " + ns + "/dashboards",
			"  ~ ConfigMap.v1 " + ns + "/grafana",
			"Objects (4):",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, r.stdout)
			}
		}
		r = obsctl(t, admin, "history", "-n", ns, "--stack", "prod", "--revision", "9")
		if r.code != 1 || !strings.Contains(r.stderr, "has no revision 9 (it keeps revisions 1 to 3)") {
			t.Errorf("missing revision: exit %d, %s", r.code, r.stderr)
		}
	})

	t.Run("nothing applied", func(t *testing.T) {
		for _, tc := range []struct{ ns, stack string }{{ns, "other"}, {"no-such-namespace", "prod"}} {
			r := obsctl(t, admin, "history", "-n", tc.ns, "--stack", tc.stack)
			want := "obsctl: nothing applied yet for stack " + tc.stack + " in namespace " + tc.ns + " (context "
			if r.code != 1 || !strings.HasPrefix(r.stderr, want) || r.stdout != "" {
				t.Errorf("stack %s in %s: exit %d, stdout %q, stderr %q; want 1 and %q", tc.stack, tc.ns, r.code, r.stdout, r.stderr, want)
			}
		}
	})

	t.Run("least privilege", func(t *testing.T) {
		// Bound to what `obsctl rbac` prints for a stack whose namespace is
		// ns, history works; with its roles but not yet its bindings, it
		// says why it cannot.
		const user = "history-reader"
		manifests := filepath.Join(t.TempDir(), "stack.yaml")
		if err := os.WriteFile(manifests, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: grafana, namespace: "+ns+"}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		r := obsctl(t, admin, "rbac", "-f", manifests, "-n", ns, "--name", "obsctl-history-test", "--user", user)
		if r.code != 0 {
			t.Fatalf("obsctl rbac: exit %d: %s", r.code, r.stderr)
		}
		var roles, bindings []func() error
		for _, doc := range strings.Split(r.stdout, "\n---\n") {
			var u unstructured.Unstructured
			if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
				t.Fatal(err)
			}
			create, err := creator(ctx, cs, &u)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(u.GetKind(), "Binding") {
				bindings = append(bindings, create)
			} else {
				roles = append(roles, create)
			}
		}
		if len(roles) != 3 || len(bindings) != 2 {
			t.Fatalf("obsctl rbac printed %d namespaces and roles, %d bindings; want the namespace, a ClusterRole, a Role, and their bindings:\n%s", len(roles), len(bindings), r.stdout)
		}
		t.Cleanup(func() {
			ctx := context.Background()
			_ = cs.RbacV1().ClusterRoleBindings().Delete(ctx, "obsctl-history-test", metav1.DeleteOptions{})
			_ = cs.RbacV1().ClusterRoles().Delete(ctx, "obsctl-history-test", metav1.DeleteOptions{})
		})
		for _, create := range roles {
			if err := create(); err != nil {
				t.Fatal(err)
			}
		}
		kc, err := c.UserKubeconfig(user)
		if err != nil {
			t.Fatal(err)
		}
		r = obsctl(t, kc, "history", "-n", ns, "--stack", "prod")
		if r.code != 1 || !strings.Contains(r.stderr, "forbidden") {
			t.Errorf("history before the bindings: exit %d, stderr %q; want 1 and forbidden", r.code, r.stderr)
		}
		for _, create := range bindings {
			if err := create(); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			r = obsctl(t, kc, "history", "-n", ns, "--stack", "prod")
			if r.code == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if r.code != 0 || !strings.Contains(r.stdout, "rollback of 1") {
			t.Errorf("history as %s: exit %d, stderr %q, stdout:\n%s", user, r.code, r.stderr, r.stdout)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		cfg, err := clientcmd.LoadFromFile(admin)
		if err != nil {
			t.Fatal(err)
		}
		for _, cl := range cfg.Clusters {
			cl.Server = "https://127.0.0.1:1" // nothing listens there
		}
		path := filepath.Join(t.TempDir(), "kubeconfig")
		if err := clientcmd.WriteToFile(*cfg, path); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		r := obsctl(t, path, "history", "-n", ns, "--stack", "prod", "--timeout", "1s")
		if took := time.Since(start); r.code != 1 || !strings.Contains(r.stderr, "unreachable (connection refused)") || took > 5*time.Second {
			t.Errorf("unreachable cluster: exit %d after %s, stderr %q", r.code, took, r.stderr)
		}
	})
}

// creator returns a function that creates u, one of the objects obsctl
// rbac prints, as an administrator would; a Namespace that exists already
// is left as it is.
func creator(ctx context.Context, cs cluster.Client, u *unstructured.Unstructured) (func() error, error) {
	into := func(v any) error { return runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, v) }
	switch u.GetKind() {
	case "Namespace":
		var o corev1.Namespace
		return func() error {
			_, err := cs.CoreV1().Namespaces().Create(ctx, &o, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return nil
			}
			return err
		}, into(&o)
	case "ClusterRole":
		var o rbacv1.ClusterRole
		return func() error { _, err := cs.RbacV1().ClusterRoles().Create(ctx, &o, metav1.CreateOptions{}); return err }, into(&o)
	case "Role":
		var o rbacv1.Role
		return func() error {
			_, err := cs.RbacV1().Roles(o.Namespace).Create(ctx, &o, metav1.CreateOptions{})
			return err
		}, into(&o)
	case "ClusterRoleBinding":
		var o rbacv1.ClusterRoleBinding
		return func() error {
			_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &o, metav1.CreateOptions{})
			return err
		}, into(&o)
	case "RoleBinding":
		var o rbacv1.RoleBinding
		return func() error {
			_, err := cs.RbacV1().RoleBindings(o.Namespace).Create(ctx, &o, metav1.CreateOptions{})
			return err
		}, into(&o)
	}
	return nil, fmt.Errorf("obsctl rbac printed a %s", u.GetKind())
}
