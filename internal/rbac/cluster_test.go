package rbac

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
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
	return ssaAs(ctx, cl, obj, "obsctl")
}

// ssaAs server-side applies obj as the field manager manager.
func ssaAs(ctx context.Context, cl *kube.Clients, obj *unstructured.Unstructured, manager string) error {
	ri, _, err := cl.ResourceFor(obj)
	if err != nil {
		return err
	}
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return err
	}
	_, err = ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: manager, Force: ptr.To(true)})
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

// deployer mints an identity, applies as an admin what printed (the
// objects obsctl rbac prints: namespaces, roles and bindings) says, as
// kubectl apply would, and returns the identity's clients, once RBAC lets
// it list ConfigMaps and the Secrets of namespace ns.
func deployer(t *testing.T, ctx context.Context, user, ns string, printed []byte) (*kube.Clients, cluster.Client) {
	t.Helper()
	c := harness.Cluster(t)
	admin, _ := clientsFor(t, c.RESTConfig())
	for _, doc := range strings.Split(string(printed), "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{Object: m}
		if err := ssaAs(ctx, admin, obj, "kubectl"); err != nil {
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
	poll(t, ctx, user+" may list configmaps and the stack's secrets", func() (bool, error) {
		_, err := cs.CoreV1().ConfigMaps("default").List(ctx, metav1.ListOptions{Limit: 1})
		if err == nil {
			_, err = cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{Limit: 1})
		}
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

// TestRestrictedIdentity binds an identity to nothing but what obsctl rbac
// prints and does, as that identity, everything obsctl does: apply the
// stack's kinds, namespaces, Secrets and RBAC, read, prune, lock and keep
// the inventory, record who it is. It also checks that what the policy
// does not grant is Forbidden: a Secret outside the stack's namespaces, a
// namespace or CRD that is not the stack's, more than the stack's roles
// grant.
func TestRestrictedIdentity(t *testing.T) {
	t.Parallel()
	ctx := cluster.Context(t)
	c := harness.Cluster(t)
	admin, adminCS := clientsFor(t, c.RESTConfig())
	ns := "rbac-" + rand.String(6)
	agentsNS, rulesNS, otherNS := ns+"-agents", ns+"-rules", "other-"+rand.String(6)
	stack := readObjects(t, "stack.yaml", ns)
	promCRD := crd("monitoring.coreos.com", "PrometheusRule", "prometheusrules")
	const user = "obsctl-deployer"
	p := mustNew(t, Options{Name: user, Namespace: ns, Objects: append(slices.Clone(stack), promCRD), Subjects: []rbacv1.Subject{User(user)}})
	printed, err := p.YAML()
	if err != nil {
		t.Fatal(err)
	}

	// Someone else's namespace, Secret and CRD, which the identity must
	// not touch; and the namespaces the identity creates, which it may not
	// delete.
	otherCRD := crd("example.org", "Widget", "widgets")
	for _, o := range []*unstructured.Unstructured{
		obj("v1", "Namespace", "", otherNS, nil),
		obj("v1", "Secret", otherNS, "private", map[string]any{"stringData": map[string]any{"k": "v"}}),
		otherCRD,
	} {
		if err := ssaAs(ctx, admin, o, "kubectl"); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for _, n := range []string{otherNS, rulesNS, agentsNS} {
			_ = adminCS.CoreV1().Namespaces().Delete(ctx, n, metav1.DeleteOptions{})
		}
		_ = del(ctx, admin, otherCRD)
	})

	cl, cs := deployer(t, ctx, user, ns, printed)
	apply := func(o *unstructured.Unstructured) {
		t.Helper()
		if err := ssa(ctx, cl, o); err != nil {
			t.Fatalf("server-side apply %s %s as %s: %v", o.GetKind(), o.GetName(), user, err)
		}
	}
	// The stack's objects, in apply's wave order, created and then applied
	// again unchanged (a re-apply is an update to the API server, which
	// checks RBAC escalation again). Its namespaces exist already, as the
	// printed policy made them.
	var crds, rest []*unstructured.Unstructured
	for _, o := range stack {
		if o.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, o)
		} else {
			rest = append(rest, o)
		}
	}
	crds = append(crds, promCRD)
	objects := append(rest,
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
	slices.SortStableFunc(objects, func(a, b *unstructured.Unstructured) int {
		return cmp.Compare(kube.WaveOf(a.GroupVersionKind().GroupKind()), kube.WaveOf(b.GroupVersionKind().GroupKind()))
	})
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
		{Version: "v1", Resource: "secrets"},
		{Group: "apps", Version: "v1", Resource: "deployments"},
		{Group: "monitoring.coreos.com", Version: "v1", Resource: "prometheusrules"},
		{Group: "example.com", Version: "v1", Resource: "gizmos"},
	} {
		l, err := cl.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) == 0 {
			t.Errorf("list %s as %s: %d items, %v", gvr.Resource, user, lenItems(l), err)
		}
	}
	if _, err := cs.CoreV1().Secrets(agentsNS).Get(ctx, "agent-token", metav1.GetOptions{}); err != nil {
		t.Errorf("get the agents' Secret as %s: %v", user, err)
	}
	if _, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("list events: %v", err)
	}
	if _, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("list pods: %v", err)
	}
	// What a prune of the agents' namespace lists first: every kind in it.
	if _, err := cs.CoreV1().ResourceQuotas(agentsNS).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("list resourcequotas in %s, a namespace obsctl may prune: %v", agentsNS, err)
	}
	// Who applied: the identity recorded with each revision.
	if r, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authnv1.SelfSubjectReview{}, metav1.CreateOptions{}); err != nil || r.Status.UserInfo.Username != user {
		t.Errorf("SelfSubjectReview as %s: %v, %v", user, r, err)
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
	// The inventory's packs: Secrets of generated names, created, listed
	// and deleted when no revision needs them.
	secrets := cs.CoreV1().Secrets(ns)
	pack, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{GenerateName: "obsctl-pack-"}}, metav1.CreateOptions{})
	if err == nil {
		if _, err = secrets.List(ctx, metav1.ListOptions{}); err == nil {
			err = secrets.Delete(ctx, pack.Name, metav1.DeleteOptions{})
		}
	}
	if err != nil {
		t.Errorf("create, list and delete a pack Secret as %s: %v", user, err)
	}

	// Not granted: Forbidden.
	forbidden := func(what string, err error, want string) {
		t.Helper()
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s as %s: %v, want Forbidden containing %q", what, user, err, want)
		}
	}
	_, err = cs.CoreV1().Secrets(otherNS).Get(ctx, "private", metav1.GetOptions{})
	forbidden("get a Secret in another namespace", err, `cannot get resource "secrets"`)
	_, err = cs.CoreV1().Secrets(otherNS).List(ctx, metav1.ListOptions{})
	forbidden("list the Secrets of another namespace", err, `cannot list resource "secrets"`)
	_, err = cs.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
	forbidden("list every Secret", err, `cannot list resource "secrets"`)
	_, err = cs.CoreV1().Secrets(rulesNS).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}}, metav1.CreateOptions{})
	forbidden("create a Secret in a namespace the stack only needs", err, `cannot create resource "secrets"`)
	forbidden("delete another namespace", cs.CoreV1().Namespaces().Delete(ctx, otherNS, metav1.DeleteOptions{}), `cannot delete resource "namespaces"`)
	forbidden("delete the stack's namespace, which holds the lock", cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}), `cannot delete resource "namespaces"`)
	forbidden("delete a namespace the stack only needs", cs.CoreV1().Namespaces().Delete(ctx, rulesNS, metav1.DeleteOptions{}), `cannot delete resource "namespaces"`)
	forbidden("apply to another namespace", ssa(ctx, cl, obj("v1", "Namespace", "", otherNS, map[string]any{"metadata": map[string]any{"name": otherNS, "labels": map[string]any{"x": "y"}}})), `cannot patch resource "namespaces"`)
	forbidden("delete another CRD", del(ctx, cl, otherCRD), `cannot delete resource "customresourcedefinitions"`)
	forbidden("apply to another CRD", ssa(ctx, cl, otherCRD), `cannot patch resource "customresourcedefinitions"`)
	forbidden("delete a node", cs.CoreV1().Nodes().Delete(ctx, c.Nodes()[0], metav1.DeleteOptions{}), `cannot delete resource "nodes"`)
	_, err = cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
	}, metav1.CreateOptions{})
	forbidden("create a pod", err, `cannot create resource "pods"`)
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cs.AppsV1().Deployments(ns).Update(ctx, dep, metav1.UpdateOptions{})
	forbidden("update a deployment (obsctl patches)", err, `cannot update resource "deployments"`)
	err = ssa(ctx, cl, obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "more-than-held", map[string]any{"rules": []any{
		map[string]any{"apiGroups": []any{""}, "resources": []any{"pods/exec"}, "verbs": []any{"create"}},
	}}))
	forbidden("create a ClusterRole granting what the stack does not", err, "attempting to grant RBAC permissions not currently held")
	err = ssa(ctx, cl, obj("rbac.authorization.k8s.io/v1", "Role", otherNS, "read-secrets", map[string]any{"rules": []any{
		map[string]any{"apiGroups": []any{""}, "resources": []any{"secrets"}, "verbs": []any{"get"}},
	}}))
	forbidden("create a Role reading Secrets in another namespace", err, "attempting to grant RBAC permissions not currently held")
	err = ssa(ctx, cl, obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "grab-admin", map[string]any{
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
		"subjects": []any{map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}},
	}))
	forbidden("bind cluster-admin to itself", err, "attempting to grant RBAC permissions not currently held")

	// Prune: delete everything, newest wave first, but the namespaces that
	// are not the stack's to delete.
	all := append(slices.Clone(objects), crds...)
	for i := len(all) - 1; i >= 0; i-- {
		if o := all[i]; o.GetKind() == "Namespace" && (o.GetName() == ns || o.GetName() == rulesNS) {
			continue
		}
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
