// Package programs builds and caches the real programs of the stack that are
// written in Go: the Prometheus Operator, Prometheus, Alertmanager,
// kube-state-metrics, node-exporter and Jaeger, at the versions the stack
// pins (internal/render), so that the cluster tests and `make demo` run them
// on the local control plane instead of trusting simulated pods.
//
// Each program is pinned by a module of its own under pins/<name> (a go.mod
// with a tool line for the program's main package, and its go.sum), so that
// each builds with the dependency versions it was released with, as `go
// install pkg@version` would; one module for all would move their shared
// dependencies to the newest any of them asks for. Builds land in
// test/bin/<name>-<version>-<hash>/, keyed by version and by a hash of
// everything else that goes into the build, as the control plane's are
// (test/cluster), and stale builds of a program are removed.
package programs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"

	"github.com/obsctl/obsctl/test/flock"
)

// Program is one real program of the stack.
type Program struct {
	// Name names the binary and its pin module, pins/<Name>.
	Name string
	// Component is the stack's name for it (render.Version's Component).
	Component string
	// Module is the Go module the program is in; Package its main package.
	Module, Package string
	// Tag is the image tag the stack pins for a module version.
	Tag func(moduleVersion string) string
	// ldflags stamps the version, as the project's release builds do.
	ldflags func(moduleVersion string) []string
	// VersionArgs make the program print its version.
	VersionArgs []string
	// patch, when set, prepares a copy of the module's source for the
	// build; patchID names what it does, for the cache key.
	patch   func(src string) error
	patchID string
}

// Names of the programs.
const (
	Prometheus       = "prometheus"
	Alertmanager     = "alertmanager"
	NodeExporter     = "node-exporter"
	KubeStateMetrics = "kube-state-metrics"
	Operator         = "prometheus-operator"
	Jaeger           = "jaeger"
)

// All is every program, in the order they are built.
var All = []Program{
	{Name: NodeExporter, Component: "node-exporter", Module: "github.com/prometheus/node_exporter", Package: "github.com/prometheus/node_exporter",
		Tag: same, ldflags: commonVersion},
	{Name: Alertmanager, Component: "Alertmanager", Module: "github.com/prometheus/alertmanager", Package: "github.com/prometheus/alertmanager/cmd/alertmanager",
		Tag: same, ldflags: commonVersion, patch: alertmanagerUI, patchID: "alertmanager ui placeholder 1"},
	{Name: Prometheus, Component: "Prometheus", Module: "github.com/prometheus/prometheus", Package: "github.com/prometheus/prometheus/cmd/prometheus",
		Tag: prometheusTag, ldflags: func(v string) []string { return commonVersion(prometheusTag(v)) }},
	{Name: Operator, Component: "Prometheus Operator", Module: "github.com/prometheus-operator/prometheus-operator", Package: "github.com/prometheus-operator/prometheus-operator/cmd/operator",
		Tag: same, ldflags: commonVersion},
	{Name: KubeStateMetrics, Component: "kube-state-metrics", Module: "k8s.io/kube-state-metrics/v2", Package: "k8s.io/kube-state-metrics/v2",
		Tag: same, ldflags: commonVersion, VersionArgs: []string{"version"}},
	{Name: Jaeger, Component: "Jaeger", Module: "github.com/jaegertracing/jaeger", Package: "github.com/jaegertracing/jaeger/cmd/jaeger",
		Tag: jaegerTag, VersionArgs: []string{"version"}, ldflags: func(v string) []string {
			return []string{"-X", "github.com/jaegertracing/jaeger/internal/version.latestVersion=v" + jaegerTag(v)}
		}},
}

// Find returns the program of that name.
func Find(name string) (Program, bool) {
	for _, p := range All {
		if p.Name == name {
			return p, true
		}
	}
	return Program{}, false
}

func same(v string) string { return v }

