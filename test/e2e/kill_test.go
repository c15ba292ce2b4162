package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/obsctl/obsctl/internal/inventory"
	"github.com/obsctl/obsctl/internal/lock"
	"github.com/obsctl/obsctl/internal/release"
)

// buildObsctl builds obsctl into a folder of t's, for tests that run it
// as a process of its own, as CI does, to kill it.
func buildObsctl(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "obsctl")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/obsctl")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/obsctl: %v\n%s", err, out)
	}
	return bin
}

// killAt runs bin (obsctl) as a process with args, stopping at point (see
// release.PauseEnv), and kills it with SIGKILL once it says it paused
// there, as a CI job's timeout does. It returns the process's pid and what
// it wrote.
func (e *env) killAt(bin, point string, args ...string) (pid int, stdout, stderr string) {
	e.t.Helper()
	args = append(args, "--stack", e.ns, "-n", e.ns)
	cmd := exec.Command(bin, args...)
	cmd.Dir = e.dir
	cmd.Env = []string{release.PauseEnv + "=" + point}
	for k, v := range e.vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out strings.Builder
	cmd.Stdout = &out
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	var errOut strings.Builder
	paused := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(errPipe)
		said := false
		for sc.Scan() {
			errOut.WriteString(sc.Text() + "\n")
			if !said && strings.HasPrefix(sc.Text(), "obsctl: paused at "+point) {
				said = true
				close(paused)
			}
		}
		_, _ = io.Copy(io.Discard, errPipe)
	}()
	select {
	case <-paused:
	case <-done:
	case <-time.After(60 * time.Second):
	}
	// SIGKILL: no deferred release of the lock, no last record.
	_ = cmd.Process.Kill()
	<-done
	werr := cmd.Wait()
	e.t.Logf("obsctl %s (%s=%s, pid %d): %v\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), release.PauseEnv, point, cmd.Process.Pid, werr, out.String(), errOut.String())
	select {
	case <-paused:
	default:
		e.t.Fatalf("obsctl never said it paused at %s", point)
	}
	return cmd.Process.Pid, out.String(), errOut.String()
}

