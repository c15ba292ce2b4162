package ruletest

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/source"
)

const coverageRules = `groups:
  - name: g
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - record: job:up:count
        expr: count by (job) (job:up:sum)
      - record: unread
        expr: vector(2)
      - alert: NodeDown
        expr: up{job="node"} == 0
        for: 5m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.instance }} is down", runbook_url: "http://x"}
      - alert: NoNodes
        expr: job:up:count{job="node"} == 0
        labels: {severity: critical}
        annotations: {summary: none}
      - alert: Rebooted
        expr: up{job="node"} == 1 and on(instance) changes(boot_time[10m]) > 0
        labels: {severity: info}
      - alert: Stale
        expr: up{job="node"} offset 10m == 0
        labels: {severity: info}
      - alert: NoSeverity
        expr: up{job="node"} == 0
      - alert: Twice
        expr: up{job="node"} == 0
        labels: {severity: warning}
      - alert: Twice
        expr: up{job="node"} == 0
        for: 10m
        labels: {severity: critical}
      - alert: Watchdog
        expr: vector(1)
        labels: {severity: none}
`

func TestCoverage(t *testing.T) {
	// The test groups: down fires the alerts on n1 and shows them silent
	// on n2 (healthy); empty has no input.
	const head = `rule_files: [rules.yaml]
tests:
`
	const down = `  - name: down
    input_series:
      - {series: 'up{job="node", instance="n1"}', values: '0x20'}
    alert_rule_test:
`
	const healthy = `  - name: healthy
    input_series:
      - {series: 'up{job="node", instance="n2"}', values: '1x20'}
      - {series: 'boot_time{instance="n2"}', values: '5x20'}
    alert_rule_test:
`
	const empty = `  - name: empty
    alert_rule_test:
`
	for _, tc := range []struct {
		name  string
		tests string
		// missing is what is missing of each alert not covered, and of
		// each recording rule not read ("-").
		missing map[string]string
	}{{
		name: "fires and silent on healthy input",
		tests: down + `      - eval_time: 5m
        alertname: NodeDown
        exp_alerts:
          - exp_labels: {job: node, instance: n1, severity: page}
            exp_annotations: {summary: n1 is down, runbook_url: "http://x"}
` + healthy + `      - {eval_time: 5m, alertname: NodeDown}
`,
		missing: map[string]string{"NodeDown": ""},
	}, {
		name: "before its for, the alert does not fire",
		tests: down + `      - {eval_time: 4m, alertname: NodeDown}
`,
		missing: map[string]string{"NodeDown": "no test makes it fire"},
	}, {
		name: "silent on empty input is not enough",
		tests: empty + `      - {eval_time: 5m, alertname: NodeDown}
`,
		missing: map[string]string{"NodeDown": `no test makes it fire; no test shows it silent on input every selector matches (up{job="node"} selects nothing)`},
	}, {
		name: "a failing check proves nothing",
		tests: down + `      - eval_time: 5m
        alertname: NodeDown
        exp_alerts:
          - exp_labels: {job: node, instance: n1, severity: page}
            exp_annotations: {summary: wrong, runbook_url: "http://x"}
` + healthy + `      - {eval_time: 5m, alertname: NodeDown}
      - {eval_time: 5m, alertname: NodeDown, exp_alerts: [{exp_labels: {instance: n2}}]}
`,
		missing: map[string]string{"NodeDown": "no test makes it fire"},
	}, {
		name: "every selector must match, within its range",
		tests: healthy + `      - {eval_time: 5m, alertname: Rebooted}
      - {eval_time: 20m, alertname: Stale}
` + `  - name: no boot time
    input_series:
      - {series: 'up{job="node", instance="n2"}', values: '1x20'}
    alert_rule_test:
      - {eval_time: 5m, alertname: Rebooted}
  - name: boot time long ago
    input_series:
      - {series: 'up{job="node", instance="n2"}', values: '1x30'}
      - {series: 'boot_time{instance="n2"}', values: '5'}
    alert_rule_test:
      - {eval_time: 30m, alertname: Rebooted}
  - name: not yet there at the offset
    input_series:
      - {series: 'up{job="node", instance="n2"}', values: '1x20'}
    alert_rule_test:
      - {eval_time: 5m, alertname: Stale}
`,
		missing: map[string]string{
			"Rebooted": "no test makes it fire",
			"Stale":    "no test makes it fire",
		},
	}, {
		name: "offset and range windows",
		tests: `  - name: offset only
    input_series:
      - {series: 'up{job="node", instance="n2"}', values: '1x20'}
    alert_rule_test:
      - {eval_time: 5m, alertname: Stale}
  - name: boot time long ago
    input_series:
      - {series: 'up{job="node", instance="n2"}', values: '1x30'}
      - {series: 'boot_time{instance="n2"}', values: '5'}
    alert_rule_test:
      - {eval_time: 30m, alertname: Rebooted}
`,
		missing: map[string]string{
			"Rebooted": `no test makes it fire; no test shows it silent on input every selector matches (boot_time selects nothing)`,
			"Stale":    `no test makes it fire; no test shows it silent on input every selector matches (up{job="node"} offset 10m selects nothing)`,
		},
	}, {
		name: "a rule without severity cannot be covered",
		tests: down + `      - eval_time: 0m
        alertname: NoSeverity
        exp_alerts:
          - exp_labels: {job: node, instance: n1}
`,
		missing: map[string]string{"NoSeverity": "tests make it fire but none asserts the severity label; no test shows it silent"},
	}, {
		name: "rules of one name are told apart by their labels",
		tests: down + `      - eval_time: 5m
        alertname: Twice
        exp_alerts:
          - exp_labels: {job: node, instance: n1, severity: warning}
`,
		missing: map[string]string{"Twice": "no test shows it silent"},
	}, {
		name: "a watchdog needs only to fire",
		tests: empty + `      - {eval_time: 0m, alertname: Watchdog, exp_alerts: [{exp_labels: {severity: none}}]}
`,
		missing: map[string]string{"Watchdog": ""},
	}, {
		name: "an alert reads recording rules through others",
		tests: down + `      - {eval_time: 0m, alertname: NoNodes}
`,
		missing: map[string]string{"NoNodes": "no test makes it fire", "job:up:sum": "", "job:up:count": "", "unread": "-"},
	}, {
		name: "an expression test reads a recording rule",
		tests: down + `    promql_expr_test:
      - {expr: 'job:up:sum', eval_time: 0m, exp_samples: [{labels: 'job:up:sum{job="node"}', value: 0}]}
      - {expr: 'unread', eval_time: 0m, exp_samples: [{labels: 'unread', value: 3}]}
`,
		missing: map[string]string{"job:up:sum": "", "job:up:count": "-", "unread": "-"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rf := memRules{"rules/rules.yaml": coverageRules}
			res, err := Run(context.Background(), []*source.File{source.NewFile("rules/rules_test.yaml", []byte(head+tc.tests))},
				Options{Rules: rf, Coverage: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range res.Files {
				if len(f.Errors) > 0 {
					t.Fatalf("test file errors: %v", f.Errors)
				}
			}
			f, _ := promrule.Load(source.NewFile("rules/rules.yaml", []byte(coverageRules)))
			cov := res.CoverageOf([]*promrule.File{f}, false)
			got := map[string]string{}
			seen := map[string]bool{}
			for _, a := range cov.Alerts {
				if seen[a.Name] {
					// The second Twice: nothing tests it.
					if !slices.Contains(a.Missing, "no test makes it fire") {
						t.Errorf("the critical Twice is covered by the warning's test: %v", a.Missing)
					}
					continue
				}
				seen[a.Name] = true
				got[a.Name] = strings.Join(a.Missing, "; ")
			}
			for _, r := range cov.Records {
				got[r.Name] = ""
				if !r.Read {
					got[r.Name] = "-"
				}
			}
			for name, want := range tc.missing {
				if got[name] != want {
					t.Errorf("%s: missing %q, want %q", name, got[name], want)
				}
			}
		})
	}
}
