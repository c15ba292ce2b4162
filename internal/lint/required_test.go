package lint

import (
	"slices"
	"testing"

	"github.com/obsctl/obsctl/internal/diag"
)

// TestRequiredChecksStayOn: disabling everything, an area or a required
// check by name leaves the required checks on; they include the syntax
// and schema checks.
func TestRequiredChecksStayOn(t *testing.T) {
	var required []string
	for _, c := range Checks() {
		if c.Meta().Required {
			required = append(required, c.Name())
		}
	}
	for _, name := range []string{"yaml/syntax", "rules/schema", "config/schema", "pipelines/read", "pipelines/schema", "dashboards/syntax"} {
		if !slices.Contains(required, name) {
			t.Errorf("%s can be disabled", name)
		}
	}
	for _, disable := range [][]string{{"all"}, {"yaml/*", "rules/*", "config/*", "pipelines/*", "dashboards/*", "stack/*"}, required} {
		l, err := New(Options{Disable: disable})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range required {
			if !l.enabled[name] {
				t.Errorf("--disable %v turns %s off", disable, name)
			}
		}
		if slices.Equal(disable, []string{"all"}) && len(l.Checks()) != len(required) {
			t.Errorf("--disable all leaves %d checks on, want the %d required ones", len(l.Checks()), len(required))
		}
	}
}

// TestRequiredIgnoresDisableComments: a disable comment does not silence a
// required check's finding, and still silences another check's.
func TestRequiredIgnoresDisableComments(t *testing.T) {
	cfg := "apiVersion: obsctl/v1\nname: t\nalerting:\n  severities: [warning]\n"
	rules := "# obsctl:disable-file dashboards/syntax rules/for-missing\ngroups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    labels: {severity: warning}\n    annotations: {summary: s, description: d, runbook_url: u}\n"
	r := repoOf(cfg, map[string]string{"rules.yaml": rules})
	p := &Pass{Config: r.Config, Repo: r, File: r.RuleFiles[0], out: new([]diag.Finding)}
	for _, c := range []struct {
		check    string
		required bool
	}{{"dashboards/syntax", true}, {"rules/for-missing", false}} {
		p.check, p.required = c.check, c.required
		n := len(*p.out)
		p.Report(r.RuleFiles[0].Whole(), "", "finding")
		if got := len(*p.out) > n; got != c.required {
			t.Errorf("%s: reported %v, want %v", c.check, got, c.required)
		}
	}
}