// prometheusTag is the release of a Prometheus module version: module
// v0.313.5 is Prometheus v3.13.5, and v0.54.1 was v2.54.1.
func prometheusTag(v string) string {
	var minor, patch int
	if _, err := fmt.Sscanf(v, "v0.%d.%d", &minor, &patch); err != nil {
		return "?" + v
	}
	if minor < 300 {
		return fmt.Sprintf("v2.%d.%d", minor, patch)
	}
	return fmt.Sprintf("v%d.%d.%d", minor/100, minor%100, patch)
}

// jaegerTag is the Jaeger v2 release a module version builds: the project
// tags each release twice, v1.x for the module and v2.y for the v2 binary.
func jaegerTag(v string) string {
	if t, ok := map[string]string{"v1.75.0": "2.12.0"}[v]; ok {
		return t
	}
	return "?" + v
}

// commonVersion stamps github.com/prometheus/common/version, which the
// Prometheus projects report in --version and their build_info metric (and
// from which the operator defaults its config reloader's image tag).
func commonVersion(tag string) []string {
	return []string{"-X", "github.com/prometheus/common/version.Version=" + strings.TrimPrefix(tag, "v"),
		"-X", "github.com/prometheus/common/version.Branch=HEAD",
		"-X", "github.com/prometheus/common/version.BuildUser=obsctl-test"}
}

// alertmanagerUI gives the module's web UI the page its embed directive
// needs: the built UI (ui/app/dist) comes from npm and is not in the module.
// The API, routing and notifications do not use it.
func alertmanagerUI(src string) error {
	dist := filepath.Join(src, "ui", "app", "dist")
	if err := os.MkdirAll(dist, 0o755); err != nil {
		return err
	}
	page := "<!doctype html><title>Alertmanager</title><p>This test build of Alertmanager has no web UI; its API is at /api/v2.\n"
	return os.WriteFile(filepath.Join(dist, "index.html"), []byte(page), 0o644)
}

const (
	pinsDir  = "test/programs/pins"
	binDir   = "test/bin"
	stamp    = ".complete"
	lockName = ".programs.lock"
)

// Version is the module version the program's pin module requires.
func (p Program) Version(repoRoot string) (string, error) {
	path := filepath.Join(repoRoot, pinsDir, p.Name, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	f, err := modfile.ParseLax(path, data, nil)
	if err != nil {
		return "", err
	}
	for _, r := range f.Require {
		if r.Mod.Path == p.Module {
			return r.Mod.Version, nil
		}
	}
	return "", fmt.Errorf("%s requires no %s", path, p.Module)
}

// Key names the program's cache folder: its name and version, readable,
// and a hash of the pin module, the link flags and the patch.
func (p Program) Key(repoRoot string) (string, error) {
	v, err := p.Version(repoRoot)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "package %s\nldflags %q\npatch %s\n", p.Package, p.ldflags(v), p.patchID)
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(repoRoot, pinsDir, p.Name, name))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", name, len(data))
		h.Write(data)
	}
	return fmt.Sprintf("%s-%s-%s", p.Name, v, hex.EncodeToString(h.Sum(nil))[:10]), nil
}

// Path is where the program's binary is, built or not.
func (p Program) Path(repoRoot string) (string, error) {
	key, err := p.Key(repoRoot)
	if err != nil {
		return "", err
	}
	return filepath.Join(repoRoot, binDir, key, p.Name), nil
}

