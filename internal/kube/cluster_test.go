package kube_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/test/cluster"
)

func noEnv(string) string { return "" }

// object decodes a YAML manifest.
func object(t *testing.T, manifest string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

// clients resolves the cluster through its kubeconfig file, as obsctl does
// for --kubeconfig, and builds the clients.
func clients(t *testing.T, c *cluster.Cluster) *kube.Clients {
	t.Helper()
	cfg, desc, err := kube.RESTConfig(kube.ConfigOptions{Kubeconfig: c.Kubeconfig(), Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != c.Host() || !strings.HasSuffix(desc, " in "+c.Kubeconfig()) {
		t.Fatalf("RESTConfig resolved %s (%s), want %s from %s", cfg.Host, desc, c.Host(), c.Kubeconfig())
	}
	cs, err := kube.NewClients(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// apply server-side applies obj through ResourceFor and returns the live
// object.
func apply(t *testing.T, ctx context.Context, cs *kube.Clients, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	ri, _, err := cs.ResourceFor(obj)
	if err != nil {
		t.Fatal(err)
	}
	live, err := ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "obsctl-test", Force: true})
	if err != nil {
		t.Fatalf("apply %s: %v", kube.Describe(obj), err)
	}
	return live
}

// cleanup deletes obj when the test ends.
func cleanup(t *testing.T, cs *kube.Clients, obj *unstructured.Unstructured) {
	t.Cleanup(func() {
		ri, _, err := cs.ResourceFor(obj)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := ri.Delete(ctx, obj.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("cleanup %s: %v", kube.Describe(obj), err)
		}
	})
}

func namespace(t *testing.T, ctx context.Context, cs *kube.Clients, name string) {
	t.Helper()
	ns := object(t, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+name+"\n")
	apply(t, ctx, cs, ns)
	cleanup(t, cs, ns)
}

// TestClusterFreshCRD applies a CustomResourceDefinition after the clients
// have cached discovery, and maps a custom resource of it: the cached
// mapper does not know the kind, and ResourceFor must reset it to find it.
func TestClusterFreshCRD(t *testing.T) {
	t.Parallel()
	c := harness.Cluster(t)
	ctx := cluster.Context(t)
	cs := clients(t, c)
	namespace(t, ctx, cs, "fresh-crd")

	const group = "fresh.obsctl.test"
	crd := object(t, fmt.Sprintf(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.%s
spec:
  group: %s
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
`, group, group))
	// Mapping the CRD itself fills the discovery cache before the new kind
	// exists.
	apply(t, ctx, cs, crd)
	cleanup(t, cs, crd)
	waitEstablished(t, ctx, cs, crd)

	widget := object(t, fmt.Sprintf(`
apiVersion: %s/v1
kind: Widget
metadata: {name: w1, namespace: fresh-crd}
spec: {size: 3}
`, group))
	gvk := widget.GroupVersionKind()
	if _, err := cs.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version); !meta.IsNoMatchError(err) {
		t.Fatalf("cached mapper already maps %v (err %v); the test no longer exercises the reset", gvk, err)
	}
	ri, mapping, err := cs.ResourceFor(widget)
	if err != nil {
		t.Fatalf("ResourceFor a fresh CRD's kind: %v", err)
	}
	if mapping.Resource.Resource != "widgets" || mapping.Scope.Name() != meta.RESTScopeNameNamespace {
		t.Errorf("mapping = %v scope %s, want widgets, namespaced", mapping.Resource, mapping.Scope.Name())
	}
	if _, err := ri.Apply(ctx, "w1", widget, metav1.ApplyOptions{FieldManager: "obsctl-test"}); err != nil {
		t.Fatalf("apply %s: %v", kube.Describe(widget), err)
	}
	got, err := cs.Dynamic.Resource(mapping.Resource).Namespace("fresh-crd").Get(ctx, "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if size, _, _ := unstructured.NestedInt64(got.Object, "spec", "size"); size != 3 {
		t.Errorf("live spec.size = %d, want 3", size)
	}
}

// waitEstablished waits until the API server serves crd's kind.
func waitEstablished(t *testing.T, ctx context.Context, cs *kube.Clients, crd *unstructured.Unstructured) {
	t.Helper()
	ri, _, err := cs.ResourceFor(crd)
	if err != nil {
		t.Fatal(err)
	}
	for {
		live, err := ri.Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s not Established: %v", kube.Describe(crd), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestClusterScopes checks that ResourceFor sends namespaced objects to
// their namespace, cluster-scoped ones to the cluster, and refuses a
// namespaced object without a namespace or a kind the server lacks.
func TestClusterScopes(t *testing.T) {
	t.Parallel()
	c := harness.Cluster(t)
	ctx := cluster.Context(t)
	cs := clients(t, c)
	namespace(t, ctx, cs, "scopes")

	cm := object(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: scopes}\ndata: {a: b}\n")
	if live := apply(t, ctx, cs, cm); live.GetNamespace() != "scopes" {
		t.Errorf("%s landed in namespace %q", kube.Describe(cm), live.GetNamespace())
	}
	role := object(t, "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: obsctl-kube-test}\nrules: []\n")
	cleanup(t, cs, role)
	if live := apply(t, ctx, cs, role); live.GetNamespace() != "" {
		t.Errorf("%s has namespace %q", kube.Describe(role), live.GetNamespace())
	}

	t.Run("namespaced object without namespace", func(t *testing.T) {
		_, _, err := cs.ResourceFor(object(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"))
		if !errors.Is(err, kube.ErrNoNamespace) || !strings.HasPrefix(err.Error(), "ConfigMap settings: ") {
			t.Errorf("error = %v, want ConfigMap settings: %v", err, kube.ErrNoNamespace)
		}
	})
	t.Run("kind the server lacks", func(t *testing.T) {
		_, _, err := cs.ResourceFor(object(t, "apiVersion: missing.obsctl.test/v1\nkind: Gadget\nmetadata: {name: g, namespace: scopes}\n"))
		if !meta.IsNoMatchError(err) || !strings.Contains(err.Error(), "Gadget scopes/g") || kube.IsTransient(err) {
			t.Errorf("error = %v, want a permanent no-match error naming Gadget scopes/g", err)
		}
	})
}

// TestClusterRetryForbidden runs as an identity without rights: the
// apiserver's Forbidden is not transient, so Retry returns it at once.
func TestClusterRetryForbidden(t *testing.T) {
	t.Parallel()
	c := harness.Cluster(t)
	ctx := cluster.Context(t)
	path, err := c.UserKubeconfig("obsctl-kube-nobody")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := kube.RESTConfig(kube.ConfigOptions{Kubeconfig: path, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kube.NewClients(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cm := object(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\n")
	attempts := 0
	start := time.Now()
	err = kube.Retry(ctx, "apply "+kube.Describe(cm), func(ctx context.Context) error {
		attempts++
		ri, _, err := cs.ResourceFor(cm)
		if err != nil {
			return err
		}
		_, err = ri.Apply(ctx, cm.GetName(), cm, metav1.ApplyOptions{FieldManager: "obsctl-test"})
		return err
	})
	if !apierrors.IsForbidden(err) || attempts != 1 {
		t.Errorf("after %d attempts in %v: %v; want Forbidden after 1", attempts, time.Since(start), err)
	}
	if err != nil && !strings.HasPrefix(err.Error(), "apply ConfigMap default/settings: ") {
		t.Errorf("error %q does not say what was being done", err)
	}
}
