package ruletest

import (
	"context"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/source"
)

// memRules serves rule files from memory, by path.
type memRules map[string]string

func (m memRules) Glob(pattern string) ([]LoadedRules, error) {
	var out []LoadedRules
	for p, src := range m {
		if ok, _ := path.Match(pattern, p); !ok {
			continue
		}
		f, fds := promrule.Load(source.NewFile(p, []byte(src)))
		lr := LoadedRules{File: f}
		for _, fd := range fds {
			if fd.Severity >= diag.Error {
				lr.Errors = append(lr.Errors, fd)
			}
		}
		out = append(out, lr)
	}
	return out, nil
}

const nodeRules = `groups:
  - name: node
    labels: {team: infra}
    rules:
      - alert: NodeDown
        expr: up{job="node"} == 0
        for: 5m
        labels: {severity: page}
        annotations:
          summary: "{{ $labels.instance }} is down"
          where: "{{ $externalLabels.cluster }}"
      - alert: Flapping
        expr: up{job="node"} == 0
        keep_firing_for: 3m
        labels: {severity: warning}
      - record: job:up:sum
        expr: sum by (job) (up)
  - name: derived
    rules:
      - alert: NoNodes
        expr: job:up:sum{job="node"} == 0
        labels: {severity: critical}
`

const operatorRules = `apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: api}
spec:
  groups:
    - name: api
      rules:
        - alert: APIDown
          expr: up{job="api"} == 0
          labels: {severity: critical}
          annotations: {summary: "api {{ $labels.instance }} down"}
`

