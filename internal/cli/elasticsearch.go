package cli

import (
	"context"
	"fmt"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/fluentd"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/logs"
	"github.com/obsctl/obsctl/internal/render"
)

// setupElasticsearch puts each pipeline's index template and ILM policy
// into the logs' Elasticsearch once the stack is applied (a server dry run
// only reads, and says what it would do), and with --prune deletes those
// of pipelines gone. Each change is a line of apply's output, as objects'
// are. Elasticsearch is reached at --elasticsearch-url or
// elasticsearch.url; without either, apply says what was not set up.
func setupElasticsearch(ctx context.Context, deps *Deps, o *applyOptions, r *load.Repo, out *printer) error {
	if r.Config == nil || !componentOn(r.Config, "elasticsearch") || !componentOn(r.Config, "fluentd") {
		return nil
	}
	url := o.esURL
	if url == "" {
		url = r.Config.Elasticsearch.URL
	}
	if url == "" {
		out.note("Elasticsearch: the pipelines' index templates and ILM policies are not set up: give --elasticsearch-url, or elasticsearch.url in obsctl.yaml (until they are, Elasticsearch's built-in logs-*-* template makes the log indices data streams, which refuse Fluentd's writes)")
		return nil
	}
	if why := config.CheckElasticsearchURL(url); why != "" {
		return usagef("--elasticsearch-url: %s", why)
	}
	pipelines := r.Pipelines
	if len(pipelines) == 0 {
		// The fallback configuration's one index.
		pipelines = []*fluentd.Pipeline{{Name: "default", Output: fluentd.Output{Index: "logs-default"}}}
	}
	desired := logs.Desired(o.cluster.stack, pipelines, render.Retention(r.Config, "elasticsearch"))
	client, err := logs.Client(url, deps.Getenv("OBSCTL_ELASTICSEARCH_USERNAME"), deps.Getenv("OBSCTL_ELASTICSEARCH_PASSWORD"), nil)
	if err != nil {
		return fmt.Errorf("elasticsearch at %s: %v", url, err)
	}
	changes, err := logs.Setup(ctx, client, o.cluster.stack, desired, o.prune, o.dryRun == "server")
	out.mu.Lock()
	for _, c := range changes {
		line := c.Object.Ref() + " " + c.Action + " (Elasticsearch"
		if o.dryRun == "server" && c.Action != "unchanged" {
			line += ", server dry run"
		}
		line += ")"
		if c.Note != "" {
			line += ": " + c.Note
		}
		out.emit(line)
	}
	out.mu.Unlock()
	if err != nil {
		return fmt.Errorf("elasticsearch at %s: %w", url, err)
	}
	return nil
}

func componentOn(c *config.Config, key string) bool {
	for _, nc := range c.ComponentsByName() {
		if nc.Name == key {
			return nc.On()
		}
	}
	return false
}
