package e2erelease

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/obsctl/obsctl/internal/cli"
	"github.com/obsctl/obsctl/test/programs"
)

// TestDrift changes the stack behind obsctl's back, as people on call do:
// kubectl scale of kube-state-metrics, which once made apply fail with a
// field-manager conflict and skip every later wave, the PrometheusRules
// among them; and kubectl patch of a PrometheusRule, which diff could not
// show (exit 6). Now the replicas are left to kubectl and a scale below
// what the stack wants is a warning in status and diff; the patched rule shows in
// diff (exit 1) naming the manager, and apply takes it back (exit 0) with
// every wave applied.
func TestDrift(t *testing.T) {
	ownerStack(t)
	t.Parallel()
	// The stack wants two replicas of kube-state-metrics, as the ha
	// profile does.
	s := newStack(t, "drift", 9204, "kubeStateMetrics: {replicas: 2}")
	s.apply()
	ksm := func() int64 {
		t.Helper()
		d := s.get(gvrDeployments, s.ns, "kube-state-metrics")
		n, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
		if want := d.GetAnnotations()["obsctl.dev/replicas"]; want != "2" {
			t.Errorf("kube-state-metrics: annotation obsctl.dev/replicas %q, want 2", want)
		}
		return n
	}
	if n := ksm(); n != 2 {
		t.Fatalf("kube-state-metrics has %d replicas, want 2", n)
	}

	// kubectl scale deployment kube-state-metrics --replicas 1: an
	// update of the scale subresource, again on a conflict with the
	// deployment controller, as kubectl does.
	deploys := s.cs.Resource(gvrDeployments).Namespace(s.ns)
	deadline := time.Now().Add(30 * time.Second)
	for {
		scale, err := deploys.Get(s.ctx(), "kube-state-metrics", metav1.GetOptions{}, "scale")
		if err != nil {
			t.Fatal(err)
		}
		if err := unstructured.SetNestedField(scale.Object, int64(1), "spec", "replicas"); err != nil {
			t.Fatal(err)
		}
		_, err = deploys.Update(s.ctx(), scale, metav1.UpdateOptions{FieldManager: "kubectl"}, "scale")
		if err == nil {
			break
		}
		if !apierrors.IsConflict(err) || time.Now().After(deadline) {
			t.Fatalf("scale kube-state-metrics: %v", err)
		}
	}

	r := s.apply()
	lines := objectLines(t, r.stdout)
	if got := lines["Deployment "+s.ns+"/kube-state-metrics"]; !strings.Contains(got, "replicas left to kubectl (1)") {
		t.Errorf("Deployment kube-state-metrics: %q, want its replicas left to kubectl", got)
	}
	if n := ksm(); n != 1 {
		t.Errorf("kube-state-metrics has %d replicas after apply, want the 1 kubectl scale set", n)
	}

	// status shows the scale below the stack's two as a warning, once
	// the real operator has reconciled the stack's Prometheus and
	// Alertmanager.
	programs.OperatorFor(t, s.c, s.ns)
	r = s.obsctl("", "status", "--wait", "2m", "-o", "json")
	if r.code != cli.ExitOK {
		t.Errorf("status: exit %d, want 0 (every component ready)", r.code)
	}
	var st struct{ Warnings []string }
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatal(err)
	}
	want := "Deployment " + s.ns + "/kube-state-metrics runs 1 replica(s), fewer than the 2 the stack's profile wants"
	if len(st.Warnings) != 1 || !strings.HasPrefix(st.Warnings[0], want) {
		t.Errorf("status warnings %q, want one: %q...", st.Warnings, want)
	}
	// So does diff, which finds nothing else to change.
	r = s.obsctl("", "diff")
	if r.code != 0 {
		t.Errorf("diff after kubectl scale: exit %d, want 0 (the replicas are kubectl's)", r.code)
	}
	if !strings.Contains(r.stderr, "warning: "+want) {
		t.Errorf("diff does not warn of the scale below the stack's replicas:\n%s", r.stderr)
	}

	// kubectl patch prometheusrule --type merge: a rule expression
	// changed by another field manager.
	const ruleName = "drift-rules-node"
	rule := s.get(gvrPrometheusRule, s.ns, ruleName)
	if rule == nil {
		t.Fatalf("PrometheusRule %s/%s does not exist", s.ns, ruleName)
	}
	groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
	g0 := groups[0].(map[string]any)
	r0 := g0["rules"].([]any)[0].(map[string]any)
	expr := r0["expr"].(string)
	r0["expr"] = "vector(42)"
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"groups": groups}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.cs.Resource(gvrPrometheusRule).Namespace(s.ns).Patch(s.ctx(), ruleName, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-patch"}); err != nil {
		t.Fatal(err)
	}
	exprNow := func() string {
		t.Helper()
		groups, _, _ := unstructured.NestedSlice(s.get(gvrPrometheusRule, s.ns, ruleName).Object, "spec", "groups")
		return groups[0].(map[string]any)["rules"].([]any)[0].(map[string]any)["expr"].(string)
	}

	r = s.obsctl("", "diff")
	if r.code != 1 {
		t.Fatalf("diff after kubectl patch: exit %d, want 1 (changes)", r.code)
	}
	if !strings.Contains(r.stdout, "PrometheusRule "+s.ns+"/"+ruleName+" configured: took back") || !strings.Contains(r.stdout, `from "kubectl-patch"`) {
		t.Errorf("diff does not name the manager it would take the rule back from:\n%s", r.stdout)
	}
	if !hasLine(r.stdout, func(l string) bool { return strings.HasPrefix(l, "-") && strings.HasSuffix(l, "expr: vector(42)") }) {
		t.Errorf("diff does not show the patched expression going")
	}
	if exprNow() != "vector(42)" {
		t.Errorf("diff changed the rule")
	}

	r = s.apply()
	lines = objectLines(t, r.stdout)
	if got := lines["PrometheusRule "+s.ns+"/"+ruleName]; !strings.HasPrefix(got, "configured (took back") || !strings.Contains(got, `from "kubectl-patch"`) {
		t.Errorf("PrometheusRule %s: %q, want configured, taken back from kubectl-patch", ruleName, got)
	}
	if got := exprNow(); got != expr {
		t.Errorf("the rule's expression is %q after apply, want it back: %q", got, expr)
	}
	// Every wave ran: each object has its line, none failed or was
	// held back, the rules (the last wave) included.
	for obj, rest := range lines {
		if strings.HasPrefix(rest, "failed") || strings.HasPrefix(rest, "skipped") || strings.HasPrefix(rest, "conflict") {
			t.Errorf("%s: %s", obj, rest)
		}
	}
	for name := range s.uids(gvrPrometheusRule, s.ns) {
		if _, ok := lines["PrometheusRule "+s.ns+"/"+name]; !ok {
			t.Errorf("PrometheusRule %s has no line: its wave did not run", name)
		}
	}
	if n := ksm(); n != 1 {
		t.Errorf("kube-state-metrics has %d replicas after the second apply, want the 1 kubectl scale set", n)
	}
}

// hasLine reports whether a line of text satisfies f.
func hasLine(text string, f func(string) bool) bool {
	for _, l := range strings.Split(text, "\n") {
		if f(l) {
			return true
		}
	}
	return false
}
