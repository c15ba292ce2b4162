package load

import "testing"

func TestKindOf(t *testing.T) {
	tests := []struct {
		name, path, src string
		want            Kind
	}{
		{"rule file", "rules/a.yaml", "groups:\n  - name: a\n", KindRules},
		{"rule file that does not parse", "x/a.yaml", "groups: [\n", KindRules},
		{"PrometheusRule", "deploy/pr.yaml", "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\n", KindRules},
		{"PrometheusRule quoted, after a comment", "pr.yml", "# rules\nkind: \"PrometheusRule\" # ours\n", KindRules},
		{"rule test by name", "rules/a_test.yaml", "groups: []\n", KindRuleTest},
		{"rule test by content", "tests/a.yaml", "rule_files: [a.yaml]\ntests: []\n", KindRuleTest},
		{"pipeline by content", "x/p.yaml", "apiVersion: obsctl/v1\nkind: Pipeline\n", KindPipeline},
		{"pipeline by place", "pipelines/p.yaml", "nmae: typo\n", KindPipeline},
		{"dashboard by place", "dashboards/d.json", "{", KindDashboard},
		{"dashboard by content", "grafana/d.json", `{"title": "x", "panels": []}`, KindDashboard},
		{"JSON that is not a dashboard", "package.json", `{"name": "x"}`, KindUnknown},
		{"obsctl.yaml", "obsctl.yaml", "", KindConfig},
		{"Alertmanager config", "am/alertmanager.yml", "route:\n  receiver: a\nreceivers:\n  - name: a\n", KindAlertmanager},
		{"other YAML", "docker-compose.yaml", "services: {}\n", KindUnknown},
		{"a README", "README.md", "groups:\n", KindUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KindOf(tt.path, []byte(tt.src)); got != tt.want {
				t.Errorf("KindOf(%q) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

// TestNeutralLoad: files given with no obsctl.yaml anywhere up get the
// empty config and nothing of the embedded repo beside them.
func TestNeutralLoad(t *testing.T) {
	dir := writeRepo(t, map[string]string{"a.yaml": "groups: []\n"})
	r, err := Load(Options{WorkDir: dir, Paths: []string{"a.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Neutral || r.Embedded() || r.ConfigFile != nil || len(r.Config.Alerting.Severities) != 0 || r.Config.Rules.RequireRunbookURL != nil {
		t.Fatalf("neutral %v, embedded %v, config file %v, config %+v", r.Neutral, r.Embedded(), r.ConfigFile, r.Config)
	}
	if len(r.RuleFiles) != 1 || len(r.Dashboards) != 0 || len(r.Pipelines) != 0 {
		t.Fatalf("loaded %d rule files, %d dashboards, %d pipelines: want only a.yaml", len(r.RuleFiles), len(r.Dashboards), len(r.Pipelines))
	}
	// With no paths, the embedded repo and its own policy, as before.
	d, err := Load(Options{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if d.Neutral || !d.Embedded() || len(d.RuleFiles) < 5 || !d.Config.Rules.Has("requireRunbookURL") {
		t.Fatalf("no paths: neutral %v, embedded %v, %d rule files", d.Neutral, d.Embedded(), len(d.RuleFiles))
	}
}
