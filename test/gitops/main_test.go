// Package gitops proves the GitOps set-ups of docs/gitops.md without the
// GitOps tools' servers, which cannot run here.
//
// Argo CD: its config management plugin contract, read from
// deploy/argocd/plugin.yaml and run as its sidecar runs it: the generate
// command as the plugin states it, in a read-only copy of the repo, as the
// sidecar's unprivileged user (deploy/argocd/argocd-repo-server-patch.yaml;
// the same uid when the test runs as root), with HOME unwritable, the
// Application's plugin env as ARGOCD_ENV_ variables and Argo CD's command
// timeout; standard output must be manifests only, as Argo CD splits them,
// with the CRDs marked for server-side apply.
//
// Flux: obsctl's render goes through the kustomize-controller's own
// library, github.com/fluxcd/pkg/kustomize (the generated kustomization,
// the secure kustomize build, post-build substitution), with the
// Kustomization of deploy/flux/kustomizations.yaml.
package gitops

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// obsctlBin is obsctl, built once for the package into a folder every
// user may read, since the plugin runs as another user.
var obsctlBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "obsctl-gitops-bin-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err == nil {
		obsctlBin = filepath.Join(dir, "obsctl")
		cmd := exec.Command("go", "build", "-o", obsctlBin, "./cmd/obsctl")
		cmd.Dir = filepath.Join("..", "..")
		if out, berr := cmd.CombinedOutput(); berr != nil {
			err = fmt.Errorf("go build ./cmd/obsctl: %v\n%s", berr, out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gitops:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sandbox returns a new folder that every user may enter (a plugin run
// as another user reads below it), removed at the end of the test even
// when made read-only.
func sandbox(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "obsctl-gitops-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
		os.RemoveAll(dir)
	})
	return dir
}

// obsctl runs the built obsctl in dir and fails t unless it exits 0.
func obsctl(t testing.TB, dir string, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(obsctlBin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("obsctl %v: %v\n%s", args, err, errb.String())
	}
	return out.String(), errb.String()
}

// defaultRepo copies the embedded default repo (this project's own
// obsctl.yaml, rules, dashboards and pipelines) into dir.
func defaultRepo(t testing.TB, dir string) {
	t.Helper()
	root := filepath.Join("..", "..")
	b, err := os.ReadFile(filepath.Join(root, "obsctl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "obsctl.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"rules", "dashboards", "pipelines"} {
		if err := os.CopyFS(filepath.Join(dir, d), os.DirFS(filepath.Join(root, d))); err != nil {
			t.Fatal(err)
		}
	}
}

// initRepo writes a team's repo into dir with obsctl init.
func initRepo(t testing.TB, dir string) {
	t.Helper()
	obsctl(t, filepath.Dir(dir), "init", dir, "--name", "shop")
}

// readOnly takes every write permission off the tree at dir.
func readOnly(t testing.TB, dir string) {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		return os.Chmod(p, 0o444)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if err := os.Chmod(d, 0o555); err != nil {
			t.Fatal(err)
		}
	}
}
