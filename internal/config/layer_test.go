package config

import (
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/diag"
)

func TestDefaultsParts(t *testing.T) {
	for _, tc := range []struct {
		src  string
		want string // the parts on, in DefaultParts' order
	}{
		{"", "rules dashboards pipelines slos routing"},
		{"defaults: true\n", "rules dashboards pipelines slos routing"},
		{"defaults: false\n", ""},
		{"defaults: {}\n", "rules dashboards pipelines slos routing"},
		{"defaults: {dashboards: false, routing: false}\n", "rules pipelines slos"},
		{"defaults:\n  rules: false\n  slos: true\n", "dashboards pipelines slos routing"},
	} {
		c, fds := parse(t, "apiVersion: obsctl/v1\nname: x\n"+tc.src)
		if len(fds) > 0 {
			t.Errorf("%q: %v", tc.src, fds)
		}
		var on []string
		for _, p := range DefaultParts {
			if c.DefaultsOn(p) {
				on = append(on, p)
			}
		}
		if got := strings.Join(on, " "); got != tc.want {
			t.Errorf("%q: parts on %q, want %q", tc.src, got, tc.want)
		}
		if c.AnyDefaults() != (tc.want != "") {
			t.Errorf("%q: AnyDefaults %v", tc.src, c.AnyDefaults())
		}
	}
}

func TestOverridesParse(t *testing.T) {
	c, fds := parse(t, `apiVersion: obsctl/v1
name: x
alerting:
  severities: [critical, warning]
overrides:
  severities: {page: critical}
  alerts:
    NodeCPUBusy:
      for: 1h
      severity: critical
      labels: {team: a}
      annotations: {runbook_url: "https://r.example/cpu"}
      parameters: {threshold: 0.95}
    Watchdog: {disabled: true}
  groups: {jaeger.alerts: {disabled: true}}
  dashboards: {obsctl-tracing: {disabled: true}}
  pipelines: {ingress: {disabled: true}}
`)
	if len(fds) > 0 {
		t.Fatal(fds)
	}
	a := c.Overrides.Alerts["NodeCPUBusy"]
	if a == nil || a.For.D.String() != "1h0m0s" || a.Severity != "critical" || a.Labels["team"] != "a" || a.Parameters["threshold"] != "0.95" || !a.Changes() {
		t.Errorf("NodeCPUBusy override %+v", a)
	}
	if got := a.String(); got != `for 1h, severity critical, label team="a", annotation runbook_url, threshold=0.95` {
		t.Errorf("String() = %q", got)
	}
	if !c.Overrides.Alerts["Watchdog"].Disabled || c.Overrides.Alerts["Watchdog"].Changes() || !c.Overrides.Groups["jaeger.alerts"].Disabled {
		t.Errorf("disabled overrides %+v", c.Overrides)
	}
}

func TestOverridesBad(t *testing.T) {
	for _, tc := range []struct {
		src  string
		line int
		msg  string
	}{
		{"defaults: false\noverrides:\n  alerts: {A: {disabled: true}}\n", 5, "overrides change the default content, which this repo does not take"},
		{"defaults: maybe\n", 3, "must be a mapping"},
		{"defaults: {rule: false}\n", 3, `unknown key "rule" in defaults`},
		{"overrides:\n  alerts:\n    A:\n", 5, "overrides.alerts.A says nothing"},
		{"overrides:\n  alerts:\n    A: {disabled: true, for: 5m}\n", 5, "is disabled and changed"},
		{"overrides:\n  alerts:\n    A: {severity: urgent}\n", 5, `severity "urgent" is not declared`},
		{"overrides:\n  alerts:\n    A: {severity: critical, labels: {severity: warning}}\n", 5, "sets severity twice"},
		{"overrides:\n  alerts:\n    A: {labels: {bad-name: x}}\n", 5, `invalid label name "bad-name"`},
		{"overrides:\n  alerts:\n    A: {parameters: {threshold: high}}\n", 5, `"high" is not a number`},
		{"overrides:\n  alerts:\n    A: {for: soon}\n", 5, "invalid duration"},
		{"overrides:\n  groups: {g: {disabled: false}}\n", 4, "changes nothing: only disabling is supported"},
		{"overrides:\n  severities: {page: urgent}\n", 4, `overrides.severities.page: "urgent" is not declared`},
		{"overrides:\n  labels: {severity: page}\n", 4, "overrides.labels would give every default alert one severity"},
		{"overrides:\n  annotations: {bad-name: x}\n", 4, `invalid annotation name "bad-name"`},
		{"overrides:\n  runbookBaseURL: wiki.example.com/runbooks\n", 4, `is not an http(s) base URL`},
		{"overrides:\n  runbookBaseURL: https://wiki.example.com/runbooks#top\n", 4, `is not an http(s) base URL`},
		{"stack:\n  controlPlane: eks\n", 4, `unknown controlPlane "eks"`},
	} {
		_, fds := parse(t, "apiVersion: obsctl/v1\nname: x\n"+tc.src+"alerting:\n  severities: [critical, warning]\n")
		found := false
		for _, f := range fds {
			if f.Severity >= diag.Error && strings.Contains(f.Message, tc.msg) {
				found = true
				if f.Start.Line != tc.line {
					t.Errorf("%q: %q at line %d, want %d", tc.src, tc.msg, f.Start.Line, tc.line)
				}
			}
		}
		if !found {
			t.Errorf("%q: no finding %q in %v", tc.src, tc.msg, fds)
		}
	}
}

// TestRunbookBaseURLWithoutDefaults: the runbook links' base applies to a
// repo that copied the default content too (defaults: false).
func TestRunbookBaseURLWithoutDefaults(t *testing.T) {
	_, fds := parse(t, "apiVersion: obsctl/v1\nname: x\ndefaults: false\noverrides:\n  runbookBaseURL: https://wiki.example.com/obsctl/runbooks\n")
	if len(fds) > 0 {
		t.Errorf("findings: %v", fds)
	}
}
