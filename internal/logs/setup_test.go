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

func changes(cs []Change) string {
	var out []string
	for _, c := range cs {
		s := c.Object.Ref() + " " + c.Action
		if c.Note != "" {
			s += " (" + c.Note + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}

// Setup creates each pipeline's template and policy, does nothing on
// re-apply, updates what changed, and prunes what no pipeline wants,
// keeping a policy indices still use; a dry run changes nothing.
func TestSetup(t *testing.T) {
	ctx := context.Background()
	srv, c := startES(t, nil)
	apps := pipeline("apps", "logs-apps", "app.kubernetes.io/name", "app", "team", "team")
	web := pipeline("web", "logs-web", "app.kubernetes.io/name", "service")
	web.Parse = fluentd.Parse{Format: fluentd.FormatRegexp, Regexp: `^(?<method>[A-Z]+) (?<path>\S+) (?<status>\d+) (?<at>.*)$`, TimeKey: "at"}
	both := Desired("shop", []*fluentd.Pipeline{apps, web}, 7*24*time.Hour)

	got, err := Setup(ctx, c, "shop", both, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Template("obsctl-shop-apps") != nil {
		t.Error("a dry run put a template")
	}
	want := `LifecyclePolicy obsctl-shop-apps created
IndexTemplate obsctl-shop-apps created
LifecyclePolicy obsctl-shop-web created
IndexTemplate obsctl-shop-web created`
	if changes(got) != want {
		t.Errorf("dry run:\n%s\nwant\n%s", changes(got), want)
	}
	if _, err := Setup(ctx, c, "shop", both, true, false); err != nil {
		t.Fatal(err)
	}
	tpl := srv.Template("obsctl-shop-apps")
	if tpl == nil || fmt.Sprint(tpl["index_patterns"]) != "[logs-apps-*]" || fmt.Sprint(tpl["priority"]) != "200" {
		t.Fatalf("template: %v", tpl)
	}
	for _, want := range []string{"app:map[type:keyword]", "team:map[type:keyword]", "labels:map[type:flattened]", "name:obsctl-shop-apps", "limit:2000"} {
		if !strings.Contains(fmt.Sprint(tpl["template"]), want) {
			t.Errorf("template lacks %s: %v", want, tpl["template"])
		}
	}
	webTpl := fmt.Sprint(srv.Template("obsctl-shop-web")["template"])
	for _, want := range []string{"method:map[type:keyword]", "status:map[type:keyword]", "service:map[type:keyword]"} {
		if !strings.Contains(webTpl, want) {
			t.Errorf("web's template lacks %s: %v", want, webTpl)
		}
	}
	if strings.Contains(webTpl, "at:map") {
		t.Errorf("web's time key is mapped as a keyword: %v", webTpl)
	}
	if pol := srv.Policy("obsctl-shop-apps"); !strings.Contains(fmt.Sprint(pol), "min_age:7d") {
		t.Errorf("policy: %v", pol)
	}

	got, err = Setup(ctx, c, "shop", both, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(changes(got), "unchanged") != 4 {
		t.Errorf("re-apply:\n%s", changes(got))
	}
	if n := srv.Requests("PUT /_index_template/obsctl-shop-apps"); n != 1 {
		t.Errorf("the template was put %d times", n)
	}

	// A longer retention changes the policies; web goes away, and its
	// index still uses its policy.
	srv.Add(esfake.Doc{Index: "logs-web-2026.12.05", ID: "1", Source: map[string]any{"log": "x"}})
	got, err = Setup(ctx, c, "shop", Desired("shop", []*fluentd.Pipeline{apps}, 14*24*time.Hour), true, false)
	if err != nil {
		t.Fatal(err)
	}
	want = `LifecyclePolicy obsctl-shop-apps configured
IndexTemplate obsctl-shop-apps unchanged
IndexTemplate obsctl-shop-web deleted
LifecyclePolicy obsctl-shop-web kept (indices still use it: logs-web-2026.12.05)`
	if changes(got) != want {
		t.Errorf("after removing web:\n%s\nwant\n%s", changes(got), want)
	}
	if srv.Template("obsctl-shop-web") != nil || srv.Policy("obsctl-shop-web") == nil {
		t.Error("web's template should be gone and its policy kept")
	}
	// Another stack's objects are not this one's.
	other, err := Setup(ctx, c, "other", nil, true, false)
	if err != nil || len(other) != 0 {
		t.Errorf("another stack saw %v (%v)", changes(other), err)
	}
}

// What the templates are for, as Elasticsearch 7.17 behaves: without
// them, the built-in logs-*-* template makes a pipeline's daily index a
// data stream, which refuses the index operations Fluentd's output sends;
// with them, the index is plain, and a decorated field is a keyword that
// refuses an object.
func TestTemplatesKeepFluentdsWritesPlain(t *testing.T) {
	ctx := context.Background()
	_, c := startES(t, nil)
	index := "logs-apps-" + time.Now().UTC().Format("2006.01.02")
	write := func(id string, src map[string]any) string {
		t.Helper()
		res, err := c.Bulk().Add(elastic.NewBulkIndexRequest().Index(index).Id(id).Doc(src)).Do(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if f := res.Failed(); len(f) > 0 {
			return f[0].Error.Type + ": " + f[0].Error.Reason
		}
		return ""
	}
	if got := write("1", map[string]any{"log": "x", "app": "checkout"}); got != "illegal_argument_exception: only write ops with an op_type of create are allowed in data streams" {
		t.Errorf("before the templates: %q", got)
	}
	// Fluentd wrote first: the day's index is a data stream now, and
	// stays one. Setup deletes it, empty as it is.
	apps := pipeline("apps", "logs-apps", "app.kubernetes.io/name", "app")
	got, err := Setup(ctx, c, "shop", Desired("shop", []*fluentd.Pipeline{apps}, 7*24*time.Hour), true, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(changes(got), "DataStream "+index+" deleted (empty: Elasticsearch's built-in logs-*-* template made it") {
		t.Errorf("the stray data stream:\n%s", changes(got))
	}
	if got := write("2", map[string]any{"log": "x", "app": "checkout"}); got != "" {
		t.Errorf("after the templates: %q", got)
	}
	if got := write("3", map[string]any{"log": "x", "app": map[string]any{"name": "checkout"}}); !strings.HasPrefix(got, "mapper_parsing_exception: failed to parse field [app] of type [keyword]") {
		t.Errorf("an object where the template says keyword: %q", got)
	}
}

// A data stream that holds records (written with create, by something
// else than Fluentd) is kept, and said so: deleting it would lose them.
func TestDataStreamWithRecordsIsKept(t *testing.T) {
	ctx := context.Background()
	_, c := startES(t, nil)
	index := "logs-web-2026.12.05"
	res, err := c.Bulk().Add(elastic.NewBulkCreateRequest().Index(index).Id("1").Doc(map[string]any{"log": "kept"})).Do(ctx)
	if err != nil || res.Errors {
		t.Fatalf("create in a data stream: %v %+v", err, res)
	}
	got, err := Setup(ctx, c, "shop", Desired("shop", []*fluentd.Pipeline{pipeline("web", "logs-web")}, 24*time.Hour), true, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "DataStream " + index + " kept (it holds 1 record(s)"; !strings.Contains(changes(got), want) {
		t.Errorf("want %q in:\n%s", want, changes(got))
	}
}

// Two pipelines whose indices lint's pipelines/shared-index says can be
// the same are those whose templates Elasticsearch refuses to keep side by
// side (the test server intersects the patterns as Elasticsearch does),
// and no others.
func TestSharedIndexIsWhatElasticsearchRefuses(t *testing.T) {
	ctx := context.Background()
	undated := func(p *fluentd.Pipeline) *fluentd.Pipeline {
		p.Output.DateSuffix = new(bool)
		return p
	}
	for _, tc := range []struct {
		a, b *fluentd.Pipeline
	}{
		{pipeline("a", "logs-app"), pipeline("b", "logs-app")},
		{pipeline("a", "logs-app"), pipeline("b", "logs-app-web")},
		{pipeline("a", "logs-app-web"), pipeline("b", "logs-app")},
		{pipeline("a", "logs-app"), pipeline("b", "logs-apps")},
		{pipeline("a", "logs-app"), pipeline("b", "logs-ap")},
		{pipeline("a", "logs-app"), undated(pipeline("b", "logs-app-archive"))},
		{pipeline("a", "logs-app"), undated(pipeline("b", "logs-app"))},
		{undated(pipeline("a", "logs-app")), undated(pipeline("b", "logs-app"))},
		{undated(pipeline("a", "logs-app")), undated(pipeline("b", "logs-app-web"))},
		{undated(pipeline("a", "logs-app-2024.05.31")), pipeline("b", "logs-app")},
	} {
		name := fmt.Sprintf("%s,%s", tc.a.Output.IndexPattern(), tc.b.Output.IndexPattern())
		t.Run(name, func(t *testing.T) {
			_, c := startES(t, nil)
			_, err := Setup(ctx, c, "shop", Desired("shop", []*fluentd.Pipeline{tc.a, tc.b}, 24*time.Hour), false, false)
			refused := err != nil && strings.Contains(err.Error(), "same priority")
			if err != nil && !refused {
				t.Fatal(err)
			}
			if lint := tc.a.Output.Overlaps(&tc.b.Output); lint != refused || tc.b.Output.Overlaps(&tc.a.Output) != lint {
				t.Errorf("Overlaps = %v, Elasticsearch refuses = %v (%v)", lint, refused, err)
			}
		})
	}
}

// MappedFields counts objects and the fields inside them, as
// Elasticsearch counts against the total fields limit.
func TestMappedFields(t *testing.T) {
	p := pipeline("apps", "logs-apps", "app.kubernetes.io/name", "app", "team", "team")
	// @timestamp, log, stream, kubernetes and its seven, app, team.
	if got := MappedFields(p); got != 13 {
		t.Errorf("MappedFields = %d, want 13", got)
	}
}

// The day indices a pipeline wrote before its template was there, or
// before obsctl kept retention with ILM, are given the pipeline's policy,
// once: not an index of another name, nor one that has a policy already.
// An undated index gets no policy, which would delete all of it at once.
func TestOlderIndicesTakeThePolicy(t *testing.T) {
	ctx := context.Background()
	seed := func(index string) esfake.Doc {
		return esfake.Doc{Index: index, ID: "1", Source: map[string]any{"log": "x"}}
	}
	srv, c := startES(t, []esfake.Doc{
		seed("logs-apps-2026.11.30"), seed("logs-apps-2026.12.01"), seed("logs-apps-archive"),
		seed("logs-web-2026.12.01"), seed("logs-audit"),
	})
	if _, err := c.IndexPutSettings("logs-web-2026.12.01").BodyJson(map[string]any{"index": map[string]any{"lifecycle": map[string]any{"name": "theirs"}}}).Do(ctx); err != nil {
		t.Fatal(err)
	}
	audit := pipeline("audit", "logs-audit")
	audit.Output.DateSuffix = new(bool)
	desired := Desired("shop", []*fluentd.Pipeline{pipeline("apps", "logs-apps"), pipeline("web", "logs-web"), audit}, 7*24*time.Hour)
	for _, o := range desired {
		if o.Name == "obsctl-shop-audit" && (o.Kind == KindPolicy || policyOf(o) != "") {
			t.Errorf("an undated index's pipeline has a policy: %s %v", o.Ref(), o.Body)
		}
	}
	want := "Indices logs-apps-* configured (2 indices, logs-apps-2026.11.30 to logs-apps-2026.12.01 made without a policy now take obsctl-shop-apps: each is deleted once the retention has passed since it was made)"
	for _, dry := range []bool{true, false} {
		got, err := Setup(ctx, c, "shop", desired, true, dry)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(changes(got), want) || strings.Count(changes(got), "Indices ") != 1 {
			t.Errorf("dry run %v:\n%s\nwant %s", dry, changes(got), want)
		}
		if p := srv.Lifecycle("logs-apps-2026.11.30"); dry != (p == "") {
			t.Errorf("dry run %v: logs-apps-2026.11.30 has policy %q", dry, p)
		}
	}
	for index, want := range map[string]string{
		"logs-apps-2026.12.01": "obsctl-shop-apps", "logs-apps-archive": "",
		"logs-web-2026.12.01": "theirs", "logs-audit": "",
	} {
		if got := srv.Lifecycle(index); got != want {
			t.Errorf("%s has policy %q, want %q", index, got, want)
		}
	}
	got, err := Setup(ctx, c, "shop", desired, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(changes(got), "Indices") {
		t.Errorf("re-apply:\n%s", changes(got))
	}
}

// startES serves docs from the Elasticsearch stand-in for the test, and
// returns it with a client of it.
func startES(t *testing.T, docs []esfake.Doc) (*esfake.Server, *elastic.Client) {
	t.Helper()
	srv, err := esfake.Start("", docs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c, err := Client(srv.URL, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}
