package e2erelease

import (
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/obsctl/obsctl/internal/cli"
)

// TestOtherPeoplesObjects gives the stack's namespace name to a user's
// Namespace, with a label, a ConfigMap and a Pod of theirs in it, before
// the first apply: once adopted silently and relabelled to PodSecurity
// restricted under running pods. Now apply leaves the Namespace alone
// (conflict, exit 1), holds back the stack's objects that would go into
// it, and changes nothing of the user's; --adopt takes it over. A reserved
// namespace is refused: -n kube-system is a usage error, and
// stack.namespace: kube-system fails lint.
func TestOtherPeoplesObjects(t *testing.T) {
	ownerStack(t)
	t.Parallel()
	s := newStack(t, "users", 9206)
	userLabels := map[string]string{"team": "payments", "pod-security.kubernetes.io/enforce": "baseline"}
	ns, err := s.cs.CoreV1().Namespaces().Create(s.ctx(), &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: s.ns, Labels: userLabels},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm, err := s.cs.CoreV1().ConfigMaps(s.ns).Create(s.ctx(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "payments-config"},
		Data:       map[string]string{"currency": "EUR"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod, err := s.cs.CoreV1().Pods(s.ns).Create(s.ctx(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "payments"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "registry.k8s.io/pause:3.10"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	users := func(what string) {
		t.Helper()
		gotCM, err := s.cs.CoreV1().ConfigMaps(s.ns).Get(s.ctx(), cm.Name, metav1.GetOptions{})
		if err != nil || gotCM.UID != cm.UID || !maps.Equal(gotCM.Data, cm.Data) || gotCM.DeletionTimestamp != nil {
			t.Errorf("%s: the user's ConfigMap is gone or changed: %v", what, err)
		}
		gotPod, err := s.cs.CoreV1().Pods(s.ns).Get(s.ctx(), pod.Name, metav1.GetOptions{})
		if err != nil || gotPod.UID != pod.UID || gotPod.DeletionTimestamp != nil {
			t.Errorf("%s: the user's Pod is gone: %v", what, err)
		}
	}

	r := s.obsctl("", "apply", "--timeout", "3m")
	if r.code != cli.ExitFailure {
		t.Fatalf("apply over the user's namespace: exit %d, want %d", r.code, cli.ExitFailure)
	}
	lines := objectLines(t, r.stdout)
	if got := lines["Namespace "+s.ns]; !strings.HasPrefix(got, "conflict: left alone, it exists and obsctl did not create it") {
		t.Errorf("Namespace %s: %q, want conflict", s.ns, got)
	}
	for _, obj := range []string{"Deployment " + s.ns + "/grafana", "ConfigMap " + s.ns + "/obsctl-release-" + s.name, "Secret " + s.ns + "/grafana-admin"} {
		if got := lines[obj]; !strings.HasPrefix(got, "skipped (held back: Namespace "+s.ns+" is not the stack's") {
			t.Errorf("%s: %q, want held back", obj, got)
		}
	}
	// The rest of the stack, outside the namespace, is applied.
	if got := lines["DaemonSet "+s.agents+"/node-exporter"]; !strings.HasPrefix(got, "created") {
		t.Errorf("DaemonSet node-exporter: %q, want created", got)
	}
	got, err := s.cs.CoreV1().Namespaces().Get(s.ctx(), s.ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got.Labels, ns.Labels) {
		t.Errorf("the user's Namespace was relabelled: %v, want %v", got.Labels, ns.Labels)
	}
	users("after the apply that left the namespace alone")
	if n := len(s.uids(gvrDeployments, s.ns)); n != 0 {
		t.Errorf("%d of the stack's Deployments in the user's namespace, want none", n)
	}

	// Taken over on purpose.
	r = s.apply("--adopt")
	if got := objectLines(t, r.stdout)["Namespace "+s.ns]; !strings.HasPrefix(got, "configured (adopted (--adopt)") {
		t.Errorf("Namespace %s with --adopt: %q, want configured, adopted", s.ns, got)
	}
	got, err = s.cs.CoreV1().Namespaces().Get(s.ctx(), s.ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels["obsctl.dev/stack"] != s.name || got.Labels["team"] != "payments" {
		t.Errorf("the adopted Namespace's labels: %v, want the stack's and the user's", got.Labels)
	}
	if n := len(s.uids(gvrDeployments, s.ns)); n == 0 {
		t.Errorf("no Deployments of the stack after --adopt")
	}
	users("after --adopt")
	// A later release never prunes what the user put there.
	s.apply()
	users("after a later apply")

	// Namespaces Kubernetes runs in are refused.
	if r := s.obsctl("", "apply", "-n", "kube-system", "--timeout", "1m"); r.code != cli.ExitUsage {
		t.Errorf("apply -n kube-system: exit %d, want %d", r.code, cli.ExitUsage)
	} else if !strings.Contains(r.stderr, "reserved") {
		t.Errorf("apply -n kube-system does not say why:\n%s", r.stderr)
	}
	reserved := newStack(t, "reserved", 9207)
	reserved.writeFile("obsctl.yaml", strings.Replace(reserved.config(), "\nstack:\n", "\nstack:\n  namespace: kube-system\n", 1))
	r = reserved.obsctl("", "lint")
	if r.code != cli.ExitFindings {
		t.Errorf("lint of stack.namespace: kube-system: exit %d, want %d", r.code, cli.ExitFindings)
	}
	if !strings.Contains(r.stdout+r.stderr, `stack.namespace "kube-system" is reserved`) {
		t.Errorf("lint does not say kube-system is reserved:\n%s%s", r.stdout, r.stderr)
	}
}
