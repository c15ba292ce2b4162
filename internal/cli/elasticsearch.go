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
// of pipelines gone; then the pipelines' Kibana index patterns, likewise.
// Each change is a line of apply's output, as objects' are. Elasticsearch
// is reached at --elasticsearch-url or elasticsearch.url, Kibana at
// --kibana-url or kibana.url; without them, apply says what was not set up.
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
	printChanges(out, changes, "Elasticsearch", o.dryRun == "server")
	if err != nil {
		return fmt.Errorf("elasticsearch at %s: %w", url, err)
	}

	kurl := o.kibanaURL
	if kurl == "" {
		kurl = r.Config.Kibana.URL
	}
	if kurl == "" || !componentOn(r.Config, "kibana") {
		if componentOn(r.Config, "kibana") {
			out.note("Kibana: the pipelines' index patterns are not set up: give --kibana-url, or kibana.url in obsctl.yaml")
		}
		return nil
	}
	if why := config.CheckElasticsearchURL(kurl); why != "" {
		return usagef("--kibana-url: %s", why)
	}
	k := &logs.Kibana{URL: kurl, User: deps.Getenv("OBSCTL_ELASTICSEARCH_USERNAME"), Password: deps.Getenv("OBSCTL_ELASTICSEARCH_PASSWORD")}
	changes, err = logs.SetupKibana(ctx, k, o.cluster.stack, logs.Patterns(o.cluster.stack, pipelines), o.prune, o.dryRun == "server")
	printChanges(out, changes, "Kibana", o.dryRun == "server")
	if err != nil {
		return fmt.Errorf("kibana at %s: %w", kurl, err)
	}
	return nil
}

// printChanges prints a line of apply's output for each change made in
// Elasticsearch or Kibana.
func printChanges(out *printer, changes []logs.Change, where string, dryRun bool) {
	out.mu.Lock()
	defer out.mu.Unlock()
	for _, c := range changes {
		line := c.Object.Ref() + " " + c.Action + " (" + where
		if dryRun && c.Action != "unchanged" {
			line += ", server dry run"
		}
		line += ")"
		if c.Note != "" {
			line += ": " + c.Note
		}
		out.emit(line)
	}
}

func componentOn(c *config.Config, key string) bool {
	for _, nc := range c.ComponentsByName() {
		if nc.Name == key {
			return nc.On()
		}
	}
	return false
}
