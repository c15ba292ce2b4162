package kube

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/obsctl/obsctl/internal/version"
)

// Client-side rate limits. client-go's defaults (5 requests per second,
// bursts of 10) would make a ~300-object apply take a minute; the API
// server's priority and fairness is the real back-pressure, so the client
// only guards against a runaway loop. A burst of 300 lets one wave of the
// stack go out at once.
const (
	DefaultQPS   = 100
	DefaultBurst = 300
)

// ErrNoConfig is returned, wrapped with what was tried, when RESTConfig finds
// neither a kubeconfig file nor an in-cluster service account.
var ErrNoConfig = errors.New("no Kubernetes configuration found")

// ConfigOptions say where RESTConfig looks for the cluster.
type ConfigOptions struct {
	// Kubeconfig is the --kubeconfig flag: one file, which must exist.
	Kubeconfig string
	// Context is the --context flag; empty means the kubeconfig's
	// current-context.
	Context string
	// Getenv reads the environment (KUBECONFIG, HOME,
	// KUBERNETES_SERVICE_HOST/PORT); nil means os.Getenv.
	Getenv func(string) string

	// inCluster builds the in-cluster configuration; nil means
	// rest.InClusterConfig. Tests replace it, since the real one reads
	// fixed paths under /var/run/secrets.
	inCluster func() (*rest.Config, error)
}

// RESTConfig resolves the cluster to talk to as kubectl does: the
// --kubeconfig file, else the files listed in KUBECONFIG (merged, the first
// file to set a value winning), else ~/.kube/config, else the service
// account of the pod obsctl runs in. The context is o.Context or the
// kubeconfig's current-context. Besides the configuration it returns a
// description of where it came from for messages, such as
// "context kind-prod in /home/u/.kube/config".
//
// The configuration carries obsctl's user agent and rate limits
// (DefaultQPS, DefaultBurst).
func RESTConfig(o ConfigOptions) (*rest.Config, string, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var (
		paths []string // kubeconfig files to merge, in precedence order
		tried string   // what was looked at, for the error when nothing is found
	)
	switch env := getenv(clientcmd.RecommendedConfigPathEnvVar); {
	case o.Kubeconfig != "":
		if _, err := os.Stat(o.Kubeconfig); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, "", fmt.Errorf("--kubeconfig %s: %w", o.Kubeconfig, fs.ErrNotExist)
			}
			return nil, "", fmt.Errorf("--kubeconfig %s: %w", o.Kubeconfig, err)
		}
		paths = []string{o.Kubeconfig}
	case env != "":
		for _, p := range filepath.SplitList(env) {
			if p != "" && !slices.Contains(paths, p) {
				paths = append(paths, p)
			}
		}
		tried = fmt.Sprintf("%s=%s (no such file)", clientcmd.RecommendedConfigPathEnvVar, env)
		if len(paths) > 1 {
			tried = fmt.Sprintf("%s=%s (none of these files exists)", clientcmd.RecommendedConfigPathEnvVar, env)
		}
	default:
		home := getenv("HOME")
		if home == "" {
			home = getenv("USERPROFILE")
		}
		if home == "" {
			tried = "~/.kube/config (HOME is not set)"
			break
		}
		p := filepath.Join(home, clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)
		paths = []string{p}
		tried = p + " (no such file)"
	}

	existing := slices.DeleteFunc(slices.Clone(paths), func(p string) bool {
		_, err := os.Stat(p)
		return errors.Is(err, fs.ErrNotExist)
	})
	if len(existing) > 0 {
		cfg, desc, err := fromKubeconfig(paths, o.Context)
		if err != nil {
			return nil, "", err
		}
		configure(cfg)
		return cfg, desc, nil
	}

	if o.Context != "" {
		// Silently using the pod's service account would ignore the
		// context the user asked for.
		return nil, "", fmt.Errorf("--context %s: %w: tried %s", o.Context, ErrNoConfig, tried)
	}
	if getenv("KUBERNETES_SERVICE_HOST") == "" || getenv("KUBERNETES_SERVICE_PORT") == "" {
		return nil, "", fmt.Errorf("%w: tried %s and the in-cluster service account (KUBERNETES_SERVICE_HOST/PORT not set); pass --kubeconfig or set KUBECONFIG", ErrNoConfig, tried)
	}
	inCluster := o.inCluster
	if inCluster == nil {
		inCluster = rest.InClusterConfig
	}
	cfg, err := inCluster()
	if err != nil {
		return nil, "", fmt.Errorf("in-cluster service account (tried %s first): %w", tried, err)
	}
	configure(cfg)
	return cfg, "in-cluster service account", nil
}

// fromKubeconfig loads and merges the kubeconfig files with client-go's
// loading rules and builds the configuration of the chosen context. It
// checks the context and its cluster first, so that the error names them
// rather than client-go's generic "invalid configuration".
func fromKubeconfig(paths []string, context string) (*rest.Config, string, error) {
	files := strings.Join(paths, string(filepath.ListSeparator))
	rules := &clientcmd.ClientConfigLoadingRules{Precedence: paths}
	if len(paths) == 1 {
		rules = &clientcmd.ClientConfigLoadingRules{ExplicitPath: paths[0]}
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: context})
	raw, err := cc.RawConfig()
	if err != nil {
		// client-go's error names the file at fault.
		return nil, "", fmt.Errorf("load kubeconfig: %w", err)
	}
	name := context
	if name == "" {
		name = raw.CurrentContext
	}
	if name == "" {
		return nil, "", fmt.Errorf("kubeconfig %s has no current-context; choose one with --context (%s)", files, contextList(raw))
	}
	kctx, ok := raw.Contexts[name]
	if !ok {
		return nil, "", fmt.Errorf("context %s not found in %s (%s)", name, files, contextList(raw))
	}
	where := files
	if kctx.LocationOfOrigin != "" {
		where = kctx.LocationOfOrigin
	}
	desc := fmt.Sprintf("context %s in %s", name, where)
	cluster, ok := raw.Clusters[kctx.Cluster]
	switch {
	case !ok:
		return nil, "", fmt.Errorf("%s: cluster %q is not defined", desc, kctx.Cluster)
	case cluster.Server == "":
		return nil, "", fmt.Errorf("%s: cluster %q has no server", desc, kctx.Cluster)
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", desc, err)
	}
	return cfg, desc, nil
}

// contextList names the contexts a kubeconfig defines, for errors.
func contextList(c clientcmdapi.Config) string {
	if len(c.Contexts) == 0 {
		return "it defines no contexts"
	}
	names := make([]string, 0, len(c.Contexts))
	for n := range c.Contexts {
		names = append(names, n)
	}
	slices.Sort(names)
	return "contexts: " + strings.Join(names, ", ")
}

// configure gives cfg obsctl's user agent and rate limits where it has none
// of its own (a kubeconfig never sets them; a caller's config may).
func configure(cfg *rest.Config) {
	if cfg.UserAgent == "" {
		cfg.UserAgent = UserAgent()
	}
	if cfg.RateLimiter == nil && cfg.QPS == 0 {
		cfg.QPS = DefaultQPS
	}
	if cfg.RateLimiter == nil && cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
}

// UserAgent is what obsctl calls itself in requests: "obsctl/<version>".
func UserAgent() string { return "obsctl/" + version.Get().Version }
