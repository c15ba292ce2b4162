package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// EnvE2E, set to 1, makes cluster tests run, building the binaries if
// needed. CI=true does the same.
const EnvE2E = "OBSCTL_E2E"

// Harness gives a test package one control plane for the whole run. Declare
// one at package level and hand it the package's TestMain:
//
//	var kube cluster.Harness
//
//	func TestMain(m *testing.M) { os.Exit(kube.Main(m, cluster.Options{Nodes: 3})) }
//
//	func TestSomething(t *testing.T) {
//		c := kube.Cluster(t)
//		...
//	}
//
// Cluster tests are skipped only when the binaries have not been built and
// neither OBSCTL_E2E=1 nor CI=true is set; otherwise they run, and any
// failure to build or start fails every test that asks for the cluster.
type Harness struct {
	c       *Cluster
	err     error
	skipMsg string
	tmpDir  string // the cluster's folder, when the harness made it
}

// required reports whether the environment demands that cluster tests run.
func required() bool {
	return os.Getenv(EnvE2E) == "1" || os.Getenv("CI") == "true"
}

// Main builds or finds the binaries, starts the cluster, runs the tests,
// prints every component's log tail if a test failed, and stops the cluster.
// The cluster's folder is removed after a clean run and kept, with the full
// logs, otherwise. It returns the exit code for os.Exit: m.Run's, or 1 if
// the stop left a process behind.
func (h *Harness) Main(m *testing.M, opts Options) int {
	h.setup(opts)
	code := m.Run()
	if h.c == nil {
		return code
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "cluster: a test failed; component logs:\n%s", h.c.LogTails(40))
	}
	if err := h.c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "cluster: stop: %v\n", err)
		code = 1
	}
	if h.tmpDir != "" {
		if code == 0 {
			_ = os.RemoveAll(h.tmpDir)
		} else {
			fmt.Fprintf(os.Stderr, "cluster: state and full logs kept in %s\n", h.tmpDir)
		}
	}
	return code
}

func (h *Harness) setup(opts Options) {
	wd, err := os.Getwd()
	if err != nil {
		h.err = err
		return
	}
	root, err := FindRepoRoot(wd)
	if err != nil {
		h.err = err
		return
	}
	if opts.BinDir == "" {
		binDir, err := BinDir(root)
		if err != nil {
			h.err = err
			return
		}
		if !HaveBinaries(binDir) && !required() {
			h.skipMsg = fmt.Sprintf("control-plane binaries are not built (%s); run `make kube-bins`, or set %s=1 to build them on the fly", binDir, EnvE2E)
			return
		}
		// No deadline: a cold build takes minutes and runs before m.Run's
		// -timeout alarm starts.
		if opts.BinDir, err = EnsureBinaries(context.Background(), root); err != nil {
			h.err = err
			return
		}
	}
	if opts.Dir == "" {
		if h.tmpDir, h.err = os.MkdirTemp("", "obsctl-e2e-"); h.err != nil {
			return
		}
		opts.Dir = h.tmpDir
	}
	start := time.Now()
	h.c, h.err = Start(context.Background(), opts)
	if h.err == nil {
		fmt.Fprintf(os.Stderr, "cluster: started in %s\n", time.Since(start).Round(time.Millisecond))
	}
}

// Cluster returns the package's cluster. It skips t if the binaries are
// absent and cluster tests are not required, and fails t if the cluster
// could not start or a component has since died.
func (h *Harness) Cluster(t testing.TB) *Cluster {
	t.Helper()
	switch {
	case h.skipMsg != "":
		t.Skip(h.skipMsg)
	case h.err != nil:
		t.Fatalf("cluster: %v", h.err)
	case h.c == nil:
		t.Fatal(errors.New("cluster: Harness.Main did not run; call it from TestMain"))
	}
	if err := h.c.Err(); err != nil {
		t.Fatalf("cluster: a component died: %v\n%s", err, h.c.LogTails(40))
	}
	return h.c
}

// Context returns a context that bounds one test's cluster calls to a
// minute, so that a stuck call fails the test instead of hanging the
// package until go test's own timeout.
func Context(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Namespace creates a namespace named prefix-<random> for one test and
// deletes it when the test ends, so tests sharing a cluster stay apart.
func (c *Cluster) Namespace(t testing.TB, prefix string) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	ns, err := cs.CoreV1().Namespaces().Create(Context(t), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns.Name, metav1.DeleteOptions{}) })
	return ns.Name
}

// Client is the typed and the dynamic client of one identity in one value:
// obsctl's lock and inventory take the dynamic one, tests read with the
// typed one.
type Client struct {
	Typed
	Dynamic
}

// Typed and Dynamic name Client's two embedded clients.
type (
	Typed   = kubernetes.Interface
	Dynamic = dynamic.Interface
)

// NewClient builds both clients for cfg, failing t when it cannot.
func NewClient(t testing.TB, cfg *rest.Config) Client {
	t.Helper()
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return Client{typed, dyn}
}
