package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/klog/v2"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/lock"
	"github.com/obsctl/obsctl/internal/release"
)

func obj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// TestApplyPrinter: lines of a wave come out in input order once the wave
// is complete, whatever order the engine reports them in; the plan's other
// decisions print as they come; and a terminal gets a progress line that
// is cleared around every line and at the end.
func TestApplyPrinter(t *testing.T) {
	objs := []*unstructured.Unstructured{
		obj("v1", "Namespace", "", "mon"),
		obj("v1", "ConfigMap", "mon", "b"),
		obj("v1", "ConfigMap", "mon", "a"),
		obj("apps/v1", "Deployment", "mon", "web"),
	}
	var stdout, stderr bytes.Buffer
	deps := &Deps{Stdout: &stdout, Stderr: &stderr, IsTerminal: func(w io.Writer) bool { return w == &stderr }}
	deps.fill()
	p := newPrinter(deps, "text", true)
	ev := func(o *unstructured.Unstructured, w kube.Wave, a release.Action) release.Event {
		return release.Event{Type: release.EventObject, Object: release.ObjectResult{Ref: kube.RefOf(o), Wave: w, Action: a, Duration: 1500 * time.Millisecond}}
	}
	p.Observe(release.Event{Type: release.EventObject, Object: release.ObjectResult{Ref: kube.RefOf(obj("v1", "ConfigMap", "mon", "theirs")), Wave: kube.WaveConfig, Action: release.Conflict, Note: "it exists and obsctl did not create it; --adopt takes it over"}})
	p.Observe(release.Event{Type: release.EventObjects, Objects: objs})
	p.Observe(ev(objs[0], kube.WaveNamespaces, release.Created))
	p.Observe(ev(objs[2], kube.WaveConfig, release.Unchanged))
	if strings.Contains(stdout.String(), "ConfigMap mon/a") {
		t.Errorf("a line of an incomplete wave was printed:\n%s", stdout.String())
	}
	p.Observe(ev(objs[1], kube.WaveConfig, release.Configured))
	p.Observe(ev(objs[3], kube.WaveWorkloads, release.Created))
	if !strings.Contains(stderr.String(), "[wave 3/3] 4/4 applied, 1 waiting…") {
		t.Errorf("progress %q lacks the waiting Deployment", stderr.String())
	}
	p.Observe(release.Event{Type: release.EventReady, Object: release.ObjectResult{Ref: kube.RefOf(objs[3]), Wave: kube.WaveWorkloads}})
	p.Observe(release.Event{Type: release.EventObject, Object: release.ObjectResult{Ref: kube.RefOf(obj("v1", "ConfigMap", "mon", "old")), Wave: kube.WaveConfig, Action: release.Pruned, Duration: 20 * time.Millisecond}})
	p.finish()
	want := "ConfigMap mon/theirs conflict: left alone, it exists and obsctl did not create it; --adopt takes it over\n" +
		"Namespace mon created (1.5s)\nConfigMap mon/b configured (1.5s)\nConfigMap mon/a unchanged (1.5s)\nDeployment mon/web created (1.5s)\n" +
		"ConfigMap mon/old pruned (20ms)\n"
	if stdout.String() != want {
		t.Errorf("stdout\n got %q\nwant %q", stdout.String(), want)
	}
	if !strings.Contains(stderr.String(), "[wave 1/3] 1/4 applied…") || !strings.HasSuffix(stderr.String(), "\r") {
		t.Errorf("progress line %q: want it drawn and cleared at the end", stderr.String())
	}
	if last := stderr.String()[strings.LastIndex(strings.TrimSuffix(stderr.String(), "\r"), "\r"):]; strings.TrimSpace(last) != "" {
		t.Errorf("the progress line was not cleared: %q", last)
	}
}

// TestApplyPrinterQuiet: no terminal, no progress; -o json, no lines.
func TestApplyPrinterQuiet(t *testing.T) {
	objs := []*unstructured.Unstructured{obj("v1", "ConfigMap", "mon", "a")}
	var stdout, stderr bytes.Buffer
	deps := &Deps{Stdout: &stdout, Stderr: &stderr}
	deps.fill()
	p := newPrinter(deps, "json", false)
	p.Observe(release.Event{Type: release.EventObjects, Objects: objs})
	failed := release.ObjectResult{Ref: kube.RefOf(objs[0]), Wave: kube.WaveConfig, Action: release.Failed, Err: errors.New("ConfigMap mon/a: boom")}
	p.Observe(release.Event{Type: release.EventObject, Object: failed})
	p.finish()
	if stdout.Len() != 0 || stderr.Len() != 0 {
		t.Errorf("stdout %q, stderr %q; want nothing", stdout.String(), stderr.String())
	}
	if got := format(failed); got != "ConfigMap mon/a failed: boom" {
		t.Errorf("failed line %q", got)
	}
}

