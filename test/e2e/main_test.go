// Package e2e runs obsctl's cluster commands end to end, in process through
// cli.Run, against the real local control plane of test/cluster.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/obsctl/obsctl/internal/cli"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/manifest"
	"github.com/obsctl/obsctl/test/cluster"
)

var kubeHarness cluster.Harness

func TestMain(m *testing.M) {
	os.Exit(kubeHarness.Main(m, cluster.Options{Nodes: 3}))
}

// env is one test's corner of the shared cluster: its own namespace (also
// the stack's name and the suffix of its cluster-wide names), a working
// directory for manifests and the clients to look at what obsctl did.
type env struct {
	t       *testing.T
	c       *cluster.Cluster
	ns      string
	dir     string
	clients *kube.Clients
	typed   cluster.Client
	vars    map[string]string

	mu      sync.Mutex
	outputs []string // every stdout and stderr obsctl wrote, for the secret check
}

func newEnv(t *testing.T, prefix string) *env {
	t.Helper()
	c := kubeHarness.Cluster(t)
	e := &env{
		t:   t,
		c:   c,
		ns:  fmt.Sprintf("%s-%05x", prefix, rand.IntN(1<<20)),
		dir: t.TempDir(),
	}
	home := t.TempDir()
	e.vars = map[string]string{"KUBECONFIG": c.Kubeconfig(), "HOME": home, "USER": "e2e"}
	cfg := c.RESTConfig()
	var err error
	if e.clients, err = kube.NewClients(cfg); err != nil {
		t.Fatal(err)
	}
	e.typed = cluster.NewClient(t, cfg)
	t.Cleanup(func() {
		ctx := context.Background()
		_ = e.typed.CoreV1().Namespaces().Delete(ctx, e.ns, metav1.DeleteOptions{})
		_ = e.typed.RbacV1().ClusterRoles().Delete(ctx, e.ns+"-agent", metav1.DeleteOptions{})
		_ = e.typed.RbacV1().ClusterRoleBindings().Delete(ctx, e.ns+"-agent", metav1.DeleteOptions{})
		crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
		_ = e.clients.Dynamic.Resource(crds).Delete(ctx, "gadgets."+e.ns+".e2e.obsctl.dev", metav1.DeleteOptions{})
	})
	return e
}

// ctx bounds one test's own cluster calls.
func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

// result is what one obsctl run did.
type result struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// obsctl runs obsctl in process with the test's environment and working
// directory; --stack and -n name the test's stack unless args name them or
// the command is rbac.
func (e *env) obsctl(args ...string) result {
	e.t.Helper()
	return e.obsctlStdin("", args...)
}

func (e *env) obsctlStdin(stdin string, args ...string) result {
	e.t.Helper()
	return e.obsctlCtx(context.Background(), stdin, args...)
}

// obsctlCtx runs obsctl with ctx, as main does with the context that
// SIGINT cancels.
func (e *env) obsctlCtx(ctx context.Context, stdin string, args ...string) result {
	e.t.Helper()
	var stdout, stderr bytes.Buffer
	full := append([]string(nil), args...)
	if len(args) > 0 && args[0] == "rbac" {
		// rbac reads no cluster and has no stack.
	} else if !hasFlag(args, "--stack") {
		full = append(full, "--stack", e.ns)
	}
	if len(args) > 0 && args[0] != "rbac" && !hasFlag(args, "-n") {
		full = append(full, "-n", e.ns)
	}
	start := time.Now()
	code := cli.Run(ctx, full, cli.Deps{
		Stdin:   strings.NewReader(stdin),
		Stdout:  &stdout,
		Stderr:  &stderr,
		WorkDir: e.dir,
		Getenv:  func(k string) string { return e.vars[k] },
	})
	r := result{code: code, stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	e.mu.Lock()
	e.outputs = append(e.outputs, r.stdout, r.stderr)
	e.mu.Unlock()
	e.t.Logf("obsctl %s: exit %d in %s\n--- stdout\n%s--- stderr\n%s", strings.Join(full, " "), code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
	return r
}

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// writeStack copies testdata/stack into dir/name, with the test's namespace
// in every name that must be unique.
func (e *env) writeStack(name string) string {
	e.t.Helper()
	dst := filepath.Join(e.dir, name)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		e.t.Fatal(err)
	}
	files, err := filepath.Glob("testdata/stack/*.yaml")
	if err != nil || len(files) == 0 {
		e.t.Fatalf("no stack manifests: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			e.t.Fatal(err)
		}
		e.writeFile(filepath.Join(name, filepath.Base(f)), string(b))
	}
	return dst
}

// writeFile writes a manifest under the working directory, with the test's
// namespace for __NS__.
func (e *env) writeFile(rel, content string) {
	e.t.Helper()
	p := filepath.Join(e.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(content, "__NS__", e.ns)), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// editFile replaces old with new in a manifest under the working directory.
func (e *env) editFile(rel, old, new string) {
	e.t.Helper()
	p := filepath.Join(e.dir, rel)
	b, err := os.ReadFile(p)
	if err != nil {
		e.t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		e.t.Fatalf("%s does not contain %q", rel, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// objects reads the manifests under dir as obsctl does.
func (e *env) objects(dir string) []*unstructured.Unstructured {
	e.t.Helper()
	ms, err := manifest.Read([]string{dir}, manifest.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	return manifest.Objects(ms)
}

// get reads the live copy of obj; nil when it does not exist.
func (e *env) get(obj *unstructured.Unstructured) *unstructured.Unstructured {
	e.t.Helper()
	ri, _, err := e.clients.ResourceFor(obj)
	if err != nil {
		e.t.Fatal(err)
	}
	live, err := ri.Get(e.ctx(), obj.GetName(), metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return live
}

// resourceVersions reads every object's resourceVersion, once the objects
// have stopped changing (controllers update workload status for a moment
// after a rollout), so that a change seen afterwards is the apply's.
func (e *env) resourceVersions(objs []*unstructured.Unstructured) map[string]string {
	e.t.Helper()
	read := func() map[string]string {
		out := map[string]string{}
		for _, o := range objs {
			if live := e.get(o); live != nil {
				out[kube.Describe(o)] = live.GetResourceVersion()
			}
		}
		return out
	}
	prev := read()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); {
		time.Sleep(300 * time.Millisecond)
		cur := read()
		if fmt.Sprint(cur) == fmt.Sprint(prev) {
			return cur
		}
		prev = cur
	}
	e.t.Fatalf("objects kept changing for 15s")
	return nil
}

// objectLines returns the lines of apply's stdout by object: "Kind
// namespace/name" -> the rest of the line.
func objectLines(t *testing.T, stdout string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if l == "" {
			continue
		}
		f := strings.SplitN(l, " ", 3)
		if len(f) < 3 {
			t.Fatalf("malformed line %q", l)
		}
		out[f[0]+" "+f[1]] = f[2]
	}
	return out
}

// assertNoSecrets fails if any output of the test holds a Secret's value.
func (e *env) assertNoSecrets(values ...string) {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, out := range e.outputs {
		for _, v := range values {
			if strings.Contains(out, v) {
				e.t.Errorf("output holds the secret value %q:\n%s", v, out)
			}
		}
	}
}
