package cluster_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/obsctl/obsctl/test/cluster"
)

func TestVersionAndNodes(t *testing.T) {
	t.Parallel()
	c := kube.Cluster(t)
	ctx := cluster.Context(t)
	cs := kubernetes.NewForConfigOrDie(c.RESTConfig())

	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != "v1.36.3" || v.Major != "1" || v.Minor != "36" {
		t.Errorf("server version %s (major %q minor %q), want v1.36.3", v.GitVersion, v.Major, v.Minor)
	}

	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != nodes {
		t.Fatalf("%d nodes, want %d", len(list.Items), nodes)
	}
	zones := map[string]int{}
	for _, n := range list.Items {
		if !cluster.NodeReady(&n) {
			t.Errorf("node %s not ready: taints %v, conditions %v", n.Name, n.Spec.Taints, n.Status.Conditions)
		}
		for key, want := range map[string]string{
			corev1.LabelHostname:   n.Name,
			corev1.LabelOSStable:   "linux",
			corev1.LabelArchStable: "amd64",
		} {
			if got := n.Labels[key]; got != want {
				t.Errorf("node %s label %s = %q, want %q", n.Name, key, got, want)
			}
		}
		zones[n.Labels[corev1.LabelTopologyZone]]++
		// Loopback only: whatever dials a node or a pod stays on this
		// machine.
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP && !c.Block().Contains(a.Address) {
				t.Errorf("node %s has InternalIP %s, outside the cluster's block 127.%d.0.0/16", n.Name, a.Address, c.Block().A)
			}
		}
		for _, cidr := range append(n.Spec.PodCIDRs, n.Spec.PodCIDR) {
			if ip, _, err := net.ParseCIDR(cidr); err != nil || !c.Block().Contains(ip.String()) {
				t.Errorf("node %s has pod range %q, outside the cluster's block 127.%d.0.0/16", n.Name, cidr, c.Block().A)
			}
		}
		if n.Status.Allocatable.Cpu().IsZero() || n.Status.Allocatable.Memory().IsZero() {
			t.Errorf("node %s has no allocatable cpu or memory: %v", n.Name, n.Status.Allocatable)
		}
	}
	for _, z := range cluster.Zones {
		if zones[z] != 1 {
			t.Errorf("zone %s has %d nodes, want 1 (zones: %v)", z, zones[z], zones)
		}
	}
}

// TestUserConfigRBAC checks that a minted identity gets exactly what RBAC
// grants it.
func TestUserConfigRBAC(t *testing.T) {
	t.Parallel()
	c := kube.Cluster(t)
	ctx := cluster.Context(t)
	admin := kubernetes.NewForConfigOrDie(c.RESTConfig())
	ns := createNamespace(t, ctx, admin, "rbac", nil)

	cfg, err := c.UserConfig("alice", "obsctl:readers")
	if err != nil {
		t.Fatal(err)
	}
	alice := kubernetes.NewForConfigOrDie(cfg)
	if _, err := alice.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("alice listing configmaps before any grant: err = %v, want Forbidden", err)
	}

	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "read-configmaps"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}},
	}
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "readers"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "read-configmaps"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "obsctl:readers"}},
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "alice may list configmaps via her group", func() (bool, error) {
		_, err := alice.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		if apierrors.IsForbidden(err) {
			return false, nil
		}
		return err == nil, err
	})
	_, err = alice.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("alice creating a configmap: err = %v, want Forbidden", err)
	}

	// The same identity as a kubeconfig file, for CLI tests.
	path, err := c.UserKubeconfig("alice", "obsctl:readers")
	if err != nil {
		t.Fatal(err)
	}
	fileCfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kubernetes.NewForConfigOrDie(fileCfg).CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("alice from %s: %v", path, err)
	}
}

