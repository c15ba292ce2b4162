package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/lock"
	"github.com/obsctl/obsctl/internal/release"
)

type applyOptions struct {
	*globalOptions
	cluster        clusterOptions
	files          []string
	dryRun         string
	prune          bool
	pruneProtected []string
	adopt          bool
	yes            bool
	wait           bool
	waitLock       bool
	lockLease      time.Duration
	forceConflicts bool
	conflicts      string
	output         string
	profile        string
	message        string
	esURL          string
	kibanaURL      string
	grafanaURL     string
	// inFleet marks one context's run of a fleet: the services every
	// context shares (a Grafana, an Elasticsearch or Kibana at a URL) are
	// set up once by the fleet, after the contexts, not by each at once.
	// sharedOnly marks that once: it leaves each cluster's own alone.
	inFleet, sharedOnly bool
}

func newApplyCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &applyOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "apply [-f PATH...]",
		Short: "Release the stack (or manifests) to a cluster: plan, confirm, apply in waves, prune, record",
		Long: `Release the stack the repo describes (what obsctl render prints, plus the
Secrets obsctl generates: created once, never changed) or, with -f, other
Kubernetes manifests (files, folders read recursively in sorted order, or -
for standard input) to the cluster.

A release holds the stack's lock, reads its inventory and the live objects,
and plans every object: created, configured, unchanged, replaced, pruned,
kept or conflict, each with its reason. Objects that exist and are not the
stack's are left alone (conflict) unless --adopt. CustomResourceDefinitions,
Namespaces, PersistentVolumeClaims and generated Secrets are never pruned
unless --prune-protected names them. Destructive changes (a mass prune, a
StatefulSet replaced, a profile downgrade, lost volumes) are listed first and
need --yes, or a yes on a terminal; otherwise nothing changes and obsctl
exits 7. Fields other managers took over are taken back and named; replicas
an autoscaler or kubectl scale set are left to them.

The release records its intent before it changes anything, applies with
server-side apply (field manager obsctl) in waves, waits for rollouts
(--wait), prunes, and records a revision in the inventory: the repo's git
commit, who applied it and --message. A release that changes nothing records
no revision. The lint errors of the repo stop it before it contacts the
cluster. Secret values are never printed.

Manifests given with -f that are obsctl render output are the same release
as obsctl apply; others need --stack, naming the stack they form.

Once the stack is applied, each pipeline's Elasticsearch index template and
ILM policy are put into the Elasticsearch at --elasticsearch-url (or
elasticsearch.url of obsctl.yaml; else the stack's own, by port-forward
through the Kubernetes API), with the credentials in
OBSCTL_ELASTICSEARCH_USERNAME and OBSCTL_ELASTICSEARCH_PASSWORD (else those
obsctl generated), a line each;
with --prune, those of pipelines gone are deleted, a policy indices still
use kept. Log data is never deleted. Likewise each pipeline's Kibana index
pattern, and one for all logs, at --kibana-url (or kibana.url).

With --grafana-url (or grafana.url), a Grafana outside the cluster (a
company Grafana, Grafana Cloud) gets the repo's dashboards, each in the
Grafana folder of its folder of dashboards/ (obsctl for those at its top),
and the repo's datasources (grafana.datasources), through its HTTP API, a
line each: created, configured (an edit made in Grafana's UI is taken
back), unchanged, or conflict (a dashboard of that uid obsctl did not push
is left alone unless --adopt). Dashboards obsctl pushes carry the tag
obsctl-stack:STACK; with --prune, those the repo no longer has are
deleted, and nothing else: folders and datasources never are. It is
reached with OBSCTL_GRAFANA_TOKEN, else grafana.token (an environment
variable or a Secret's key), else OBSCTL_GRAFANA_USERNAME and
OBSCTL_GRAFANA_PASSWORD.

--dry-run=client only reads and checks the manifests; --dry-run=server
makes the same plan and sends every object as a server dry run: it says
what apply would do to each object and changes nothing.

Prints one line per object: KIND NAMESPACE/NAME ACTION (DETAIL). -o json
prints one JSON result instead.

With several contexts (--context a --context b, or --all-contexts), each
context's run is the one above, --parallel at a time, with no question
asked (destructive changes need --yes); their outputs follow one another,
each under "==> context NAME", then a table with a line per context
(CONTEXT EXIT TOOK RESULT), or with -o json one report holding each
context's. What the contexts share (a Grafana at grafana.url, an
Elasticsearch or Kibana at its URL) is set up once, after every context
released (exit 0), under "==> shared by every context". The exit code is
the most severe of theirs, in this order: 1, 2, 3, 7, 5, 4.

Exit codes: 0 released (and ready), 1 failed (or objects were left alone as
conflicts), 2 usage error, 4 not ready within --timeout (or --timeout ran
out), 5 the stack is locked by another run and --wait-lock=false, 7 a
destructive change was not confirmed.`,
		Example: `  obsctl apply
  obsctl apply --profile ha --timeout 10m -m "more replicas for Black Friday"
  obsctl render -o out/ && obsctl apply -f out/
  obsctl apply -f extra/ --stack extras -n monitoring
  obsctl apply --dry-run=server -o json
  obsctl apply --prune-protected=crds --yes`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runApply(cmd.Context(), deps, o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&o.files, "filename", "f", nil, "manifests to apply instead of the repo's stack: files, folders or - for standard input (repeatable)")
	addProfileFlag(cmd, &o.profile)
	f.StringVar(&o.kibanaURL, "kibana-url", "", "Kibana, to create each pipeline's index pattern and one for all logs (default: kibana.url of obsctl.yaml)")
	f.StringVar(&o.grafanaURL, "grafana-url", "", "a Grafana outside the cluster to push the repo's dashboards and datasources to (default: grafana.url of obsctl.yaml)")
	f.StringVar(&o.esURL, "elasticsearch-url", "", "the logs' Elasticsearch, to set up each pipeline's index template and ILM policy (default: elasticsearch.url of obsctl.yaml)")
	f.StringVar(&o.dryRun, "dry-run", "none", "none, client (check the manifests, contact no cluster) or server (plan and dry-run every object, nothing changes)")
	f.StringVarP(&o.message, "message", "m", "", "a note recorded with the revision (obsctl history shows it)")
	o.addRunFlags(f)
	o.cluster.addFleetFlags(f)
	return cmd
}

