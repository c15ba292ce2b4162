package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/grafana-tools/sdk"

	"github.com/obsctl/obsctl/test/grafanafake"
)

func startGrafana(t *testing.T) (*grafanafake.Server, *sdk.Client) {
	t.Helper()
	g, err := grafanafake.Start("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	g.Token = "t0ken"
	c, err := sdk.NewClient(g.URL, "t0ken", http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}
	return g, c
}

func board(file, folder, uid, title string) Board {
	return Board{File: file, Folder: folder, JSON: []byte(fmt.Sprintf(`{
  "uid": %q,
  "title": %q,
  "tags": ["obsctl"],
  "schemaVersion": 39,
  "panels": [
    {"id": 1, "type": "timeseries", "title": "Up", "datasource": {"type": "prometheus", "uid": "prometheus"},
     "targets": [{"refId": "A", "expr": "up"}]}
  ]
}
`, uid, title))}
}

// summary is one line per change: "Kind name action".
func summary(cs []Change) string {
	var lines []string
	for _, c := range cs {
		lines = append(lines, c.Ref()+" "+c.Action)
	}
	return strings.Join(lines, "\n")
}

func push(t *testing.T, c *sdk.Client, boards []Board, o PushOptions) []Change {
	t.Helper()
	if o.Stack == "" {
		o.Stack = "monitoring"
	}
	cs, err := Push(context.Background(), c, boards, o)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	return cs
}

// A push creates, a second is a no-op, an edit in the repo configures,
// an edit made in Grafana's UI is taken back, and prune deletes only what
// the stack pushed.
func TestPush(t *testing.T) {
	g, c := startGrafana(t)
	g.AddDatasource(map[string]any{"uid": "prometheus", "name": "Prometheus", "type": "prometheus", "url": "http://127.0.0.1:9090", "access": "proxy"})
	g.AddBoard(map[string]any{"uid": "theirs", "title": "Theirs", "tags": []any{"obsctl"}}, "")
	boards := []Board{
		board("dashboards/nodes.json", "obsctl", "nodes", "Nodes"),
		board("dashboards/team-a/api.json", "team-a", "api", "API"),
	}
	loki := sdk.Datasource{UID: "loki", Name: "Loki", Type: "loki", URL: "http://127.0.0.1:3100", Access: "proxy",
		JSONData: map[string]any{"maxLines": 1000}, SecureJSONData: map[string]any{"httpHeaderValue1": "Bearer s3cret"}}
	o := PushOptions{Datasources: []sdk.Datasource{loki}, Prune: true}

	// A dry run says what it would do and does nothing.
	dry := o
	dry.DryRun = true
	if got, want := summary(push(t, c, boards, dry)), "Datasource loki created\nFolder obsctl created\nFolder team-a created\nDashboard nodes created\nDashboard api created"; got != want {
		t.Fatalf("dry run:\n%s\nwant\n%s", got, want)
	}
	if g.Board("nodes") != nil || g.Datasource("loki") != nil || len(g.Folders()) != 0 {
		t.Fatal("a dry run changed Grafana")
	}

	if got, want := summary(push(t, c, boards, o)), "Datasource loki created\nFolder obsctl created\nFolder team-a created\nDashboard nodes created\nDashboard api created"; got != want {
		t.Fatalf("first push:\n%s\nwant\n%s", got, want)
	}
	if f := g.FolderOf("api"); f != "team-a" {
		t.Errorf("api is in folder %q, want team-a", f)
	}
	if f := g.FolderOf("nodes"); f != "obsctl" {
		t.Errorf("nodes is in folder %q, want obsctl", f)
	}
	if sec, _ := g.Datasource("loki")["secureJsonData"].(map[string]any); sec["httpHeaderValue1"] != "Bearer s3cret" {
		t.Errorf("the datasource's secret did not reach Grafana: %v", g.Datasource("loki"))
	}
	if tags := fmt.Sprint(g.Board("nodes")["tags"]); tags != "[obsctl obsctl-stack:monitoring]" {
		t.Errorf("tags %s", tags)
	}

	// Grafana added id, version and iteration and migrated the schema:
	// nothing to do.
	posts := g.Requests["POST /api/dashboards/db"]
	if got, want := summary(push(t, c, boards, o)), "Datasource loki unchanged\nFolder obsctl unchanged\nFolder team-a unchanged\nDashboard nodes unchanged\nDashboard api unchanged"; got != want {
		t.Fatalf("second push:\n%s\nwant\n%s", got, want)
	}
	if g.Requests["POST /api/dashboards/db"] != posts || g.Requests["PUT /api/datasources/"] != 0 {
		t.Errorf("an unchanged push wrote: %v", g.Requests)
	}

	// An edit in Grafana's UI is taken back, and the diff shows it.
	g.Edit("nodes", func(b map[string]any) { b["title"] = "Nodes (edited)" })
	cs := push(t, c, boards, o)
	if got := summary(cs); !strings.Contains(got, "Dashboard nodes configured") {
		t.Fatalf("after an edit in the UI:\n%s", got)
	}
	for _, ch := range cs {
		if ch.Name == "nodes" && (!strings.Contains(ch.Diff, `-  "title": "Nodes (edited)",`) || !strings.Contains(ch.Diff, `+  "title": "Nodes",`)) {
			t.Errorf("diff:\n%s", ch.Diff)
		}
	}
	if title := g.Board("nodes")["title"]; title != "Nodes" {
		t.Errorf("title %v after the push", title)
	}

	// A dashboard gone from the repo is pruned; one the stack did not push
	// is never touched.
	if got, want := summary(push(t, c, boards[:1], o)), "Datasource loki unchanged\nFolder obsctl unchanged\nDashboard nodes unchanged\nDashboard api pruned"; got != want {
		t.Fatalf("prune:\n%s\nwant\n%s", got, want)
	}
	if g.Board("api") != nil {
		t.Error("api is still there")
	}
	if g.Board("theirs") == nil {
		t.Error("a dashboard obsctl did not push was pruned")
	}
	if !strings.Contains(strings.Join(g.Folders(), ","), "team-a") {
		t.Error("a folder was deleted")
	}
}

// A dashboard of the same uid that obsctl did not push, or another
// stack's, is left alone; --adopt takes over the first only.
func TestPushConflicts(t *testing.T) {
	g, c := startGrafana(t)
	g.AddDatasource(map[string]any{"uid": "prometheus", "name": "Prometheus", "type": "prometheus"})
	g.AddBoard(map[string]any{"uid": "nodes", "title": "Made by hand"}, "")
	g.AddBoard(map[string]any{"uid": "api", "title": "API", "tags": []any{"obsctl-stack:blue"}}, "")
	boards := []Board{board("dashboards/nodes.json", "obsctl", "nodes", "Nodes"), board("dashboards/api.json", "obsctl", "api", "API")}
	cs := push(t, c, boards, PushOptions{Prune: true})
	if got, want := summary(cs), "Folder obsctl created\nDashboard nodes conflict\nDashboard api conflict"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(cs[1].Note, "--adopt") || cs[2].Note != "owned by stack blue" {
		t.Errorf("notes %q, %q", cs[1].Note, cs[2].Note)
	}
	if g.Board("nodes")["title"] != "Made by hand" || g.Board("api") == nil {
		t.Fatal("a conflict was changed")
	}
	cs = push(t, c, boards, PushOptions{Adopt: true})
	if got, want := summary(cs), "Folder obsctl unchanged\nDashboard nodes configured\nDashboard api conflict"; got != want {
		t.Fatalf("--adopt:\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(cs[1].Note, "adopted") || !strings.Contains(cs[1].Note, `moved from folder "General"`) {
		t.Errorf("note %q", cs[1].Note)
	}
}

// What the Grafana lacks is said on the dashboard that reads it; a
// datasource whose name another uid holds is a conflict.
func TestPushDatasources(t *testing.T) {
	g, c := startGrafana(t)
	g.AddDatasource(map[string]any{"uid": "old-loki", "name": "Loki", "type": "loki"})
	g.AddDatasource(map[string]any{"uid": "tempo", "name": "Tempo", "type": "tempo", "url": "http://127.0.0.1:3200", "access": "proxy"})
	tempo := sdk.Datasource{UID: "tempo", Name: "Tempo", Type: "tempo", URL: "http://127.0.0.1:3201", Access: "proxy"}
	loki := sdk.Datasource{UID: "loki", Name: "Loki", Type: "loki", URL: "http://127.0.0.1:3100", Access: "proxy"}
	g.AddDatasource(map[string]any{"uid": "thanos", "name": "Thanos", "type": "prometheus", "jsonData": map[string]any{"obsctlStack": "blue"}})
	thanos := sdk.Datasource{UID: "thanos", Name: "Thanos", Type: "prometheus", URL: "http://127.0.0.1:10902", Access: "proxy"}
	boards := []Board{board("dashboards/nodes.json", "obsctl", "nodes", "Nodes")}
	// A datasource of the uid that obsctl did not push, or another
	// stack's, is left alone.
	cs := push(t, c, boards, PushOptions{Datasources: []sdk.Datasource{tempo, loki, thanos}})
	if got, want := summary(cs), "Datasource tempo conflict\nDatasource loki conflict\nDatasource thanos conflict\nFolder obsctl created\nDashboard nodes created"; got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if g.Datasource("tempo")["url"] != "http://127.0.0.1:3200" || !strings.Contains(cs[0].Note, "--adopt") || cs[2].Note != "owned by stack blue" {
		t.Errorf("a conflict was changed, or said wrong: %v, %q, %q", g.Datasource("tempo"), cs[0].Note, cs[2].Note)
	}
	if !strings.Contains(cs[4].Note, "datasource prometheus, which this Grafana does not have") {
		t.Errorf("note %q", cs[4].Note)
	}
	// --adopt takes over the one nobody owns, and marks it the stack's.
	cs = push(t, c, boards, PushOptions{Datasources: []sdk.Datasource{tempo}, Adopt: true})
	if got := summary(cs); !strings.HasPrefix(got, "Datasource tempo configured") || cs[0].Note != "adopted (--adopt)" {
		t.Fatalf("--adopt: %s %q", got, cs[0].Note)
	}
	if g.Datasource("tempo")["url"] != "http://127.0.0.1:3201" {
		t.Errorf("tempo not configured: %v", g.Datasource("tempo"))
	}
	if got := summary(push(t, c, boards, PushOptions{Datasources: []sdk.Datasource{tempo}})); !strings.HasPrefix(got, "Datasource tempo unchanged") {
		t.Errorf("after adopting: %s", got)
	}
}

// Grafana's refusals are said in words: wrong credentials, a token that
// may only read.
func TestPushRefused(t *testing.T) {
	g, c := startGrafana(t)
	bad, _ := sdk.NewClient(g.URL, "wrong", http.DefaultClient)
	_, err := Push(context.Background(), bad, []Board{board("dashboards/nodes.json", "obsctl", "nodes", "Nodes")}, PushOptions{Stack: "monitoring"})
	if err == nil || !strings.Contains(err.Error(), "refused the credentials (401)") {
		t.Errorf("401: %v", err)
	}
	g.ReadOnly = true
	_, err = Push(context.Background(), c, []Board{board("dashboards/nodes.json", "obsctl", "nodes", "Nodes")}, PushOptions{Stack: "monitoring"})
	if err == nil || !strings.Contains(err.Error(), "(403)") {
		t.Errorf("403: %v", err)
	}
	_, err = Push(context.Background(), c, []Board{{File: "dashboards/x.json", Folder: "obsctl", JSON: []byte(`{"title": "X"}`)}}, PushOptions{Stack: "monitoring", DryRun: true})
	if err == nil || !strings.Contains(err.Error(), "dashboards/x.json: the dashboard has no uid") {
		t.Errorf("no uid: %v", err)
	}
}

// A dashboard saved in Grafana between obsctl's read and its write is not
// overwritten unseen: Grafana refuses the write (412), and push says so.
// A title another dashboard of the folder has is Grafana's refusal too.
func TestPushRaces(t *testing.T) {
	g, c := startGrafana(t)
	g.AddDatasource(map[string]any{"uid": "prometheus", "name": "Prometheus", "type": "prometheus"})
	boards := []Board{board("dashboards/nodes.json", "obsctl", "nodes", "Nodes")}
	push(t, c, boards, PushOptions{})
	g.Edit("nodes", func(b map[string]any) { b["refresh"] = "5s" })
	once := false
	g.BeforeSave = func(uid string) {
		if !once {
			once = true
			g.Edit(uid, func(b map[string]any) { b["refresh"] = "10s" })
		}
	}
	_, err := Push(context.Background(), c, boards, PushOptions{Stack: "monitoring"})
	if err == nil || !strings.Contains(err.Error(), "dashboard nodes was changed in Grafana while obsctl applied it (412)") {
		t.Fatalf("a save in between: %v", err)
	}
	if g.Board("nodes")["refresh"] != "10s" {
		t.Errorf("the save made in between was overwritten: %v", g.Board("nodes")["refresh"])
	}
	g.BeforeSave = nil
	if got := summary(push(t, c, boards, PushOptions{})); !strings.Contains(got, "Dashboard nodes configured") {
		t.Errorf("the next push: %s", got)
	}

	g.AddBoard(map[string]any{"uid": "by-hand", "title": "Twin"}, "obsctl")
	_, err = Push(context.Background(), c, []Board{board("dashboards/twin.json", "obsctl", "twin", "Twin")}, PushOptions{Stack: "monitoring"})
	if err == nil || !strings.Contains(err.Error(), "dashboards/twin.json: dashboard twin: Grafana answered 412: A dashboard with the same name in the folder already exists") {
		t.Errorf("a title taken in the folder: %v", err)
	}
}

// An error answer without Grafana's message field (a proxy's) is an error,
// not a panic inside the sdk.
func TestPushProxyError(t *testing.T) {
	g, c := startGrafana(t)
	g.ProxyError = http.StatusBadGateway
	_, err := Push(context.Background(), c, []Board{board("dashboards/nodes.json", "obsctl", "nodes", "Nodes")}, PushOptions{Stack: "monitoring"})
	if err == nil || !strings.Contains(err.Error(), "dashboards/nodes.json: dashboard nodes: Grafana, or a proxy in front of it, refused the dashboard") {
		t.Errorf("err = %v", err)
	}
}

// Pruning most of the stack's dashboards (an emptied dashboards/ folder)
// needs confirming: without Yes nothing is deleted, a dry run says so.
func TestPushMassPrune(t *testing.T) {
	g, c := startGrafana(t)
	var boards []Board
	for _, n := range []string{"a", "b", "c", "d"} {
		boards = append(boards, board("dashboards/"+n+".json", "obsctl", n, "Board "+n))
	}
	push(t, c, boards, PushOptions{Prune: true})
	dry := push(t, c, boards[:1], PushOptions{Prune: true, DryRun: true})
	if got := summary(dry); !strings.Contains(got, "Dashboard d pruned") || !strings.Contains(dry[len(dry)-1].Note, "needs --yes") {
		t.Errorf("dry run: %s", got)
	}
	_, err := Push(context.Background(), c, boards[:1], PushOptions{Stack: "monitoring", Prune: true})
	var mass *MassPruneError
	if !errors.As(err, &mass) || len(mass.Dashboards) != 3 || mass.Of != 4 {
		t.Fatalf("err = %v", err)
	}
	if g.Board("d") == nil {
		t.Fatal("a mass prune was done unconfirmed")
	}
	if got := summary(push(t, c, boards[:1], PushOptions{Prune: true, Yes: true})); !strings.Contains(got, "Dashboard b pruned\nDashboard c pruned\nDashboard d pruned") {
		t.Errorf("confirmed: %s", got)
	}
}
