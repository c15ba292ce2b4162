package cluster

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/obsctl/obsctl/test/flock"
)

// Binary names, as built from test/kube/cmd/<name>.
const (
	Etcd                  = "etcd"
	KubeAPIServer         = "kube-apiserver"
	KubeControllerManager = "kube-controller-manager"
	KubeScheduler         = "kube-scheduler"
	Kwok                  = "kwok"
)

// binaries is every command EnsureBinaries builds.
var binaries = []string{Etcd, KubeAPIServer, KubeControllerManager, KubeScheduler, Kwok}

// stageFiles are the kwok stages the simulated nodes run, by path under the
// kwok module's kustomize/stage directory. They are copied from the module
// cache at build time, so they always match the pinned kwok version.
var stageFiles = []string{
	"node/fast/node-initialize.yaml",
	"node/heartbeat/node-heartbeat.yaml",
	"pod/fast/pod-ready.yaml",
	"pod/fast/pod-complete.yaml",
	"pod/fast/pod-delete.yaml",
}

const (
	kubeModule  = "k8s.io/kubernetes"
	etcdModule  = "go.etcd.io/etcd/server/v3"
	kwokModule  = "sigs.k8s.io/kwok"
	stampFile   = ".complete"
	stagesDir   = "stages"
	binDirStem  = "kube-"
	kubeModDir  = "test/kube"
	binCacheDir = "test/bin"
)

// Versions are the versions of the control-plane components, read from the
// require block of test/kube/go.mod.
type Versions struct {
	Kubernetes string // e.g. v1.36.3
	Etcd       string // e.g. v3.6.12
	Kwok       string // e.g. v0.8.0
}

// ReadVersions reads the pinned component versions from test/kube/go.mod
// under repoRoot.
func ReadVersions(repoRoot string) (Versions, error) {
	path := filepath.Join(repoRoot, kubeModDir, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return Versions{}, fmt.Errorf("read versions: %w", err)
	}
	v, err := parseVersions(data)
	if err != nil {
		return Versions{}, fmt.Errorf("read versions from %s: %w", path, err)
	}
	return v, nil
}

// parseVersions finds the required versions of the three upstream modules.
// It reads go.mod as text: a require line is "path version", alone or in a
// require block, which is all `go mod tidy` ever writes.
func parseVersions(gomod []byte) (Versions, error) {
	found := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	inRequire := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		switch {
		case line == "require (":
			inRequire = true
			continue
		case inRequire && line == ")":
			inRequire = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimSpace(strings.TrimPrefix(line, "require "))
		case !inRequire:
			continue
		}
		f := strings.Fields(line)
		if len(f) == 2 {
			found[f[0]] = f[1]
		}
	}
	v := Versions{Kubernetes: found[kubeModule], Etcd: found[etcdModule], Kwok: found[kwokModule]}
	var missing []string
	for mod, ver := range map[string]string{kubeModule: v.Kubernetes, etcdModule: v.Etcd, kwokModule: v.Kwok} {
		if ver == "" {
			missing = append(missing, mod)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return Versions{}, fmt.Errorf("no require line for %s", strings.Join(missing, ", "))
	}
	return v, nil
}

// ldflags stamps the Kubernetes version into the binaries the way release
// builds do, so /version reports it and version skew checks pass.
func ldflags(v Versions) string {
	major, minor := "", ""
	if parts := strings.SplitN(strings.TrimPrefix(v.Kubernetes, "v"), ".", 3); len(parts) >= 2 {
		major, minor = parts[0], parts[1]
	}
	return strings.Join([]string{
		"-s", "-w",
		"-X", "k8s.io/component-base/version.gitVersion=" + v.Kubernetes,
		"-X", "k8s.io/component-base/version.gitMajor=" + major,
		"-X", "k8s.io/component-base/version.gitMinor=" + minor,
		"-X", "k8s.io/component-base/version.gitTreeState=clean",
	}, " ")
}

// BinKey names the binary cache folder for the module in test/kube: the
// component versions, readable, and a hash of everything else that goes into
// the build (go.mod, go.sum, the mains and the link flags), so a change to
// any of them means a new folder and a rebuild, and nothing else does.
func BinKey(repoRoot string) (string, error) {
	v, err := ReadVersions(repoRoot)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "ldflags %s\n", ldflags(v))
	modDir := filepath.Join(repoRoot, kubeModDir)
	var files []string
	for _, name := range []string{"go.mod", "go.sum"} {
		files = append(files, filepath.Join(modDir, name))
	}
	mains, err := filepath.Glob(filepath.Join(modDir, "cmd", "*", "*.go"))
	if err != nil {
		return "", err
	}
	sort.Strings(mains)
	files = append(files, mains...)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("bin key: %w", err)
		}
		rel, _ := filepath.Rel(modDir, f)
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(rel), len(data))
		h.Write(data)
	}
	sum := hex.EncodeToString(h.Sum(nil))[:10]
	return fmt.Sprintf("%s%s-etcd%s-kwok%s-%s", binDirStem, v.Kubernetes,
		strings.TrimPrefix(v.Etcd, "v"), strings.TrimPrefix(v.Kwok, "v"), sum), nil
}

