// Package e2estack applies the embedded default stack, in both profiles, to
// a control plane of its own (the stack's CRDs and cluster-wide objects would
// get in the other e2e packages' way) and checks that the real API server
// accepts every object (PodSecurity admission included), that every
// workload rolls out on the simulated nodes, that a second apply changes
// nothing, that obsctl status shows every component ready, and that
// disabling a component prunes it.
package e2estack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	obsctlrepo "github.com/obsctl/obsctl"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/test/cluster"
	"github.com/obsctl/obsctl/test/e2ekit"
	"github.com/obsctl/obsctl/test/programs"
)

var harness cluster.Harness

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, cluster.Options{Nodes: 3, Volumes: 12}))
}

func unstructuredInt(obj map[string]any, fields ...string) (int64, bool, error) {
	var cur any = obj
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return 0, false, nil
		}
		cur = m[f]
	}
	switch v := cur.(type) {
	case int64:
		return v, true, nil
	case float64:
		return int64(v), true, nil
	}
	return 1, false, nil
}

// receiverSecrets creates the Secrets the default routing's receivers
// read, as a user would with kubectl create secret, with values that point
// nowhere.
func receiverSecrets(t *testing.T, cs cluster.Client, ns string) {
	t.Helper()
	for name, key := range map[string]string{"alertmanager-opsgenie": "api-key", "alertmanager-pagerduty": "routing-key", "alertmanager-slack": "webhook-url"} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: map[string]string{key: "http://127.0.0.1:9/e2e-placeholder"}}
		if _, err := cs.CoreV1().Secrets(ns).Create(cluster.Context(t), s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}

// TestDefaultStack applies the embedded default stack, minimal then ha,
// then disables a component.
func TestDefaultStack(t *testing.T) {
	c := harness.Cluster(t)
	cs := cluster.NewClient(t, c.RESTConfig())
	empty := t.TempDir() // no obsctl.yaml: the embedded default repo

	// The default routing sends to three receivers whose credentials are
	// Secrets the user creates. Without them, the first apply applies
	// everything but Alertmanager (whose pods would hang mounting them),
	// names each Secret with the command that creates it, and exits 1.
	r := e2ekit.Obsctl(t, c, empty, "apply", "--profile", "minimal", "--timeout", "3m")
	if r.Code != 1 {
		t.Fatalf("apply without the receiver Secrets: exit %d, want 1", r.Code)
	}
	for _, want := range []string{
		"Alertmanager held back: the stack reads Secrets that do not exist",
		"kubectl create secret generic alertmanager-opsgenie -n monitoring --from-literal=api-key=...",
		"kubectl create secret generic alertmanager-slack -n monitoring --from-literal=webhook-url=...",
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if !strings.Contains(r.Stdout, "Alertmanager monitoring/main skipped (held back: Secret monitoring/alertmanager-") {
		t.Errorf("stdout does not show Alertmanager held back")
	}
	receiverSecrets(t, cs, "monitoring")

	for _, profile := range []string{"minimal", "ha"} {
		t.Run(profile, func(t *testing.T) {
			r := e2ekit.Obsctl(t, c, empty, "apply", "--profile", profile, "--timeout", "3m", "--yes")
			if r.Code != 0 {
				t.Fatalf("apply --profile %s: exit %d", profile, r.Code)
			}
			if strings.Contains(r.Stdout, "failed") {
				t.Errorf("apply reports a failure:\n%s", r.Stdout)
			}
			// Unchanged: nothing written.
			r = e2ekit.Obsctl(t, c, empty, "apply", "--profile", profile, "--timeout", "3m", "-o", "json")
			if r.Code != 0 {
				t.Fatalf("second apply --profile %s: exit %d", profile, r.Code)
			}
			var res struct {
				Counts   map[string]int
				Requests map[string]int
			}
			if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
				t.Fatal(err)
			}
			if res.Counts["created"]+res.Counts["configured"]+res.Counts["pruned"] != 0 || res.Requests["patches"] != 0 {
				t.Errorf("second apply changed something: counts %v, %d patches", res.Counts, res.Requests["patches"])
			}
			if profile == "minimal" {
				// The real operator reconciles the stack's Prometheus and
				// Alertmanager from here on.
				programs.OperatorFor(t, c, "monitoring")
			}
			r = e2ekit.Obsctl(t, c, empty, "status", "--wait", "2m", "-o", "json")
			if r.Code != 0 {
				t.Errorf("status after apply --profile %s: exit %d, want 0 (every component ready)", profile, r.Code)
			}
			var st struct {
				Components []struct {
					Component string
					Ready     bool
				}
			}
			if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
				t.Fatal(err)
			}
			if len(st.Components) != 10 {
				t.Errorf("status shows %d components, want the 10 of the default stack", len(st.Components))
			}
			if r := e2ekit.Obsctl(t, c, empty, "diff", "--profile", profile); r.Code != 0 {
				t.Errorf("diff after apply --profile %s: exit %d, want 0 (no changes)", profile, r.Code)
			}
		})
	}

	// A repo of its own that turns Kibana off: apply prunes it.
	repo := t.TempDir()
	cfg := strings.Replace(string(obsctlrepo.DefaultConfig), "\nstack:\n", "\nstack:\n  components:\n    kibana: {enabled: false}\n", 1)
	if !strings.Contains(cfg, "kibana: {enabled: false}") {
		cfg += "\nstack:\n  profile: ha\n  components:\n    kibana: {enabled: false}\n"
	}
	if err := os.WriteFile(filepath.Join(repo, "obsctl.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"rules", "dashboards", "pipelines"} {
		if err := os.CopyFS(filepath.Join(repo, d), os.DirFS(filepath.Join("..", "..", d))); err != nil {
			t.Fatal(err)
		}
	}
	r = e2ekit.Obsctl(t, c, repo, "apply", "--profile", "ha", "--timeout", "3m")
	if r.Code != 0 {
		t.Fatalf("apply without Kibana: exit %d", r.Code)
	}
	if !strings.Contains(r.Stdout, "Deployment monitoring/kibana pruned") {
		t.Errorf("Kibana's Deployment was not pruned")
	}
	// Pruned in the foreground: it may still be on its way out.
	if d, err := cs.AppsV1().Deployments("monitoring").Get(cluster.Context(t), "kibana", metav1.GetOptions{}); !apierrors.IsNotFound(err) && (err != nil || d.DeletionTimestamp == nil) {
		t.Errorf("Deployment kibana after the prune: %v", err)
	}
}

