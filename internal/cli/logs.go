package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/obsctl/obsctl/internal/compile"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/fluentd"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/logs"
)

type logsOptions struct {
	*globalOptions
	selector, namespace, pipeline string
	since                         time.Duration
	tail                          int
	follow                        bool
	output                        string
	url                           string
	kubeconfig, kubeContext       string
	interval                      time.Duration
	// sinceSet is set when --since was given.
	sinceSet bool
}

func newLogsCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &logsOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "logs -l SELECTOR",
		Short: "Print the log records of the pods a label selector selects, from Elasticsearch",
		Long: `Print the log records of the pods a label selector selects, as kubectl logs
-l does, but from Elasticsearch, where the repo's pipelines index them: the
records of pods long gone too.

The selector is kubectl's (=, ==, !=, in, notin, exists, !exists). Its
label keys are mapped to the record fields the pipelines lift them into
(decorate.podLabels): -l app.kubernetes.io/name=checkout finds the field
that label was lifted into, in every pipeline that lifts it. A label no
pipeline lifts is an error that says which pipeline lifts what.

Records are printed oldest first, each prefixed with [namespace/pod/container]
(without the namespace when -n is given), coloured by pod on a terminal.
-o json prints each record as Elasticsearch holds it, with its _index and
_id; -o raw prints the line alone. --tail N prints the newest N; without it,
every record of --since (default 1h; 0 for no bound). -f keeps polling for
new records; those indexed late (Fluentd flushes its buffers every few
seconds) are still printed, once.

Elasticsearch is reached at --elasticsearch-url, or elasticsearch.url in
obsctl.yaml, with the user and password in OBSCTL_ELASTICSEARCH_USERNAME and
OBSCTL_ELASTICSEARCH_PASSWORD; without either, the stack's own, through the
Kubernetes API (a port-forward to a ready pod, as kubectl port-forward
svc/elasticsearch does), as the user obsctl generated for it.

Exit codes: 0 done (matching nothing too, which is said on stderr), 1
Elasticsearch could not be read, 2 usage error.`,
		Example: `  obsctl logs -l app.kubernetes.io/name=checkout --elasticsearch-url https://logs.example.com:9200
  obsctl logs -l 'team in (payments,checkout)' -n shop --since 30m
  obsctl logs -l app=web --tail 100 -f
  obsctl logs -l app=web --pipeline ingress -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.sinceSet = cmd.Flags().Changed("since")
			return runLogs(cmd.Context(), deps, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.selector, "selector", "l", "", "label selector of the pods, as kubectl's (required)")
	f.StringVarP(&o.namespace, "namespace", "n", "", "only this namespace")
	f.StringVar(&o.pipeline, "pipeline", "", "only the records of this pipeline")
	f.DurationVar(&o.since, "since", time.Hour, "only records newer than this (0: no bound)")
	f.IntVar(&o.tail, "tail", -1, "only the newest N records (-1: all)")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing new records")
	f.StringVarP(&o.output, "output", "o", "text", "output format: text, json or raw")
	f.StringVar(&o.url, "elasticsearch-url", "", "Elasticsearch URL (default: elasticsearch.url of obsctl.yaml, else the stack's own through the Kubernetes API)")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file, to reach the stack's Elasticsearch (default: $KUBECONFIG, else ~/.kube/config)")
	f.StringVar(&o.kubeContext, "context", "", "kubeconfig context (default: its current-context)")
	f.DurationVar(&o.interval, "poll-interval", 2*time.Second, "how often -f asks for new records")
	return cmd
}

func runLogs(ctx context.Context, deps *Deps, o *logsOptions) error {
	switch {
	case o.output != "text" && o.output != "json" && o.output != "raw":
		return usagef("unknown output format %q (want text, json or raw)", o.output)
	case o.selector == "":
		return usagef("give a label selector with -l, such as -l app.kubernetes.io/name=checkout")
	case o.since < 0:
		return usagef("--since must not be negative")
	case o.tail < -1 || o.tail == 0:
		return usagef("--tail must be a positive number of records, or -1 for all")
	case o.interval <= 0:
		return usagef("--poll-interval must be positive")
	}
	r, err := load.Load(load.Options{Dir: o.repo, WorkDir: deps.WorkDir})
	if err != nil {
		return err
	}
	url := o.url
	if url == "" && r.Config != nil {
		url = r.Config.Elasticsearch.URL
	}
	user, password := deps.Getenv("OBSCTL_ELASTICSEARCH_USERNAME"), deps.Getenv("OBSCTL_ELASTICSEARCH_PASSWORD")
	if url != "" {
		if why := config.CheckElasticsearchURL(url); why != "" {
			return usagef("--elasticsearch-url: %s", why)
		}
	}
	since := o.since
	if o.tail > 0 && !o.sinceSet {
		since = 0 // --tail alone: the newest N, however old
	}
	plan, err := logs.Resolve(logs.Query{Selector: o.selector, Namespace: o.namespace, Pipeline: o.pipeline, Since: since, Tail: o.tail}, fluentd.Routed(r.Pipelines, r.Config.CatchAllOn()))
	if err != nil {
		return usageError{err}
	}
	if url == "" {
		// The stack's own Elasticsearch, through the Kubernetes API.
		cfg, _, err := kube.RESTConfig(kube.ConfigOptions{Kubeconfig: o.kubeconfig, Context: o.kubeContext, Getenv: deps.Getenv})
		if err != nil {
			return fmt.Errorf("no --elasticsearch-url, and the cluster cannot be reached: %w", err)
		}
		clients, err := kube.NewClients(cfg)
		if err != nil {
			return err
		}
		conn := &clusterConn{clients: clients}
		ns := r.Config.StackNamespace()
		fwd, stop, err := forward(ctx, conn, ns, compile.ElasticsearchService, compile.ElasticsearchPort)
		if err != nil {
			return fmt.Errorf("no --elasticsearch-url, and the stack's Elasticsearch (namespace %s): %v", ns, err)
		}
		defer stop()
		url = "http://" + fwd
		if user == "" {
			if user, password, err = esCredentials(ctx, conn, ns); err != nil {
				return fmt.Errorf("elasticsearch: %w", err)
			}
		}
	}
	client, err := logs.Client(url, user, password, nil)
	if err != nil {
		return fmt.Errorf("elasticsearch at %s: %v", url, err)
	}
	p := &logPrinter{w: deps.Stdout, output: o.output, withNS: o.namespace == "",
		color: o.output == "text" && deps.IsTerminal(deps.Stdout) && deps.Getenv("NO_COLOR") == ""}
	seen, err := logs.Search(ctx, client, plan, p.print)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	if !o.follow {
		if p.n == 0 {
			fmt.Fprintf(deps.Stderr, "obsctl: no log records of pods matching %q in %s%s\n", o.selector, joinIndices(plan), sinceText(since))
		}
		return nil
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Fluentd flushes its buffers every 5 s and Elasticsearch makes a
	// record searchable within a second: a record is rarely later than
	// that, and each poll reads the overlap again.
	if err := logs.Follow(ctx, client, plan, seen, o.interval, 15*time.Second, p.print); err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	return nil
}

func joinIndices(p *logs.Plan) string { return strings.Join(p.Indices, ", ") }

func sinceText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return " in the last " + d.String()
}

// logPrinter writes records in the chosen format.
type logPrinter struct {
	w             io.Writer
	output        string
	withNS, color bool
	n             int
}

// podColors are the ANSI colours pods are told apart by.
var podColors = []string{"31", "32", "33", "34", "35", "36", "91", "92", "93", "94", "95", "96"}

func (p *logPrinter) print(r logs.Record) error {
	p.n++
	var err error
	switch p.output {
	case "json":
		src := map[string]any{"_index": r.Index, "_id": r.ID}
		for k, v := range r.Source {
			src[k] = v
		}
		var b []byte
		if b, err = json.Marshal(src); err == nil {
			_, err = fmt.Fprintf(p.w, "%s\n", b)
		}
	case "raw":
		_, err = fmt.Fprintln(p.w, r.Line)
	default:
		prefix := r.Pod + "/" + r.Container
		if p.withNS {
			prefix = r.Namespace + "/" + prefix
		}
		prefix = "[" + prefix + "]"
		if p.color {
			h := fnv.New32a()
			h.Write([]byte(r.Namespace + "/" + r.Pod))
			prefix = "\x1b[" + podColors[h.Sum32()%uint32(len(podColors))] + "m" + prefix + "\x1b[0m"
		}
		_, err = fmt.Fprintf(p.w, "%s %s\n", prefix, r.Line)
	}
	return err
}
