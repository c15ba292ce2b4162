package e2erelease

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/obsctl/obsctl/internal/cli"
	"github.com/obsctl/obsctl/internal/inventory"
)

var gvrPrometheusRules = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "prometheusrules"}

// TestLayeredRepo applies a team's repo that builds on the default
// content: its own rule file and obsctl.yaml, nothing else. The default
// rules, dashboards and pipelines come in under it, as its overrides
// change them, each object saying where it came from; the revision
// records the defaults, and when another obsctl brings other defaults,
// diff and apply say which items changed before applying them.
func TestLayeredRepo(t *testing.T) {
	ownerStack(t)
	t.Parallel()
	s := newStack(t, "layer", 9211)
	for _, d := range []string{"rules", "dashboards", "pipelines"} {
		if err := os.RemoveAll(filepath.Join(s.repo, d)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := s.config()
	if !strings.Contains(cfg, "\ndefaults: false\n") {
		t.Fatal("the default obsctl.yaml no longer says defaults: false, which the test removes")
	}
	cfg = strings.Replace(cfg, "\ndefaults: false\n", "\n", 1) + `
overrides:
  alerts:
    ContainerCrashLooping: {disabled: true}
    NodeCPUBusy:
      for: 1h
      labels: {team: platform}
      parameters: {threshold: 0.95}
  dashboards:
    obsctl-tracing: {disabled: true}
`
	s.writeFile("obsctl.yaml", cfg)
	s.writeFile("rules/team.yaml", `groups:
  - name: team
    rules:
      - alert: TeamServiceDown
        expr: up{job="team"} == 0
        for: 5m
        labels: {severity: critical}
        annotations:
          summary: The team's service is down.
          description: Prometheus has not scraped {{ $labels.instance }} for 5 minutes.
          runbook_url: https://runbooks.example/team#down
`)
	s.apply()

	rule := func(name string) *unstructured.Unstructured {
		t.Helper()
		o := s.get(gvrPrometheusRules, s.ns, name)
		if o == nil {
			t.Fatalf("PrometheusRule %s/%s does not exist", s.ns, name)
		}
		return o
	}
	alert := func(o *unstructured.Unstructured, name string) map[string]any {
		groups, _, _ := unstructured.NestedSlice(o.Object, "spec", "groups")
		for _, g := range groups {
			rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
			for _, r := range rules {
				if r.(map[string]any)["alert"] == name {
					return r.(map[string]any)
				}
			}
		}
		return nil
	}
	team, node, workloads := rule("layer-rules-team"), rule("layer-defaults-rules-node"), rule("layer-defaults-rules-workloads")
	if alert(team, "TeamServiceDown") == nil {
		t.Error("the repo's own alert is not in the cluster")
	}
	for o, src := range map[*unstructured.Unstructured]string{team: "rules/team.yaml", node: "@defaults/rules/node.yaml"} {
		if got := o.GetAnnotations()["obsctl.dev/source"]; got != src {
			t.Errorf("%s says it came from %q, want %q", o.GetName(), got, src)
		}
	}
	busy := alert(node, "NodeCPUBusy")
	if busy == nil || busy["for"] != "1h" || !strings.HasSuffix(busy["expr"].(string), "> 0.95") || busy["labels"].(map[string]any)["team"] != "platform" {
		t.Errorf("NodeCPUBusy in the cluster is %v, want for 1h, threshold 0.95 and label team", busy)
	}
	if alert(workloads, "ContainerCrashLooping") != nil {
		t.Error("the disabled ContainerCrashLooping is in the cluster")
	}
	if alert(workloads, "DeploymentMajorityUnavailable") == nil {
		t.Error("a default alert no override names is not in the cluster")
	}
	if s.get(gvrConfigMaps, s.ns, "grafana-dashboard-defaults.nodes") == nil {
		t.Error("the default nodes dashboard is not in the cluster")
	}
	if s.get(gvrConfigMaps, s.ns, "grafana-dashboard-defaults.tracing") != nil {
		t.Error("the disabled tracing dashboard is in the cluster")
	}

	// The revision records the defaults the repo built on.
	inv, err := inventory.Load(s.ctx(), s.cs, s.ns, s.name)
	if err != nil {
		t.Fatal(err)
	}
	latest := inv.Latest()
	if latest == nil || latest.Defaults["alert node.alerts/NodeCPUBusy"] == "" || latest.ObsctlVersion == "" {
		t.Fatalf("the revision does not record the defaults and obsctl's version: %+v", latest)
	}

	// An older obsctl's defaults: the revision says NodeDiskBusy was
	// another, and lacks NodeClockOffsetLarge.
	older := *latest
	older.Number, older.RunID, older.ObsctlVersion = 0, "", "v0.0.1"
	older.Defaults = map[string]string{}
	for k, v := range latest.Defaults {
		older.Defaults[k] = v
	}
	older.Defaults["alert node.alerts/NodeDiskBusy"] = "000000000000"
	delete(older.Defaults, "alert node.alerts/NodeClockOffsetLarge")
	older.Defaults["alert node.alerts/NodeGone"] = "111111111111"
	rev := inv.Append(older)
	if err := inv.Save(s.ctx(), s.cs); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"diff"}, {"apply", "--timeout", "3m"}} {
		r := s.obsctl("", cmd...)
		if cmd[0] == "apply" && r.code != cli.ExitOK {
			t.Fatalf("apply: exit %d", r.code)
		}
		for _, want := range []string{
			"the default content changed since revision " + strconv.Itoa(rev.Number) + " (obsctl v0.0.1, now ",
			"1 added, 1 removed, 1 changed",
			"+ alert node.alerts/NodeClockOffsetLarge", "- alert node.alerts/NodeGone", "~ alert node.alerts/NodeDiskBusy",
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("obsctl %s does not say %q", cmd[0], want)
			}
		}
	}
	// Applied, the defaults are this obsctl's: nothing more to say.
	if r := s.obsctl("", "diff"); strings.Contains(r.stderr, "the default content changed") {
		t.Error("diff after the apply still says the defaults changed")
	}
}
