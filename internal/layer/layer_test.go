package layer

import (
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/source"
)

func TestSetParam(t *testing.T) {
	for _, tc := range []struct {
		expr, old, new, want, err string
	}{
		{"x > 0.9", "0.9", "0.95", "x > 0.95", ""},
		{"rate(x[5m]) > 2 # two a second\n  and y == 0", "2", "3", "rate(x[5m]) > 3 # two a second\n  and y == 0", ""},
		{"x / y < 0.05 and on (a) z == 0", "0.05", "0.1", "x / y < 0.1 and on (a) z == 0", ""},
		{"x > 1e-1", "0.1", "0.2", "x > 0.2", ""},
		{"x > 0.9", "0.8", "0.95", "", "0 numbers of value 0.8"},
		{"x > 0.9 or y > 0.9", "0.9", "0.95", "", "2 numbers of value 0.9"},
		{"x > 0.9", "0.9", "much", "", `"much" is not a number`},
		{"x >", "0.9", "1", "", "parse error"},
	} {
		got, err := SetParam(tc.expr, tc.old, tc.new)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("SetParam(%q, %s, %s) = %q, %v; want an error with %q", tc.expr, tc.old, tc.new, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("SetParam(%q, %s, %s) = %q, %v; want %q", tc.expr, tc.old, tc.new, got, err, tc.want)
		}
	}
}

func TestSelector(t *testing.T) {
	for _, tc := range []struct {
		key, name string
		matchers  int
		err       string
	}{
		{"NodeCPUBusy", "NodeCPUBusy", 0, ""},
		{`NodeFilesystemFree{severity="critical"}`, "NodeFilesystemFree", 1, ""},
		{`NodeFilesystemFree{severity=~"crit.*", team!="a"}`, "NodeFilesystemFree", 2, ""},
		{`{severity="critical"}`, "", 0, "no alert name"},
		{`{__name__=~"Node.*"}`, "", 0, "not by a pattern"},
		{`Node{severity=}`, "", 0, "unexpected"},
		{" ", "", 0, "empty"},
	} {
		name, ms, err := Selector(tc.key)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Selector(%q): %v, want an error with %q", tc.key, err, tc.err)
			}
			continue
		}
		if err != nil || name != tc.name || len(ms) != tc.matchers {
			t.Errorf("Selector(%q) = %q, %d matchers, %v", tc.key, name, len(ms), err)
		}
	}
}

const defRules = `groups:
  - name: node.alerts
    rules:
      - alert: Busy
        # obsctl:parameter threshold=0.9 -- busy fraction
        expr: busy > 0.9
        for: 30m
        labels: {severity: warning}
        annotations: {summary: busy}
      - alert: Full
        expr: free < 0.1
        for: 5m
        labels: {severity: warning}
      - alert: Full
        expr: free < 0.05
        for: 5m
        labels: {severity: page}
  - name: node.extra
    rules:
      - record: node:x:sum
        expr: sum(x)
`

const defTests = `rule_files: [rules.yaml]
tests:
  - interval: 1m
    input_series:
      - {series: 'busy{instance="a"}', values: '1x60'}
    alert_rule_test:
      - {eval_time: 10m, alertname: Busy}
      - eval_time: 40m
        alertname: Busy
        exp_alerts:
          - exp_labels: {severity: warning, instance: a}
            exp_annotations: {summary: busy}
      - eval_time: 40m
        alertname: Full
        exp_alerts:
          - exp_labels: {severity: warning, instance: a}
          - exp_labels: {severity: page, instance: a}
    promql_expr_test:
      - expr: node:x:sum
        eval_time: 1m
        exp_samples: [{value: 1}]
`

func layered(t *testing.T, cfgSrc string) (*Content, *Result, *config.Config) {
	t.Helper()
	cf := source.NewFile("obsctl.yaml", []byte(cfgSrc))
	cfg, fds := config.Parse(cf)
	for _, f := range fds {
		if f.Severity >= diag.Error {
			t.Fatalf("config: %v", f)
		}
	}
	rf, fds := promrule.Load(source.NewFile(Dir+"/rules/rules.yaml", []byte(defRules)))
	if len(fds) > 0 || rf == nil {
		t.Fatalf("rules: %v", fds)
	}
	def := &Content{RuleFiles: []*promrule.File{rf}, RuleTests: []*source.File{source.NewFile(Dir+"/rules/rules_test.yaml", []byte(defTests))}}
	res := Apply(cfg, cf, &Content{}, def)
	return def, res, cfg
}

