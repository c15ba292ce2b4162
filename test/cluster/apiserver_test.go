package cluster_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/obsctl/obsctl/test/cluster"
)

// TestStopStartAPIServer stops the apiserver of a cluster of its own (the
// shared one serves the other tests meanwhile), checks that requests are
// refused at once while the other components keep running, starts it again
// and checks that what was stored before the stop is still there and that
// Stop leaves no process, the stopped apiserver's included.
func TestStopStartAPIServer(t *testing.T) {
	t.Parallel()
	kube.Cluster(t) // skips when cluster tests do not run
	binDir, err := cluster.BinDir(mustRepoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Options{Nodes: 1, BinDir: binDir, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = c.Stop()
		}
	})
	cfg := c.RESTConfig()
	cfg.Timeout = 5 * time.Second
	cs := kubernetes.NewForConfigOrDie(cfg)

	ns := createNamespace(t, ctx, cs, "restart", nil)
	before := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "before-stop"}, Data: map[string]string{"k": "v"}}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, before, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pidsBefore := c.PIDs()

	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	alive := cluster.PIDsAlive(pidsBefore)
	if len(alive) != len(pidsBefore)-1 {
		t.Fatalf("after StopAPIServer %v of %v are alive, want all but the apiserver", alive, pidsBefore)
	}
	apiserverPID := slices.DeleteFunc(slices.Clone(pidsBefore), func(p int) bool { return slices.Contains(alive, p) })[0]
	if err := c.Err(); err != nil {
		t.Errorf("Err with the apiserver stopped on purpose: %v", err)
	}
	begin := time.Now()
	_, err = cs.CoreV1().ConfigMaps(ns).Get(ctx, before.Name, metav1.GetOptions{})
	if took := time.Since(begin); !errors.Is(err, syscall.ECONNREFUSED) || took > time.Second {
		t.Errorf("request to the stopped apiserver: err = %v after %s, want connection refused at once", err, took)
	}
	if err := c.StopAPIServer(); err != nil {
		t.Errorf("second StopAPIServer: %v, want nil", err)
	}

	if err := c.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.StartAPIServer(ctx); err == nil || !strings.Contains(err.Error(), "running") {
		t.Errorf("StartAPIServer of a running apiserver: %v, want an error", err)
	}
	body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil || string(body) != "ok" {
		t.Fatalf("/readyz after restart: %q, %v", body, err)
	}
	got, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, before.Name, metav1.GetOptions{})
	if err != nil || got.Data["k"] != "v" {
		t.Fatalf("object stored before the stop: %v, %v", got, err)
	}
	after := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "after-start"}}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, after, metav1.CreateOptions{}); err != nil {
		t.Errorf("write after restart: %v", err)
	}
	if err := c.Err(); err != nil {
		t.Errorf("a component died across the restart: %v", err)
	}

	pids := c.PIDs()
	if len(pids) != len(pidsBefore)+1 || !slices.Contains(pids, apiserverPID) {
		t.Errorf("PIDs() = %v, want the %d from before (stopped apiserver %d included) and the new apiserver", pids, len(pidsBefore), apiserverPID)
	}
	if alive := cluster.PIDsAlive(pids); len(alive) != len(pids)-1 || slices.Contains(alive, apiserverPID) {
		t.Errorf("alive %v of %v; want all but the old apiserver %d", alive, pids, apiserverPID)
	}
	err = c.Stop()
	stopped = true
	if err != nil {
		t.Fatal(err)
	}
	if alive := cluster.PIDsAlive(pids); len(alive) > 0 {
		t.Errorf("after Stop, pids %v are still alive", alive)
	}
	if err := c.StartAPIServer(ctx); err == nil {
		t.Error("StartAPIServer after Stop succeeded")
	}
}
