package gitops

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	kubeyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/render"
)

// argoExecTimeout is how long Argo CD's CMP sidecar lets one plugin
// command run by default (ARGOCD_EXEC_TIMEOUT, 90s) before it kills it;
// the repo server's own request timeout (60s by default) may end the
// generation sooner. The run here has the same bound, as the sidecar
// would: it is the contract, not a measure of speed (the benchmark is).
const argoExecTimeout = 90 * time.Second

// cmpServer is the sidecar's entrypoint, Argo CD's CMP server, which the
// repo server's init container copies into the var-files volume.
const cmpServer = "/var/run/argocd/argocd-cmp-server"

// pluginConfig is the part of Argo CD's ConfigManagementPlugin
// (cmpserver/plugin/config.go) that deploy/argocd/plugin.yaml uses.
type pluginConfig struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version  string     `json:"version"`
		Init     cmpCommand `json:"init"`
		Generate cmpCommand `json:"generate"`
		Discover struct {
			FileName string `json:"fileName"`
		} `json:"discover"`
	} `json:"spec"`
}

type cmpCommand struct {
	Command []string `json:"command"`
	Args    []string `json:"args"`
}

// application is the part of an Argo CD Application the plugin sees.
type application struct {
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		Project string `json:"project"`
		Source  struct {
			RepoURL        string `json:"repoURL"`
			TargetRevision string `json:"targetRevision"`
			Path           string `json:"path"`
			Plugin         struct {
				Name string `json:"name"`
				Env  []struct {
					Name  string `json:"name"`
					Value string `json:"value"`
				} `json:"env"`
			} `json:"plugin"`
		} `json:"source"`
	} `json:"spec"`
}

// argoSetup is deploy/argocd, read and checked against Argo CD's rules.
type argoSetup struct {
	plugin pluginConfig
	app    application
	// uid and gid are the sidecar's user.
	uid, gid uint32
}

func readArgoSetup(t testing.TB) argoSetup {
	t.Helper()
	var s argoSetup
	dir := filepath.Join("..", "..", "deploy", "argocd")
	readYAML(t, filepath.Join(dir, "plugin.yaml"), &s.plugin, true)
	p := s.plugin
	if p.APIVersion != "argoproj.io/v1alpha1" || p.Kind != "ConfigManagementPlugin" || p.Metadata.Name == "" {
		t.Fatalf("plugin.yaml: %s %s %q: want an argoproj.io/v1alpha1 ConfigManagementPlugin with a name", p.APIVersion, p.Kind, p.Metadata.Name)
	}
	if len(p.Spec.Generate.Command) == 0 {
		t.Fatal("plugin.yaml: spec.generate.command is empty")
	}
	if len(p.Spec.Init.Command) > 0 {
		t.Errorf("plugin.yaml: an init command %v: obsctl render needs none", p.Spec.Init.Command)
	}

	readYAML(t, filepath.Join(dir, "application.yaml"), &s.app, false)
	// Argo CD matches a versioned plugin by <name>-<version>.
	want := p.Metadata.Name
	if p.Spec.Version != "" {
		want += "-" + p.Spec.Version
	}
	if got := s.app.Spec.Source.Plugin.Name; got != "" && got != want {
		t.Errorf("application.yaml: plugin name %q, want %q (plugin.yaml's name-version)", got, want)
	}

	var d appsv1.Deployment
	readYAML(t, filepath.Join(dir, "argocd-repo-server-patch.yaml"), &d, true)
	if d.Name != "argocd-repo-server" {
		t.Errorf("the patch is of %q, want argocd-repo-server", d.Name)
	}
	i := slices.IndexFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool {
		return slices.Equal(c.Command, []string{cmpServer})
	})
	if i < 0 {
		t.Fatalf("the patch has no container running %s", cmpServer)
	}
	c := d.Spec.Template.Spec.Containers[i]
	sc := c.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 999 ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Fatalf("sidecar %s: want runAsNonRoot, runAsUser 999 (Argo CD's) and readOnlyRootFilesystem, got %+v", c.Name, sc)
	}
	s.uid, s.gid = uint32(*sc.RunAsUser), uint32(*sc.RunAsUser)
	if sc.RunAsGroup != nil {
		s.gid = uint32(*sc.RunAsGroup)
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range d.Spec.Template.Spec.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m
	}
	// var-files and plugins are the repo server's own volumes: the CMP
	// server binary and the plugin's socket.
	for path, vol := range map[string]string{"/var/run/argocd": "var-files", "/home/argocd/cmp-server/plugins": "plugins"} {
		if m, ok := mounts[path]; !ok || m.Name != vol {
			t.Errorf("sidecar: %s must mount the repo server's volume %s, got %+v", path, vol, m)
		}
	}
	cfg, ok := mounts["/home/argocd/cmp-server/config/plugin.yaml"]
	if !ok || cfg.SubPath != "plugin.yaml" || volumes[cfg.Name].ConfigMap == nil {
		t.Errorf("sidecar: plugin.yaml must be mounted from a ConfigMap at /home/argocd/cmp-server/config/plugin.yaml, got %+v", cfg)
	}
	// Since Argo CD 2.4, not the repo server's tmp volume.
	if m, ok := mounts["/tmp"]; !ok || m.Name == "tmp" || volumes[m.Name].EmptyDir == nil {
		t.Errorf("sidecar: /tmp must be an emptyDir of its own, got %+v", m)
	}

	// The image holds obsctl where the command finds it on its PATH.
	df, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	name := p.Spec.Generate.Command[0]
	if !strings.Contains(name, "/") && !regexpLine(string(df), "COPY ", " /usr/local/bin/"+name) {
		t.Errorf("the Dockerfile does not copy %s into /usr/local/bin (on the image's PATH)", name)
	}
	return s
}

