// Package e2elogs proves the log path's Elasticsearch set-up end to end:
// obsctl apply, on a local control plane, stands the stack up and then
// puts each pipeline's index template and ILM policy into the
// Elasticsearch at --elasticsearch-url, here test/esfake (an Elasticsearch
// 7.17 stand-in) on the cluster's loopback block: Elasticsearch cannot run
// here, and the API server refuses to proxy to loopback, so the e2e proves
// the external-URL path. Re-applying changes nothing, diff and a server
// dry run only say what would change, and removing a pipeline deletes its
// template and keeps its policy while an index still uses it. The Kibana
// index patterns follow, in test/esfake's Kibana 7.17 stand-in. obsctl logs
// then finds records by pod label in the same server. Without URLs, apply
// and logs go through the Kubernetes API by port-forward to the stack's
// pods: kwok serves the node's kubelet API here, and forwards the pods'
// ports 9200 and 5601 to the stand-ins, so that path is proven too, as
// the user obsctl generated for Elasticsearch.
//
// The same cluster serves the push to a Grafana outside it
// (grafana_test.go): apply and diff against test/grafanafake, a stand-in
// that answers as Grafana's HTTP API does.
package e2elogs

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/obsctl/obsctl/test/cluster"
	"github.com/obsctl/obsctl/test/e2ekit"
	"github.com/obsctl/obsctl/test/esfake"
)

