package cluster

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestParseVersions(t *testing.T) {
	tests := []struct {
		name, gomod string
		want        Versions
		wantErr     string
	}{
		{
			name: "block",
			gomod: "module x\n\nrequire (\n\tgo.etcd.io/etcd/server/v3 v3.6.12\n\tk8s.io/kubernetes v1.36.3 // pinned\n\tsigs.k8s.io/kwok v0.8.0\n)\n" +
				"replace k8s.io/api => k8s.io/api v0.36.3\n",
			want: Versions{Kubernetes: "v1.36.3", Etcd: "v3.6.12", Kwok: "v0.8.0"},
		},
		{
			name:  "single lines",
			gomod: "module x\nrequire k8s.io/kubernetes v1.2.3\nrequire go.etcd.io/etcd/server/v3 v3.6.0\nrequire sigs.k8s.io/kwok v0.7.0\n",
			want:  Versions{Kubernetes: "v1.2.3", Etcd: "v3.6.0", Kwok: "v0.7.0"},
		},
		{
			name:    "missing",
			gomod:   "module x\nrequire (\n\tk8s.io/kubernetes v1.36.3\n)\n",
			wantErr: "no require line for go.etcd.io/etcd/server/v3, sigs.k8s.io/kwok",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseVersions([]byte(tt.gomod))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLdflagsStampsVersion(t *testing.T) {
	got := ldflags(Versions{Kubernetes: "v1.36.3"})
	for _, want := range []string{"version.gitVersion=v1.36.3", "version.gitMajor=1", "version.gitMinor=36"} {
		if !strings.Contains(got, want) {
			t.Errorf("ldflags %q lacks %q", got, want)
		}
	}
}

// TestBinKey checks that the cache key moves with what goes into the build
// and with nothing else.
func TestBinKey(t *testing.T) {
	root := t.TempDir()
	write := func(rel, data string) {
		t.Helper()
		path := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gomod := "module m\nrequire (\n\tk8s.io/kubernetes v1.36.3\n\tgo.etcd.io/etcd/server/v3 v3.6.12\n\tsigs.k8s.io/kwok v0.8.0\n)\n"
	write("test/kube/go.mod", gomod)
	write("test/kube/go.sum", "a h1:x\n")
	write("test/kube/cmd/etcd/main.go", "package main\n")
	key := func() string {
		t.Helper()
		k, err := BinKey(root)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k0 := key()
	if !strings.HasPrefix(k0, "kube-v1.36.3-etcd3.6.12-kwok0.8.0-") {
		t.Errorf("key %q does not name the versions", k0)
	}
	write("test/kube/README", "unrelated")
	if k := key(); k != k0 {
		t.Errorf("unrelated file changed key: %q -> %q", k0, k)
	}
	write("test/kube/go.sum", "a h1:y\n")
	k1 := key()
	if k1 == k0 {
		t.Error("go.sum change kept the key")
	}
	write("test/kube/cmd/etcd/main.go", "package main // changed\n")
	if k := key(); k == k1 {
		t.Error("main.go change kept the key")
	}
}

// TestKubeModuleReplaces checks test/kube/go.mod against the go.mod of the
// k8s.io/kubernetes it requires: every staging module that one replaces with
// ./staging must be pinned here, to the v0 tag of the same release.
func TestKubeModuleReplaces(t *testing.T) {
	root, err := FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	v, err := ReadVersions(root)
	if err != nil {
		t.Fatal(err)
	}
	ours := replaces(t, filepath.Join(root, kubeModDir, "go.mod"))
	// The proxy refuses this one at the release's tag; it is outside the
	// build graph, so an earlier patch is pinned instead.
	exceptions := map[string]string{"k8s.io/sample-cli-plugin": "v0.36.2"}
	staging := "v0" + strings.TrimPrefix(v.Kubernetes, "v1")

	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	upstreamMod := filepath.Join(strings.TrimSpace(string(out)), "cache", "download", "k8s.io", "kubernetes", "@v", v.Kubernetes+".mod")
	if _, err := os.Stat(upstreamMod); err != nil {
		t.Skipf("k8s.io/kubernetes %s go.mod not in the module cache (run `make kube-bins`): %v", v.Kubernetes, err)
	}
	upstream := replaces(t, upstreamMod)
	var want []string
	for mod, target := range upstream {
		if strings.HasPrefix(target, "./staging/") {
			want = append(want, mod)
		}
	}
	sort.Strings(want)
	if len(want) == 0 {
		t.Fatalf("no staging replaces in %s", upstreamMod)
	}
	for _, mod := range want {
		wantTarget := mod + " " + staging
		if ex, ok := exceptions[mod]; ok {
			wantTarget = mod + " " + ex
		}
		if got := ours[mod]; got != wantTarget {
			t.Errorf("replace %s => %q, want %q", mod, got, wantTarget)
		}
	}
	for mod := range ours {
		if _, ok := upstream[mod]; !ok {
			t.Errorf("replace %s is not a staging module of k8s.io/kubernetes %s", mod, v.Kubernetes)
		}
	}
}

// replaces reads the replace directives of a go.mod as module -> target.
func replaces(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "//"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		switch {
		case line == "replace (":
			in = true
			continue
		case in && line == ")":
			in = false
			continue
		case strings.HasPrefix(line, "replace "):
			line = strings.TrimPrefix(line, "replace ")
		case !in:
			continue
		}
		lhs, rhs, ok := strings.Cut(line, "=>")
		if !ok {
			continue
		}
		out[strings.Fields(lhs)[0]] = strings.Join(strings.Fields(rhs), " ")
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