// regexpLine reports whether a line of text starts with prefix and ends
// with suffix.
func regexpLine(text, prefix, suffix string) bool {
	for l := range strings.Lines(text) {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, prefix) && strings.HasSuffix(l, suffix) {
			return true
		}
	}
	return false
}

// readYAML decodes the file at path into v; strict refuses a field v
// does not have.
func readYAML(t testing.TB, path string, v any, strict bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	decode := func(b []byte, v any) error { return yaml.Unmarshal(b, v) }
	if strict {
		decode = func(b []byte, v any) error { return yaml.UnmarshalStrict(b, v) }
	}
	if err := decode(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// cmpRun is one generate run as the sidecar makes it.
type cmpRun struct {
	stdout, stderr []byte
	code           int
	took           time.Duration
}

// checkout is an Application's path as the CMP server unpacks it: under
// the sidecar's /tmp (_cmp_server), here read-only, with a HOME nobody
// may write to and a /tmp the plugin's user may.
type checkout struct {
	root, tmp, home, dir string
}

// newCheckout lays the repo that fill writes out as a read-only checkout
// owned by another user than the plugin's.
func newCheckout(t testing.TB, fill func(testing.TB, string)) checkout {
	t.Helper()
	root := sandbox(t)
	c := checkout{root: root, tmp: filepath.Join(root, "tmp"), home: filepath.Join(root, "home")}
	c.dir = filepath.Join(c.tmp, "_cmp_server", "6f1c2", "observability")
	if err := os.MkdirAll(filepath.Dir(c.dir), 0o755); err != nil {
		t.Fatal(err)
	}
	fill(t, c.dir)
	readOnly(t, filepath.Join(c.tmp, "_cmp_server"))
	if err := os.Mkdir(c.home, 0o555); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(c.tmp, 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	return c
}

// generate runs plugin.yaml's generate command in c as the CMP server
// does: in the Application's path, with the sidecar's environment plus
// Argo CD's build environment and the Application's plugin env prefixed
// ARGOCD_ENV_, killed after argoExecTimeout. When the test runs as root
// the command runs as the sidecar's user.
func (s argoSetup) generate(t testing.TB, c checkout, extraEnv ...string) cmpRun {
	t.Helper()
	gen := s.plugin.Spec.Generate
	env := []string{
		// The sidecar's own: the image's PATH, holding obsctl, and a HOME
		// on a read-only root file system.
		"PATH=" + filepath.Dir(obsctlBin),
		"HOME=" + c.home,
		"TMPDIR=" + c.tmp,
		// Argo CD's build environment (reposerver newEnv, getPluginEnvs).
		"ARGOCD_APP_NAME=" + s.app.Metadata.Name,
		"ARGOCD_APP_NAMESPACE=" + s.app.Metadata.Namespace,
		"ARGOCD_APP_PROJECT_NAME=" + s.app.Spec.Project,
		"ARGOCD_APP_REVISION=0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
		"ARGOCD_APP_REVISION_SHORT=0a1b2c3",
		"ARGOCD_APP_REVISION_SHORT_8=0a1b2c3d",
		"ARGOCD_APP_SOURCE_REPO_URL=" + s.app.Spec.Source.RepoURL,
		"ARGOCD_APP_SOURCE_PATH=" + s.app.Spec.Source.Path,
		"ARGOCD_APP_SOURCE_TARGET_REVISION=" + s.app.Spec.Source.TargetRevision,
		"KUBE_VERSION=1.36.3",
		"KUBE_API_VERSIONS=v1,apps/v1,apiextensions.k8s.io/v1,monitoring.coreos.com/v1",
	}
	for _, e := range s.app.Spec.Source.Plugin.Env {
		env = append(env, "ARGOCD_ENV_"+e.Name+"="+e.Value)
	}
	env = append(env, extraEnv...)
	bin, err := lookPath(gen.Command[0], filepath.Dir(obsctlBin))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), argoExecTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(slices.Clone(gen.Command[1:]), gen.Args...)...)
	cmd.Dir = c.dir
	cmd.Env = env
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: s.uid, Gid: s.gid}}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err = cmd.Run()
	r := cmpRun{stdout: out.Bytes(), stderr: errb.Bytes(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("generate ran past Argo CD's %v and would have been killed", argoExecTimeout)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return r
}

// lookPath finds a command name as the sidecar's PATH would.
func lookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found on the sidecar's PATH %s", name, path)
}

