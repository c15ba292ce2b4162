package logs

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/obsctl/obsctl/internal/fluentd"
	"github.com/obsctl/obsctl/test/esfake"
	"github.com/olivere/elastic/v7"
)

func pipeline(name, index string, lifts ...string) *fluentd.Pipeline {
	p := &fluentd.Pipeline{Name: name, Output: fluentd.Output{Index: index}}
	for i := 0; i+1 < len(lifts); i += 2 {
		p.Decorate.PodLabels = append(p.Decorate.PodLabels, fluentd.Pair{Key: lifts[i], Value: lifts[i+1]})
	}
	return p
}

func doc(id string, at time.Time, app, line string) esfake.Doc {
	return esfake.Doc{Index: "logs-apps-" + at.Format("2006.01.02"), ID: id, Source: map[string]any{
		"@timestamp": at.UTC().Format(time.RFC3339Nano), "log": line, "app": app,
		"kubernetes": map[string]any{"namespace_name": "shop", "pod_name": app + "-1", "container_name": "app"},
	}}
}

// checkoutSearch serves docs, with the credentials user and password
// when user is set, and returns the server, the plan of a search for the
// checkout pods' records since then, and a client with those credentials.
func checkoutSearch(t *testing.T, docs []esfake.Doc, user, password string, since time.Duration) (*esfake.Server, *Plan, *elastic.Client) {
	t.Helper()
	srv, err := esfake.Start("", docs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	srv.User, srv.Password = user, password
	plan, err := Resolve(Query{Selector: "app.kubernetes.io/name=checkout", Since: since}, []*fluentd.Pipeline{pipeline("apps", "logs-apps", "app.kubernetes.io/name", "app")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Client(srv.URL, user, password, nil)
	if err != nil {
		t.Fatal(err)
	}
	return srv, plan, c
}

func lines(t *testing.T, run func(func(Record) error) error) []string {
	t.Helper()
	var out []string
	if err := run(func(r Record) error { out = append(out, r.Line); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// Records over several pages, with records of other pods between them,
// all come back, in order, once.
func TestSearchPages(t *testing.T) {
	defer func(n int) { pageSize = n }(pageSize)
	pageSize = 2
	now := time.Now()
	var docs []esfake.Doc
	var want []string
	for i := range 7 {
		docs = append(docs, doc(fmt.Sprint("c", i), now.Add(time.Duration(i-10)*time.Minute), "checkout", fmt.Sprint("line ", i)))
		docs = append(docs, doc(fmt.Sprint("o", i), now.Add(time.Duration(i-10)*time.Minute), "other", "not this"))
		want = append(want, fmt.Sprint("line ", i))
	}
	srv, plan, c := checkoutSearch(t, docs, "", "", time.Hour)
	got := lines(t, func(emit func(Record) error) error { _, err := Search(context.Background(), c, plan, emit); return err })
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
	if n := srv.Requests("POST /logs-apps-*/_search"); n != 4 {
		t.Errorf("%d search requests for 7 records in pages of 2, want 4", n)
	}
}

// A busy cluster's 429 is retried; wrong credentials are explained.
func TestSearchErrors(t *testing.T) {
	srv, plan, c := checkoutSearch(t, []esfake.Doc{doc("a", time.Now().Add(-time.Minute), "checkout", "hello")}, "elastic", "right", 0)
	srv.Reject(2)
	got := lines(t, func(emit func(Record) error) error { _, err := Search(context.Background(), c, plan, emit); return err })
	if len(got) != 1 || got[0] != "hello" {
		t.Errorf("after two 429s: %q", got)
	}
	srv.Reject(10)
	if _, err := Search(context.Background(), c, plan, func(Record) error { return nil }); err == nil || !strings.Contains(err.Error(), "too busy to search (429 es_rejected_execution_exception") {
		t.Errorf("429 after the retries: %v", err)
	}
	srv.Reject(0)
	bad, err := Client(srv.URL, "elastic", "wrong", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Search(context.Background(), bad, plan, func(Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "refused the credentials (401 security_exception: unable to authenticate user [elastic]") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: %v", err)
	}
}

// Follow prints records indexed after it started, and those indexed late
// with an older time, once each.
func TestFollow(t *testing.T) {
	start := time.Now()
	srv, plan, c := checkoutSearch(t, []esfake.Doc{doc("a", start.Add(-time.Minute), "checkout", "before")}, "", "", time.Hour)
	var got []string
	emitted, err := Search(context.Background(), c, plan, func(r Record) error { got = append(got, r.Line); return nil })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	seen := make(chan string, 10)
	go func() {
		done <- Follow(ctx, c, plan, emitted, 20*time.Millisecond, 30*time.Second, func(r Record) error { seen <- r.Line; return nil })
	}()
	next := func() string {
		select {
		case l := <-seen:
			return l
		case <-time.After(5 * time.Second):
			t.Fatal("follow printed nothing in 5s")
			return ""
		}
	}
	srv.Add(doc("b", time.Now(), "checkout", "new"))
	if l := next(); l != "new" {
		t.Errorf("first followed record %q", l)
	}
	// Flushed late: older than the newest record seen, within the overlap.
	srv.Add(doc("c", start.Add(-10*time.Second), "checkout", "late"))
	if l := next(); l != "late" {
		t.Errorf("late record %q", l)
	}
	time.Sleep(100 * time.Millisecond) // a few more polls
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(seen)
	for l := range seen {
		t.Errorf("printed again: %q", l)
	}
	if strings.Join(got, "|") != "before" {
		t.Errorf("search before following: %q", got)
	}
}

func TestResolve(t *testing.T) {
	ps := []*fluentd.Pipeline{
		pipeline("apps", "logs-apps", "app.kubernetes.io/name", "app", "team", "team"),
		pipeline("web", "logs-web", "app.kubernetes.io/name", "service"),
	}
	p, err := Resolve(Query{Selector: "app.kubernetes.io/name=x,team"}, ps)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Targets) != 1 || p.Targets[0].Pipeline.Name != "apps" || strings.Join(p.Indices, ",") != "logs-apps-*" {
		t.Errorf("a selector only apps lifts whole: %+v", p.Indices)
	}
	if _, err := Resolve(Query{Selector: "tier=web"}, ps); err == nil || !strings.Contains(err.Error(), `pipeline web does not lift label "tier" (it lifts "app.kubernetes.io/name")`) {
		t.Errorf("unlifted label: %v", err)
	}
	if _, err := Resolve(Query{Selector: ""}, ps); err == nil {
		t.Error("an empty selector is refused")
	}
}
