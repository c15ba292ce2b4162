package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRenderGolden renders the embedded default stack in both profiles and
// compares with testdata/render/<profile>.yaml; -update rewrites them. The
// Prometheus Operator's CRDs (5 MB, checked against their generator by
// internal/render/crds) appear in the golden files as their digests.
func TestRenderGolden(t *testing.T) {
	for _, profile := range []string{"minimal", "ha"} {
		t.Run(profile, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := Run(context.Background(), []string{"render", "--profile", profile}, Deps{
				Stdout: &out, Stderr: &errb, WorkDir: t.TempDir(), Getenv: func(string) string { return "" },
			})
			if code != 0 {
				t.Fatalf("render: exit %d\n%s", code, errb.String())
			}
			var b strings.Builder
			b.WriteString("# obsctl render --profile " + profile + " of the embedded default repo; stderr:\n")
			for l := range strings.Lines(errb.String()) {
				b.WriteString("#   " + l)
			}
			// Documents start at a line "---"; YAML indents any such line
			// inside a value.
			for i, doc := range strings.Split(out.String(), "\n---\n") {
				if i == 0 {
					b.WriteString(doc + "\n") // the header
					continue
				}
				doc += "\n"
				if i == strings.Count(out.String(), "\n---\n") {
					doc = strings.TrimSuffix(doc, "\n")
				}
				b.WriteString("---\n")
				if strings.HasPrefix(doc, "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n") {
					name := ""
					for l := range strings.Lines(doc) {
						if n, ok := strings.CutPrefix(l, "  name: "); ok && name == "" {
							name = strings.TrimSpace(n)
						}
					}
					fmt.Fprintf(&b, "# CustomResourceDefinition %s, %d bytes, sha256 %x\n", name, len(doc), sha256.Sum256([]byte(doc)))
					continue
				}
				b.WriteString(doc)
			}
			golden := filepath.Join("testdata", "render", profile+".yaml")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != b.String() {
				t.Errorf("obsctl render --profile %s differs from %s (run make generate and review the diff)", profile, golden)
			}
		})
	}
}

// TestRenderDir writes the stack to a folder, twice, and removes only the
// files a render wrote when they are no longer rendered.
func TestRenderDir(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := Run(context.Background(), args, Deps{Stdout: &out, Stderr: &errb, WorkDir: dir, Getenv: func(string) string { return "" }}); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, errb.String())
		}
	}
	run("render", "-o", "out")
	mine := filepath.Join(dir, "out", "notes.yaml")
	stale := filepath.Join(dir, "out", "6-deployment-monitoring-gone.yaml")
	if err := os.WriteFile(mine, []byte("kind: Mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte(renderedHeader+"kind: Deployment\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(dir, "out", "6-deployment-monitoring-grafana.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	run("render", "-o", "out")
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("render removed a file it did not write: %v", err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("render kept a file an earlier render wrote and this one does not")
	}
	again, err := os.ReadFile(filepath.Join(dir, "out", "6-deployment-monitoring-grafana.yaml"))
	if err != nil || !bytes.Equal(first, again) {
		t.Errorf("the second render differs: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "out"))
	if len(entries) < 90 {
		t.Errorf("%d files, want one per object", len(entries))
	}
}

// TestRenderFromAnyFolder: a repo renders to the same bytes from its root
// and from any folder below it, so that GitOps commits and apply's
// revisions do not depend on where obsctl ran.
func TestRenderFromAnyFolder(t *testing.T) {
	repo := t.TempDir()
	if err := os.WriteFile(filepath.Join(repo, "obsctl.yaml"), defaultConfig(t), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"rules", "dashboards", "pipelines"} {
		if err := os.CopyFS(filepath.Join(repo, d), os.DirFS(filepath.Join("..", "..", d))); err != nil {
			t.Fatal(err)
		}
	}
	render := func(wd string) string {
		var out, errb bytes.Buffer
		if code := Run(context.Background(), []string{"render"}, Deps{Stdout: &out, Stderr: &errb, WorkDir: wd, Getenv: func(string) string { return "" }}); code != 0 {
			t.Fatalf("render in %s: exit %d\n%s", wd, code, errb.String())
		}
		return out.String()
	}
	root := render(repo)
	for _, sub := range []string{"rules", "pipelines", "dashboards"} {
		if got := render(filepath.Join(repo, sub)); got != root {
			t.Errorf("render from %s/ differs from render at the repo's root", sub)
		}
	}
}

func defaultConfig(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "obsctl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
