// Package e2eoperator runs the real Prometheus Operator, built from the
// module of the version the stack pins (test/programs), against a local
// control plane of its own on which obsctl applied the embedded default
// stack. The operator runs outside the simulated nodes with a token of the
// ServiceAccount the stack renders for it, so its RBAC is proven too, and
// it binds the address kwok gave its pod, so that its ServiceMonitor's
// target is the program itself. The test checks that it turns the stack's
// Prometheus and Alertmanager into StatefulSets that become ready, sets
// their status conditions, writes a Prometheus configuration that promtool
// accepts, and that obsctl status then says the whole stack is ready.
// Then the real kube-state-metrics and node-exporters run where their pods
// are, and the real Prometheus on the configuration and rule files the
// operator generated (with its ServiceAccount's token): every ServiceMonitor
// of a program that runs gives targets that are up under the job label the
// default rules select on, and the default Watchdog alert fires.
//
// The apiserver refuses loopback addresses in Endpoints and EndpointSlices,
// so the cluster's own controllers cannot publish the Services' endpoints:
// programs.MirrorEndpoints writes them as FQDN EndpointSlices, which
// Prometheus' endpointslice discovery reads as any other.
package e2eoperator

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/obsctl/obsctl/test/cluster"
	"github.com/obsctl/obsctl/test/e2ekit"
	"github.com/obsctl/obsctl/test/programs"
)

var harness cluster.Harness

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, cluster.Options{Nodes: 3}))
}

// receiverSecrets creates the Secrets the default routing's receivers
// read, as a user would with kubectl create secret, pointing at loopback.
func receiverSecrets(t *testing.T, cs cluster.Client, ns string) {
	t.Helper()
	for name, key := range map[string]string{"alertmanager-opsgenie": "api-key", "alertmanager-pagerduty": "routing-key", "alertmanager-slack": "webhook-url"} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: map[string]string{key: "http://127.0.0.1:9/e2e-placeholder"}}
		if _, err := cs.CoreV1().Secrets(ns).Create(cluster.Context(t), s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}

var (
	prometheuses  = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "prometheuses"}
	alertmanagers = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "alertmanagers"}
)

// condition returns the status of a condition the operator set on a
// resource, with its reason and message, once it has seen the resource's
// latest generation.
func condition(o *unstructured.Unstructured, typ string) (status, why string) {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] != typ {
			continue
		}
		if g, _ := m["observedGeneration"].(int64); g != o.GetGeneration() {
			return "", fmt.Sprintf("condition %s is of generation %d, the resource is at %d", typ, g, o.GetGeneration())
		}
		s, _ := m["status"].(string)
		return s, fmt.Sprintf("%s=%s (%v: %v)", typ, s, m["reason"], m["message"])
	}
	return "", "no condition " + typ
}

