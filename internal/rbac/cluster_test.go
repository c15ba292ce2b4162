package rbac

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/inventory"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/lock"
	"github.com/obsctl/obsctl/test/cluster"
)

// ssa server-side applies obj as the field manager obsctl, as the apply
// engine does.
func ssa(ctx context.Context, cl *kube.Clients, obj *unstructured.Unstructured) error {
	ri, _, err := cl.ResourceFor(obj)
	if err != nil {
		return err
	}
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	_, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "obsctl", Force: ptr.To(true)})
	return err
}

func del(ctx context.Context, cl *kube.Clients, obj *unstructured.Unstructured) error {
	ri, _, err := cl.ResourceFor(obj)
	if err != nil {
		return err
	}
	return ri.Delete(ctx, obj.GetName(), metav1.DeleteOptions{})
}

func clientsFor(t *testing.T, cfg *rest.Config) (*kube.Clients, cluster.Client) {
	t.Helper()
	cl, err := kube.NewClients(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cl, cluster.NewClient(t, cl.Config)
}

// deployer mints an identity, binds it as an admin to what yamlDocs (a
// ClusterRole and its binding, as printed) say, and returns its clients,
// once RBAC lets it list ConfigMaps.
func deployer(t *testing.T, ctx context.Context, user string, printed []byte) (*kube.Clients, cluster.Client) {
	t.Helper()
	c := harness.Cluster(t)
	admin, _ := clientsFor(t, c.RESTConfig())
	for _, doc := range strings.Split(string(printed), "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{Object: m}
		if err := ssa(ctx, admin, obj); err != nil {
			t.Fatalf("apply the printed %s as admin: %v", obj.GetKind(), err)
		}
		t.Cleanup(func() { _ = del(context.Background(), admin, obj) })
	}
	path, err := c.UserKubeconfig(user)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	cl, cs := clientsFor(t, cfg)
	poll(t, ctx, user+" may list configmaps", func() (bool, error) {
		_, err := cs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil, nil
	})
	return cl, cs
}

func poll(t *testing.T, ctx context.Context, what string, cond func() (bool, error)) {
	t.Helper()
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting until %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func waitEstablished(t *testing.T, ctx context.Context, cl *kube.Clients, crd *unstructured.Unstructured) {
	t.Helper()
	ri, _, err := cl.ResourceFor(crd)
	if err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, crd.GetName()+" established", func() (bool, error) {
		live, err := ri.Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
}

func obj(apiVersion, kind, ns, name string, fields map[string]any) *unstructured.Unstructured {
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

func crd(group, kind, plural string) *unstructured.Unstructured {
	return obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", plural+"."+group, map[string]any{"spec": map[string]any{
		"group": group,
		"names": map[string]any{"kind": kind, "plural": plural, "singular": strings.ToLower(kind), "listKind": kind + "List"},
		"scope": "Namespaced",
		"versions": []any{map[string]any{
			"name": "v1", "served": true, "storage": true,
			"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
		}},
	}})
}

// TestRestrictedIdentity binds an identity to nothing but the printed
// ClusterRole and does, as that identity, everything obsctl does: apply the
// stack's kinds and its RBAC, read, prune, lock and keep the inventory. It
// also checks that what the ClusterRole does not grant is Forbidden.
func TestRestrictedIdentity(t *testing.T) {
	t.Parallel()
	ctx := cluster.Context(t)
	ns := "rbac-" + rand.String(6)
	stack := readObjects(t, "stack.yaml", ns)
	const user = "obsctl-deployer"
	p := mustNew(t, Options{Name: user, Objects: stack, Subjects: []rbacv1.Subject{User(user)}})
	printed, err := p.YAML()
	if err != nil {
		t.Fatal(err)
	}
	cl, cs := deployer(t, ctx, user, printed)

	apply := func(o *unstructured.Unstructured) {
		t.Helper()
		if err := ssa(ctx, cl, o); err != nil {
			t.Fatalf("server-side apply %s %s as %s: %v", o.GetKind(), o.GetName(), user, err)
		}
	}
	// The stack's kinds, in apply's wave order, created and then applied
	// again unchanged (a re-apply is an update to the API server, which
	// checks RBAC escalation again).
	promCRD := crd("monitoring.coreos.com", "PrometheusRule", "prometheusrules")
	var crds, rest []*unstructured.Unstructured
	for _, o := range stack {
		if o.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, o)
		} else {
			rest = append(rest, o)
		}
	}
	crds = append(crds, promCRD)
	objects := []*unstructured.Unstructured{obj("v1", "Namespace", "", ns, nil)}
	objects = append(objects, rest...)
	objects = append(objects,
		obj("v1", "ConfigMap", ns, "web-config", map[string]any{"data": map[string]any{"level": "info"}}),
		obj("apps/v1", "Deployment", ns, "web", map[string]any{"spec": map[string]any{
			"replicas": int64(1),
			"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "web", "image": "registry.k8s.io/pause:3.10"}}},
			},
		}}),
		obj("monitoring.coreos.com/v1", "PrometheusRule", ns, "node", map[string]any{"spec": map[string]any{"groups": []any{}}}),
	)
	for range 2 {
		for _, c := range crds {
			apply(c)
			waitEstablished(t, ctx, cl, c)
		}
		for _, o := range objects {
			apply(o)
		}
	}

	for _, gvr := range []schema.GroupVersionResource{
		{Version: "v1", Resource: "configmaps"},
		{Group: "apps", Version: "v1", Resource: "deployments"},
		{Group: "monitoring.coreos.com", Version: "v1", Resource: "prometheusrules"},
		{Group: "example.com", Version: "v1", Resource: "gizmos"},
	} {
		l, err := cl.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) == 0 {
			t.Errorf("list %s as %s: %d items, %v", gvr.Resource, user, lenItems(l), err)
		}
	}
	if _, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("list events: %v", err)
	}
	if _, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("list pods: %v", err)
	}

	// The lock and the inventory, through the packages apply uses.
	l, err := lock.Acquire(ctx, cs, lock.Options{Namespace: ns, Stack: "prod", Holder: user, LeaseDuration: 3 * time.Second})
	if err != nil {
		t.Fatalf("lock as %s: %v", user, err)
	}
	time.Sleep(1500 * time.Millisecond) // a renewal, which is an update
	if err := l.Err(); err != nil {
		t.Errorf("lock renewal as %s: %v", user, err)
	}
	for i := range 2 { // create, then update
		inv, err := inventory.Load(ctx, cs, ns, "prod")
		if err != nil {
			t.Fatal(err)
		}
		rev := inventory.Revision{User: user}
		if err := rev.SetObjects(objects); err != nil {
			t.Fatal(err)
		}
		inv.Append(rev)
		if err := inv.Save(ctx, cs); err != nil {
			t.Fatalf("save inventory (%d) as %s: %v", i+1, user, err)
		}
	}
	if err := l.Release(ctx); err != nil {
		t.Errorf("release lock as %s: %v", user, err)
	}
	// And the Lease verbs one by one, as a takeover uses them.
	leases := cs.CoordinationV1().Leases(ns)
	lease, err := leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "obsctl-other"}}, metav1.CreateOptions{})
	if err == nil {
		lease.Spec.HolderIdentity = ptr.To(user)
		if lease, err = leases.Update(ctx, lease, metav1.UpdateOptions{}); err == nil {
			if _, err = leases.Get(ctx, lease.Name, metav1.GetOptions{}); err == nil {
				err = leases.Delete(ctx, lease.Name, metav1.DeleteOptions{})
			}
		}
	}
	if err != nil {
		t.Errorf("lease create, update, get, delete as %s: %v", user, err)
	}

	// Not granted: Forbidden.
	forbidden := func(what string, err error, want string) {
		t.Helper()
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s as %s: %v, want Forbidden containing %q", what, user, err, want)
		}
	}
	forbidden("delete a node", cs.CoreV1().Nodes().Delete(ctx, harness.Cluster(t).Nodes()[0], metav1.DeleteOptions{}), "cannot delete resource \"nodes\"")
	_, err = cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
	}, metav1.CreateOptions{})
	forbidden("create a pod", err, "cannot create resource \"pods\"")
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.AppsV1().Deployments(ns).Update(ctx, dep, metav1.UpdateOptions{})
	forbidden("update a deployment (obsctl patches)", err, "cannot update resource \"deployments\"")
	err = ssa(ctx, cl, obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "more-than-held", map[string]any{"rules": []any{
		map[string]any{"apiGroups": []any{""}, "resources": []any{"pods/exec"}, "verbs": []any{"create"}},
	}}))
	forbidden("create a ClusterRole granting what the stack does not", err, "attempting to grant RBAC permissions not currently held")
	err = ssa(ctx, cl, obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "grab-admin", map[string]any{
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
		"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}},
	}))
	forbidden("bind cluster-admin to itself", err, "attempting to grant RBAC permissions not currently held")

	// Prune: delete everything, newest wave first.
	all := append(append([]*unstructured.Unstructured{}, objects...), crds...)
	for i := len(all) - 1; i >= 0; i-- {
		if err := del(ctx, cl, all[i]); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete %s %s as %s: %v", all[i].GetKind(), all[i].GetName(), user, err)
		}
	}
}