func TestExitCodes(t *testing.T) {
	held := &lock.HeldError{Stack: "s", Holder: "alice@host pid 1", Namespace: "mon", Lease: "obsctl-s"}
	for _, tc := range []struct {
		name string
		err  error
		code int
		msg  string
	}{
		{"not ready", fmt.Errorf("x: %w", &apply.NotReadyError{Timeout: time.Second}), ExitNotReady, "not ready"},
		{"timeout", &release.TimeoutError{Timeout: time.Minute, Err: context.DeadlineExceeded}, ExitNotReady, "--timeout 1m0s ran out"},
		{"confirm", &release.ConfirmError{Stack: "s", Changes: []string{"StatefulSet mon/es replaced: deleted and created again"}}, ExitConfirm, "need confirming with --yes"},
		{"profile", &release.ProfileError{Stack: "s", Previous: "ha", Profile: "minimal"}, ExitConfirm, "--profile ha keeps it"},
		{"repo", &release.RepoError{Msg: "no obsctl.yaml was found here"}, ExitUsage, "no obsctl.yaml"},
		{"locked", fmt.Errorf("take the lock: %w", held), ExitLocked, "alice@host pid 1"},
		{"diff failed", &diffError{errors.New("boom")}, ExitDiffFailed, "diff: boom"},
		{"diff interrupted", &diffError{context.Canceled}, ExitDiffFailed, "diff: context canceled"},
		{"apply interrupted", fmt.Errorf("apply: %w", context.Canceled), ExitFailure, "interrupted"},
		{"changes", silentError{code: 1}, 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if got := exitCode(tc.err, &b); got != tc.code {
				t.Errorf("exit code %d, want %d", got, tc.code)
			}
			if !strings.Contains(b.String(), tc.msg) || (tc.msg == "" && b.Len() > 0) {
				t.Errorf("stderr %q, want %q", b.String(), tc.msg)
			}
		})
	}
}

// TestClusterDefaults: --stack and -n come from obsctl.yaml when the
// working directory or a folder above holds one, else obsctl and
// monitoring; flags win.
func TestClusterDefaults(t *testing.T) {
	withRepo := t.TempDir()
	if err := os.WriteFile(filepath.Join(withRepo, "obsctl.yaml"), []byte("apiVersion: obsctl/v1\nname: shop\nrules:\n  namespace: observability\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(withRepo, "rules", "team")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name            string
		dir             string
		stack, ns       string
		wantStack, want string
		wantErr         string
	}{
		{name: "no repo", dir: t.TempDir(), wantStack: "obsctl", want: "monitoring"},
		{name: "repo", dir: withRepo, wantStack: "shop", want: "observability"},
		{name: "flags win", dir: withRepo, stack: "prod", ns: "mon", wantStack: "prod", want: "mon"},
		{name: "bad stack", dir: t.TempDir(), stack: "Prod_1", wantErr: `stack name "Prod_1"`},
		// Found up the tree, as load.Find finds it for lint and render.
		{name: "repo from a sub-folder", dir: sub, wantStack: "shop", want: "observability"},
		{name: "reserved namespace", dir: withRepo, ns: "kube-system", wantErr: `namespace "kube-system" is reserved`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clusterOptions{stack: tc.stack, namespace: tc.ns, timeout: time.Minute}
			err := c.resolve(&Deps{WorkDir: tc.dir}, &globalOptions{})
			if tc.wantErr != "" {
				var ue usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want a usage error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.stack != tc.wantStack || c.namespace != tc.want {
				t.Errorf("stack %q namespace %q, want %q %q", c.stack, c.namespace, tc.wantStack, tc.want)
			}
		})
	}
}

// TestQuietKlog: after quietKlog, client-go's error lines reach neither the
// process's stderr nor anything else; with -v they go to the run's stderr.
func TestQuietKlog(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	quietKlog()
	utilruntime.HandleError(errors.New("hidden unhandled error"))
	klog.ErrorS(errors.New("hidden"), "hidden structured error")
	klog.Warning("hidden warning")
	var verbose bytes.Buffer
	kubeLogTo(&verbose)
	klog.ErrorS(errors.New("shown"), "shown with -v")
	quietKlog()
	klog.Flush()
	os.Stderr = saved
	w.Close()
	leaked, _ := io.ReadAll(r)
	if len(leaked) > 0 {
		t.Errorf("klog wrote to the process's stderr: %q", leaked)
	}
	if got := verbose.String(); strings.Count(got, "shown with -v") != 1 || strings.Contains(got, "hidden") {
		t.Errorf("with -v klog wrote %q, want the one line", got)
	}
}