func TestApply(t *testing.T) {
	def, res, _ := layered(t, `apiVersion: obsctl/v1
name: t
overrides:
  severities: {page: critical, info: warning}
  labels: {cluster: prod, team: all}
  annotations: {dashboard: https://grafana.example/d/x}
  alerts:
    Busy:
      for: 1h
      labels: {team: infra}
      parameters: {threshold: 0.95}
    Full{severity="warning"}: {disabled: true}
    Gone: {disabled: true}
    Busy{severity="page"}: {severity: critical}
  groups:
    node.extra: {disabled: true}
`)
	var msgs []string
	for _, f := range res.Findings {
		msgs = append(msgs, f.Check+": "+f.Message)
	}
	want := []string{
		`defaults/override: overrides.alerts: the default content has no alert "Busy" with the labels {severity="page"}`,
		`defaults/override: overrides.alerts: the default content has no alert "Gone"`,
		`defaults/override: overrides.severities: no default alert has the severity "info"`,
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings\n%s\nwant\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	rules := def.RuleFiles[0].Rules()
	if len(def.RuleFiles[0].Groups) != 1 || len(rules) != 2 {
		t.Fatalf("left %d groups, %d rules; want the alerts group with Busy and Full{page}", len(def.RuleFiles[0].Groups), len(rules))
	}
	busy, full := rules[0], rules[1]
	if busy.Expr != "busy > 0.95" || busy.For.String() != "1h0m0s" || busy.Params[0].Value != "0.95" {
		t.Errorf("Busy: expr %q, for %v, params %v", busy.Expr, busy.For, busy.Params)
	}
	if kv, _ := busy.Label("team"); kv.Value != "infra" {
		t.Errorf("Busy's labels %v", busy.Labels)
	}
	if kv, _ := full.Label("severity"); kv.Value != "critical" {
		t.Errorf("Full{page} was not mapped to critical: %v", full.Labels)
	}
	// Every default alert has the labels and annotations of overrides,
	// but where an override of the alert sets them.
	for _, r := range rules {
		want := map[string]string{"cluster": "prod", "team": "all"}
		if r == busy {
			want["team"] = "infra"
		}
		for k, v := range want {
			if kv, _ := r.Label(k); kv.Value != v {
				t.Errorf("%s: label %s %q, want %q", r.Alert, k, kv.Value, v)
			}
		}
		if kv, _ := r.Annotation("dashboard"); kv.Value != "https://grafana.example/d/x" {
			t.Errorf("%s: annotations %v", r.Alert, r.Annotations)
		}
	}
	if !res.Removed["node:x:sum"] || res.Removed["Full"] {
		t.Errorf("removed %v: want the disabled group's record, and not Full, one of which is left", res.Removed)
	}

	// The default tests: Busy's are left out (its for and threshold
	// changed) with a finding; Full's page alert is expected critical,
	// and its warning alert, disabled, no more; the disabled group's
	// expression test is left out.
	tests, fds := Tests(res, nil, def.RuleTests)
	if len(fds) != 1 || fds[0].Check != CheckTest || !strings.Contains(fds[0].Message, "Busy (for 1h, label team=\"infra\", threshold=0.95)") {
		t.Errorf("test findings %v", fds)
	}
	got := string(tests[0].Src)
	for _, w := range []string{"alertname: Full", "severity: critical", "cluster: prod"} {
		if !strings.Contains(got, w) {
			t.Errorf("fitted tests lack %q:\n%s", w, got)
		}
	}
	for _, w := range []string{"alertname: Busy", "node:x:sum", "severity: warning"} {
		if strings.Contains(got, w) {
			t.Errorf("fitted tests still have %q:\n%s", w, got)
		}
	}
	// A repo that tests Busy itself is not asked to.
	own := source.NewFile("rules/busy_test.yaml", []byte("tests:\n  - alert_rule_test:\n      - {eval_time: 1m, alertname: Busy}\n"))
	if _, fds := Tests(res, []*source.File{own}, def.RuleTests); len(fds) != 0 {
		t.Errorf("asked for a test the repo has: %v", fds)
	}
}

func TestTestsUnchanged(t *testing.T) {
	def, res, _ := layered(t, "apiVersion: obsctl/v1\nname: t\n")
	tests, fds := Tests(res, nil, def.RuleTests)
	if len(fds) != 0 || len(tests) != 1 || tests[0] != def.RuleTests[0] {
		t.Errorf("without overrides, the tests are not the default's own: %v %v", tests, fds)
	}
	// A routing test of the defaults tests their routing, not the repo's.
	route := source.NewFile(Dir+"/rules/routing_test.yaml", []byte("route_tests:\n  - {name: a, labels: {a: b}, receivers: [x]}\n"))
	if tests, _ := Tests(res, nil, []*source.File{route}); len(tests) != 0 {
		t.Errorf("the default routing tests were kept")
	}
}

// TestApplyMatchesAsWritten: overrides are matched against the default
// content as written, whatever other overrides changed; a mapping of
// severities that chains (warning to page, page to critical) maps each
// alert once, and its tests follow; a selector's own label wins over the
// one for every alert; an override that cannot be carried out whole
// changes nothing; the rules that read a disabled group's records are
// said, and their tests left out.
func TestApplyMatchesAsWritten(t *testing.T) {
	src := `apiVersion: obsctl/v1
name: t
alerting:
  severities: [critical, page, warning]
overrides:
  severities: {warning: page, page: critical}
  labels: {team: platform}
  alerts:
    Full{severity="warning"}:
      labels: {team: db}
    Busy:
      for: 2h
      parameters: {nope: 1}
  groups:
    node.extra: {disabled: true}
`
	cf := source.NewFile("obsctl.yaml", []byte(src))
	cfg, fds := config.Parse(cf)
	if diag.Max(fds) >= diag.Error {
		t.Fatal(fds)
	}
	rules := defRules + `  - name: node.readers
    rules:
      - alert: UsesX
        expr: node:x:sum > 1
        for: 5m
        labels: {severity: warning}
`
	rf, lfds := promrule.Load(source.NewFile(Dir+"/rules/rules.yaml", []byte(rules)))
	if len(lfds) > 0 {
		t.Fatal(lfds)
	}
	tests := strings.Replace(defTests, "    promql_expr_test:\n", "      - {eval_time: 40m, alertname: UsesX}\n    promql_expr_test:\n", 1)
	def := &Content{RuleFiles: []*promrule.File{rf}, RuleTests: []*source.File{source.NewFile(Dir+"/rules/rules_test.yaml", []byte(tests))}}
	res := Apply(cfg, cf, &Content{}, def)
	var msgs []string
	for _, f := range res.Findings {
		msgs = append(msgs, f.Message)
	}
	want := []string{
		`overrides.alerts: Busy declares no parameter "nope"`,
		"overrides.groups: UsesX read what a disabled group records, and would never fire",
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings\n%s\nwant\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	got := map[string]string{}
	for _, r := range def.RuleFiles[0].Rules() {
		sev, _ := r.Label("severity")
		team, _ := r.Label("team")
		got[r.Alert+"/"+sev.Value] = team.Value + " " + r.For.String() + " " + r.Expr
	}
	for k, v := range map[string]string{
		"Busy/page":     "platform 30m0s busy > 0.9", // the override that failed changed nothing
		"Full/page":     "db 5m0s free < 0.1",        // warning mapped once, to page; its selector's team
		"Full/critical": "platform 5m0s free < 0.05", // page mapped to critical
	} {
		if got[k] != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	fitted, _ := Tests(res, nil, def.RuleTests)
	text := string(fitted[0].Src)
	for _, w := range []string{"severity: page", "team: db", "severity: critical", "team: platform"} {
		if !strings.Contains(text, w) {
			t.Errorf("the fitted tests lack %q:\n%s", w, text)
		}
	}
	if strings.Contains(text, "UsesX") {
		t.Errorf("the test of UsesX, which can no longer fire, was kept:\n%s", text)
	}
}