// TestApplyCreateNeedsCreate checks what the ClusterRole's create verb is
// for: a server-side apply that creates an object is authorized as a create
// too, so patch alone updates existing objects but creates none.
func TestApplyCreateNeedsCreate(t *testing.T) {
	t.Parallel()
	c := harness.Cluster(t)
	ctx := cluster.Context(t)
	admin, adminCS := clientsFor(t, c.RESTConfig())
	ns := "ssa-" + rand.String(6)
	if err := ssa(ctx, admin, obj("v1", "Namespace", "", ns, nil)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = adminCS.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	if err := ssa(ctx, admin, obj("v1", "ConfigMap", ns, "existing", nil)); err != nil {
		t.Fatal(err)
	}
	const user = "patch-only"
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: ns},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "patch"}}},
	}
	if _, err := adminCS.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := adminCS.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user},
		Subjects:   []rbacv1.Subject{User(user)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.UserConfig(user)
	if err != nil {
		t.Fatal(err)
	}
	cl, cs := clientsFor(t, cfg)
	poll(t, ctx, user+" may list configmaps", func() (bool, error) {
		_, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		return err == nil, nil
	})

	if err := ssa(ctx, cl, obj("v1", "ConfigMap", ns, "existing", map[string]any{"data": map[string]any{"k": "v"}})); err != nil {
		t.Errorf("apply to an existing ConfigMap with patch: %v", err)
	}
	err = ssa(ctx, cl, obj("v1", "ConfigMap", ns, "new", nil))
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `cannot create resource "configmaps"`) {
		t.Fatalf("apply creating a ConfigMap with patch but not create: %v, want Forbidden to create", err)
	}
	role.Rules[0].Verbs = append(role.Rules[0].Verbs, "create")
	if _, err := adminCS.RbacV1().Roles(ns).Update(ctx, role, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, ctx, "apply creating with create granted", func() (bool, error) {
		err := ssa(ctx, cl, obj("v1", "ConfigMap", ns, "new", nil))
		if apierrors.IsForbidden(err) {
			return false, nil
		}
		return err == nil, err
	})
}

func lenItems(l *unstructured.UnstructuredList) int {
	if l == nil {
		return 0
	}
	return len(l.Items)
}
