package e2eoperator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/test/cluster"
	"github.com/obsctl/obsctl/test/e2ekit"
	"github.com/obsctl/obsctl/test/programs"
)

// dashboardQuery is one PromQL query of a default dashboard's panel.
type dashboardQuery struct {
	where string // file, panel title and refId
	expr  string // with the dashboard's variables put in
}

// runningJobs are the jobs whose real programs run in this test
// (scrapes).
var runningJobs = []string{"kube-state-metrics", "node-exporter", "prometheus-operator", "prometheus", "apiserver", "etcd", "kube-scheduler", "kube-controller-manager"}

// emptyOnHealthy are the panels (file and title) or queries (file, title
// and refId) that show a failure, or what the stack does not do, and so
// return nothing on the healthy cluster of this test; each says why.
var emptyOnHealthy = map[string]string{
	`alerts.json "Rule evaluation failures"`:                                 "no rule fails to evaluate",
	`apiserver.json "Requests by code class" B`:                              "the API server answers no 3xx",
	`apiserver.json "Terminated requests"`:                                   "the API server terminates no request",
	`monitoring-stack.json "Remote write lag"`:                               "the stack writes nowhere remotely",
	`monitoring-stack.json "Remote write samples"`:                           "the stack writes nowhere remotely",
	`monitoring-stack.json "Rule evaluation failures and missed iterations"`: "no rule fails, no iteration is missed",
	`workloads.json "Container restarts"`:                                    "no container restarts",
	`workloads.json "Containers last terminated by OOM"`:                     "no container is killed",
	`workloads.json "Pods not ready"`:                                        "every pod is ready",
	`autoscaling.json "HPA conditions not healthy" A`:                        "the test's autoscaler is able to scale",
	`autoscaling.json "HPA conditions not healthy" C`:                        "no autoscaler is held by its bounds",
	`monitoring-stack.json "Remote write shards"`:                            "the stack writes nowhere remotely",
	`monitoring-stack.json "Discovery and target sync failures" A`:           "Kubernetes discovery counts its failures elsewhere (B); no other mechanism runs",
	`nodes.json "RAID array disks missing or failed"`:                        "the host has no software RAID array",
	`nodes.json "Bond links down"`:                                           "the host has no bonded interface",
	`workloads.json "Containers waiting, by reason"`:                         "no container waits",
	`workloads.json "Jobs" B`:                                                "no Job fails",
	`autoscaling.json "VPAs and their recommendations" C`:                    "the test's autoscaler has its recommendation",
	`autoscaling.json "HPAs" H`:                                              "the controller sets ScalingLimited only once it has metrics to scale on (this cluster has no metrics server)",
}

// jobRE finds the job matchers of a query.
var jobRE = regexp.MustCompile(`(?:^|[^a-z_])job(=~?|!=)"([^"]*)"`)

// dashboardQueries returns the queries of the default dashboards whose
// every job matcher names a program running here (job="x" or a regex of
// running jobs; a query with no job matcher, or job!="", reads series
// every target has). Variables take the value of All, and the rate and
// range intervals fixed values.
func dashboardQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(programs.RepoRoot(t), "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	vars := strings.NewReplacer("$__rate_interval", "2m", "$__range", "10m", "$__interval", "1m", "${__range}", "10m")
	varEq := regexp.MustCompile(`="\$\{?[A-Za-z_]+\}?"`)
	varAny := regexp.MustCompile(`\$\{?[A-Za-z_]+\}?`)
	var out []dashboardQuery
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// Read as lint reads it, panels of rows included.
		m, err := dashboard.Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, p := range m.Panels {
			for _, tg := range p.Targets() {
				expr, refID := partString(tg, "expr"), partString(tg, "refId")
				if expr == "" || !runsHere(expr) {
					continue
				}
				expr = vars.Replace(expr)
				expr = varEq.ReplaceAllString(expr, `=~".*"`)
				expr = varAny.ReplaceAllString(expr, `.*`)
				out = append(out, dashboardQuery{where: fmt.Sprintf("%s %q %s", filepath.Base(f), p.Title(), refID), expr: expr})
			}
		}
	}
	return out
}

// partString returns the string member key of a dashboard part, "" when
// it has none.
func partString(p *dashboard.Part, key string) string {
	var v string
	if f, ok := p.Field(key); ok {
		_ = json.Unmarshal(f.Value, &v)
	}
	return v
}

// runsHere reports whether every job a query selects runs here.
func runsHere(expr string) bool {
	ms := jobRE.FindAllStringSubmatch(expr, -1)
	for _, m := range ms {
		op, v := m[1], m[2]
		switch {
		case op == "!=" && v == "":
		case op == "=" && slices.Contains(runningJobs, v):
		case op == "=~" && !strings.ContainsAny(v, "$*.+?()[]") || op == "=~" && allRunning(v):
		default:
			return false
		}
	}
	return true
}