// splitManifests reads generate's output as Argo CD does
// (gitops-engine's kube.SplitYAML): a YAML or JSON stream whose every
// non-empty document must be an object.
func splitManifests(out []byte) ([]*unstructured.Unstructured, error) {
	d := kubeyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	var objs []*unstructured.Unstructured
	for {
		var ext runtime.RawExtension
		if err := d.Decode(&ext); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("failed to unmarshal manifest: %w", err)
		}
		raw := bytes.TrimSpace(ext.Raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(raw, u); err != nil {
			return nil, fmt.Errorf("failed to unmarshal manifest: %w", err)
		}
		if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("a document without apiVersion, kind and name: %.200s", raw)
		}
		objs = append(objs, u)
	}
}

// treeDigest lists every file and folder under dir with its mode and
// content digest, to show that a run changed nothing.
func treeDigest(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v", p, fi.Mode())
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestArgoCDPlugin runs deploy/argocd's plugin on the embedded default
// repo and on a team's repo from obsctl init, as the sidecar would, and
// checks Argo CD's contract: exit 0; standard output only manifests (each
// an object Argo CD can split and decode); the Application's plugin env
// honoured (OBSCTL_PROFILE: the same bytes as --profile); nothing written
// (read-only checkout, unwritable HOME, an empty /tmp left empty); every
// CustomResourceDefinition, and any object too large for client-side
// apply, carrying ServerSideApply=true; no Secret value.
func TestArgoCDPlugin(t *testing.T) {
	s := readArgoSetup(t)
	profile := ""
	for _, e := range s.app.Spec.Source.Plugin.Env {
		if e.Name == "OBSCTL_PROFILE" {
			profile = e.Value
		}
	}
	if profile == "" {
		t.Fatal("application.yaml sets no OBSCTL_PROFILE: the test would not show that the plugin env is read")
	}
	for _, tc := range []struct {
		name string
		fill func(testing.TB, string)
	}{
		{"default", defaultRepo},
		{"init", initRepo},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCheckout(t, tc.fill)
			if m, _ := filepath.Glob(filepath.Join(c.dir, s.plugin.Spec.Discover.FileName)); len(m) == 0 {
				t.Errorf("discover.fileName %q matches nothing in the repo: Argo CD would not pick the plugin", s.plugin.Spec.Discover.FileName)
			}
			before := treeDigest(t, c.root)
			r := s.generate(t, c)
			t.Logf("generate took %v (Argo CD allows %v); stderr:\n%s", r.took.Round(time.Millisecond), argoExecTimeout, r.stderr)
			if r.code != 0 {
				t.Fatalf("generate exited %d", r.code)
			}
			if after := treeDigest(t, c.root); !slices.Equal(before, after) {
				t.Errorf("generate wrote to the file system:\nbefore %q\nafter  %q", before, after)
			}
			objs, err := splitManifests(r.stdout)
			if err != nil {
				t.Fatalf("Argo CD could not read the output: %v", err)
			}

			// The plugin env stands for --profile: the same bytes.
			plain := sandbox(t)
			tc.fill(t, filepath.Join(plain, "repo"))
			want, _ := obsctl(t, filepath.Join(plain, "repo"), "render", "--for", "argocd", "--profile", profile)
			if want != string(r.stdout) {
				t.Errorf("with ARGOCD_ENV_OBSCTL_PROFILE=%s the output differs from obsctl render --for argocd --profile %s", profile, profile)
			}

			notRendered := map[string]bool{}
			sc := bufio.NewScanner(bytes.NewReader(r.stderr))
			for sc.Scan() {
				if rest, ok := strings.CutPrefix(sc.Text(), "obsctl: not rendered: Secret "); ok {
					nsName, _, _ := strings.Cut(rest, " ")
					_, name, _ := strings.Cut(nsName, "/")
					notRendered[name] = true
				}
			}
			if len(notRendered) == 0 {
				t.Error("stderr names no Secret that obsctl apply generates or the user creates")
			}
			var crds, ssa, big int
			for _, o := range objs {
				id := o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
				opts := strings.Split(o.GetAnnotations()[render.AnnotationArgoCDSyncOptions], ",")
				marked := slices.Contains(opts, "ServerSideApply=true")
				if marked {
					ssa++
				}
				if o.GetKind() == "CustomResourceDefinition" {
					crds++
					if !marked {
						t.Errorf("%s lacks %s: ServerSideApply=true", id, render.AnnotationArgoCDSyncOptions)
					}
				}
				j, err := o.MarshalJSON()
				if err != nil {
					t.Fatal(err)
				}
				// The API server's limit on all annotations together, which
				// client-side apply's last-applied copy of the object counts in.
				if len(j) > 262144 {
					big++
					if !marked {
						t.Errorf("%s is %d bytes of JSON, too large for client-side apply's annotation, and lacks ServerSideApply=true", id, len(j))
					}
				}
				if o.GetKind() == "Secret" {
					if notRendered[o.GetName()] || o.GetLabels()[kube.LabelGenerated] != "" {
						t.Errorf("%s is rendered: its values are generated or the user's", id)
					}
				}
				if o.GetKind() == "ConfigMap" && o.GetName() == render.IdentityName(o.GetLabels()[kube.LabelStack]) {
					if p, _, _ := unstructured.NestedString(o.Object, "data", "profile"); p != profile {
						t.Errorf("%s says profile %q, want the plugin env's %q", id, p, profile)
					}
				}
			}
			if crds == 0 {
				t.Error("no CustomResourceDefinition in the output")
			}
			t.Logf("%d objects, %d bytes; ServerSideApply=true on %d (%d CRDs; %d objects over 256 KiB of JSON)", len(objs), len(r.stdout), ssa, crds, big)
		})
	}
}

