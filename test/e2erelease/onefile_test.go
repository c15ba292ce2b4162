package e2erelease

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/types"

	"github.com/obsctl/obsctl/internal/cli"
)

// TestApplyOneFileInRepo is obsctl apply -f one-servicemonitor.yaml run
// inside the repo, which once pruned 86 objects, CRDs and a namespace among
// them, and exited 0. A file without a stack's identity needs the stack
// named (exit 2); named, the prune of nearly the whole stack needs --yes
// (exit 7, nothing deleted); confirmed, it keeps the protected kinds (CRDs,
// namespaces, generated Secrets) and the stack's namespace. A plain apply
// brings the stack back, generated Secrets with the values they had.
func TestApplyOneFileInRepo(t *testing.T) {
	s := ownerStack(t)
	t.Parallel()

	// One of the stack's own ServiceMonitors, as render writes it.
	rendered := t.TempDir()
	if r := s.obsctl("", "render", "-o", rendered); r.code != cli.ExitOK {
		t.Fatalf("render: exit %d", r.code)
	}
	sm, err := os.ReadFile(filepath.Join(rendered, "7-servicemonitor-"+s.ns+"-kube-state-metrics.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s.writeFile("one-servicemonitor.yaml", string(sm))

	// What must survive: the CRDs the stack owns (which other stacks
	// use), its namespaces, its generated Secrets.
	var ownCRDs []string
	for name, stack := range crdOwners(t, s.cs) {
		if stack == s.name {
			ownCRDs = append(ownCRDs, name)
		}
	}
	if len(ownCRDs) != 10 {
		t.Fatalf("stack %s owns %d CRDs, want the operator's 10: %v", s.name, len(ownCRDs), ownCRDs)
	}
	generated := s.checkGenerated("before", nil)
	type snapshot map[string]map[string]types.UID
	snap := func() snapshot {
		return snapshot{
			"Deployments":     s.uids(gvrDeployments, s.ns),
			"StatefulSets":    s.uids(gvrStatefulSets, s.ns),
			"DaemonSets":      s.uids(gvrDaemonSets, s.agents),
			"ConfigMaps":      s.uids(gvrConfigMaps, s.ns),
			"PrometheusRules": s.uids(gvrPrometheusRule, s.ns),
			"ServiceMonitors": s.uids(gvrServiceMonitor, s.ns),
		}
	}
	before := snap()
	for kind, objs := range before {
		if len(objs) == 0 {
			t.Fatalf("the stack has no %s", kind)
		}
	}
	unchanged := func(what string) {
		t.Helper()
		after := snap()
		for kind, objs := range before {
			if !maps.Equal(after[kind], objs) {
				t.Errorf("%s: the stack's %s changed: %v, want %v", what, kind, after[kind], objs)
			}
		}
		s.checkGenerated(what, generated)
	}
	protected := func(what string) {
		t.Helper()
		owners := crdOwners(t, s.cs)
		for _, name := range ownCRDs {
			if owners[name] != s.name {
				t.Errorf("%s: CRD %s is gone or relabelled (stack %q)", what, name, owners[name])
			}
		}
		for _, ns := range []string{s.ns, s.agents} {
			got := s.get(gvrNamespaces, "", ns)
			if got == nil || got.GetDeletionTimestamp() != nil {
				t.Errorf("%s: namespace %s is gone or being deleted", what, ns)
			}
		}
		s.checkGenerated(what, generated)
	}

	// No identity, no stack named: a usage error, nothing released.
	r := s.obsctl("", "apply", "-f", "one-servicemonitor.yaml")
	if r.code != cli.ExitUsage {
		t.Fatalf("apply -f one file without --stack: exit %d, want %d", r.code, cli.ExitUsage)
	}
	if !strings.Contains(r.stderr, "carry no stack identity") || !strings.Contains(r.stderr, "--stack NAME") {
		t.Errorf("apply -f one file does not say to name the stack:\n%s", r.stderr)
	}
	unchanged("after apply -f without --stack")

	// Named: a release of the stack with one object, which would prune
	// the rest of it. Not without --yes.
	r = s.obsctl("", "apply", "-f", "one-servicemonitor.yaml", "--stack", s.name, "--timeout", "3m")
	if r.code != cli.ExitConfirm {
		t.Fatalf("apply -f one file --stack %s: exit %d, want %d", s.name, r.code, cli.ExitConfirm)
	}
	if !strings.Contains(r.stderr, "nothing changed") || !strings.Contains(r.stderr, "objects would be pruned") || !strings.Contains(r.stderr, "--yes") {
		t.Errorf("the refused apply does not list the mass prune:\n%s", r.stderr)
	}
	lines := objectLines(t, r.stdout)
	if got := lines["Deployment "+s.ns+"/grafana"]; !strings.HasPrefix(got, "skipped (would be pruned; nothing changed until the destructive changes are confirmed") {
		t.Errorf("Deployment grafana: %q, want skipped: its prune needs confirming", got)
	}
	unchanged("after the unconfirmed mass prune")
	protected("after the unconfirmed mass prune")

	// Confirmed: everything but the protected kinds and the stack's
	// namespace is pruned.
	r = s.obsctl("", "apply", "-f", "one-servicemonitor.yaml", "--stack", s.name, "--timeout", "3m", "--yes")
	if r.code != cli.ExitOK {
		t.Fatalf("apply -f one file --stack %s --yes: exit %d, want 0", s.name, r.code)
	}
	lines = objectLines(t, r.stdout)
	for _, name := range ownCRDs {
		if got := lines["CustomResourceDefinition "+name]; !strings.HasPrefix(got, "kept (CustomResourceDefinitions are pruned only with --prune-protected=crds") {
			t.Errorf("CRD %s: %q, want kept: a protected kind", name, got)
		}
	}
	if got := lines["Namespace "+s.agents]; !strings.HasPrefix(got, "kept (namespaces are pruned only with --prune-protected=namespaces") {
		t.Errorf("Namespace %s: %q, want kept: a protected kind", s.agents, got)
	}
	if got := lines["Namespace "+s.ns]; !strings.HasPrefix(got, "kept (it is the stack's namespace") {
		t.Errorf("Namespace %s: %q, want kept: the stack's namespace", s.ns, got)
	}
	for _, name := range s.wantGenerated() {
		if got := lines["Secret "+name]; !strings.HasPrefix(got, "kept (generated Secrets are pruned only with --prune-protected=secrets") {
			t.Errorf("Secret %s: %q, want kept: a generated Secret", name, got)
		}
	}
	if got := lines["ServiceMonitor "+s.ns+"/kube-state-metrics"]; !strings.HasPrefix(got, "unchanged") {
		t.Errorf("the ServiceMonitor applied: %q, want unchanged", got)
	}
	if got := lines["Deployment "+s.ns+"/grafana"]; !strings.HasPrefix(got, "pruned") {
		t.Errorf("Deployment grafana: %q, want pruned", got)
	}
	protected("after the confirmed mass prune")
	if d := s.get(gvrDeployments, s.ns, "grafana"); d != nil && d.GetDeletionTimestamp() == nil {
		t.Errorf("Deployment grafana is still there after its prune")
	}

	// Back: a plain apply from the repo, nothing destructive to confirm.
	s.waitPruned()
	s.apply()
	protected("after the stack came back")
	after := snap()
	for kind, objs := range before {
		for name := range objs {
			if _, ok := after[kind][name]; !ok {
				t.Errorf("%s %s did not come back", kind, name)
			}
		}
	}
	if r := s.obsctl("", "diff"); r.code != 0 {
		t.Errorf("diff after the stack came back: exit %d, want 0", r.code)
	}
}