func run(t *testing.T, test string, opts Options) *Result {
	t.Helper()
	if opts.Rules == nil {
		opts.Rules = memRules{"rules/node.yaml": nodeRules, "rules/api.yaml": operatorRules}
	}
	res, err := Run(context.Background(), []*source.File{source.NewFile("rules/node_test.yaml", []byte(test))}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checks returns the outcome of every check: title and diff.
func outcome(res *Result) (passed []string, failed map[string]string, errs []string) {
	failed = map[string]string{}
	for _, f := range res.Files {
		for _, e := range f.Errors {
			errs = append(errs, e.String())
		}
		for _, g := range f.Groups {
			for _, c := range g.Checks {
				if c.Passed {
					passed = append(passed, c.Title())
				} else {
					failed[c.Title()] = c.Diff()
				}
			}
		}
	}
	return passed, failed, errs
}

func TestRun(t *testing.T) {
	tests := []struct {
		name string
		test string
		opts Options
		// pass lists the checks that pass; fail maps a failing check to
		// substrings its diff must hold; errs are substrings of file errors.
		pass []string
		fail map[string][]string
		errs []string
	}{{
		name: "for boundary: pending before 5m, firing at 5m",
		test: `rule_files: [node.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    external_labels: {cluster: east}
    input_series:
      - series: 'up{job="node", instance="a"}'
        values: '0x10'
    alert_rule_test:
      - {eval_time: 4m, alertname: NodeDown}
      - eval_time: 5m
        alertname: NodeDown
        exp_alerts:
          - exp_labels: {job: node, instance: a, severity: page, team: infra}
            exp_annotations: {summary: a is down, where: east}
`,
		pass: []string{"alert NodeDown at 4m", "alert NodeDown at 5m"},
	}, {
		name: "a wrong expectation names the alert, time and labels",
		test: `rule_files: [node.yaml]
tests:
  - interval: 1m
    input_series:
      - {series: 'up{job="node", instance="a"}', values: '0x10'}
    alert_rule_test:
      - eval_time: 6m
        alertname: NodeDown
        exp_alerts:
          - exp_labels: {job: node, instance: a, severity: critical, owner: me}
            exp_annotations: {summary: a is down}
`,
		opts: Options{ExternalLabels: map[string]string{"cluster": "west"}},
		fail: map[string][]string{"alert NodeDown at 6m": {
			`label severity: expected "critical", got "page"`,
			`missing label owner="me"`,
			`extra label team="infra"`,
			`extra annotation where="west"`,
		}},
	}, {
		name: "stack external labels lose to the test group's",
		test: `rule_files: [node.yaml]
tests:
  - interval: 1m
    external_labels: {cluster: mine}
    input_series:
      - {series: 'up{job="node", instance="a"}', values: '0x10'}
    alert_rule_test:
      - eval_time: 5m
        alertname: NodeDown
        exp_alerts:
          - exp_labels: {job: node, instance: a, severity: page, team: infra}
            exp_annotations: {summary: a is down, where: mine}
`,
		opts: Options{ExternalLabels: map[string]string{"cluster": "stack"}},
		pass: []string{"alert NodeDown at 5m"},
	}, {
		name: "keep_firing_for holds the alert after the condition clears",
		test: `rule_files: [node.yaml]
tests:
  - interval: 1m
    input_series:
      - {series: 'up{job="node", instance="a"}', values: '0 0 1 1 1 1 1 1'}
    alert_rule_test:
      - eval_time: 1m
        alertname: Flapping
        exp_alerts: [{exp_labels: {job: node, instance: a, severity: warning, team: infra}}]
      - eval_time: 4m
        alertname: Flapping
        exp_alerts: [{exp_labels: {job: node, instance: a, severity: warning, team: infra}}]
      - {eval_time: 5m, alertname: Flapping}
`,
		pass: []string{"alert Flapping at 1m", "alert Flapping at 4m", "alert Flapping at 5m"},
	}, {
		name: "promql_expr_test, staleness and recording rules",
		test: `rule_files: [node.yaml]
tests:
  - interval: 1m
    input_series:
      - {series: 'up{job="node", instance="a"}', values: '1 1 stale'}
      - {series: 'up{job="node", instance="b"}', values: '1+1x4'}
      - {series: 'up{job="api", instance="c"}', values: '_ _ 1'}
    promql_expr_test:
      - expr: up{job="node"}
        eval_time: 2m
        exp_samples:
          - {labels: 'up{job="node", instance="b"}', value: 3}
      - expr: job:up:sum
        eval_time: 1m
        exp_samples:
          - {labels: 'job:up:sum{job="node", team="infra"}', value: 3}
      - expr: count(up)
        eval_time: 1m
        exp_samples: [{value: 3}]
      - expr: scalar(count(up))
        eval_time: 2m
        exp_samples: [{value: 2}]
`,
		pass: []string{`expr up{job="node"} at 2m`, "expr job:up:sum at 1m", "expr scalar(count(up)) at 2m"},
		fail: map[string][]string{"expr count(up) at 1m": {"~ {}: expected 3, got 2"}},
	}, {
		name: "group_eval_order and PrometheusRule rule files by glob",
		test: `rule_files: ['*.yaml']
group_eval_order: [node, derived]
tests:
  - name: everything down
    interval: 1m
    input_series:
      - {series: 'up{job="node", instance="a"}', values: '0'}
      - {series: 'up{job="api", instance="b"}', values: '0'}
    alert_rule_test:
      - eval_time: 0m
        alertname: NoNodes
        exp_alerts: [{exp_labels: {job: node, severity: critical, team: infra}}]
      - eval_time: 0m
        alertname: APIDown
        exp_alerts:
          - exp_labels: {job: api, instance: b, severity: critical}
            exp_annotations: {summary: api b down}
`,
		pass: []string{"alert NoNodes at 0s", "alert APIDown at 0s"},
	}, {
		name: "--run keeps the checks it names",
		test: `rule_files: [node.yaml]
tests:
  - name: one
    input_series: [{series: 'up{job="node", instance="a"}', values: '1'}]
    alert_rule_test: [{eval_time: 0m, alertname: NodeDown}, {eval_time: 0m, alertname: Flapping}]
  - name: two
    input_series: [{series: 'up{job="node", instance="a"}', values: '1'}]
    alert_rule_test: [{eval_time: 0m, alertname: NoNodes}]
`,
		opts: Options{Run: regexp.MustCompile("^(Flapping|two)$")},
		pass: []string{"alert Flapping at 0s", "alert NoNodes at 0s"},
	}, {
		name: "start_timestamp, native histograms and fuzzy_compare",
		test: `rule_files: [node.yaml]
fuzzy_compare: true
tests:
  - interval: 1m
    start_timestamp: 1700000000
    input_series:
      - {series: 'lat', values: '{{schema:0 sum:5 count:4 buckets:[1 2 1]}}x3'}
      - {series: 'third', values: '0.3x3'}
    promql_expr_test:
      - expr: lat
        eval_time: 2m
        exp_samples: [{labels: lat, histogram: '{{schema:0 sum:5 count:4 counter_reset_hint:not_reset buckets:[1 2 1]}}'}]
      - expr: timestamp(third)
        eval_time: 1m
        exp_samples: [{value: 1700000060}]
      - expr: third * 3
        eval_time: 1m
        exp_samples: [{value: 0.9}]
`,
		pass: []string{"expr lat at 2m", "expr timestamp(third) at 1m", "expr third * 3 at 1m"},
	}, {
		name: "an unknown alert name fails",
		test: `rule_files: [node.yaml]
tests:
  - input_series: [{series: 'up', values: '1'}]
    alert_rule_test: [{eval_time: 0m, alertname: NodeDwn}]
`,
		fail: map[string][]string{"alert NodeDwn at 0s": {"no alerting rule is named NodeDwn"}},
	}, {
		name: "a missing rule file cannot run",
		test: "rule_files: [nope.yaml]\ntests: []\n",
		errs: []string{"rules/node_test.yaml:1:14: error: rule file nope.yaml: no such rule file"},
	}, {
		name: "schema mistakes are positioned",
		test: `rule_files: [node.yaml]
tests:
  - input_series: [{series: 'up', values: '1 x'}]
    alert_rule_tests: []
`,
		errs: []string{"rules/node_test.yaml:4:5: error: unknown field \"alert_rule_tests\""},
	}, {
		name: "a malformed input series is positioned",
		test: `rule_files: [node.yaml]
tests:
  - input_series: [{series: 'up', values: '1 x'}]
`,
		errs: []string{"rules/node_test.yaml:3:20: error: input series up"},
	}, {
		name: "a broken rule file cannot run",
		test: "rule_files: [broken.yaml]\ntests: []\n",
		opts: Options{Rules: memRules{"rules/broken.yaml": "groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: 'up =='\n"}},
		errs: []string{"rules/broken.yaml:5:15: error: alert X: the expression does not parse"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, tt.test, tt.opts)
			passed, failed, errs := outcome(res)
			for _, p := range tt.pass {
				if !slices.Contains(passed, p) {
					t.Errorf("check %q did not pass; passed %q, failed %q", p, passed, failed)
				}
			}
			if len(passed) != len(tt.pass) {
				t.Errorf("passed %q, want %q", passed, tt.pass)
			}
			for title, wants := range tt.fail {
				diff, ok := failed[title]
				if !ok {
					t.Errorf("check %q did not fail; failed %q", title, failed)
					continue
				}
				for _, w := range wants {
					if !strings.Contains(diff, w) {
						t.Errorf("diff of %q lacks %q:\n%s", title, w, diff)
					}
				}
			}
			if len(failed) != len(tt.fail) {
				t.Errorf("failed %q, want %d", failed, len(tt.fail))
			}
			if len(errs) != len(tt.errs) {
				t.Errorf("errors %q, want %q", errs, tt.errs)
			}
			for i, e := range tt.errs {
				if i < len(errs) && !strings.HasPrefix(errs[i], e) {
					t.Errorf("error %d = %q, want prefix %q", i, errs[i], e)
				}
			}
		})
	}
}