func TestOperatorReconcilesTheStack(t *testing.T) {
	c := harness.Cluster(t)
	ctx := cluster.Context(t)
	cs := cluster.NewClient(t, c.RESTConfig())
	operator := programs.Bin(t, programs.Operator)
	const ns = "monitoring"

	// The first apply holds Alertmanager back until the receiver Secrets
	// the user creates are there.
	empty := t.TempDir() // no obsctl.yaml: the embedded default repo
	if r := e2ekit.Obsctl(t, c, empty, "apply", "--profile", "minimal", "--timeout", "3m"); r.Code != 1 {
		t.Fatalf("apply without the receiver Secrets: exit %d, want 1", r.Code)
	}
	receiverSecrets(t, cs, ns)
	if r := e2ekit.Obsctl(t, c, empty, "apply", "--profile", "minimal", "--timeout", "3m"); r.Code != 0 {
		t.Fatalf("apply: exit %d", r.Code)
	}
	if r := e2ekit.Obsctl(t, c, empty, "status"); r.Code != 4 {
		t.Errorf("status before the operator runs: exit %d, want 4 (Prometheus and Alertmanager not ready)", r.Code)
	} else {
		for _, want := range []string{"Prometheus monitoring/k8s: the Prometheus Operator has not reported on it", "Alertmanager monitoring/main: the Prometheus Operator has not reported on it"} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("status does not say %q", want)
			}
		}
	}

	// The operator as its Deployment says, but outside the simulated node:
	// with its ServiceAccount's token, listening where kwok put its pod.
	depNS, depName, err := programs.FindOperator(ctx, c)
	if err != nil || depNS != ns {
		t.Fatalf("the operator's Deployment: %q %q, %v", depNS, depName, err)
	}
	op, err := programs.StartOperator(ctx, c, operator, depNS, depName)
	if err != nil {
		t.Fatal(err)
	}
	listen := op.Listen

	// The operator's own metrics, where its ServiceMonitor scrapes them.
	e2ekit.Eventually(t, c, time.Minute, "the operator's metrics", func() (bool, string) {
		code, body := e2ekit.Get("http://" + listen + "/metrics")
		return code == http.StatusOK && strings.Contains(body, "prometheus_operator_"), fmt.Sprintf("%d %.200s", code, body)
	})

	// Prometheus and Alertmanager become StatefulSets whose pods the
	// simulated nodes make ready, and the operator says they are.
	for _, gvr := range []schema.GroupVersionResource{prometheuses, alertmanagers} {
		list, err := cs.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) == 0 {
			t.Fatalf("%s: %v (%d)", gvr.Resource, err, len(list.Items))
		}
		for _, item := range list.Items {
			name := item.GetName()
			e2ekit.Eventually(t, c, 3*time.Minute, gvr.Resource+" "+name+" available and reconciled", func() (bool, string) {
				o, err := cs.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, err.Error()
				}
				avail, why := condition(o, "Available")
				rec, why2 := condition(o, "Reconciled")
				return avail == "True" && rec == "True", why + "; " + why2
			})
		}
	}
	sts, err := cs.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range sts.Items {
		names = append(names, s.Name)
	}
	for _, want := range []string{"prometheus-k8s", "alertmanager-main"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Errorf("no StatefulSet %s (there are %v)", want, names)
		}
	}

	// The configuration it generates for Prometheus is one promtool
	// accepts (syntax: the files it names are the pod's).
	secret, err := cs.CoreV1().Secrets(ns).Get(ctx, "prometheus-k8s", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(secret.Data["prometheus.yaml.gz"]))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	for _, job := range []string{"serviceMonitor/monitoring/", "kubernetes_sd_configs"} {
		if !bytes.Contains(conf, []byte(job)) {
			t.Errorf("the generated configuration has no %q:\n%s", job, conf)
		}
	}
	confPath := filepath.Join(t.TempDir(), "prometheus.yaml")
	if err := os.WriteFile(confPath, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	promtool := filepath.Join(programs.RepoRoot(t), "test", "bin", "promtool-"+promVersion(t))
	if out, err := exec.Command(promtool, "check", "config", "--syntax-only", confPath).CombinedOutput(); err != nil {
		t.Errorf("promtool check config: %v\n%s", err, out)
	}

	// The operator did all this with its own ServiceAccount's rights.
	if r := e2ekit.Obsctl(t, c, empty, "status", "--wait", "1m"); r.Code != 0 {
		t.Errorf("status with the operator running: exit %d, want 0", r.Code)
	}

	scrapes(t, c, ns)
}