// TestNodeRestriction checks that the Node authorizer and the
// NodeRestriction admission plugin are on: a kubelet identity may not touch
// another node, nor set node-restriction labels on its own.
func TestNodeRestriction(t *testing.T) {
	t.Parallel()
	c := kube.Cluster(t)
	ctx := cluster.Context(t)
	names := c.Nodes()
	cfg, err := c.UserConfig("system:node:"+names[0], "system:nodes")
	if err != nil {
		t.Fatal(err)
	}
	kubelet := kubernetes.NewForConfigOrDie(cfg)
	patch := func(node, key string) error {
		body, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{key: "x"}}})
		_, err := kubelet.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, body, metav1.PatchOptions{})
		return err
	}
	if err := patch(names[0], "example.com/own"); err != nil {
		t.Errorf("kubelet labelling its own node: %v", err)
	}
	if err := patch(names[1], "example.com/other"); !apierrors.IsForbidden(err) {
		t.Errorf("kubelet labelling another node: err = %v, want Forbidden", err)
	}
	err = patch(names[0], "node-restriction.kubernetes.io/x")
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "node-restriction.kubernetes.io") {
		t.Errorf("kubelet setting a node-restriction label: err = %v, want Forbidden by NodeRestriction", err)
	}
}

// TestPodSecurity checks that PodSecurity admission enforces a namespace's
// level.
func TestPodSecurity(t *testing.T) {
	t.Parallel()
	c := kube.Cluster(t)
	ctx := cluster.Context(t)
	cs := kubernetes.NewForConfigOrDie(c.RESTConfig())
	ns := createNamespace(t, ctx, cs, "restricted", map[string]string{"pod-security.kubernetes.io/enforce": "restricted"})
	waitFor(t, ctx, "default service account", func() (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})

	privileged := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "privileged"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "registry.k8s.io/pause:3.10",
			SecurityContext: &corev1.SecurityContext{Privileged: ptrTo(true)},
		}}},
	}
	_, err := cs.CoreV1().Pods(ns).Create(ctx, privileged, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "violates PodSecurity") {
		t.Errorf("privileged pod in a restricted namespace: err = %v, want a PodSecurity violation", err)
	}

	restricted := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "restricted"},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   ptrTo(true),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name: "c", Image: "registry.k8s.io/pause:3.10",
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: ptrTo(false),
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
		},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, restricted, metav1.CreateOptions{}); err != nil {
		t.Errorf("restricted-compliant pod: %v", err)
	}
}

// TestSecondClusterAndStop starts a second control plane beside the shared
// one, checks they do not share an address, and that Stop leaves none of
// its processes behind.
func TestSecondClusterAndStop(t *testing.T) {
	t.Parallel()
	shared := kube.Cluster(t)
	binDir, err := cluster.BinDir(mustRepoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := cluster.Start(ctx, cluster.Options{Nodes: 1, BinDir: binDir, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second cluster ready in %s", time.Since(start).Round(time.Millisecond))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = c.Stop()
		}
	})
	if c.Host() == shared.Host() {
		t.Fatalf("both clusters serve on %s", c.Host())
	}
	if c.Block() == shared.Block() {
		t.Fatalf("both clusters have the loopback block 127.%d.0.0/16", c.Block().A)
	}
	cs := kubernetes.NewForConfigOrDie(c.RESTConfig())
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Errorf("second cluster has %d nodes, want 1", len(list.Items))
	}
	if _, err := os.Stat(c.Kubeconfig()); err != nil {
		t.Errorf("kubeconfig: %v", err)
	}

	pids := c.PIDs()
	if len(pids) != 5 {
		t.Errorf("PIDs() = %v, want one per component (5)", pids)
	}
	if alive := cluster.PIDsAlive(pids); len(alive) != len(pids) {
		t.Fatalf("before Stop only %v of %v are alive", alive, pids)
	}
	dir := c.Dir()
	err = c.Stop()
	stopped = true
	if err != nil {
		t.Fatal(err)
	}
	if alive := cluster.PIDsAlive(pids); len(alive) > 0 {
		t.Errorf("after Stop, pids %v are still alive", alive)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temporary dir %s not removed: %v", dir, err)
	}
	// The shared cluster is untouched.
	if err := shared.Err(); err != nil {
		t.Errorf("shared cluster: %v", err)
	}
}

func mustRepoRoot(t *testing.T) string {
	t.Helper()
	root, err := cluster.FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// testLog sends a cluster's progress lines to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
