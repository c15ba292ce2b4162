package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/obsctl/obsctl/internal/release"
	"github.com/spf13/cobra"
)

// statusTimeout is status's --timeout: a handful of list requests.
const statusTimeout = 30 * time.Second

type statusOptions struct {
	*globalOptions
	cluster clusterOptions
	output  string
	wait    time.Duration
}

func newStatusCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &statusOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each component of the stack: ready replicas, version, endpoints",
		Long: `Show each component of the stack as it runs in the cluster: how many of
its replicas are ready out of how many are wanted (summed over its
Deployments, StatefulSets, DaemonSets and the Prometheus and Alertmanager
the operator runs), its version, and the endpoints to open: the in-cluster
URL of its user interface or API and, with ingress on, its host. The
readiness of Prometheus and Alertmanager is what the Prometheus Operator
says in their status conditions (Available and Reconciled); when either is
not ready, status says why, in the operator's words.

--wait DURATION reads the cluster again every two seconds until every
component is ready or the duration has passed (as kubectl rollout status
does), and shows the last reading: for a hook after apply, which returns
before the operator has reconciled what it applied.

With several contexts (--context a --context b, or --all-contexts), each
context's run is the one above, --parallel at a time; their outputs follow one another,
each under "==> context NAME", then a table with a line per context
(CONTEXT EXIT TOOK RESULT), or with -o json one report holding each
context's. The exit code is the most severe of theirs, in this order: 1, 2, 4.

Exit codes: 0 every component ready, 1 the cluster could not be read, 2 usage
error, 4 a component is not ready (or the stack has none in the cluster).`,
		Example: `  obsctl status
  obsctl status --wait 5m
  obsctl status --stack prod -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), deps, o)
		},
	}
	f := cmd.Flags()
	o.cluster.addFlags(f)
	o.cluster.addFleetFlags(f)
	o.cluster.timeout = statusTimeout
	if t := f.Lookup("timeout"); t != nil {
		t.DefValue = statusTimeout.String()
		t.Usage = "bound on reading the cluster, retries included"
	}
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	f.DurationVar(&o.wait, "wait", 0, "wait up to this long for every component to be ready")
	return cmd
}

func runStatus(ctx context.Context, deps *Deps, o *statusOptions) error {
	if o.output != "text" && o.output != "json" {
		return usagef("unknown output format %q (want text or json)", o.output)
	}
	if o.wait < 0 {
		return usagef("--wait must not be negative")
	}
	if names, err := o.cluster.contextNames(deps); err != nil {
		return err
	} else if len(names) > 1 {
		return runContexts(ctx, deps, names, o.output, o.cluster.parallel, o.cluster.verbose, statusPrecedence, func(ctx context.Context, deps *Deps, name string) error {
			c := *o
			c.cluster.contexts, c.cluster.allContexts = []string{name}, false
			c.cluster.verbose = false // klog is the process's: see runContexts
			return runStatus(ctx, deps, &c)
		})
	}
	if err := o.cluster.resolve(deps, o.globalOptions); err != nil {
		return err
	}
	conn, err := o.cluster.connect(deps)
	if err != nil {
		return err
	}
	read := func() (*release.StatusReport, error) {
		tctx, cancel := context.WithTimeout(ctx, o.cluster.timeout)
		defer cancel()
		rep, err := release.Status(tctx, conn.cluster, o.cluster.stack)
		if err != nil {
			return nil, release.AsTimeout(tctx, err, o.cluster.timeout)
		}
		return rep, nil
	}
	rep, err := read()
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(o.wait); !rep.Ready && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(2*time.Second, time.Until(deadline))):
		}
		if rep, err = read(); err != nil {
			return err
		}
	}
	if o.output == "json" {
		enc := json.NewEncoder(deps.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printStatus(deps.Stdout, rep)
		for _, w := range rep.Warnings {
			fmt.Fprintf(deps.Stderr, "obsctl: warning: %s\n", w)
		}
		for _, n := range rep.NotReady {
			fmt.Fprintf(deps.Stderr, "obsctl: %s\n", n)
		}
	}
	switch {
	case len(rep.Components) == 0:
		return &notReadyStatus{msg: fmt.Sprintf("stack %s has no components in the cluster (%s): nothing applied yet?", o.cluster.stack, conn.where)}
	case !rep.Ready:
		var not []string
		for _, c := range rep.Components {
			if !c.Ready {
				not = append(not, c.Component)
			}
		}
		return &notReadyStatus{msg: "not ready: " + strings.Join(not, ", ")}
	}
	return nil
}

// notReadyStatus is status's exit code 4.
type notReadyStatus struct{ msg string }

func (e *notReadyStatus) Error() string { return e.msg }

func printStatus(w io.Writer, rep *release.StatusReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tREADY\tVERSION\tENDPOINTS")
	for _, c := range rep.Components {
		ready := fmt.Sprintf("%d/%d", c.Available, c.Desired)
		if !c.Ready {
			ready += " (not ready)"
		}
		eps := strings.Join(c.Endpoints, " ")
		if eps == "" {
			eps = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Component, ready, cmp.Or(c.Version, "-"), eps)
	}
	_ = tw.Flush()
}
