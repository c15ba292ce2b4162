package load

import (
	"slices"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/layer"
)

// layeredNames loads a repo of obsctl.yaml cfg on the defaults and
// returns its alerts' names and its rule files' and tests' places.
func layeredNames(t *testing.T, cfg string) (alerts, files []string) {
	t.Helper()
	dir := writeRepo(t, map[string]string{"obsctl.yaml": cfg})
	r, err := Load(Options{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) > 0 {
		t.Fatalf("findings: %v", r.Findings)
	}
	for _, f := range r.RuleFiles {
		files = append(files, f.Rel)
		for _, rule := range f.Rules() {
			if rule.IsAlert() {
				alerts = append(alerts, rule.Alert)
			}
		}
	}
	for _, f := range r.RuleTests {
		files = append(files, f.Rel)
	}
	return alerts, files
}

// TestLayerManagedControlPlane: a repo on a managed control plane builds
// on the defaults without the control-plane rules and their tests.
func TestLayerManagedControlPlane(t *testing.T) {
	const base = "apiVersion: obsctl/v1\nname: t\n"
	_, self := layeredNames(t, base)
	_, managed := layeredNames(t, base+"stack:\n  controlPlane: managed\n")
	for _, rel := range []string{layer.ControlPlaneRules, layer.ControlPlaneTests} {
		rel = layer.Dir + "/" + rel
		if !slices.Contains(self, rel) {
			t.Errorf("self-hosted: %s not layered (%v)", rel, self)
		}
		if slices.Contains(managed, rel) {
			t.Errorf("managed: %s layered", rel)
		}
	}
	if len(self)-len(managed) != 2 {
		t.Errorf("managed leaves out %d files, want 2", len(self)-len(managed))
	}
}

// TestLayerInfoInhibitor: the default InfoInhibitor comes with the
// defaults only to a repo whose routing names it (else the repo's
// receivers would get it); the default repo itself has it.
func TestLayerInfoInhibitor(t *testing.T) {
	const base = "apiVersion: obsctl/v1\nname: t\n"
	if alerts, _ := layeredNames(t, base); slices.Contains(alerts, infoInhibitor) {
		t.Error("a repo whose routing does not name the InfoInhibitor has it")
	}
	routed := base + `alerting:
  receivers: [{name: blackhole}]
  defaultReceiver: blackhole
  routes:
    - {matchers: ['alertname="InfoInhibitor"'], receiver: blackhole}
  inhibit:
    rules:
      - {source: ['alertname="InfoInhibitor"'], target: ['severity="info"'], equal: [namespace]}
`
	if alerts, _ := layeredNames(t, routed); !slices.Contains(alerts, infoInhibitor) {
		t.Error("a repo whose routing names the InfoInhibitor lacks it")
	}
	// Only a route that takes it counts: an inhibition alone, or a
	// matcher that leaves it out, would send it to the repo's receivers.
	for _, alerting := range []string{`alerting:
  receivers: [{name: chat, slack: {webhookURL: {env: SLACK}}}]
  defaultReceiver: chat
  inhibit:
    rules:
      - {source: ['alertname="InfoInhibitor"'], target: ['severity="info"'], equal: [namespace]}
`, `alerting:
  receivers: [{name: chat, slack: {webhookURL: {env: SLACK}}}]
  defaultReceiver: chat
  routes:
    - {matchers: ['alertname!="InfoInhibitor"'], receiver: chat}
`} {
		if alerts, _ := layeredNames(t, base+alerting); slices.Contains(alerts, infoInhibitor) {
			t.Errorf("a repo whose routing does not take the InfoInhibitor has it:\n%s", alerting)
		}
	}
	// A repo that overrides it, by name or selector, keeps what it says.
	if alerts, _ := layeredNames(t, base+"overrides:\n  alerts:\n    'InfoInhibitor{severity=\"none\"}': {labels: {team: ops}}\n"); !slices.Contains(alerts, infoInhibitor) {
		t.Error("an override of the InfoInhibitor by selector was replaced by obsctl's")
	}

	r, err := Load(Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Embedded() || !hasAlert(r.Config, r.RuleFiles, infoInhibitor) {
		t.Error("the embedded default repo has no InfoInhibitor")
	}
}

// TestLayerLeavesOutSLOHandTests: the hand-written tests of the default
// SLOs hold their alerts at the default severities, so a repo building
// on the defaults runs the SLOs' generated tests (at its own severities)
// and not those.
func TestLayerLeavesOutSLOHandTests(t *testing.T) {
	_, files := layeredNames(t, "apiVersion: obsctl/v1\nname: t\n")
	for _, f := range files {
		if strings.HasPrefix(f, layer.Dir+"/slos/") && strings.HasSuffix(f, "_test.yaml") {
			t.Errorf("%s layered", f)
		}
	}
	r, err := Load(Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var own int
	for _, f := range r.RuleTests {
		if strings.HasPrefix(f.Rel, "slos/") {
			own++
		}
	}
	if own == 0 {
		t.Error("the embedded default repo runs no hand-written SLO test")
	}
}
