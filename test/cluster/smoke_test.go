package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/obsctl/obsctl/test/cluster"
)

// TestSmokeWorkloads applies the three kinds of workload the observability
// stack uses, waits until each has rolled out on the simulated nodes, and
// deletes them again.
func TestSmokeWorkloads(t *testing.T) {
	t.Parallel()
	c := kube.Cluster(t)
	ctx := cluster.Context(t)
	cs := kubernetes.NewForConfigOrDie(c.RESTConfig())
	ns := createNamespace(t, ctx, cs, "smoke", nil)

	labels := func(app string) map[string]string { return map[string]string{"app": app} }
	template := func(app string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels(app)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name:  app,
				Image: "registry.k8s.io/pause:3.10",
			}}},
		}
	}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptrTo[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels("web")},
			Template: template("web"),
		},
	}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels("agent")},
			Template: template("agent"),
		},
	}
	headless := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  labels("db"),
			Ports:     []corev1.ServicePort{{Name: "db", Port: 5432}},
		},
	}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptrTo[int32](2),
			ServiceName: "db",
			Selector:    &metav1.LabelSelector{MatchLabels: labels("db")},
			Template:    template("db"),
		},
	}

	start := time.Now()
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deploy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, headless, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	waitFor(t, ctx, "deployment web rolled out", func() (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := d.Status
		return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == 3 && s.AvailableReplicas == 3 && s.Replicas == 3, nil
	})
	t.Logf("deployment rolled out in %s", time.Since(start).Round(time.Millisecond))
	waitFor(t, ctx, "daemonset agent rolled out", func() (bool, error) {
		d, err := cs.AppsV1().DaemonSets(ns).Get(ctx, "agent", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := d.Status
		return s.ObservedGeneration >= d.Generation && s.DesiredNumberScheduled == nodes &&
			s.UpdatedNumberScheduled == nodes && s.NumberAvailable == nodes, nil
	})
	waitFor(t, ctx, "statefulset db rolled out", func() (bool, error) {
		s, err := cs.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		st := s.Status
		return st.ObservedGeneration >= s.Generation && st.ReadyReplicas == 2 && st.AvailableReplicas == 2 &&
			st.CurrentRevision == st.UpdateRevision, nil
	})
	t.Logf("all three rolled out in %s", time.Since(start).Round(time.Millisecond))

	// The pods must really be spread over the simulated nodes and running.
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 3+nodes+2 {
		t.Errorf("%d pods, want %d", len(pods.Items), 3+nodes+2)
	}
	agentNodes := map[string]bool{}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || p.Spec.NodeName == "" {
			t.Errorf("pod %s: phase %s, ip %q, node %q", p.Name, p.Status.Phase, p.Status.PodIP, p.Spec.NodeName)
		}
		if p.Labels["app"] == "agent" {
			agentNodes[p.Spec.NodeName] = true
		}
		for _, ip := range append([]string{p.Status.PodIP, p.Status.HostIP}, podIPs(p)...) {
			if !c.Block().Contains(ip) {
				t.Errorf("pod %s has address %q, outside the cluster's loopback block 127.%d.0.0/16", p.Name, ip, c.Block().A)
			}
		}
	}
	if len(agentNodes) != nodes {
		t.Errorf("daemonset pods on %d nodes, want %d", len(agentNodes), nodes)
	}

	fg := metav1.DeleteOptions{PropagationPolicy: ptrTo(metav1.DeletePropagationForeground)}
	if err := cs.AppsV1().Deployments(ns).Delete(ctx, "web", fg); err != nil {
		t.Fatal(err)
	}
	if err := cs.AppsV1().DaemonSets(ns).Delete(ctx, "agent", fg); err != nil {
		t.Fatal(err)
	}
	if err := cs.AppsV1().StatefulSets(ns).Delete(ctx, "db", fg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "workloads and their pods deleted", func() (bool, error) {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		d, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		rs, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		return len(pods.Items) == 0 && len(d.Items) == 0 && len(rs.Items) == 0, nil
	})
}

// TestSmokeCRD checks that a CustomResourceDefinition becomes Established and
// then serves its kind.
func TestSmokeCRD(t *testing.T) {
	t.Parallel()
	c := kube.Cluster(t)
	ctx := cluster.Context(t)
	dyn := dynamic.NewForConfigOrDie(c.RESTConfig())
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "widgets.smoke.obsctl.dev"},
		"spec": map[string]any{
			"group": "smoke.obsctl.dev",
			"scope": "Namespaced",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object",
					"properties": map[string]any{"spec": map[string]any{
						"type":       "object",
						"properties": map[string]any{"size": map[string]any{"type": "integer"}},
					}},
				}},
			}},
		},
	}}
	if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = dyn.Resource(crdGVR).Delete(context.Background(), "widgets.smoke.obsctl.dev", metav1.DeleteOptions{})
	})
	waitFor(t, ctx, "CRD established", func() (bool, error) {
		got, err := dyn.Resource(crdGVR).Get(ctx, "widgets.smoke.obsctl.dev", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, cond := range conds {
			m, _ := cond.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})

	widgets := dyn.Resource(schema.GroupVersionResource{Group: "smoke.obsctl.dev", Version: "v1", Resource: "widgets"}).Namespace("default")
	w := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "smoke.obsctl.dev/v1",
		"kind":       "Widget",
		"metadata":   map[string]any{"name": "w1"},
		"spec":       map[string]any{"size": int64(3)},
	}}
	// Established means the apiserver accepts the kind; discovery can lag a
	// moment behind, so allow a retry on NotFound.
	waitFor(t, ctx, "widget created", func() (bool, error) {
		_, err := widgets.Create(ctx, w, metav1.CreateOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	got, err := widgets.Get(ctx, "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if size, _, _ := unstructured.NestedInt64(got.Object, "spec", "size"); size != 3 {
		t.Errorf("widget spec.size = %d, want 3", size)
	}
}

// createNamespace makes a fresh namespace named from prefix and deletes it
// when the test ends.
func createNamespace(t *testing.T, ctx context.Context, cs kubernetes.Interface, prefix string, labels map[string]string) string {
	t.Helper()
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-", Labels: labels},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{})
	})
	return ns.Name
}

// waitFor polls cond every 50ms until it is true, failing the test on an
// error or when ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) {
		return cond()
	})
	if err != nil {
		t.Fatal(fmt.Errorf("wait for %s: %w", what, err))
	}
}

func ptrTo[T any](v T) *T { return &v }

func podIPs(p corev1.Pod) []string {
	var out []string
	for _, ip := range p.Status.PodIPs {
		out = append(out, ip.IP)
	}
	return out
}