// scrapes runs the real kube-state-metrics and node-exporters where the
// stack's pods are, and the real Prometheus on what the operator
// generated, and checks that every ServiceMonitor of a running program
// gives targets that are up, under the job label the default rules and
// dashboards select on, and that the metrics the default alerts read
// arrive.
func scrapes(t *testing.T, c *cluster.Cluster, ns string) {
	ctx := cluster.Context(t)
	const agents = "monitoring-agents"
	ksm, err := programs.StartKubeStateMetrics(ctx, c, programs.Bin(t, programs.KubeStateMetrics), ns, "kube-state-metrics")
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := programs.StartNodeExporters(ctx, c, programs.Bin(t, programs.NodeExporter), agents, "node-exporter")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-state-metrics on %s, node-exporters on %v", ksm, nodes)
	dashboardObjects(t, c, ns)
	if err := programs.MirrorEndpoints(ctx, c, ns, agents); err != nil {
		t.Fatal(err)
	}
	// The default stack (named obsctl) scrapes the control plane through
	// Services of its own in kube-system, and the API server through
	// default/kubernetes: here they lead to the real API server, etcd,
	// scheduler and controller manager.
	if err := programs.MirrorControlPlane(ctx, c, "obsctl"); err != nil {
		t.Fatal(err)
	}
	prom, err := programs.StartPrometheus(ctx, c, programs.Bin(t, programs.Prometheus), ns, "k8s", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The programs that run answer under the job the rules select on,
	// the control plane's with Prometheus' own token where they ask for
	// one; the targets of the components that do not run here are down.
	// kube-state-metrics answers on two ports: its objects' and its own
	// telemetry's.
	want := map[string]int{"kube-state-metrics": 2, "node-exporter": len(nodes), "prometheus-operator": 1, "prometheus": 1,
		"apiserver": 1, "etcd": 1, "kube-scheduler": 1, "kube-controller-manager": 1}
	e2ekit.Eventually(t, c, 2*time.Minute, "targets up", func() (bool, string) {
		code, body := e2ekit.Get("http://" + prom + "/api/v1/targets?state=active")
		if code != http.StatusOK {
			return false, fmt.Sprintf("%d %.300s", code, body)
		}
		var res struct {
			Data struct {
				ActiveTargets []struct {
					Labels    map[string]string `json:"labels"`
					ScrapeURL string            `json:"scrapeUrl"`
					Health    string            `json:"health"`
					LastError string            `json:"lastError"`
				} `json:"activeTargets"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte(body), &res); err != nil {
			return false, err.Error()
		}
		up := map[string]int{}
		var seen []string
		for _, tg := range res.Data.ActiveTargets {
			seen = append(seen, fmt.Sprintf("%s %s %s %s", tg.Labels["job"], tg.ScrapeURL, tg.Health, tg.LastError))
			if tg.Health == "up" {
				up[tg.Labels["job"]]++
			}
		}
		for job, n := range want {
			if up[job] != n {
				return false, fmt.Sprintf("job %s has %d targets up, want %d; targets:\n%s", job, up[job], n, strings.Join(seen, "\n"))
			}
		}
		return true, ""
	})
	// Every job the default rules and dashboards select on is the job
	// label of some target, whether its program runs here or not; but the
	// kubelet's, whose Endpoints the operator cannot write on a loopback
	// cluster, and kube-proxy's, CoreDNS's and the cluster autoscaler's,
	// which do not run here (what selects them finds no pod: render's
	// tests hold their ServiceMonitors and PodMonitor).
	code, body := e2ekit.Get("http://" + prom + "/api/v1/targets?state=active")
	if code != http.StatusOK {
		t.Fatalf("targets: %d %.300s", code, body)
	}
	jobs := map[string]bool{}
	for _, m := range regexp.MustCompile(`"job":"([^"]+)"`).FindAllStringSubmatch(body, -1) {
		jobs[m[1]] = true
	}
	for _, job := range selectedJobs(t) {
		if !jobs[job] && !slices.Contains([]string{"kubelet", "kube-proxy", "coredns", "cluster-autoscaler"}, job) {
			t.Errorf("the default content selects job=%q, which no target has (jobs: %v)", job, jobs)
		}
	}

	dashboardsReturnData(t, c, prom)

	// What the default alerts read arrives, with the labels they use.
	for _, q := range []string{
		`kube_deployment_status_replicas_available{job="kube-state-metrics", namespace="monitoring", deployment="prometheus-operator"}`,
		`etcd_server_has_leader{job="etcd"} == 1`,
		`scheduler_pending_pods{job="kube-scheduler"}`,
		`workqueue_depth{job="kube-controller-manager"}`,
		`apiserver_request_total{job="apiserver", verb="LIST"}`,
		`node_filesystem_avail_bytes{job="node-exporter", fstype!=""}`,
		`up{job="prometheus-operator"} == 1`,
		`prometheus_build_info{job="prometheus", version="3.13.5"}`,
		`ALERTS{alertname="Watchdog", alertstate="firing"}`,
	} {
		e2ekit.Eventually(t, c, time.Minute, "a sample of "+q, func() (bool, string) {
			code, body := e2ekit.Get("http://" + prom + "/api/v1/query?query=" + url.QueryEscape(q))
			return code == http.StatusOK && strings.Contains(body, `"result":[{`), fmt.Sprintf("%d %.300s", code, body)
		})
	}
}

// promVersion is the Prometheus module version obsctl evaluates with, which
// promtool is built from (make promtool-bin).
func promVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(programs.RepoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "github.com/prometheus/prometheus" {
			return f[1]
		}
	}
	t.Fatal("go.mod requires no github.com/prometheus/prometheus")
	return ""
}

// selectedJobs returns the jobs the default rules and dashboards select
// on (job="..." matchers).
func selectedJobs(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"rules/*.yaml", "dashboards/*.json"} {
		m, err := filepath.Glob(filepath.Join(programs.RepoRoot(t), pattern))
		if err != nil {
			t.Fatal(err)
		}
		// The rules' tests are not selections: their input series may
		// name other jobs, to show an alert silent on them.
		files = append(files, slices.DeleteFunc(m, func(f string) bool { return strings.HasSuffix(f, "_test.yaml") })...)
	}
	seen := map[string]bool{}
	var out []string
	// job=, not cronjob= or any other label ending in job.
	re := regexp.MustCompile(`(?:^|[^a-z_])job=\\?"([a-z0-9-]+)\\?"`)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(data, -1) {
			if j := string(m[1]); !seen[j] {
				seen[j] = true
				out = append(out, j)
			}
		}
	}
	if len(out) < 5 {
		t.Fatalf("found only the jobs %v in the default content", out)
	}
	return out
}