var (
	harness cluster.Harness
	// es and kb are the Elasticsearch and Kibana stand-ins, on loopback;
	// kwok's kubelet of the cluster's node forwards the stack's pods'
	// ports 9200 and 5601 to them.
	es *esfake.Server
	kb *esfake.Kibana
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if es, err = esfake.Start("127.0.0.1:0", nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer es.Close()
	if kb, err = esfake.StartKibana("127.0.0.1:0"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer kb.Close()
	dir, err := os.MkdirTemp("", "e2elogs-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	forward := fmt.Sprintf(`apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterPortForward
metadata:
  name: e2elogs
spec:
  selector:
    matchNamespaces: [monitoring]
  forwards:
    - ports: [9200]
      target: {address: 127.0.0.1, port: %d}
    - ports: [5601]
      target: {address: 127.0.0.1, port: %d}
`, port(es.URL), port(kb.URL))
	conf := filepath.Join(dir, "port-forward.yaml")
	if err := os.WriteFile(conf, []byte(forward), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return harness.Main(m, cluster.Options{Nodes: 1, KubeletConfigs: []string{conf}})
}

func port(u string) int {
	i := strings.LastIndex(u, ":")
	p, _ := strconv.Atoi(u[i+1:])
	return p
}

const pipelineFile = `apiVersion: obsctl/v1
kind: Pipeline
name: %s
%s
decorate:
  podLabels:
    app.kubernetes.io/name: %s
output:
  index: logs-%s
`

func writeRepo(t *testing.T, dir, retention string, pipelines map[string]string) {
	t.Helper()
	conf := "apiVersion: obsctl/v1\nname: e2elogs\ndefaults: false\nstack:\n  profile: minimal\n  components:\n    elasticsearch: {retention: " + retention + "}\n"
	if err := os.WriteFile(filepath.Join(dir, "obsctl.yaml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	pdir := filepath.Join(dir, "pipelines")
	os.RemoveAll(pdir)
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, match := range pipelines {
		body := fmt.Sprintf(pipelineFile, name, match, "app", name)
		if err := os.WriteFile(filepath.Join(pdir, name+".yaml"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestApplySetsUpElasticsearch(t *testing.T) {
	c := harness.Cluster(t)
	es.User, es.Password = "elastic", "e2e-not-a-secret"
	kb.User, kb.Password = "elastic", "e2e-not-a-secret"
	dir := t.TempDir()
	writeRepo(t, dir, "7d", map[string]string{"apps": "", "web": "match:\n  namespaces: [web]"})
	env := []string{"OBSCTL_ELASTICSEARCH_USERNAME=elastic", "OBSCTL_ELASTICSEARCH_PASSWORD=e2e-not-a-secret"}
	apply := func(args ...string) e2ekit.Result {
		t.Helper()
		return e2ekit.ObsctlEnv(t, c, dir, env, append([]string{"apply", "--elasticsearch-url", es.URL, "--kibana-url", kb.URL, "--wait=false", "--timeout", "2m"}, args...)...)
	}

	r := apply()
	if r.Code != 0 {
		t.Fatalf("apply: exit %d", r.Code)
	}
	for _, want := range []string{
		"IndexTemplate obsctl-e2elogs-apps created (Elasticsearch)",
		"LifecyclePolicy obsctl-e2elogs-web created (Elasticsearch)",
		"IndexPattern obsctl-e2elogs-apps created (Kibana)",
		"IndexPattern obsctl-e2elogs-all-logs created (Kibana)",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("apply's output lacks %q", want)
		}
	}
	if strings.Contains(r.Stdout+r.Stderr, "e2e-not-a-secret") {
		t.Error("the password is in apply's output")
	}
	tpl := es.Template("obsctl-e2elogs-apps")
	if tpl == nil || fmt.Sprint(tpl["index_patterns"]) != "[logs-apps-*]" {
		t.Fatalf("template: %v", tpl)
	}

	r = apply()
	if r.Code != 0 || strings.Count(r.Stdout, "unchanged (Elasticsearch)") != 4 || strings.Count(r.Stdout, "unchanged (Kibana)") != 3 {
		t.Errorf("re-apply: exit %d, want 4 unchanged Elasticsearch objects and 3 Kibana ones:\n%s", r.Code, r.Stdout)
	}

	// diff shows what apply would do there, as comments, and exits 1.
	writeRepo(t, dir, "14d", map[string]string{"apps": "", "web": "match:\n  namespaces: [web]"})
	r = e2ekit.ObsctlEnv(t, c, dir, env, "diff", "--elasticsearch-url", es.URL, "--kibana-url", kb.URL)
	if r.Code != 1 || !strings.Contains(r.Stdout, "# LifecyclePolicy obsctl-e2elogs-apps configured (Elasticsearch)\n") ||
		!strings.Contains(r.Stdout, "# IndexTemplate obsctl-e2elogs-apps unchanged (Elasticsearch)\n") {
		t.Errorf("diff: exit %d\n%s", r.Code, r.Stdout)
	}

	// A longer retention, in a server dry run: said, not done.
	writeRepo(t, dir, "14d", map[string]string{"apps": "", "web": "match:\n  namespaces: [web]"})
	r = apply("--dry-run=server")
	if r.Code != 0 || !strings.Contains(r.Stdout, "LifecyclePolicy obsctl-e2elogs-apps configured (Elasticsearch, server dry run)") {
		t.Errorf("dry run: exit %d\n%s", r.Code, r.Stdout)
	}
	if !strings.Contains(fmt.Sprint(es.Policy("obsctl-e2elogs-apps")), "min_age:7d") {
		t.Errorf("the dry run changed the policy: %v", es.Policy("obsctl-e2elogs-apps"))
	}

	// web goes; its index still uses its policy, which is kept.
	es.Add(esfake.Doc{Index: "logs-web-" + time.Now().UTC().Format("2006.01.02"), ID: "w1", Source: map[string]any{
		"@timestamp": time.Now().UTC().Format(time.RFC3339Nano), "log": "GET / 200", "app": "frontend",
		"kubernetes": map[string]any{"namespace_name": "web", "pod_name": "frontend-1", "container_name": "nginx"},
	}})
	writeRepo(t, dir, "14d", map[string]string{"apps": ""})
	r = apply()
	for _, want := range []string{
		"LifecyclePolicy obsctl-e2elogs-apps configured (Elasticsearch)",
		"IndexTemplate obsctl-e2elogs-web deleted (Elasticsearch)",
		"LifecyclePolicy obsctl-e2elogs-web kept (Elasticsearch): indices still use it: logs-web-",
		"IndexPattern obsctl-e2elogs-web deleted (Kibana)",
		"IndexPattern obsctl-e2elogs-all-logs configured (Kibana)",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("after removing web, apply's output lacks %q:\n%s", want, r.Stdout)
		}
	}

	// Without a URL, apply reaches the stack's own Elasticsearch and Kibana
	// through the Kubernetes API: a port-forward to a ready pod, which
	// kwok's kubelet sends on to the stand-ins, as the user obsctl
	// generated for Elasticsearch.
	cs := cluster.NewClient(t, c.RESTConfig())
	sec, err := cs.CoreV1().Secrets("monitoring").Get(cluster.Context(t), "elasticsearch-credentials", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	es.User, es.Password = string(sec.Data["username"]), string(sec.Data["password"])
	kb.User, kb.Password = es.User, es.Password
	r = e2ekit.ObsctlEnv(t, c, dir, nil, "apply", "--wait=false", "--timeout", "2m")
	if r.Code != 0 || strings.Count(r.Stdout, "unchanged (Elasticsearch)") != 2 || strings.Count(r.Stdout, "unchanged (Kibana)") != 2 {
		t.Errorf("apply through the port-forward: exit %d, want the two Elasticsearch objects and two Kibana ones of apps unchanged:\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if strings.Contains(r.Stdout+r.Stderr, es.Password) {
		t.Error("the generated password is in apply's output")
	}

	// obsctl logs without a URL goes the same way.
	es.Add(esfake.Doc{Index: "logs-apps-" + time.Now().UTC().Format("2006.01.02"), ID: "f1", Source: map[string]any{
		"@timestamp": time.Now().UTC().Format(time.RFC3339Nano), "log": "through the port-forward", "app": "frontend",
		"kubernetes": map[string]any{"namespace_name": "web", "pod_name": "frontend-1", "container_name": "nginx"},
	}})
	r = e2ekit.ObsctlEnv(t, c, dir, nil, "logs", "-l", "app.kubernetes.io/name=frontend", "-o", "raw")
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "through the port-forward" {
		t.Errorf("logs through the port-forward: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	es.User, es.Password = "elastic", "e2e-not-a-secret"

	// The records of the web pipeline's index are still found, through
	// the pipeline that lifts the label now.
	es.Add(esfake.Doc{Index: "logs-apps-" + time.Now().UTC().Format("2006.01.02"), ID: "a1", Source: map[string]any{
		"@timestamp": time.Now().UTC().Format(time.RFC3339Nano), "log": "order placed", "app": "checkout",
		"kubernetes": map[string]any{"namespace_name": "shop", "pod_name": "checkout-1", "container_name": "app"},
	}})
	r = e2ekit.ObsctlEnv(t, c, dir, env, "logs", "-l", "app.kubernetes.io/name=checkout", "--elasticsearch-url", es.URL)
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "[shop/checkout-1/app] order placed" {
		t.Errorf("logs: exit %d\n%s", r.Code, r.Stdout)
	}
}
