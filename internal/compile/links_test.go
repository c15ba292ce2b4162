package compile

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/load"
)

func TestRunbookBase(t *testing.T) {
	cfg := &config.Config{}
	for _, tc := range []struct{ version, base, want string }{
		{"dev", "", DefaultRunbooks},
		{"v1.4.0", "", "https://github.com/obsctl/obsctl/blob/v1.4.0/docs/runbooks/"},
		{"v1.4.0-rc.1", "", "https://github.com/obsctl/obsctl/blob/v1.4.0-rc.1/docs/runbooks/"},
		{"v0.0.0-20261206050000-643d80f1a2b3", "", DefaultRunbooks},
		{"v1.4.0-dirty", "", DefaultRunbooks},
		{"v1.4.0", "https://wiki.example.com/obsctl/runbooks", "https://wiki.example.com/obsctl/runbooks/"},
		{"dev", "https://wiki.example.com/rb/", "https://wiki.example.com/rb/"},
	} {
		cfg.Overrides.RunbookBaseURL = tc.base
		if got := RunbookBase(cfg, tc.version); got != tc.want {
			t.Errorf("version %s, base %q: %s, want %s", tc.version, tc.base, got, tc.want)
		}
	}
}

// TestCompileRelinksRunbooks: the default alerts' runbook links lead
// where RunbookBase says in both outputs (rule files and PrometheusRules),
// while the loaded rules keep their files' links (which the tests hold).
func TestCompileRelinksRunbooks(t *testing.T) {
	defer func(v func() string) { obsctlVersion = v }(obsctlVersion)
	obsctlVersion = func() string { return "v1.4.0" }
	r := loadDefault(t)
	_, outs := compileOutputs(t, r)
	pinned := []byte("https://github.com/obsctl/obsctl/blob/v1.4.0/docs/runbooks/node.md#")
	var rules, objects int
	for _, o := range outs {
		if bytes.Contains(o.Data, []byte(DefaultRunbooks)) {
			t.Errorf("%s still links runbooks at main", o.Path)
		}
		if bytes.Contains(o.Data, pinned) {
			if strings.HasPrefix(o.Path, "prometheusrules/") {
				objects++
			} else {
				rules++
			}
		}
	}
	if rules == 0 || objects == 0 {
		t.Errorf("node.md links pinned in %d rule files and %d objects, want both", rules, objects)
	}
	for _, f := range r.RuleFiles {
		for _, rule := range f.Rules() {
			for _, kv := range rule.Annotations {
				if kv.Key == "runbook_url" && !strings.HasPrefix(kv.Value, DefaultRunbooks) {
					t.Fatalf("the loaded %s links %s: Compile changed what load read", rule.Name(), kv.Value)
				}
			}
		}
	}

	// A team's base, from obsctl.yaml.
	_, outs = compileOutputs(t, loadTeam(t, "apiVersion: obsctl/v1\nname: t\noverrides:\n  runbookBaseURL: https://wiki.example.com/obsctl/runbooks\n"))
	var found bool
	for _, o := range outs {
		found = found || bytes.Contains(o.Data, []byte("runbook_url: https://wiki.example.com/obsctl/runbooks/node.md#"))
		if bytes.Contains(o.Data, []byte("github.com/obsctl/obsctl/blob/")) {
			t.Errorf("%s links runbooks on GitHub", o.Path)
		}
	}
	if !found {
		t.Error("no default alert links the team's runbook site")
	}
}

// loadTeam loads a repo of its obsctl.yaml alone, which builds on the
// defaults: it must load without findings.
func loadTeam(t *testing.T, obsctlYAML string) *load.Repo {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "obsctl.yaml", obsctlYAML)
	r, err := load.Load(load.Options{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) > 0 {
		t.Fatalf("findings: %v", r.Findings)
	}
	return r
}

func writeFile(t *testing.T, dir, name, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCompileRelinksDashboards: the dashboard links of the rules lead to
// the Grafana the repo configures in both outputs, and a link to a
// dashboard the build leaves out is dropped.
func TestCompileRelinksDashboards(t *testing.T) {
	_, outs := compileOutputs(t, loadDefault(t))
	served := 0
	for _, o := range outs {
		served += bytes.Count(o.Data, []byte("dashboard_url: "+dashboard.LinkBase+"d/"))
	}
	if served == 0 {
		t.Fatal("the default repo's build links no dashboard under " + dashboard.LinkBase)
	}

	_, outs = compileOutputs(t, loadTeam(t, "apiVersion: obsctl/v1\nname: t\ngrafana:\n  url: https://grafana.example.com/tools\n"+
		"overrides:\n  dashboards:\n    obsctl-nodes:\n      disabled: true\n"))
	team := 0
	for _, o := range outs {
		team += bytes.Count(o.Data, []byte("dashboard_url: https://grafana.example.com/tools/d/"))
		if bytes.Contains(o.Data, []byte(dashboard.LinkBase)) {
			t.Errorf("%s still links %s", o.Path, dashboard.LinkBase)
		}
		if bytes.Contains(o.Data, []byte("/d/obsctl-nodes")) {
			t.Errorf("%s links the nodes dashboard, which the repo leaves out", o.Path)
		}
	}
	// The nodes dashboard's links are dropped (each rule is written twice:
	// in its rule file and its PrometheusRule), the others kept (less
	// those of alerts a layered repo leaves out).
	nodes := 0
	for _, f := range loadDefault(t).RuleFiles {
		for _, r := range f.Rules() {
			if kv, ok := r.Annotation(dashboard.LinkAnnotation); ok && strings.Contains(kv.Value, "/d/obsctl-nodes") {
				nodes++
			}
		}
	}
	if nodes == 0 || team == 0 || team > served-2*nodes || team < served-2*nodes-10 {
		t.Errorf("%d links to the team's Grafana, want about the default build's %d less twice the %d to the nodes dashboard", team, served, nodes)
	}
}

// TestCompileDropsDashboardLinksWithoutGrafana: with no Grafana of the
// stack's nor of the team's, no dashboard is shown anywhere and the
// rules' links to them are dropped.
func TestCompileDropsDashboardLinksWithoutGrafana(t *testing.T) {
	r := loadTeam(t, "apiVersion: obsctl/v1\nname: t\nstack:\n  components:\n    grafana: {enabled: false}\n")
	_, outs := compileOutputs(t, r)
	for _, o := range outs {
		if bytes.Contains(o.Data, []byte("dashboard_url:")) {
			t.Errorf("%s links dashboards no Grafana shows", o.Path)
		}
	}
}