// TestDefaultStackRestricted applies the default stack, as a stack of its
// own (its own name and namespaces), as an identity bound to nothing but
// the ClusterRole obsctl rbac prints for it.
func TestDefaultStackRestricted(t *testing.T) {
	c := harness.Cluster(t)
	repo := t.TempDir()
	cfg := strings.Replace(string(obsctlrepo.DefaultConfig), "\nname: obsctl\n", "\nname: least\n", 1)
	cfg = strings.Replace(cfg, "\n  namespace: monitoring\n", "\n  namespace: least-mon\n", 1)
	if !strings.Contains(cfg, "name: least") || !strings.Contains(cfg, "namespace: least-mon") || strings.Contains(cfg, "\nstack:") {
		t.Fatal("the default obsctl.yaml no longer has the name and rules.namespace this test replaces, or has a stack: of its own")
	}
	// The other test's stack holds each node's port 9100 already: a
	// second stack's node-exporter takes another.
	cfg += "\nstack:\n  components:\n    nodeExporter: {port: 9101}\n"
	if err := os.WriteFile(filepath.Join(repo, "obsctl.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"rules", "dashboards", "pipelines"} {
		if err := os.CopyFS(filepath.Join(repo, d), os.DirFS(filepath.Join("..", "..", d))); err != nil {
			t.Fatal(err)
		}
	}
	const user = "least-deployer"
	r := e2ekit.Obsctl(t, c, repo, "rbac", "--name", user, "--user", user)
	if r.Code != 0 {
		t.Fatalf("obsctl rbac: exit %d", r.Code)
	}
	// An administrator applies it as kubectl apply would: the stack's
	// namespaces first, unowned, for obsctl's first apply to adopt, then
	// the roles and their bindings.
	admin, err := kube.NewClients(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(r.Stdout, "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{Object: m}
		ri, _, err := admin.ResourceFor(obj)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ri.Apply(cluster.Context(t), obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "kubectl", Force: true}); err != nil {
			t.Fatalf("apply the printed %s %s as admin: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
	receiverSecrets(t, cluster.NewClient(t, c.RESTConfig()), "least-mon")
	kubeconfig, err := c.UserKubeconfig(user)
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) e2ekit.Result {
		t.Helper()
		return e2ekit.ObsctlAs(t, kubeconfig, repo, args...)
	}
	r = run("apply", "--profile", "minimal", "--timeout", "3m")
	if r.Code != 0 {
		t.Fatalf("apply of the default stack as %s: exit %d", user, r.Code)
	}
	// A second stack on the cluster: the operator's CRDs are the first
	// stack's, used by this one, never relabelled.
	if !strings.Contains(r.Stdout, "CustomResourceDefinition prometheusrules.monitoring.coreos.com kept (owned by stack obsctl, used by this one)") {
		t.Errorf("the second stack does not use the first's CRDs")
	}
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	crd, err := cluster.NewClient(t, c.RESTConfig()).Resource(crds).Get(cluster.Context(t), "prometheusrules.monitoring.coreos.com", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if crd.GetLabels()["obsctl.dev/stack"] != "obsctl" {
		t.Errorf("the CRD was relabelled to stack %q", crd.GetLabels()["obsctl.dev/stack"])
	}
	if _, ok := crd.GetAnnotations()["obsctl.dev/used-by.least"]; !ok {
		t.Errorf("the CRD does not record that stack least uses it: %v", crd.GetAnnotations())
	}
	if r := run("apply", "--profile", "minimal", "--timeout", "3m"); r.Code != 0 || !strings.Contains(r.Stderr, " 0 created, 0 configured") {
		t.Errorf("second apply as %s: exit %d, want 0 and nothing changed", user, r.Code)
	}
	if r := run("diff", "--profile", "minimal"); r.Code != 0 {
		t.Errorf("diff as %s: exit %d, want 0", user, r.Code)
	}
}
