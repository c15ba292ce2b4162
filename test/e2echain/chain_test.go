// Package e2echain proves the alert chain end to end on real programs: a
// repo made of the embedded default (its routing, receivers of every kind,
// its rules with `for` shortened to fit the test, expressions unchanged,
// and a test-only pair of rules at two severities for inhibition) is
// applied to a local control plane of its own; the real Prometheus
// Operator reconciles it; the real kube-state-metrics and node-exporters
// run where their pods are; the real Prometheus evaluates the rules the
// operator wrote and sends to the real Alertmanager, on the configuration
// obsctl compiled (as the operator hands it over), whose receivers all
// point at a test receiver on loopback; Prometheus scrapes the real API
// server, etcd, scheduler and controller manager through the Services the
// stack keeps for them. Failures induced on the cluster (a Deployment
// whose pods never schedule, a node that stops being Ready, an autoscaler
// whose target is gone, a client whose certificate expires in two days,
// a client whose calls etcd keeps failing, the scheduler and the
// controller manager stopped, after their alerts were seen silent) fire
// default alerts of three severities from the workloads, nodes,
// autoscalers, API server, etcd, scheduler and controller manager; each
// notification reaches the receiver its severity routes to
// with its labels and annotations, and the higher severity of the pair
// inhibits the lower.
package e2echain

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	obsctlrepo "github.com/obsctl/obsctl"
	"github.com/obsctl/obsctl/test/cluster"
	"github.com/obsctl/obsctl/test/e2ekit"
	"github.com/obsctl/obsctl/test/programs"
)

var harness cluster.Harness

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, cluster.Options{Nodes: 3}))
}

// receiver is the test's stand-in for Opsgenie, PagerDuty, Slack and the
// heartbeat: it keeps every request's path and body.
type receiver struct {
	mu   sync.Mutex
	got  []notification
	addr string
}

type notification struct{ path, body string }

func startReceiver(t *testing.T) *receiver {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{addr: l.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, notification{req.URL.Path, string(body)})
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"result":"ok","status":"success","message":"Event processed","took":0.1,"requestId":"e2e"}`)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return r
}

// find returns the first notification to a path prefix whose body holds
// every one of the strings.
func (r *receiver) find(prefix string, all ...string) (notification, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.got {
		if !strings.HasPrefix(n.path, prefix) {
			continue
		}
		ok := true
		for _, s := range all {
			ok = ok && strings.Contains(n.body, s)
		}
		if ok {
			return n, true
		}
	}
	return notification{}, false
}

func (r *receiver) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	alertname := regexp.MustCompile(`(FIRING|RESOLVED):\d+\] ([A-Za-z0-9]+)`)
	for _, n := range r.got {
		fmt.Fprintf(&b, "%s %v\n", n.path, alertname.FindAllString(n.body, 3))
	}
	return b.String()
}

// chainRepo writes the repo: the embedded default's obsctl.yaml with every
// receiver pointed at the test receiver and shorter grouping waits, its
// rules with `for` shortened and nothing else changed, and a test-only
// pair of rules at two severities.
func chainRepo(t *testing.T, rcv string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := string(obsctlrepo.DefaultConfig)
	for old, repl := range map[string]string{
		"  scrapeInterval: 30s\n":                        "  scrapeInterval: 5s\n",
		"  evaluationInterval: 30s\n":                    "  evaluationInterval: 5s\n",
		"  requireCoverage: true\n":                      "  requireCoverage: false\n",
		"  groupWait: 30s\n":                             "  groupWait: 1s\n",
		"  groupInterval: 5m\n":                          "  groupInterval: 10s\n",
		"        priority: P1\n":                         "        priority: P1\n        apiURL: http://" + rcv + "/opsgenie/\n",
		"        severity: critical\n":                   "        severity: critical\n        url: http://" + rcv + "/pagerduty\n",
		"url: http://heartbeat.monitoring.svc:8080/ping": "url: http://" + rcv + "/heartbeat",
	} {
		if !strings.Contains(cfg, old) {
			t.Fatalf("the default obsctl.yaml no longer has %q, which this test replaces", old)
		}
		cfg = strings.Replace(cfg, old, repl, 1)
	}
	if err := os.WriteFile(filepath.Join(dir, "obsctl.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"dashboards", "pipelines"} {
		if err := os.CopyFS(filepath.Join(dir, d), os.DirFS(filepath.Join(programs.RepoRoot(t), d))); err != nil {
			t.Fatal(err)
		}
	}
	rules := filepath.Join(dir, "rules")
	if err := os.MkdirAll(rules, 0o755); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(programs.RepoRoot(t), "rules", "*.yaml"))
	forLine := regexp.MustCompile(`(?m)^(\s+)for: \S+$`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.yaml") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		data = forLine.ReplaceAll(data, []byte("${1}for: 15s"))
		if err := os.WriteFile(filepath.Join(rules, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pair := `groups:
  - name: e2e-inhibition
    rules:
` + twin("critical") + twin("warning")
	if err := os.WriteFile(filepath.Join(rules, "e2e.yaml"), []byte(pair), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// twin is one of the test-only pair: the same alert at a severity.
func twin(severity string) string {
	return `      - alert: E2ECheckoutDown
        expr: kube_deployment_status_replicas_available{job="kube-state-metrics", namespace="shop", deployment="checkout"} < 1
        for: 15s
        labels:
          severity: ` + severity + `
        annotations:
          summary: The e2e checkout Deployment has no available replica (` + severity + `).
          description: Deployment {{ $labels.namespace }}/{{ $labels.deployment }} has no available replica.
          runbook_url: https://github.com/obsctl/obsctl/blob/main/docs/runbooks/workloads.md
`
}

// rawProto hands a gRPC call's messages over as they are on the wire:
// obsctl's module does not depend on etcd's API types, and the one
// request this test sends is two bytes of protobuf.
type rawProto struct{}

func (rawProto) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawProto) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawProto) Name() string { return "proto" }

// failEtcdCalls is a client of etcd's gRPC API that etcd fails: it asks,
// twenty times a second until done closes, for a downgrade action this
// etcd does not know (DowngradeRequest{action: 99}, as a client newer than
// the server might). etcd changes nothing and answers "etcdserver: unknown
// method", an error it maps to no gRPC code, so with codes.Unknown, which
// its grpc_server_handled_total counts and EtcdGRPCErrorsHigh reads as a
// failure on the server's side. (Calls that fail with a code of the
// client's doing, FailedPrecondition as Auth.Authenticate without auth
// gets, are not counted; reads whose client gives up end Canceled, writes
// Canceled, Unknown or Unavailable as the timing falls: no steady rate.)
// The first call is made before it returns and must fail that way.
func failEtcdCalls(t *testing.T, etcdURL string, done <-chan struct{}) {
	t.Helper()
	u, err := url.Parse(etcdURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(u.Host, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	downgrade := func() error {
		req, resp := []byte{0x08, 99}, []byte(nil)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return conn.Invoke(ctx, "/etcdserverpb.Maintenance/Downgrade", &req, &resp, grpc.ForceCodecV2(rawProto{}))
	}
	if err := downgrade(); status.Code(err) != codes.Unknown {
		_ = conn.Close()
		t.Fatalf("etcd answered an unknown downgrade action with %v, want code Unknown", err)
	}
	go func() {
		defer conn.Close()
		every(50*time.Millisecond, done, func() { _ = downgrade() })
	}()
}

// every calls f every period until done closes.
func every(period time.Duration, done <-chan struct{}, f func()) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			f()
		}
	}
}

func TestAlertChain(t *testing.T) {
	c := harness.Cluster(t)
	ctx := cluster.Context(t)
	cs := cluster.NewClient(t, c.RESTConfig())
	rcv := startReceiver(t)
	repo := chainRepo(t, rcv.addr)
	const ns, agents = "monitoring", "monitoring-agents"

	if r := e2ekit.Obsctl(t, c, repo, "apply", "--timeout", "3m"); r.Code != 1 {
		t.Fatalf("apply without the receiver Secrets: exit %d, want 1", r.Code)
	}
	for name, kv := range map[string][2]string{
		"alertmanager-opsgenie":  {"api-key", "e2e-opsgenie-key"},
		"alertmanager-pagerduty": {"routing-key", "e2e-pagerduty-key"},
		"alertmanager-slack":     {"webhook-url", "http://" + rcv.addr + "/slack"},
	} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: map[string]string{kv[0]: kv[1]}}
		if _, err := cs.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	if r := e2ekit.Obsctl(t, c, repo, "apply", "--timeout", "3m"); r.Code != 0 {
		t.Fatalf("apply: exit %d", r.Code)
	}
	programs.OperatorFor(t, c, ns)
	if r := e2ekit.Obsctl(t, c, repo, "status", "--wait", "3m"); r.Code != 0 {
		t.Fatalf("status: exit %d", r.Code)
	}

	// The real programs, where their pods are.
	if _, err := programs.StartKubeStateMetrics(ctx, c, programs.Bin(t, programs.KubeStateMetrics), ns, "kube-state-metrics"); err != nil {
		t.Fatal(err)
	}
	if _, err := programs.StartNodeExporters(ctx, c, programs.Bin(t, programs.NodeExporter), agents, "node-exporter"); err != nil {
		t.Fatal(err)
	}
	if err := programs.MirrorEndpoints(ctx, c, ns, agents); err != nil {
		t.Fatal(err)
	}
	am, err := programs.StartAlertmanager(ctx, c, programs.Bin(t, programs.Alertmanager), ns, "main", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The API server, etcd, the scheduler and the controller manager,
	// through the Services the stack scrapes them by.
	if err := programs.MirrorControlPlane(ctx, c, "obsctl"); err != nil {
		t.Fatal(err)
	}
	prom, err := programs.StartPrometheus(ctx, c, programs.Bin(t, programs.Prometheus), ns, "k8s", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Prometheus on %s, Alertmanager on %s, receiver on %s", prom, am, rcv.addr)

	// A client whose certificate expires in two days keeps calling the
	// API server, which measures how long its clients' certificates
	// have left.
	expiring, err := c.ExpiringUserConfig(48*time.Hour, "e2e-expiring-client")
	if err != nil {
		t.Fatal(err)
	}
	ecs := cluster.NewClient(t, expiring)
	done := make(chan struct{})
	defer close(done)
	go func() {
		// Often enough to be more than 1% of the requests the API
		// server authenticates by certificate (the alert reads the 1st
		// percentile of what those certificates have left).
		every(250*time.Millisecond, done, func() { _, _ = ecs.Discovery().ServerVersion() })
	}()

	// While the scheduler and the controller manager run and answer,
	// their alerts are silent.
	for _, job := range []string{"kube-scheduler", "kube-controller-manager", "etcd", "apiserver"} {
		e2ekit.Eventually(t, c, 2*time.Minute, job+" scraped", func() (bool, string) {
			code, body := e2ekit.Get("http://" + prom + "/api/v1/query?query=" + url.QueryEscape(`up{job="`+job+`"} == 1`))
			return code == http.StatusOK && strings.Contains(body, `"result":[{`), fmt.Sprintf("%d %.300s", code, body)
		})
	}

	// Induced failures: a Deployment whose pods never schedule, and a node
	// that is not Ready.
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sel := map[string]string{"app": "checkout"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2),
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: sel},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"obsctl.dev/e2e": "no-such-node"},
					Containers:   []corev1.Container{{Name: "checkout", Image: "registry.k8s.io/pause:3.10"}},
				},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments("shop").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// An autoscaler whose target does not exist: the controller manager's
	// HPA controller reports AbleToScale=False.
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout-scaler", Namespace: "shop"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "checkout-gone"},
			MinReplicas:    ptr.To[int32](1), MaxReplicas: 4,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](80)}}}},
		},
	}
	if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers("shop").Create(ctx, hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "lost-node", Labels: map[string]string{corev1.LabelHostname: "lost-node"}}}
	if node, err = cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The node controller may write the new node first (its taints):
	// read it again on a conflict, as a kubelet would.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := cs.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady",
			Message: "container runtime is down", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// Once the autoscaler's controller has judged it, the scheduler and
	// the controller manager stop.
	// (cluster.Context's minute may be over by now.)
	later, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e2ekit.Eventually(t, c, 2*time.Minute, "the autoscaler judged unable to scale", func() (bool, string) {
		cur, err := cs.AutoscalingV2().HorizontalPodAutoscalers("shop").Get(later, hpa.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, cond := range cur.Status.Conditions {
			if cond.Type == autoscalingv2.AbleToScale && cond.Status == corev1.ConditionFalse {
				return true, ""
			}
		}
		return false, fmt.Sprintf("conditions %+v", cur.Status.Conditions)
	})
	code, body := e2ekit.Get("http://" + prom + "/api/v1/query?query=" + url.QueryEscape(`ALERTS{alertname=~"KubeSchedulerDown|KubeControllerManagerDown|KubeAPIDown|EtcdDown|EtcdGRPCErrorsHigh"}`))
	if code != http.StatusOK || !strings.Contains(body, `"result":[]`) {
		t.Fatalf("control plane alerts before any part stopped or failed: %d %.500s", code, body)
	}
	// etcd's calls from the API server alone do not fail: the client that
	// etcd fails starts now.
	failEtcdCalls(t, c.EtcdURL(), done)
	for _, name := range []string{cluster.KubeScheduler, cluster.KubeControllerManager} {
		if err := c.StopComponent(name); err != nil {
			t.Fatal(err)
		}
	}

	// Each default alert reaches the receiver its severity routes to, with
	// its labels and annotations.
	for _, want := range []struct {
		what, path string
		holds      []string
	}{
		{"page: DeploymentMajorityUnavailable to Opsgenie", "/opsgenie/v2/alerts",
			[]string{"DeploymentMajorityUnavailable", `"priority":"P1"`, "checkout", "More than half of a Deployment's replicas are down."}},
		{"critical: NodeStatusNotReady to PagerDuty", "/pagerduty",
			[]string{"NodeStatusNotReady", `"routing_key":"e2e-pagerduty-key"`, "lost-node", "A node has not been Ready for 15 minutes."}},
		{"warning: DeploymentAvailableBelowDesired to Slack #alerts", "/slack",
			[]string{"DeploymentAvailableBelowDesired", `"channel":"#alerts"`, "checkout"}},
		{"warning: HPAUnableToScale (the autoscalers) to Slack #alerts", "/slack",
			[]string{"HPAUnableToScale", `"channel":"#alerts"`, "checkout-scaler", "AbleToScale"}},
		{"critical: KubeSchedulerDown (the scheduler) to PagerDuty", "/pagerduty",
			[]string{"KubeSchedulerDown", `"routing_key":"e2e-pagerduty-key"`, "Prometheus reaches no kube-scheduler."}},
		{"critical: KubeControllerManagerDown (the controller manager) to PagerDuty", "/pagerduty",
			[]string{"KubeControllerManagerDown", `"routing_key":"e2e-pagerduty-key"`}},
		{"warning: KubeClientCertificateExpiringSoon (the API server) to Slack #alerts", "/slack",
			[]string{"KubeClientCertificateExpiringSoon", `"channel":"#alerts"`}},
		{"warning: EtcdGRPCErrorsHigh (etcd) to Slack #alerts", "/slack",
			[]string{"EtcdGRPCErrorsHigh", `"channel":"#alerts"`}},
		{"the Watchdog to the heartbeat", "/heartbeat",
			[]string{`"alertname":"Watchdog"`, `"severity":"info"`, `"receiver":"heartbeat"`}},
		{"critical: E2ECheckoutDown to PagerDuty", "/pagerduty",
			[]string{"E2ECheckoutDown", "(critical)"}},
	} {
		e2ekit.Eventually(t, c, 4*time.Minute, want.what, func() (bool, string) {
			_, ok := rcv.find(want.path, want.holds...)
			return ok, "the receiver got:\n" + rcv.summary()
		})
	}

	// The warning of the pair is inhibited by its critical: Alertmanager
	// holds it as suppressed, and no notification of it left.
	e2ekit.Eventually(t, c, time.Minute, "E2ECheckoutDown (warning) inhibited", func() (bool, string) {
		code, body := e2ekit.Get("http://" + am + "/api/v2/alerts?filter=" + url.QueryEscape(`alertname="E2ECheckoutDown"`) + "&filter=" + url.QueryEscape(`severity="warning"`))
		var alerts []struct {
			Status struct {
				State       string   `json:"state"`
				InhibitedBy []string `json:"inhibitedBy"`
			} `json:"status"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &alerts) != nil || len(alerts) == 0 {
			return false, fmt.Sprintf("%d %.500s", code, body)
		}
		for _, a := range alerts {
			if a.Status.State != "suppressed" || len(a.Status.InhibitedBy) == 0 {
				return false, body
			}
		}
		return true, ""
	})
	if n, ok := rcv.find("/slack", "E2ECheckoutDown"); ok {
		t.Errorf("the inhibited warning reached Slack:\n%s", n.body)
	}
}