// addRunFlags adds the flags apply and rollback share.
func (o *applyOptions) addRunFlags(f *pflag.FlagSet) {
	f.BoolVar(&o.prune, "prune", true, "delete the objects of the previous revision that this set no longer has")
	f.StringSliceVar(&o.pruneProtected, "prune-protected", nil, "protected kinds prune may delete: crds, namespaces, volumes, secrets (generated) or all")
	f.BoolVar(&o.adopt, "adopt", false, "take over existing objects that obsctl did not create, instead of leaving them alone: their fields become the stack's (a Namespace's PodSecurity labels among them)")
	f.BoolVarP(&o.yes, "yes", "y", false, "confirm destructive changes (a mass prune, a replace, a profile downgrade, lost volumes)")
	f.BoolVar(&o.wait, "wait", true, "wait until Deployments, StatefulSets and DaemonSets have rolled out")
	f.BoolVar(&o.waitLock, "wait-lock", true, "wait while another run holds the stack's lock; false fails at once with exit code 5")
	f.DurationVar(&o.lockLease, "lock-lease", lock.DefaultLeaseDuration, "how long the stack's lock outlives a run that could not release it (renewed every third of it while the run lives)")
	f.StringVar(&o.conflicts, "conflicts", "take", "fields another manager took over from obsctl: take (take them back, and say so) or fail")
	f.BoolVar(&o.forceConflicts, "force-conflicts", false, "take over fields other field managers own (the default now; kept for scripts)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	o.cluster.addFlags(f)
}

// The bounds of --lock-lease: renewals every third of a shorter lease
// would be lost to an API server's ordinary hiccups; a longer one blocks
// the next run for too long after a crash.
const (
	minLockLease = 3 * time.Second
	maxLockLease = time.Hour
)

// checkRunFlags checks the flags apply and rollback share.
func (o *applyOptions) checkRunFlags() error {
	switch o.output {
	case "text", "json":
	default:
		return usagef("unknown output format %q (want text or json)", o.output)
	}
	if o.lockLease < minLockLease || o.lockLease > maxLockLease {
		return usagef("--lock-lease %s: want between %s and %s", o.lockLease, minLockLease, maxLockLease)
	}
	switch o.conflicts {
	case "take", "fail":
	default:
		return usagef("--conflicts %q: want take or fail", o.conflicts)
	}
	if o.forceConflicts && o.conflicts == "fail" {
		return usagef("--force-conflicts and --conflicts=fail contradict each other")
	}
	_, err := o.protected()
	return err
}

func (o *applyOptions) protected() ([]release.Protected, error) {
	var out []release.Protected
	for _, p := range o.pruneProtected {
		switch p := release.Protected(strings.TrimSpace(p)); p {
		case "all":
			out = append(out, release.AllProtected...)
		case release.ProtectCRDs, release.ProtectNamespaces, release.ProtectVolumes, release.ProtectSecrets:
			out = append(out, p)
		default:
			return nil, usagef("--prune-protected %q: want crds, namespaces, volumes, secrets or all", p)
		}
	}
	return out, nil
}

func runApply(ctx context.Context, deps *Deps, o *applyOptions) error {
	start := time.Now()
	switch o.dryRun {
	case "none", "client", "server":
	default:
		return usagef("--dry-run %q: want none, client or server", o.dryRun)
	}
	if err := o.checkRunFlags(); err != nil {
		return err
	}
	if names, err := o.cluster.contextNames(deps); err != nil {
		return err
	} else if len(names) > 1 && o.dryRun == "client" {
		// It contacts no cluster: one check is every context's.
		o.cluster.contexts, o.cluster.allContexts = names[:1], false
	} else if len(names) > 1 {
		if slices.Contains(o.files, "-") {
			return usagef("-f - with several contexts: standard input is read once; give the manifests as files")
		}
		err := runContexts(ctx, deps, names, o.output, o.cluster.parallel, o.cluster.verbose, applyPrecedence, func(ctx context.Context, deps *Deps, name string) error {
			c := *o
			c.cluster.contexts, c.cluster.allContexts, c.inFleet = []string{name}, false, true
			c.cluster.verbose = false // klog is the process's: see runContexts
			return runApply(ctx, deps, &c)
		})
		return sharedServices(ctx, deps, o, names[0], err)
	}
	if err := o.cluster.resolve(deps, o.globalOptions); err != nil {
		return err
	}
	src, repo, err := readSourceRepo(ctx, deps, o.globalOptions, &o.cluster, o.files, o.profile, "apply", o.dryRun != "client")
	if err != nil {
		return err
	}
	rep := newApplyReport(o, start)
	out := newPrinter(deps, o.output, o.wait && o.dryRun == "none")
	defer out.finish()
	if o.dryRun == "client" {
		clientDryRun(out, rep, src, o.cluster.namespace)
		return rep.print(deps, out, nil)
	}
	conn, err := o.cluster.connect(deps)
	if err != nil {
		return rep.print(deps, out, err)
	}
	opts := o.releaseOptions(deps, start)
	opts.DryRun = o.dryRun == "server"
	opts.Message = o.message
	opts.Observer = out
	res, err := release.Apply(ctx, conn.cluster, src, opts)
	rep.add(res)
	if err == nil && repo != nil {
		err = setupElasticsearch(ctx, deps, o, repo, conn, out)
	}
	if err == nil && repo != nil && !o.inFleet {
		emit := func(line string) {
			out.mu.Lock()
			defer out.mu.Unlock()
			out.emit(line)
		}
		_, err = pushGrafana(ctx, deps, o, repo, conn, o.dryRun == "server", emit, nil)
	}
	return rep.print(deps, out, err)
}

// sharedServices sets up, once for a fleet, what its contexts share: the
// Grafana at grafana.url, and the Elasticsearch and Kibana at their URLs
// (each context's own, reached through its cluster, it set up itself).
// It runs only when every context released (exit 0: a 4 may as well be a
// cluster that never answered), reaching Secrets through the first
// context; fleetErr is the contexts' outcome, which a failure here turns
// into exit 1.
func sharedServices(ctx context.Context, deps *Deps, o *applyOptions, first string, fleetErr error) error {
	if fleetErr != nil {
		if r, err := load.Load(load.Options{Dir: o.repo, WorkDir: deps.WorkDir}); err == nil && sharedURLs(o, r) {
			fmt.Fprintln(deps.Stderr, "obsctl: the services the contexts share (Grafana, Elasticsearch, Kibana at their URLs) were not set up: a context did not release")
		}
		return fleetErr
	}
	r, err := load.Load(load.Options{Dir: o.repo, WorkDir: deps.WorkDir})
	if err != nil || !sharedURLs(o, r) || len(o.files) > 0 {
		return fleetErr
	}
	c := *o
	c.cluster.contexts, c.cluster.allContexts, c.sharedOnly = []string{first}, false, true
	fail := func(err error) error {
		exitCode(err, deps.Stderr) // says why
		return silentError{code: ExitFailure}
	}
	if err := c.cluster.resolve(deps, c.globalOptions); err != nil {
		return fail(err)
	}
	conn, err := c.cluster.connect(deps)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintln(deps.Stdout, "==> shared by every context")
	emit := func(line string) { fmt.Fprintln(deps.Stdout, line) }
	note := func(text string) { fmt.Fprintln(deps.Stderr, text) }
	dry := o.dryRun == "server"
	if _, err := setupLogStores(ctx, deps, &c, r, conn, dry, emit, note); err != nil {
		return fail(err)
	}
	if _, err := pushGrafana(ctx, deps, &c, r, conn, dry, emit, nil); err != nil {
		return fail(err)
	}
	return fleetErr
}

// sharedURLs reports whether the repo names a service every context
// shares: a Grafana, an Elasticsearch or a Kibana at a URL.
func sharedURLs(o *applyOptions, r *load.Repo) bool {
	if o.grafanaURL != "" || o.esURL != "" || o.kibanaURL != "" {
		return true
	}
	c := r.Config
	return c != nil && (c.Grafana.URL != "" || c.Elasticsearch.URL != "" || c.Kibana.URL != "")
}

// releaseOptions are the release's options from the flags apply and
// rollback share.
func (o *applyOptions) releaseOptions(deps *Deps, start time.Time) release.Options {
	userName, host := identity(deps)
	prot, _ := o.protected() // checked by checkRunFlags
	conflicts := apply.ConflictsTake
	if o.conflicts == "fail" {
		conflicts = apply.ConflictsFail
	}
	opts := release.Options{
		Stack: o.cluster.stack, Namespace: o.cluster.namespace,
		Prune: o.prune, PruneProtected: prot, Adopt: o.adopt, Yes: o.yes,
		Conflicts: conflicts, Wait: o.wait,
		Deadline: start.Add(o.cluster.timeout), Timeout: o.cluster.timeout,
		WaitLock: o.waitLock, LockLease: o.lockLease,
		Holder: fmt.Sprintf("%s@%s pid %d", userName, host, os.Getpid()),
		User:   userName, Host: host, Getenv: deps.Getenv,
	}
	if deps.StdinIsTerminal() && deps.IsTerminal(deps.Stderr) && o.output == "text" {
		opts.Confirm = func(changes []string) (bool, error) { return confirm(deps, changes) }
	}
	return opts
}

// confirm lists the destructive changes on stderr and asks, as kubectl
// delete --interactive does: only y or yes goes on.
func confirm(deps *Deps, changes []string) (bool, error) {
	fmt.Fprintf(deps.Stderr, "These changes lose data or disrupt the stack:\n")
	for _, c := range changes {
		fmt.Fprintf(deps.Stderr, "  - %s\n", c)
	}
	fmt.Fprint(deps.Stderr, "Go ahead? [y/N]: ")
	line, err := bufio.NewReader(deps.Stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// clientDryRun prints the objects that would be applied, in apply order,
// without contacting a cluster. Without discovery the namespace an object
// that names none goes to is the table of kinds' guess: the stack's,
// unless its kind is a cluster-scoped one.
func clientDryRun(out *printer, rep *applyReport, src release.Source, ns string) {
	for _, b := range apply.Waves(src.Objects) {
		for _, o := range b.Objects {
			ref := kube.RefOf(o)
			if namespaced, known := kube.Namespaced(ref.GroupKind()); ref.Namespace == "" && (namespaced || !known) {
				ref.Namespace = ns
			}
			or := release.ObjectResult{Ref: ref, Wave: b.Wave, Action: actionChecked, Note: "client dry run"}
			out.Observe(release.Event{Type: release.EventObject, Object: or})
			rep.Objects = append(rep.Objects, reportObjectOf(or))
			rep.Counts.add(or.Action)
		}
	}
	for _, g := range src.Generated {
		out.Observe(release.Event{Type: release.EventNote, Text: fmt.Sprintf("obsctl: Secret %s/%s (%s) not checked: apply generates its values", g.Namespace, g.Name, g.Component)})
	}
}

// reason is an object's error without the object's name in front, which
// the line already shows.
func reason(ref kube.Ref, err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, ref.String()+": ")
	return strings.ReplaceAll(msg, "\n", " ")
}
