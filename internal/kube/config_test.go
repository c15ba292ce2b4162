package kube

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeKubeconfig writes a kubeconfig whose contexts each point at their own
// cluster and user; the server, https://<context>.<file>.example:6443, says
// which file a context came from.
func writeKubeconfig(t *testing.T, path, current string, contexts ...string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.CurrentContext = current
	file := strings.TrimSuffix(filepath.Base(path), ".kubeconfig")
	for _, c := range contexts {
		cfg.Clusters[c+"-cluster"] = &clientcmdapi.Cluster{Server: "https://" + c + "." + file + ".example:6443"}
		cfg.AuthInfos[c+"-user"] = &clientcmdapi.AuthInfo{Token: c + "-token"}
		cfg.Contexts[c] = &clientcmdapi.Context{Cluster: c + "-cluster", AuthInfo: c + "-user"}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestRESTConfigResolution(t *testing.T) {
	dir := t.TempDir()
	flag := writeKubeconfig(t, filepath.Join(dir, "flag.kubeconfig"), "flag", "flag", "shared")
	a := writeKubeconfig(t, filepath.Join(dir, "a.kubeconfig"), "one", "one", "shared")
	b := writeKubeconfig(t, filepath.Join(dir, "b.kubeconfig"), "two", "two", "shared")
	home := filepath.Join(dir, "home")
	homeConfig := writeKubeconfig(t, filepath.Join(home, ".kube", "config"), "home", "home")
	missing := filepath.Join(dir, "missing.kubeconfig")
	list := func(paths ...string) string { return strings.Join(paths, string(filepath.ListSeparator)) }

	tests := []struct {
		name     string
		opts     ConfigOptions
		env      map[string]string
		wantHost string
		wantDesc string
	}{
		{
			name:     "flag beats KUBECONFIG and home",
			opts:     ConfigOptions{Kubeconfig: flag},
			env:      map[string]string{"KUBECONFIG": a, "HOME": home},
			wantHost: "https://flag.flag.example:6443",
			wantDesc: "context flag in " + flag,
		},
		{
			name:     "KUBECONFIG beats home",
			env:      map[string]string{"KUBECONFIG": b, "HOME": home},
			wantHost: "https://two.b.example:6443",
			wantDesc: "context two in " + b,
		},
		{
			name:     "KUBECONFIG list: first file's current-context wins, missing files skipped",
			env:      map[string]string{"KUBECONFIG": list(missing, a, b), "HOME": home},
			wantHost: "https://one.a.example:6443",
			wantDesc: "context one in " + a,
		},
		{
			name:     "KUBECONFIG list: --context picks a context from a later file",
			opts:     ConfigOptions{Context: "two"},
			env:      map[string]string{"KUBECONFIG": list(a, b)},
			wantHost: "https://two.b.example:6443",
			wantDesc: "context two in " + b,
		},
		{
			name:     "KUBECONFIG list: the first file to define a name wins",
			opts:     ConfigOptions{Context: "shared"},
			env:      map[string]string{"KUBECONFIG": list(b, a)},
			wantHost: "https://shared.b.example:6443",
			wantDesc: "context shared in " + b,
		},
		{
			name:     "home config when nothing else is set",
			env:      map[string]string{"HOME": home},
			wantHost: "https://home.config.example:6443",
			wantDesc: "context home in " + homeConfig,
		},
		{
			name:     "--context with --kubeconfig",
			opts:     ConfigOptions{Kubeconfig: flag, Context: "shared"},
			wantHost: "https://shared.flag.example:6443",
			wantDesc: "context shared in " + flag,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Getenv = envOf(tt.env)
			cfg, desc, err := RESTConfig(tt.opts)
			if err != nil {
				t.Fatalf("RESTConfig: %v", err)
			}
			if cfg.Host != tt.wantHost {
				t.Errorf("host = %q, want %q", cfg.Host, tt.wantHost)
			}
			if desc != tt.wantDesc {
				t.Errorf("description = %q, want %q", desc, tt.wantDesc)
			}
			if !strings.HasPrefix(cfg.UserAgent, "obsctl/") || cfg.QPS != DefaultQPS || cfg.Burst != DefaultBurst {
				t.Errorf("user agent %q, QPS %v, burst %d; want obsctl/..., %d, %d", cfg.UserAgent, cfg.QPS, cfg.Burst, DefaultQPS, DefaultBurst)
			}
		})
	}
}

func TestRESTConfigErrors(t *testing.T) {
	dir := t.TempDir()
	a := writeKubeconfig(t, filepath.Join(dir, "a.kubeconfig"), "one", "one", "shared")
	noCurrent := writeKubeconfig(t, filepath.Join(dir, "nocurrent.kubeconfig"), "", "x", "y")
	noServer := filepath.Join(dir, "noserver.kubeconfig")
	if err := os.WriteFile(noServer, []byte(`apiVersion: v1
kind: Config
current-context: c
contexts:
- name: c
  context: {cluster: k, user: u}
clusters:
- name: k
  cluster: {}
users:
- name: u
  user: {token: t}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(dir, "broken.kubeconfig")
	if err := os.WriteFile(broken, []byte("clusters: [this is not: a kubeconfig\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	emptyHome := t.TempDir()
	missing := filepath.Join(dir, "missing.kubeconfig")

	tests := []struct {
		name   string
		opts   ConfigOptions
		env    map[string]string
		target error    // errors.Is target, if any
		want   []string // substrings of the message
	}{
		{
			name:   "--kubeconfig names a missing file",
			opts:   ConfigOptions{Kubeconfig: missing},
			env:    map[string]string{"KUBECONFIG": a},
			target: fs.ErrNotExist,
			want:   []string{"--kubeconfig " + missing},
		},
		{
			name:   "nothing anywhere",
			env:    map[string]string{"HOME": emptyHome},
			target: ErrNoConfig,
			want:   []string{filepath.Join(emptyHome, ".kube", "config"), "in-cluster service account", "KUBERNETES_SERVICE_HOST", "--kubeconfig"},
		},
		{
			name:   "KUBECONFIG lists only missing files",
			env:    map[string]string{"KUBECONFIG": missing + string(filepath.ListSeparator) + missing + "2", "HOME": emptyHome},
			target: ErrNoConfig,
			want:   []string{"KUBECONFIG=" + missing, "none of these files exists"},
		},
		{
			name:   "no HOME",
			env:    map[string]string{},
			target: ErrNoConfig,
			want:   []string{"HOME is not set"},
		},
		{
			name: "unknown --context",
			opts: ConfigOptions{Kubeconfig: a, Context: "nope"},
			want: []string{"context nope not found in " + a, "contexts: one, shared"},
		},
		{
			name: "no current-context",
			env:  map[string]string{"KUBECONFIG": noCurrent},
			want: []string{"has no current-context", "--context", "contexts: x, y"},
		},
		{
			name: "cluster without server",
			opts: ConfigOptions{Kubeconfig: noServer},
			want: []string{"context c in " + noServer, `cluster "k" has no server`},
		},
		{
			name: "unparsable file",
			opts: ConfigOptions{Kubeconfig: broken},
			want: []string{"load kubeconfig", broken},
		},
		{
			name: "--context with no kubeconfig does not fall back to in-cluster",
			opts: ConfigOptions{Context: "prod", inCluster: func() (*rest.Config, error) {
				return &rest.Config{Host: "https://10.96.0.1:443"}, nil
			}},
			env:    map[string]string{"HOME": emptyHome, "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"},
			target: ErrNoConfig,
			want:   []string{"--context prod"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Getenv = envOf(tt.env)
			cfg, _, err := RESTConfig(tt.opts)
			if err == nil {
				t.Fatalf("RESTConfig succeeded with host %q, want an error", cfg.Host)
			}
			t.Logf("error: %v", err)
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Errorf("error %q is not %v", err, tt.target)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestRESTConfigInCluster(t *testing.T) {
	env := map[string]string{"HOME": t.TempDir(), "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
	t.Run("service account", func(t *testing.T) {
		cfg, desc, err := RESTConfig(ConfigOptions{Getenv: envOf(env), inCluster: func() (*rest.Config, error) {
			return &rest.Config{Host: "https://10.96.0.1:443", BearerTokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token"}, nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Host != "https://10.96.0.1:443" || desc != "in-cluster service account" {
			t.Errorf("got host %q, description %q", cfg.Host, desc)
		}
		if !strings.HasPrefix(cfg.UserAgent, "obsctl/") || cfg.QPS != DefaultQPS {
			t.Errorf("user agent %q, QPS %v", cfg.UserAgent, cfg.QPS)
		}
	})
	t.Run("service account unreadable", func(t *testing.T) {
		_, _, err := RESTConfig(ConfigOptions{Getenv: envOf(env), inCluster: func() (*rest.Config, error) {
			return nil, fs.ErrPermission
		}})
		if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "in-cluster service account") {
			t.Errorf("error = %v, want one wrapping %v about the in-cluster service account", err, fs.ErrPermission)
		}
	})
	t.Run("a kubeconfig wins over the service account", func(t *testing.T) {
		home := t.TempDir()
		writeKubeconfig(t, filepath.Join(home, ".kube", "config"), "home", "home")
		env := map[string]string{"HOME": home, "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
		cfg, _, err := RESTConfig(ConfigOptions{Getenv: envOf(env), inCluster: func() (*rest.Config, error) {
			t.Error("in-cluster config consulted although ~/.kube/config exists")
			return nil, errors.New("unexpected")
		}})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Host != "https://home.config.example:6443" {
			t.Errorf("host = %q, want the home kubeconfig's", cfg.Host)
		}
	})
}
