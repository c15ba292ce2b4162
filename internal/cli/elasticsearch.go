package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/obsctl/obsctl/internal/compile"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/fluentd"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/logs"
	"github.com/obsctl/obsctl/internal/render"
)

// setupElasticsearch puts each pipeline's index template and ILM policy
// into the logs' Elasticsearch once the stack is applied (a server dry run
// only reads, and says what it would do), and with --prune deletes those
// of pipelines gone; then the pipelines' Kibana index patterns, likewise.
// Each change is a line of apply's output, as objects' are. Elasticsearch
// is reached at --elasticsearch-url or elasticsearch.url, Kibana at
// --kibana-url or kibana.url; without them, apply says what was not set up.
func setupElasticsearch(ctx context.Context, deps *Deps, o *applyOptions, r *load.Repo, conn *clusterConn, out *printer) error {
	emit := func(line string) {
		out.mu.Lock()
		defer out.mu.Unlock()
		out.emit(line)
	}
	_, err := setupLogStores(ctx, deps, o, r, conn, o.dryRun == "server", emit, out.note)
	return err
}

// setupLogStores is setupElasticsearch's work, for apply and diff: each
// change is a line given to emit, what was skipped a note. It reports
// whether anything changed, or would with dryRun.
func setupLogStores(ctx context.Context, deps *Deps, o *applyOptions, r *load.Repo, conn *clusterConn, dryRun bool, emit, note func(string)) (bool, error) {
	if r.Config == nil || !componentOn(r.Config, "elasticsearch") || !componentOn(r.Config, "fluentd") {
		return false, nil
	}
	url := cmp.Or(o.esURL, r.Config.Elasticsearch.URL)
	kurl := cmp.Or(o.kibanaURL, r.Config.Kibana.URL)
	// In a fleet, what is at a URL is every context's, set up once
	// (sharedServices); what is in each cluster, each context's run.
	doES := !(url != "" && o.inFleet) && !(url == "" && o.sharedOnly)
	doKibana := componentOn(r.Config, "kibana") && !(kurl != "" && o.inFleet) && !(kurl == "" && o.sharedOnly)
	user, password := deps.Getenv("OBSCTL_ELASTICSEARCH_USERNAME"), deps.Getenv("OBSCTL_ELASTICSEARCH_PASSWORD")
	// The stack's own, through the Kubernetes API, is reached as the user
	// of the Secret obsctl generated.
	credentials := func() error {
		if user != "" {
			return nil
		}
		var err error
		if user, password, err = esCredentials(ctx, conn, o.cluster.namespace); err != nil {
			return fmt.Errorf("elasticsearch: %w", err)
		}
		return nil
	}
	pipelines := fluentd.Routed(r.Pipelines, r.Config.CatchAllOn())
	if len(pipelines) == 0 {
		// The fallback configuration's one index.
		pipelines = []*fluentd.Pipeline{{Name: "default", Output: fluentd.Output{Index: "logs-default"}}}
	}
	changed := false
	if doES {
		if url == "" {
			// A port-forward to a ready pod.
			fwd, stop, err := forward(ctx, conn, o.cluster.namespace, compile.ElasticsearchService, compile.ElasticsearchPort)
			if err != nil {
				note(fmt.Sprintf("obsctl: Elasticsearch: the pipelines' index templates and ILM policies are not set up: %v; run apply again once it is ready, or give --elasticsearch-url (until they are, Elasticsearch's built-in logs-*-* template makes the log indices data streams, which refuse Fluentd's writes)", err))
				return false, nil
			}
			defer stop()
			url = "http://" + fwd
			if err := credentials(); err != nil {
				return false, err
			}
		}
		if why := config.CheckElasticsearchURL(url); why != "" {
			return false, usagef("--elasticsearch-url: %s", why)
		}
		desired := logs.Desired(o.cluster.stack, pipelines, render.Retention(r.Config, "elasticsearch"))
		client, err := logs.Client(url, user, password, nil)
		if err != nil {
			return false, fmt.Errorf("elasticsearch at %s: %v", url, err)
		}
		changes, err := logs.Setup(ctx, client, o.cluster.stack, desired, o.prune, dryRun)
		changed = printChanges(emit, changes, "Elasticsearch", dryRun)
		if err != nil {
			return changed, fmt.Errorf("elasticsearch at %s: %w", url, err)
		}
	}

	if !doKibana {
		return changed, nil
	}
	if kurl == "" {
		fwd, stop, err := forward(ctx, conn, o.cluster.namespace, "kibana", 5601)
		if err != nil {
			note(fmt.Sprintf("obsctl: Kibana: the pipelines' index patterns are not set up: %v; run apply again once it is ready, or give --kibana-url", err))
			return changed, nil
		}
		defer stop()
		kurl = "http://" + fwd
		if err := credentials(); err != nil {
			return changed, err
		}
	}
	if why := config.CheckElasticsearchURL(kurl); why != "" {
		return changed, usagef("--kibana-url: %s", why)
	}
	k := &logs.Kibana{URL: kurl, User: user, Password: password}
	changes, err := logs.SetupKibana(ctx, k, o.cluster.stack, logs.Patterns(o.cluster.stack, pipelines), o.prune, dryRun)
	changed = printChanges(emit, changes, "Kibana", dryRun) || changed
	if err != nil {
		return changed, fmt.Errorf("kibana at %s: %w", kurl, err)
	}
	return changed, nil
}

// printChanges gives emit a line for each change made (or, with dryRun,
// to be made) in Elasticsearch or Kibana, and reports whether any object
// is created, configured or deleted (kept and unchanged ones are not
// changes).
func printChanges(emit func(string), changes []logs.Change, where string, dryRun bool) bool {
	changed := false
	for _, c := range changes {
		changes := c.Action != "unchanged" && c.Action != "kept"
		changed = changed || changes
		line := c.Object.Ref() + " " + c.Action + " (" + where
		if dryRun && changes {
			line += ", server dry run"
		}
		line += ")"
		if c.Note != "" {
			line += ": " + c.Note
		}
		emit(line)
	}
	return changed
}

func componentOn(c *config.Config, key string) bool { return c.ComponentsOn()[key] }

// forwardTimeout bounds finding a ready pod and opening a port-forward.
const forwardTimeout = 15 * time.Second

// forward port-forwards a free local port to Service ns/name's port.
func forward(ctx context.Context, conn *clusterConn, ns, name string, port int32) (string, func(), error) {
	if conn == nil || conn.clients == nil {
		return "", nil, errors.New("no cluster connection")
	}
	fctx, cancel := context.WithTimeout(ctx, forwardTimeout)
	defer cancel()
	addr, stop, err := kube.ForwardService(fctx, conn.clients.Config, conn.clients.Dynamic, ns, name, port)
	if err != nil {
		if errors.Is(err, kube.ErrNoReadyPod) {
			return "", nil, fmt.Errorf("%s has no ready pod yet", name)
		}
		return "", nil, fmt.Errorf("cannot reach %s through the Kubernetes API: %v", name, err)
	}
	return addr, stop, nil
}

// esCredentials reads the user and password obsctl generated for
// Elasticsearch (never printed).
func esCredentials(ctx context.Context, conn *clusterConn, ns string) (string, string, error) {
	sec, err := kube.Secrets(conn.clients.Dynamic, ns).Get(ctx, render.ElasticsearchCredentialsSecret, metav1.GetOptions{})
	if err != nil {
		return "", "", fmt.Errorf("read its credentials (Secret %s/%s): %w", ns, render.ElasticsearchCredentialsSecret, err)
	}
	return string(sec.Data["username"]), string(sec.Data["password"]), nil
}
