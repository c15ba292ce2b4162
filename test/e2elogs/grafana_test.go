package e2elogs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/test/cluster"
	"github.com/obsctl/obsctl/test/e2ekit"
	"github.com/obsctl/obsctl/test/grafanafake"
)

// The Grafana stand-in's token, and a datasource's password: neither may
// appear in anything obsctl prints.
const (
	grafanaToken = "e2e-grafana-token-not-a-secret"
	lokiPassword = "e2e-loki-password-not-a-secret"
)

const grafanaConfig = `apiVersion: obsctl/v1
name: e2egrafana
defaults: false
grafana:
  url: %s
  token: {secret: {name: grafana-push, key: token}}
  datasources:
    - {name: Loki, type: loki, uid: loki, url: "http://127.0.0.1:3100", basicAuth: {username: obsctl, password: {env: E2E_LOKI_PASSWORD}}}
stack:
  namespace: e2egrafana-mon
  profile: minimal
  components:
    elasticsearch: {enabled: false}
    fluentd: {enabled: false}
    kibana: {enabled: false}
    jaeger: {enabled: false}
    nodeExporter: {enabled: false}
`

func grafanaBoard(uid, title string) string {
	return fmt.Sprintf(`{
  "uid": %q,
  "title": %q,
  "tags": ["obsctl"],
  "schemaVersion": 39,
  "panels": [
    {"id": 1, "type": "timeseries", "title": "Up", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
     "datasource": {"type": "loki", "uid": "loki"},
     "targets": [{"refId": "A", "expr": "{app=\"api\"}"}]}
  ]
}
`, uid, title)
}

// TestApplyPushesToGrafana proves obsctl apply against a Grafana outside
// the cluster (test/grafanafake, which answers as Grafana's HTTP API
// does): it creates the repo's datasources, folders and dashboards, with
// the token read from a Secret in the cluster; a re-apply changes nothing
// although Grafana added ids, versions and migrated the schema; an edit
// made in Grafana's UI shows in diff and apply takes it back; a dashboard
// gone from the repo is pruned, and one obsctl did not push is never
// touched.
func TestApplyPushesToGrafana(t *testing.T) {
	c := harness.Cluster(t)
	g, err := grafanafake.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	g.Token = grafanaToken
	g.AddBoard(map[string]any{"uid": "made-by-hand", "title": "Made by hand", "tags": []any{"obsctl"}}, "")

	cs := cluster.NewClient(t, c.RESTConfig())
	ctx := cluster.Context(t)
	// The namespace holds the Secret before the stack is applied, and is
	// the stack's to take over (the adopt annotation).
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2egrafana-mon", Annotations: map[string]string{kube.AnnotationAdopt: "true"}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "grafana-push", Namespace: "e2egrafana-mon"}, StringData: map[string]string{"token": grafanaToken}}
	if _, err := cs.CoreV1().Secrets("e2egrafana-mon").Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("obsctl.yaml", fmt.Sprintf(grafanaConfig, g.URL))
	write("rules/.keep", "")
	write("dashboards/overview.json", grafanaBoard("e2e-overview", "Overview"))
	write("dashboards/team-a/api.json", grafanaBoard("e2e-api", "API"))
	env := []string{"E2E_LOKI_PASSWORD=" + lokiPassword}
	run := func(args ...string) e2ekit.Result {
		t.Helper()
		r := e2ekit.ObsctlEnv(t, c, dir, env, append(args, "--timeout", "2m")...)
		if out := r.Stdout + r.Stderr; strings.Contains(out, grafanaToken) || strings.Contains(out, lokiPassword) {
			t.Fatalf("obsctl %s printed a secret:\n%s", strings.Join(args, " "), out)
		}
		return r
	}

	r := run("apply", "--wait=false")
	if r.Code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	for _, want := range []string{
		"Datasource loki created (Grafana)",
		"Folder obsctl created (Grafana)",
		"Folder team-a created (Grafana)",
		"Dashboard e2e-overview created (Grafana)",
		"Dashboard e2e-api created (Grafana)",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("apply's output lacks %q:\n%s", want, r.Stdout)
		}
	}
	if g.FolderOf("e2e-api") != "team-a" || g.FolderOf("e2e-overview") != "obsctl" {
		t.Errorf("folders: e2e-api in %q, e2e-overview in %q", g.FolderOf("e2e-api"), g.FolderOf("e2e-overview"))
	}
	if sec, _ := g.Datasource("loki")["secureJsonData"].(map[string]any); sec["basicAuthPassword"] != lokiPassword {
		t.Errorf("the datasource's password did not reach Grafana")
	}

	r = run("apply", "--wait=false")
	if r.Code != 0 || strings.Count(r.Stdout, "unchanged (Grafana)") != 5 {
		t.Errorf("re-apply: exit %d, want 5 unchanged in Grafana:\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}

	// An edit in Grafana's UI: diff shows it and exits 1, apply takes it
	// back.
	g.Edit("e2e-api", func(b map[string]any) { b["title"] = "API (edited)" })
	r = run("diff")
	if r.Code != 1 || !strings.Contains(r.Stdout, "# Dashboard e2e-api configured (Grafana)\n") ||
		!strings.Contains(r.Stdout, `-  "title": "API (edited)",`) || !strings.Contains(r.Stdout, `+  "title": "API",`) {
		t.Errorf("diff: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	r = run("apply", "--wait=false", "--dry-run=server")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Dashboard e2e-api configured (Grafana, server dry run)") || g.Board("e2e-api")["title"] != "API (edited)" {
		t.Errorf("server dry run: exit %d\n%s", r.Code, r.Stdout)
	}
	r = run("apply", "--wait=false")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Dashboard e2e-api configured (Grafana)") || g.Board("e2e-api")["title"] != "API" {
		t.Errorf("apply after the edit: exit %d\n%s", r.Code, r.Stdout)
	}

	// A dashboard gone from the repo is pruned; the one made by hand is not.
	if err := os.RemoveAll(filepath.Join(dir, "dashboards", "team-a")); err != nil {
		t.Fatal(err)
	}
	r = run("apply", "--wait=false")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Dashboard e2e-api pruned (Grafana)") {
		t.Errorf("apply after removing a dashboard: exit %d\n%s", r.Code, r.Stdout)
	}
	if g.Board("e2e-api") != nil || g.Board("made-by-hand") == nil || g.Datasource("loki") == nil {
		t.Errorf("after the prune: e2e-api %v, made-by-hand %v, loki %v", g.Board("e2e-api") != nil, g.Board("made-by-hand") != nil, g.Datasource("loki") != nil)
	}
}