// BinDir is where the binaries for the current test/kube module live, built
// or not.
func BinDir(repoRoot string) (string, error) {
	key, err := BinKey(repoRoot)
	if err != nil {
		return "", err
	}
	return filepath.Join(repoRoot, binCacheDir, key), nil
}

// HaveBinaries reports whether binDir holds a complete build.
func HaveBinaries(binDir string) bool {
	_, err := os.Stat(filepath.Join(binDir, stampFile))
	return err == nil
}

// EnsureBinaries returns the folder holding the control-plane binaries for
// the versions pinned in test/kube/go.mod, building them there first (with
// `go build` in test/kube) if they are not there yet. Builds are serialized
// across processes with a lock file, so parallel test packages build once.
// A build's progress and the go command's output go to stderr: a cold build
// takes minutes, and its errors are what whoever waits needs to see.
func EnsureBinaries(ctx context.Context, repoRoot string) (string, error) {
	log := os.Stderr
	binDir, err := BinDir(repoRoot)
	if err != nil {
		return "", err
	}
	if HaveBinaries(binDir) {
		return binDir, nil
	}
	cacheDir := filepath.Dir(binDir)
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("ensure binaries: %w", err)
	}
	unlock, err := flock.Lock(ctx, filepath.Join(cacheDir, ".build.lock"))
	if err != nil {
		return "", fmt.Errorf("ensure binaries: %w", err)
	}
	defer unlock()
	if HaveBinaries(binDir) { // another process built them while we waited
		return binDir, nil
	}
	if err := build(ctx, repoRoot, binDir, log); err != nil {
		return "", err
	}
	prune(cacheDir, filepath.Base(binDir), log)
	return binDir, nil
}

// build compiles every binary into a fresh folder and renames it into place,
// so binDir is either complete or absent.
func build(ctx context.Context, repoRoot, binDir string, log io.Writer) error {
	v, err := ReadVersions(repoRoot)
	if err != nil {
		return err
	}
	tmp := binDir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(tmp, stagesDir), 0o755); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	modDir := filepath.Join(repoRoot, kubeModDir)
	env := append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0")

	fmt.Fprintf(log, "building kubernetes %s, etcd %s, kwok %s into %s (a cold build takes several minutes)\n",
		v.Kubernetes, v.Etcd, v.Kwok, binDir)
	args := []string{"build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags(v), "-o", tmp + string(filepath.Separator)}
	for _, b := range binaries {
		args = append(args, "./cmd/"+b)
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = modDir
	cmd.Env = env
	cmd.Stdout = log
	cmd.Stderr = log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build: go %s in %s: %w", strings.Join(args, " "), modDir, err)
	}

	// The kwok module is in the module cache now; its stages come from there.
	var out bytes.Buffer
	cmd = exec.CommandContext(ctx, goBin, "list", "-m", "-f", "{{.Dir}}", kwokModule)
	cmd.Dir = modDir
	cmd.Env = env
	cmd.Stdout = &out
	cmd.Stderr = log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build: locate %s: %w", kwokModule, err)
	}
	kwokDir := strings.TrimSpace(out.String())
	for _, rel := range stageFiles {
		data, err := os.ReadFile(filepath.Join(kwokDir, "kustomize", "stage", filepath.FromSlash(rel)))
		if err != nil {
			return fmt.Errorf("build: kwok stage: %w", err)
		}
		if err := os.WriteFile(filepath.Join(tmp, stagesDir, filepath.Base(rel)), data, 0o644); err != nil {
			return fmt.Errorf("build: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, stampFile), []byte(v.Kubernetes+" "+v.Etcd+" "+v.Kwok+"\n"), 0o644); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if err := os.RemoveAll(binDir); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if err := os.Rename(tmp, binDir); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	return nil
}

// prune removes the binaries of other versions, which nothing uses once the
// pins have moved on: each set is some hundreds of megabytes.
func prune(cacheDir, keep string, log io.Writer) {
	entries, err := os.ReadDir(cacheDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == keep || !strings.HasPrefix(e.Name(), binDirStem) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(cacheDir, e.Name())); err == nil {
			fmt.Fprintf(log, "removed stale binaries %s\n", e.Name())
		}
	}
}

// FindRepoRoot walks up from dir to the obsctl repository root, the folder
// that holds test/kube/go.mod.
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, kubeModDir, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no %s/go.mod in %s or above", kubeModDir, dir)
		}
	}
}