// allRunning reports whether an alternation of job names names running
// jobs only.
func allRunning(re string) bool {
	for _, j := range strings.Split(re, "|") {
		if !slices.Contains(runningJobs, j) {
			return false
		}
	}
	return true
}

// dashboardObjects creates what the storage, autoscaling and workloads
// dashboards show, which the stack itself does not have: a claim (Pending:
// the cluster has no storage class), a volume (Available), an autoscaler
// a disruption budget and a VerticalPodAutoscaler of the operator's
// Deployment, a quota, a Job and a CronJob.
func dashboardObjects(t *testing.T, c *cluster.Cluster, ns string) {
	ctx := cluster.Context(t)
	cs := cluster.NewClient(t, c.RESTConfig())
	storage := corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-dashboards", Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: storage},
		},
	}
	if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-dashboards"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:               storage,
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName:       "e2e-none",
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/e2e-dashboards"}},
		},
	}
	if _, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{})
	})
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-dashboards", Namespace: ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "prometheus-operator"},
			MinReplicas:    ptr.To[int32](1), MaxReplicas: 2,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](80)}}}},
		},
	}
	if _, err := cs.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(ctx, hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	op, err := cs.AppsV1().Deployments(ns).Get(ctx, "prometheus-operator", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-dashboards", Namespace: ns},
		Spec:       policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(1)), Selector: op.Spec.Selector},
	}
	if _, err := cs.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-dashboards", Namespace: ns},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			corev1.ResourceRequestsCPU: resource.MustParse("16"), corev1.ResourceRequestsMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("100")}},
	}
	if _, err := cs.CoreV1().ResourceQuotas(ns).Create(ctx, quota, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
		Containers: []corev1.Container{{Name: "work", Image: "registry.invalid/e2e/work:1",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}}}}}}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "e2e-dashboards", Namespace: ns}, Spec: batchv1.JobSpec{Template: pod}}
	if _, err := cs.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Once a year: the controller manager has its next run to report, and
	// never starts it during the test.
	cron := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "e2e-dashboards", Namespace: ns},
		Spec: batchv1.CronJobSpec{Schedule: "0 0 1 1 *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: pod}}}}
	if _, err := cs.BatchV1().CronJobs(ns).Create(ctx, cron, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A VerticalPodAutoscaler of the operator, with the recommendation a
	// recommender would write: kube-state-metrics starts reading the kind
	// once its definition appears.
	vpa, status := e2ekit.VPA(ns, "prometheus-operator", "prometheus-operator")
	e2ekit.Seed(t, cs, e2ekit.VPADefinition+"---\n"+vpa, map[string]string{"VerticalPodAutoscaler/prometheus-operator": status})
	t.Cleanup(func() {
		crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
		_ = cs.Resource(crds).Delete(context.Background(), "verticalpodautoscalers.autoscaling.k8s.io", metav1.DeleteOptions{})
	})
}

// dashboardsReturnData: every query of a default dashboard whose programs
// run here returns data once they have been scraped a few times, but the
// panels of emptyOnHealthy.
func dashboardsReturnData(t *testing.T, c *cluster.Cluster, prom string) {
	qs := dashboardQueries(t)
	if len(qs) < 50 {
		t.Fatalf("only %d dashboard queries read programs that run here: the filter is wrong", len(qs))
	}
	pending := map[int]bool{}
	for i, q := range qs {
		_, panel := emptyOnHealthy[q.where[:strings.LastIndex(q.where, " ")]]
		_, query := emptyOnHealthy[q.where]
		if !panel && !query {
			pending[i] = true
		}
	}
	t.Logf("%d dashboard queries read programs that run here; %d must return data", len(qs), len(pending))
	e2ekit.Eventually(t, c, 3*time.Minute, "every dashboard query returns data", func() (bool, string) {
		var empty []string
		for i := range pending {
			q := qs[i]
			code, body := e2ekit.Get("http://" + prom + "/api/v1/query?query=" + url.QueryEscape(q.expr))
			switch {
			case code != http.StatusOK:
				empty = append(empty, fmt.Sprintf("%s: %d %.200s\n  %s", q.where, code, body, q.expr))
			case strings.Contains(body, `"result":[]`):
				empty = append(empty, fmt.Sprintf("%s: no data\n  %s", q.where, q.expr))
			default:
				delete(pending, i)
			}
		}
		slices.Sort(empty)
		return len(empty) == 0, fmt.Sprintf("%d queries return nothing:\n%s", len(empty), strings.Join(empty, "\n"))
	})
}