// configMaps lists the names of the ConfigMaps that carry the stack's
// labels, sorted.
func (e *env) configMaps() []string {
	e.t.Helper()
	l, err := e.typed.CoreV1().ConfigMaps(e.ns).List(e.ctx(), metav1.ListOptions{
		LabelSelector: release.LabelManagedBy + "=obsctl," + release.LabelStack + "=" + e.ns,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, cm := range l.Items {
		if cm.DeletionTimestamp == nil {
			names = append(names, cm.Name)
		}
	}
	slices.Sort(names)
	return names
}

// TestKilledRelease kills obsctl (SIGKILL, as a CI job's timeout does) at
// each point of a release: after it recorded its intent, after it applied,
// after it pruned. The next run waits out the dead run's lock, says it
// finishes the interrupted revision, prunes what neither set has (nothing
// is orphaned) and records its own revision after the rolled-forward one.
func TestKilledRelease(t *testing.T) {
	t.Parallel()
	kubeHarness.Cluster(t) // skips when cluster tests do not run, before the build
	bin := buildObsctl(t)
	for _, point := range []string{"intent", "applied", "pruned"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, "e2e-kill-"+point)
			cm := func(name string) string {
				return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: __NS__}\ndata: {name: %s}\n", name, name)
			}
			set := func(dir string, names ...string) {
				for _, n := range names {
					e.writeFile(filepath.Join(dir, n+".yaml"), cm(n))
				}
			}
			set("one", "a", "b", "c")
			set("two", "a", "c", "d")
			set("three", "a", "d")

			if r := e.obsctl("apply", "-f", "one", "--timeout", "60s"); r.code != 0 {
				t.Fatalf("revision 1: exit %d", r.code)
			}
			if got := e.configMaps(); !slices.Equal(got, []string{"a", "b", "c"}) {
				t.Fatalf("after revision 1 the stack's ConfigMaps are %v, want a b c", got)
			}

			// The killed run: drops b, adds d.
			pid, _, _ := e.killAt(bin, point, "apply", "-f", "two", "--lock-lease", "3s", "--timeout", "60s")
			want := map[string][]string{
				"intent":  {"a", "b", "c"}, // nothing applied yet
				"applied": {"a", "b", "c", "d"},
				"pruned":  {"a", "c", "d"},
			}[point]
			if got := e.configMaps(); !slices.Equal(got, want) {
				t.Errorf("killed at %s, the stack's ConfigMaps are %v, want %v", point, got, want)
			}
			// It died holding the lock and with its intent recorded.
			lease, err := e.typed.CoordinationV1().Leases(e.ns).Get(e.ctx(), lock.LeaseName(e.ns), metav1.GetOptions{})
			if err != nil {
				t.Fatalf("the killed run left no lock: %v", err)
			}
			if h := lease.Spec.HolderIdentity; h == nil || !strings.HasSuffix(*h, fmt.Sprintf(" pid %d", pid)) {
				t.Errorf("the lock's holder is %v, want the killed run (pid %d)", h, pid)
			}
			inv, err := inventory.Load(e.ctx(), e.typed, e.ns, e.ns)
			if err != nil {
				t.Fatal(err)
			}
			if p := inv.Pending(); p == nil || p.Number != 2 {
				t.Fatalf("the killed run's intent is not recorded: pending %+v", p)
			}

			// The next run: a third set, without c. It waits out the dead
			// run's lease, finishes revision 2 and prunes b and c.
			r := e.obsctl("apply", "-f", "three", "--timeout", "60s", "-o", "json")
			if r.code != 0 {
				t.Fatalf("the run after the kill: exit %d", r.code)
			}
			if !strings.Contains(r.stderr, "revision 2 was interrupted") {
				t.Errorf("the run after the kill does not say that revision 2 was interrupted")
			}
			res := decodePlan(t, "the run after the kill", r.stdout)
			actions := map[string]string{}
			for _, o := range res.Objects {
				actions[o.Name] = o.Action
			}
			wantActions := map[string]string{"a": "unchanged", "c": "pruned", "d": "unchanged", "b": "pruned"}
			switch point {
			case "intent":
				wantActions["d"] = "created"
			case "pruned":
				delete(wantActions, "b") // gone with the killed run's prune
			}
			if fmt.Sprint(actions) != fmt.Sprint(wantActions) {
				t.Errorf("the run after the kill did %v, want %v", actions, wantActions)
			}
			if res.Revision != 3 {
				t.Errorf("the run after the kill recorded revision %d, want 3", res.Revision)
			}
			// Nothing orphaned: the stack's ConfigMaps are the last set's.
			if got := e.configMaps(); !slices.Equal(got, []string{"a", "d"}) {
				t.Errorf("after the run the stack's ConfigMaps are %v, want a d", got)
			}
			// Prune deletes in the foreground: the API server keeps an
			// object, marked for deletion, until the garbage collector has
			// seen to its dependents, so gone means gone within a while.
			for _, name := range []string{"b", "c"} {
				deadline := time.Now().Add(30 * time.Second)
				for {
					cm, err := e.typed.CoreV1().ConfigMaps(e.ns).Get(e.ctx(), name, metav1.GetOptions{})
					if err != nil {
						break
					}
					if cm.DeletionTimestamp == nil || time.Now().After(deadline) {
						t.Errorf("ConfigMap %s is still there (marked for deletion: %v)", name, cm.DeletionTimestamp != nil)
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
			}

			r = e.obsctl("history", "-o", "json")
			if r.code != 0 {
				t.Fatalf("history: exit %d", r.code)
			}
			var hist struct {
				Revisions []struct {
					Revision int    `json:"revision"`
					State    string `json:"state"`
				} `json:"revisions"`
				Pending *struct {
					Revision int `json:"revision"`
				} `json:"pending"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &hist); err != nil {
				t.Fatalf("history -o json: %v\n%s", err, r.stdout)
			}
			if got := fmt.Sprint(hist.Revisions); got != "[{3 } {2 rolled-forward} {1 }]" {
				t.Errorf("history: revisions %s, want 3, 2 rolled-forward, 1", got)
			}
			if hist.Pending != nil {
				t.Errorf("history: revision %d still pending", hist.Pending.Revision)
			}
		})
	}
}
