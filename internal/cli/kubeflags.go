package cli

import (
	"flag"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/release"
)

// Defaults of the cluster flags when there is no repo to take them from.
const (
	defaultStack       = "obsctl"
	defaultClusterWait = 5 * time.Minute
)

// clusterOptions are the flags every command that talks to a cluster has.
// Commands embed it and call addFlags from their constructor.
type clusterOptions struct {
	kubeconfig string
	// context is the run's context; contexts and allContexts are the
	// flags, of which a fleet run (apply, diff, status) takes several.
	context     string
	contexts    []string
	allContexts bool
	parallel    int
	namespace   string
	stack       string
	timeout     time.Duration
	verbose     bool
	// stackNamed and namespaceNamed say the user gave --stack and -n:
	// manifests without a stack's identity need the stack named.
	stackNamed, namespaceNamed bool
}

func (c *clusterOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, else the pod's service account)")
	f.StringArrayVar(&c.contexts, "context", nil, "kubeconfig context (default: its current-context)")
	f.StringVarP(&c.namespace, "namespace", "n", "", "the stack's namespace, for its lock, inventory and objects that name none (default: obsctl.yaml's stack.namespace, else rules.namespace, else monitoring)")
	f.StringVar(&c.stack, "stack", "", "the stack's name (default: obsctl.yaml's name, else obsctl)")
	f.DurationVar(&c.timeout, "timeout", defaultClusterWait, "bound on the whole run: the lock wait, the apply and the rollout wait")
	f.BoolVarP(&c.verbose, "verbose", "v", false, "show client-go's log (retries, connection errors) on standard error")
}

// addFleetFlags adds the flags of a run over several contexts (apply,
// diff, status): --context repeats, --all-contexts, --parallel.
func (c *clusterOptions) addFleetFlags(f *pflag.FlagSet) {
	f.Lookup("context").Usage = "kubeconfig context (default: its current-context); repeat it to run against each, --parallel at a time"
	f.BoolVar(&c.allContexts, "all-contexts", false, "run against every context of the kubeconfig, --parallel at a time")
	f.IntVar(&c.parallel, "parallel", defaultParallel, "with several contexts, how many run at once")
}

// resolve fills in the stack and namespace from the repo when the flags
// leave them out: obsctl.yaml's name and stack namespace when there is a
// repo (--repo, or the nearest obsctl.yaml from the working directory up,
// as load.Find finds it); "obsctl" and "monitoring" otherwise. The embedded default repo is not consulted:
// its name would silently become the stack of every folder without one.
func (c *clusterOptions) resolve(deps *Deps, g *globalOptions) error {
	if c.timeout <= 0 {
		return usagef("--timeout must be positive, got %s", c.timeout)
	}
	if err := c.single(deps); err != nil {
		return err
	}
	c.stackNamed, c.namespaceNamed = c.stack != "", c.namespace != ""
	if c.stack == "" || c.namespace == "" {
		stack, ns := defaultStack, config.DefaultNamespace
		cfg, err := repoConfig(deps, g)
		if err != nil {
			return err
		}
		if cfg != nil {
			if cfg.Name != "" {
				stack = cfg.Name
			}
			ns = cfg.StackNamespace()
		}
		if c.stack == "" {
			c.stack = stack
		}
		if c.namespace == "" {
			c.namespace = ns
		}
	}
	// The stack names a label value, a Lease (obsctl-STACK) and a Secret
	// (obsctl-inventory-STACK): a DNS label satisfies all three.
	if errs := validation.IsDNS1123Label(c.stack); len(errs) > 0 {
		return usagef("stack name %q: %s", c.stack, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Label(c.namespace); len(errs) > 0 {
		return usagef("namespace %q: %s", c.namespace, strings.Join(errs, "; "))
	}
	if config.ReservedNamespace(c.namespace) {
		// The stack would label, restrict and prune a namespace that
		// Kubernetes itself runs in.
		return usagef("namespace %q is reserved for Kubernetes itself: give the stack a namespace of its own (-n monitoring)", c.namespace)
	}
	return nil
}

// repoConfig reads the repo's obsctl.yaml, found as every command finds
// the repo (load.Find: --repo, else the nearest obsctl.yaml from the
// working directory up); nil when there is none. Only obsctl.yaml is read,
// not the whole repo as load.Load does: a rule file with a mistake, or a
// repo without rules/, must not keep a cluster command from running.
// Problems in obsctl.yaml itself are lint's to report.
func repoConfig(deps *Deps, g *globalOptions) (*config.Config, error) {
	r, err := load.LoadConfig(load.Options{Dir: g.repo, WorkDir: deps.WorkDir})
	if err != nil || r.Embedded() {
		return nil, err
	}
	return r.Config, nil
}

// clusterConn is one run's connection to the cluster.
type clusterConn struct {
	clients *kube.Clients
	// cluster is the release's view of it.
	cluster *release.Cluster
	// where says which cluster, for messages: "context kind-prod in
	// /home/u/.kube/config".
	where string
}

// connect finds the cluster as kubectl would and builds the clients. It
// does not contact the server.
func (c *clusterOptions) connect(deps *Deps) (*clusterConn, error) {
	if c.verbose {
		// Run has silenced klog for the whole run; -v lets it speak.
		kubeLogTo(deps.Stderr)
	}
	cfg, where, err := kube.RESTConfig(kube.ConfigOptions{Kubeconfig: c.kubeconfig, Context: c.context, Getenv: deps.Getenv})
	if err != nil {
		return nil, err
	}
	// The API server's warnings (a deprecated API version, say) are for
	// the user, not for klog.
	cfg.WarningHandler = rest.NewWarningWriter(deps.Stderr, rest.WarningWriterOptions{Deduplicate: true})
	clients, err := kube.NewClients(cfg)
	if err != nil {
		return nil, err
	}
	return &clusterConn{clients: clients, cluster: release.NewCluster(clients, where), where: where}, nil
}

// quietKlog silences klog: its lines go nowhere, and none to the process's
// stderr, not even errors.
//
// client-go logs through klog, a process-wide logger that writes to the
// process's stderr: when the API server is down it prints "Unhandled Error"
// lines around obsctl's own, clear, message. Run calls quietKlog before
// each command rather than in an init function, so that importing the
// package changes nothing, and -v (kubeLogTo) can send the lines to the
// command's stderr for that run. It only uses klog's setters that are safe
// while client-go goroutines log (SetLogger, CaptureState and Restore are
// not: they are meant for a program's start), and so it does not restore
// the previous settings afterwards: a process that embeds Run and wants
// klog's output sets it again after Run returns.
func quietKlog() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	// Errors go to the process's stderr whatever the output is, unless
	// the threshold is above them; each line goes to one output only.
	_ = fs.Set("stderrthreshold", "FATAL")
	_ = fs.Set("one_output", "true")
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
}

// kubeLogTo sends klog's lines to w, for -v.
func kubeLogTo(w io.Writer) { klog.SetOutput(w) }

// identity returns who runs obsctl, for the lock and the inventory.
func identity(deps *Deps) (userName, host string) {
	userName = deps.Getenv("USER")
	if userName == "" {
		userName = deps.Getenv("LOGNAME")
	}
	if userName == "" {
		if u, err := user.Current(); err == nil {
			userName = u.Username
		}
	}
	if userName == "" {
		userName = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return userName, host
}

// formatDuration rounds d for output: milliseconds below a second, then
// hundredths.
func formatDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}
