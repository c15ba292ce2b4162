package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/release"
	"github.com/obsctl/obsctl/internal/textdiff"
)

type diffOptions struct {
	applyOptions
}

func newDiffCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &diffOptions{applyOptions{globalOptions: g, dryRun: "server"}}
	cmd := &cobra.Command{
		Use:   "diff [-f PATH...]",
		Short: "Show what apply would change, object by object and field by field",
		Long: `Show what obsctl apply would change in the cluster (the repo's stack, or
with -f other manifests): the same plan apply makes, with each live object
against the object the API server would store (a server-side apply dry
run: defaults, admission and other field managers included), as a unified
diff. Objects apply would create show as all added, objects it would prune
as all removed; objects it would leave alone (kept, conflict) show as a
comment saying why; fields another manager took over show as changes with
the manager named. Server-set metadata and status are left out. Secret
values are never shown: each shows as "(redacted, N bytes)", marked
"changed" when the value would change.

-o json prints the plan: every object's action (the words apply -o json
uses), its reason and its diff.

The pipelines' Elasticsearch index templates and ILM policies and their
Kibana index patterns, which apply keeps after the stack, follow as
comments: "# IndexTemplate obsctl-prod-apps configured (Elasticsearch)";
so do the dashboards, folders and datasources apply pushes to the Grafana
at --grafana-url (or grafana.url): "# Dashboard nodes configured
(Grafana)", each configured dashboard followed by its unified diff, from
the dashboard as Grafana has it to as the repo has it. These are
compared with -o text only: -o json reports the cluster's objects.

With several contexts (--context a --context b, or --all-contexts), each
context's run is the one above, --parallel at a time, with no question
asked (destructive changes need --yes); their outputs follow one another,
each under "==> context NAME", then a table with a line per context
(CONTEXT EXIT TOOK RESULT), or with -o json one report holding each
context's. The exit code is the most severe of theirs, in this order: 6, 2, 3, 1.

Exit codes, as kubectl diff users expect: 0 no changes, 1 changes,
2 usage error, 6 diff could not run.`,
		Example: `  obsctl diff
  obsctl diff --profile ha
  obsctl diff -f out/manifests/ | less
  obsctl diff -o json | jq '.objects[] | select(.action != "unchanged")'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDiff(cmd.Context(), deps, o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&o.files, "filename", "f", nil, "manifests to compare instead of the repo's stack: files, folders or - for standard input (repeatable)")
	addProfileFlag(cmd, &o.profile)
	f.BoolVar(&o.prune, "prune", true, "show the objects apply would prune as removed")
	f.StringSliceVar(&o.pruneProtected, "prune-protected", nil, "compare as apply --prune-protected would: crds, namespaces, volumes, secrets or all")
	f.BoolVar(&o.adopt, "adopt", false, "compare as apply --adopt would: take over existing objects obsctl did not create")
	f.StringVar(&o.conflicts, "conflicts", "take", "compare as apply --conflicts would: take or fail")
	f.BoolVar(&o.forceConflicts, "force-conflicts", false, "compare as apply --force-conflicts would (the default now)")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text (a unified diff) or json (the plan)")
	f.StringVar(&o.esURL, "elasticsearch-url", "", "compare the pipelines' index templates and ILM policies in this Elasticsearch (default: elasticsearch.url, else the stack's own)")
	f.StringVar(&o.grafanaURL, "grafana-url", "", "compare the repo's dashboards and datasources in the Grafana outside the cluster at this URL (default: grafana.url)")
	f.StringVar(&o.kibanaURL, "kibana-url", "", "compare the pipelines' index patterns in this Kibana (default: kibana.url, else the stack's own)")
	o.lockLease = minLockLease // diff takes no lock
	o.cluster.addFlags(f)
	o.cluster.addFleetFlags(f)
	return cmd
}

// diffError is why diff could not run. It maps to ExitDiffFailed, since
// diff's exit code 1 means "changes found".
type diffError struct{ err error }

func (e *diffError) Error() string { return "diff: " + e.err.Error() }
func (e *diffError) Unwrap() error { return e.err }

func runDiff(ctx context.Context, deps *Deps, o *diffOptions) error {
	start := time.Now()
	if err := o.checkRunFlags(); err != nil {
		return err
	}
	if names, err := o.cluster.contextNames(deps); err != nil {
		return err
	} else if len(names) > 1 {
		if slices.Contains(o.files, "-") {
			return usagef("-f - with several contexts: standard input is read once; give the manifests as files")
		}
		return runContexts(ctx, deps, names, o.output, o.cluster.parallel, o.cluster.verbose, diffPrecedence, func(ctx context.Context, deps *Deps, name string) error {
			c := *o
			c.cluster.contexts, c.cluster.allContexts = []string{name}, false
			c.cluster.verbose = false // klog is the process's: see runContexts
			return runDiff(ctx, deps, &c)
		})
	}
	if err := o.cluster.resolve(deps, o.globalOptions); err != nil {
		return err
	}
	// Lint findings and usage mistakes keep their own exit codes.
	src, repo, err := readSourceRepo(ctx, deps, o.globalOptions, &o.cluster, o.files, o.profile, "diff", true)
	if err != nil {
		var fe findingsError
		var ue usageError
		if errors.As(err, &fe) || errors.As(err, &ue) {
			return err
		}
		return &diffError{err}
	}
	conn, err := o.cluster.connect(deps)
	if err != nil {
		return &diffError{err}
	}
	opts := o.releaseOptions(deps, start)
	opts.Confirm = nil
	opts.Observer = release.ObserverFunc(func(e release.Event) {
		if e.Type == release.EventNote {
			fmt.Fprintln(deps.Stderr, e.Text)
		}
	})
	res, err := release.Diff(ctx, conn.cluster, src, opts)
	var ce *release.ConflictError
	var re *release.RepoError
	switch {
	case errors.As(err, &re):
		return err // the usage error it is: which repo, which stack
	case err != nil && !errors.As(err, &ce):
		return &diffError{err}
	}
	changed, err := printDiff(deps.Stdout, res, o.output)
	if err != nil {
		return &diffError{err}
	}
	if repo != nil && o.output == "text" {
		// What apply would do in Elasticsearch and Kibana, as comments.
		emit := func(line string) { fmt.Fprintln(deps.Stdout, "# "+strings.Replace(line, ", server dry run)", ")", 1)) }
		note := func(text string) { fmt.Fprintln(deps.Stderr, text) }
		more, err := setupLogStores(ctx, deps, &o.applyOptions, repo, conn, true, emit, note)
		if err != nil {
			return &diffError{err}
		}
		changed = changed || more
		showDiff := func(d string) { fmt.Fprint(deps.Stdout, d) }
		more, err = pushGrafana(ctx, deps, &o.applyOptions, repo, conn, true, emit, showDiff)
		changed = changed || more
		if err != nil && !isGrafanaConflict(err) {
			return &diffError{err}
		}
	}
	if changed {
		return silentError{code: 1}
	}
	return nil
}

// diffReport is what diff -o json prints: the plan, with each object's diff.
type diffReport struct {
	Stack     string       `json:"stack"`
	Namespace string       `json:"namespace"`
	Changed   bool         `json:"changed"`
	Objects   []diffObject `json:"objects"`
	// Destructive lists the changes apply would need confirmed.
	Destructive []string `json:"destructive,omitempty"`
}

type diffObject struct {
	reportObject
	Diff string `json:"diff,omitempty"`
}

// printDiff writes the diff of every object, or the JSON plan, and reports
// whether anything would change.
func printDiff(w io.Writer, res *release.Result, output string) (bool, error) {
	rep := diffReport{Stack: res.Stack, Namespace: res.Namespace, Objects: []diffObject{}, Destructive: res.Confirm}
	var text strings.Builder
	for _, o := range res.Objects {
		d, err := objectDiff(o)
		if err != nil {
			return false, err
		}
		switch o.Action {
		case release.Created, release.Replaced, release.Pruned, release.Conflict, release.Failed, release.Skipped:
			rep.Changed = true
		}
		if d != "" {
			rep.Changed = true
		}
		rep.Objects = append(rep.Objects, diffObject{reportObjectOf(o), d})
		switch {
		case o.Action == release.Kept || o.Action == release.Conflict || o.Action == release.Failed || o.Action == release.Skipped:
			fmt.Fprintf(&text, "# %s\n", format(o))
		case d != "":
			if o.Destructive != "" {
				fmt.Fprintf(&text, "# %s %s: destructive, needs --yes: %s\n", o.Ref, o.Action, o.Destructive)
			} else if o.Note != "" && o.Action != release.Created {
				fmt.Fprintf(&text, "# %s %s: %s\n", o.Ref, o.Action, o.Note)
			}
			text.WriteString(d)
		}
	}
	if output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return rep.Changed, enc.Encode(rep)
	}
	_, err := io.WriteString(w, text.String())
	return rep.Changed, err
}

// objectDiff renders before and after as YAML with sorted keys and returns
// their unified diff, headed as kubectl diff heads it.
func objectDiff(o release.ObjectResult) (string, error) {
	if o.Before == nil && o.After == nil {
		return "", nil
	}
	render := func(u *unstructured.Unstructured) (string, error) {
		if u == nil {
			return "", nil
		}
		b, err := yaml.Marshal(u.Object)
		if err != nil {
			return "", fmt.Errorf("render %s: %w", o.Ref, err)
		}
		return string(b), nil
	}
	a, err := render(o.Before)
	if err != nil {
		return "", err
	}
	b, err := render(o.After)
	if err != nil {
		return "", err
	}
	name := fileName(o.Ref)
	from, to := "live/"+name, "obsctl/"+name
	if o.Before == nil {
		from = "/dev/null"
	}
	if o.After == nil {
		to = "/dev/null"
	}
	return textdiff.Unified(from, to, a, b), nil
}

// fileName names an object in the diff's headers as kubectl diff does:
// group.version.Kind.namespace.name.
func fileName(r kube.Ref) string {
	var parts []string
	if r.Group != "" {
		parts = append(parts, r.Group)
	}
	parts = append(parts, r.Version, r.Kind)
	if r.Namespace != "" {
		parts = append(parts, r.Namespace)
	}
	return strings.Join(append(parts, r.Name), ".")
}