// TestArgoCDPluginFails: a sync must fail, with nothing on standard
// output, rather than hand Argo CD an empty or partial render that its
// automated prune would act on: for a misspelt plugin env setting and for
// a repo that lint finds errors in.
func TestArgoCDPluginFails(t *testing.T) {
	s := readArgoSetup(t)
	for _, tc := range []struct {
		name     string
		env      []string
		fill     func(testing.TB, string)
		code     int
		inStderr string
	}{
		{"misspelt setting", []string{"ARGOCD_ENV_OBSCTL_PROFLE=ha"}, initRepo, 2, "OBSCTL_PROFLE is not an obsctl setting"},
		{"bad profile", []string{"ARGOCD_ENV_OBSCTL_PROFILE=huge"}, initRepo, 2, "want minimal or ha"},
		{"repo outside the path", []string{"ARGOCD_ENV_OBSCTL_REPO=../.."}, initRepo, 2, "inside the Application's path"},
		{"lint errors", nil, func(t testing.TB, dir string) {
			initRepo(t, dir)
			bad := "groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        expr: rate(up[5m]\n"
			if err := os.WriteFile(filepath.Join(dir, "rules", "broken.yaml"), []byte(bad), 0o644); err != nil {
				t.Fatal(err)
			}
		}, 3, "render stopped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.generate(t, newCheckout(t, tc.fill), tc.env...)
			if r.code != tc.code || len(r.stdout) != 0 || !strings.Contains(string(r.stderr), tc.inStderr) {
				t.Errorf("exit %d, %d bytes on stdout, stderr:\n%s\nwant exit %d, nothing on stdout, stderr saying %q",
					r.code, len(r.stdout), r.stderr, tc.code, tc.inStderr)
			}
		})
	}
}

// BenchmarkArgoCDGenerate measures the plugin's generate command on the
// embedded default repo, run as the sidecar runs it; Argo CD kills it
// after 90 s by default (ARGOCD_EXEC_TIMEOUT), and the repo server gives
// up on the whole generation after 60 s.
func BenchmarkArgoCDGenerate(b *testing.B) {
	s := readArgoSetup(b)
	c := newCheckout(b, defaultRepo)
	for b.Loop() {
		if r := s.generate(b, c); r.code != 0 {
			b.Fatalf("generate exited %d:\n%s", r.code, r.stderr)
		}
	}
}
