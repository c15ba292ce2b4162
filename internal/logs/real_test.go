package logs

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

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
	url := os.Getenv("OBSCTL_TEST_ELASTICSEARCH_URL")
	if url == "" {
		t.Skip("set OBSCTL_TEST_ELASTICSEARCH_URL to run against a real Elasticsearch")
	}
	ctx := context.Background()
	c, err := Client(url, os.Getenv("OBSCTL_TEST_ELASTICSEARCH_USERNAME"), os.Getenv("OBSCTL_TEST_ELASTICSEARCH_PASSWORD"), nil)
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("obsctl-test-logs-%d", time.Now().UnixNano())
	now := time.Now().UTC()
	index := prefix + "-" + now.Format("2006.01.02")
	t.Cleanup(func() { _, _ = c.DeleteIndex(index).Do(ctx) })
	for i, app := range []string{"checkout", "cart", "checkout"} {
		d := doc(fmt.Sprint(i), now.Add(time.Duration(i-5)*time.Second), app, fmt.Sprintf("%s line %d", app, i))
		if _, err := c.Index().Index(index).Id(d.ID).BodyJson(d.Source).Do(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Refresh(index).Do(ctx); err != nil {
		t.Fatal(err)
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