// Ensure returns the path of the program's binary, building it first when
// it is not there. Builds are serialized across processes with a lock
// file; the go command's output goes to log, since a cold build takes
// minutes.
func (p Program) Ensure(ctx context.Context, repoRoot string, log io.Writer) (string, error) {
	bin, err := p.Path(repoRoot)
	if err != nil {
		return "", err
	}
	dir := filepath.Dir(bin)
	if _, err := os.Stat(filepath.Join(dir, stamp)); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	unlock, err := flock.Lock(ctx, filepath.Join(filepath.Dir(dir), lockName))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, stamp)); err == nil {
		return bin, nil // built by another process while this one waited
	}
	start := time.Now()
	if err := p.build(ctx, repoRoot, dir, log); err != nil {
		return "", fmt.Errorf("build %s: %w", p.Name, err)
	}
	fmt.Fprintf(log, "built %s in %s\n", filepath.Base(dir), time.Since(start).Round(time.Second))
	p.prune(filepath.Dir(dir), filepath.Base(dir), log)
	return bin, nil
}

// EnsureAll builds every program that is not built yet and returns their
// paths by name.
func EnsureAll(ctx context.Context, repoRoot string, log io.Writer) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range All {
		bin, err := p.Ensure(ctx, repoRoot, log)
		if err != nil {
			return nil, err
		}
		out[p.Name] = bin
	}
	return out, nil
}

// build compiles the program into a fresh folder and renames it into
// place, so that dir is complete or absent.
func (p Program) build(ctx context.Context, repoRoot, dir string, log io.Writer) error {
	v, err := p.Version(repoRoot)
	if err != nil {
		return err
	}
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	goBin, err := exec.LookPath("go")
	if err != nil {
		return err
	}
	env := append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	run := func(dir string, stdout io.Writer, args ...string) error {
		cmd := exec.CommandContext(ctx, goBin, args...)
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, stdout, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go %s in %s: %w", strings.Join(args, " "), dir, err)
		}
		return nil
	}
	modDir := filepath.Join(repoRoot, pinsDir, p.Name)
	if p.patch != nil {
		// The build runs in a copy of the pin module whose go.mod replaces
		// the program's module with a patched copy of its source.
		var out strings.Builder
		if err := run(modDir, &out, "mod", "download", "-json", p.Module+"@"+v); err != nil {
			return err
		}
		var m struct{ Dir string }
		if err := json.Unmarshal([]byte(out.String()), &m); err != nil || m.Dir == "" {
			return fmt.Errorf("locate %s@%s: %v", p.Module, v, err)
		}
		src, mod := filepath.Join(tmp, "src"), filepath.Join(tmp, "mod")
		if err := copyTree(m.Dir, src); err != nil {
			return err
		}
		if err := p.patch(src); err != nil {
			return err
		}
		if err := copyTree(modDir, mod); err != nil {
			return err
		}
		if err := run(mod, io.Discard, "mod", "edit", "-replace", p.Module+"="+src); err != nil {
			return err
		}
		modDir = mod
	}
	fmt.Fprintf(log, "building %s %s (%s) into %s\n", p.Name, p.Tag(v), v, dir)
	flags := append([]string{"-s", "-w"}, p.ldflags(v)...)
	out := filepath.Join(tmp, p.Name)
	if err := run(modDir, log, "build", "-trimpath", "-buildvcs=false", "-ldflags", strings.Join(flags, " "), "-o", out, p.Package); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, stamp), []byte(p.Name+" "+v+"\n"), 0o644); err != nil {
		return err
	}
	final := filepath.Join(dir + ".new")
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	if err := os.MkdirAll(final, 0o755); err != nil {
		return err
	}
	for _, name := range []string{p.Name, stamp} {
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(final, name)); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(final, dir)
}

// prune removes the program's other builds: nothing uses them once its pin
// has moved, and each is tens of megabytes.
func (p Program) prune(cacheDir, keep string, log io.Writer) {
	entries, err := os.ReadDir(cacheDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || name == keep || !strings.HasPrefix(name, p.Name+"-v") {
			continue
		}
		if err := os.RemoveAll(filepath.Join(cacheDir, name)); err == nil {
			fmt.Fprintf(log, "removed stale build %s\n", name)
		}
	}
}

// copyTree copies a folder of regular files and folders, writable.
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case !d.Type().IsRegular():
			return errors.New("not a regular file: " + path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
}
