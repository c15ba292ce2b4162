// Package e2efault stops the kube-apiserver in the middle of an obsctl
// apply. It has a control plane of its own: the other e2e packages' tests
// would fail with the apiserver gone.
package e2efault

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/obsctl/obsctl/internal/cli"
	"github.com/obsctl/obsctl/test/cluster"
)

var harness cluster.Harness

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, cluster.Options{Nodes: 3}))
}

// output takes obsctl's stdout.
type output interface {
	io.Writer
	String() string
}

// onFirstWrite calls fn once, on the first write, before taking the
// bytes: the apply is stopped in its tracks until fn returns.
type onFirstWrite struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	once sync.Once
	fn   func()
}

func (w *onFirstWrite) Write(p []byte) (int, error) {
	w.once.Do(w.fn)
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *onFirstWrite) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  replicas: 2
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - {name: main, image: "registry.k8s.io/pause:3.10"}
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  selector: {app: %[1]s}
  ports:
  - {port: 80}
`

func configMap(name, ns, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\ndata: {value: %q}\n", name, ns, value)
}

// TestAPIServerStopsMidApply stops the apiserver after the first wave of
// an apply: obsctl exits non-zero within its --timeout saying what
// happened; once the apiserver is back a second apply converges, with no
// object lost and nothing pruned that should not be.
func TestAPIServerStopsMidApply(t *testing.T) {
	c := harness.Cluster(t)
	cs := cluster.NewClient(t, c.RESTConfig())
	ns := "fault"
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// run runs obsctl in process; out takes its stdout, a fresh buffer
	// when nil.
	run := func(out output, args ...string) (int, string, time.Duration) {
		t.Helper()
		var errb bytes.Buffer
		if out == nil {
			out = new(bytes.Buffer)
		}
		start := time.Now()
		code := cli.Run(context.Background(), append(args, "--stack", "fault", "-n", ns), cli.Deps{
			Stdout:  out,
			Stderr:  &errb,
			WorkDir: dir,
			Getenv: func(k string) string {
				if k == "KUBECONFIG" {
					return c.Kubeconfig()
				}
				return ""
			},
		})
		took := time.Since(start)
		t.Logf("obsctl %s: exit %d in %s\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), code, took.Round(time.Millisecond), out.String(), errb.String())
		return code, errb.String(), took
	}

	// Revision 1: old-config, which revision 2 drops, and a workload.
	write("old-config.yaml", configMap("old-config", ns, "1"))
	write("web.yaml", fmt.Sprintf(deployment, "web", ns))
	if code, _, _ := run(nil, "apply", "-f", ".", "--timeout", "60s"); code != 0 {
		t.Fatalf("revision 1: exit %d", code)
	}
	// Something of someone else's in the stack's namespace.
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(cluster.Context(t), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "not-obsctls"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Revision 2 drops old-config and adds ConfigMaps and a second
	// workload. The apiserver stops once the ConfigMaps wave is through.
	if err := os.Remove(filepath.Join(dir, "old-config.yaml")); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		write(fmt.Sprintf("config-%02d.yaml", i), configMap(fmt.Sprintf("config-%02d", i), ns, "2"))
	}
	write("api.yaml", fmt.Sprintf(deployment, "api", ns))
	stopped := make(chan error, 1)
	out := &onFirstWrite{fn: func() { stopped <- c.StopAPIServer() }}
	const timeout = 8 * time.Second
	code, stderr, took := run(out, "apply", "-f", ".", "--timeout", timeout.String(), "--lock-lease", "5s")
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if code == 0 {
		t.Errorf("apply with the apiserver stopped: exit 0")
	}
	// Its time, and a moment to report: releasing the lock and recording
	// the revision fail at once (connection refused).
	if took > timeout+3*time.Second {
		t.Errorf("apply with the apiserver stopped took %s, beyond its --timeout %s", took, timeout)
	}
	// With the apiserver gone the lock cannot be renewed: the run stops
	// once its lease has run out, as another run may take it over then.
	for _, want := range []string{"the release stopped before it finished (its intent is recorded: the next run finishes it)", "lock fault/obsctl-fault lost", "connection refused"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if !strings.Contains(out.String(), "ConfigMap fault/config-00 created") {
		t.Errorf("stdout does not show the ConfigMaps wave applied before the stop")
	}

	if err := c.StartAPIServer(cluster.Context(t)); err != nil {
		t.Fatal(err)
	}
	// Nothing lost: revision 1's objects are all there, old-config
	// included (the failed apply pruned nothing), and so is the foreign
	// ConfigMap.
	ctx := cluster.Context(t)
	for _, name := range []string{"old-config", "not-obsctls"} {
		if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("ConfigMap %s after the failed apply: %v", name, err)
		}
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Errorf("Deployment web after the failed apply: %v", err)
	}

	// The second apply waits out the lock the first could not release,
	// rolls the interrupted revision forward (its intent was recorded
	// before it changed anything), then converges: everything applied and
	// ready, old-config pruned.
	code, stderr, _ = run(nil, "apply", "-f", ".", "--timeout", "90s")
	if code != 0 {
		t.Fatalf("apply after the restart: exit %d", code)
	}
	if !strings.Contains(stderr, "revision 2 was interrupted") || !strings.Contains(stderr, "revision 3:") {
		t.Errorf("the apply after the restart did not finish the interrupted revision 2 and record revision 3")
	}
	if !strings.Contains(stderr, "1 pruned") {
		t.Errorf("the apply after the restart did not prune old-config")
	}
	// Pruned in the foreground: it may still be on its way out.
	if cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "old-config", metav1.GetOptions{}); !apierrors.IsNotFound(err) && (err != nil || cm.DeletionTimestamp == nil) {
		t.Errorf("old-config after the second apply: %v, want it pruned", err)
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "not-obsctls", metav1.GetOptions{}); err != nil {
		t.Errorf("the foreign ConfigMap after the second apply: %v", err)
	}
	for i := range 20 {
		if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, fmt.Sprintf("config-%02d", i), metav1.GetOptions{}); err != nil {
			t.Errorf("config-%02d: %v", i, err)
		}
	}
	for _, name := range []string{"web", "api"} {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("Deployment %s after the second apply: %v", name, err)
		} else if d.Status.AvailableReplicas != 2 {
			t.Errorf("Deployment %s after the second apply: %d available, want 2", name, d.Status.AvailableReplicas)
		}
	}

	// And a third changes nothing.
	code, stderr, _ = run(nil, "apply", "-f", ".", "--timeout", "60s")
	if code != 0 || !strings.Contains(stderr, "0 created, 0 configured, 24 unchanged, 0 pruned") {
		t.Errorf("third apply: exit %d, want 0 with all 24 objects unchanged", code)
	}
}
