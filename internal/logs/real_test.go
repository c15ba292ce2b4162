package logs

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/olivere/elastic/v7"

	"github.com/obsctl/obsctl/internal/fluentd"
)

// TestRealElasticsearch runs the search against a real Elasticsearch, when
// OBSCTL_TEST_ELASTICSEARCH_URL names one (with
// OBSCTL_TEST_ELASTICSEARCH_USERNAME and _PASSWORD when security is on):
// it writes three records, as Fluentd would, into an index of its own
// (obsctl-test-logs-<time>-YYYY.MM.DD, outside the logs-*-* data-stream
// template), finds the two of one pod by their label, and deletes the
// index. Nothing else is touched.
func TestRealElasticsearch(t *testing.T) {
	c := realElasticsearch(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("obsctl-test-logs-%d", time.Now().UnixNano())
	now := time.Now().UTC()
	index := prefix + "-" + now.Format("2006.01.02")
	t.Cleanup(func() { _, _ = c.DeleteIndex(index).Do(ctx) })
	// As Fluentd writes: _bulk, the index operation.
	bulk := c.Bulk().Refresh("true")
	for i, app := range []string{"checkout", "cart", "checkout"} {
		d := doc(fmt.Sprint(i), now.Add(time.Duration(i-5)*time.Second), app, fmt.Sprintf("%s line %d", app, i))
		bulk.Add(elastic.NewBulkIndexRequest().Index(index).Id(d.ID).Doc(d.Source))
	}
	if res, err := bulk.Do(ctx); err != nil || res.Errors {
		t.Fatalf("bulk: %v %+v", err, res)
	}
	plan, err := Resolve(Query{Selector: "app.kubernetes.io/name=checkout", Since: time.Hour}, []*fluentd.Pipeline{pipeline("apps", prefix, "app.kubernetes.io/name", "app")})
	if err != nil {
		t.Fatal(err)
	}
	got := lines(t, func(emit func(Record) error) error { _, err := Search(ctx, c, plan, emit); return err })
	if strings.Join(got, "|") != "checkout line 0|checkout line 2" {
		t.Errorf("found %q", got)
	}
}

// TestRealElasticsearchSetup runs apply's set-up against a real
// Elasticsearch, when OBSCTL_TEST_ELASTICSEARCH_URL names one: for a stack
// of its own (obsctltest<time>), it creates a pipeline's index template
// and ILM policy, finds them unchanged on a second run, writes a record as
// Fluentd would (the index operation) into the pipeline's day index, which
// the template keeps a plain index with the policy, and prunes the
// template; the policy, still used by the index, is kept; then it deletes
// the index and the policy. Nothing of another stack is touched.
func TestRealElasticsearchSetup(t *testing.T) {
	c := realElasticsearch(t)
	ctx := context.Background()
	stack := fmt.Sprintf("obsctltest%d", time.Now().UnixNano())
	p := pipeline("apps", "logs-"+stack, "app.kubernetes.io/name", "app")
	name := "obsctl-" + stack + "-apps"
	index := "logs-" + stack + "-" + time.Now().UTC().Format("2006.01.02")
	t.Cleanup(func() {
		_, _ = c.DeleteIndex(index).Do(ctx)
		_, _ = c.IndexDeleteIndexTemplate(name).Do(ctx)
		_, _ = c.XPackIlmDeleteLifecycle().Policy(name).Do(ctx)
	})
	desired := Desired(stack, []*fluentd.Pipeline{p}, 24*time.Hour)
	got, err := Setup(ctx, c, stack, desired, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "LifecyclePolicy " + name + " created\nIndexTemplate " + name + " created"; changes(got) != want {
		t.Errorf("first run:\n%s\nwant\n%s", changes(got), want)
	}
	if got, err = Setup(ctx, c, stack, desired, true, false); err != nil || strings.Count(changes(got), "unchanged") != 2 {
		t.Errorf("second run: %v\n%s", err, changes(got))
	}
	rec := map[string]any{"@timestamp": time.Now().UTC().Format(time.RFC3339Nano), "log": "x", "app": "checkout"}
	if res, err := c.Bulk().Add(elastic.NewBulkIndexRequest().Index(index).Id("1").Doc(rec)).Do(ctx); err != nil || res.Errors {
		t.Fatalf("a write as Fluentd's: %v %+v", err, res)
	}
	set, err := c.IndexGetSettings(index).FlatSettings(true).Do(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := set[index]; s == nil || s.Settings["index.lifecycle.name"] != name {
		t.Errorf("the day index's settings: %+v", s)
	}
	got, err = Setup(ctx, c, stack, nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "IndexTemplate " + name + " deleted\nLifecyclePolicy " + name + " kept"; !strings.HasPrefix(changes(got), want) {
		t.Errorf("prune:\n%s\nwant %s (...)", changes(got), want)
	}
}

// TestRealKibana runs the index pattern set-up against a real Kibana 7.17,
// when OBSCTL_TEST_KIBANA_URL names one (with OBSCTL_TEST_KIBANA_USERNAME
// and _PASSWORD when security is on): for a stack of its own, it creates
// a pipeline's pattern and the all-logs one, finds them unchanged, and
// prunes them.
func TestRealKibana(t *testing.T) {
	url := os.Getenv("OBSCTL_TEST_KIBANA_URL")
	if url == "" {
		t.Skip("set OBSCTL_TEST_KIBANA_URL to run against a real Kibana")
	}
	ctx := context.Background()
	k := &Kibana{URL: url, User: os.Getenv("OBSCTL_TEST_KIBANA_USERNAME"), Password: os.Getenv("OBSCTL_TEST_KIBANA_PASSWORD")}
	stack := fmt.Sprintf("obsctltest%d", time.Now().UnixNano())
	desired := Patterns(stack, []*fluentd.Pipeline{pipeline("apps", "logs-"+stack)})
	t.Cleanup(func() { _, _ = SetupKibana(ctx, k, stack, nil, true, false) })
	got, err := SetupKibana(ctx, k, stack, desired, true, false)
	if err != nil || strings.Count(changes(got), "created") != 2 {
		t.Fatalf("first run: %v\n%s", err, changes(got))
	}
	if got, err = SetupKibana(ctx, k, stack, desired, true, false); err != nil || strings.Count(changes(got), "unchanged") != 2 {
		t.Errorf("second run: %v\n%s", err, changes(got))
	}
	if got, err = SetupKibana(ctx, k, stack, nil, true, false); err != nil || strings.Count(changes(got), "deleted") != 2 {
		t.Errorf("prune: %v\n%s", err, changes(got))
	}
}

// realElasticsearch returns a client of the Elasticsearch that
// OBSCTL_TEST_ELASTICSEARCH_URL names (as the user of
// OBSCTL_TEST_ELASTICSEARCH_USERNAME and _PASSWORD), or skips the test.
func realElasticsearch(t *testing.T) *elastic.Client {
	t.Helper()
	url := os.Getenv("OBSCTL_TEST_ELASTICSEARCH_URL")
	if url == "" {
		t.Skip("set OBSCTL_TEST_ELASTICSEARCH_URL to run against a real Elasticsearch")
	}
	c, err := Client(url, os.Getenv("OBSCTL_TEST_ELASTICSEARCH_USERNAME"), os.Getenv("OBSCTL_TEST_ELASTICSEARCH_PASSWORD"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
