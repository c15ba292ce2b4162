package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

func parse(t *testing.T, src string) (*Config, []diag.Finding) {
	t.Helper()
	return Parse(source.NewFile(FileName, []byte(src)))
}

func TestParseGood(t *testing.T) {
	src, err := os.ReadFile("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, fs := parse(t, string(src))
	if len(fs) != 0 {
		t.Fatalf("unexpected findings: %v", fs)
	}
	if c.Name != "prod" || c.ScrapeInterval() != 15*time.Second {
		t.Errorf("name/scrape: %q %v", c.Name, c.ScrapeInterval())
	}
	if got := c.RequiredAnnotations(); strings.Join(got, ",") != "summary,description" {
		t.Errorf("RequiredAnnotations = %v", got)
	}
	r := c.Receiver("team-pager")
	if r == nil || r.Opsgenie == nil || r.Opsgenie.APIKey.Secret.Key != "api-key" {
		t.Fatalf("receiver not decoded: %+v", r)
	}
	if c.Alerting.GroupWait.D != 30*time.Second || c.Alerting.Routes[0].RepeatInterval.D != time.Hour {
		t.Errorf("timing not decoded: %+v %+v", c.Alerting.Timing, c.Alerting.Routes[0].Timing)
	}
	if sp := c.Alerting.Routes[0].Span("receiver"); sp.Start.Line != 26 || sp.Start.Col != 17 {
		t.Errorf("receiver span = %v", sp)
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check string
		line  int
		col   int
		msg   string
	}{
		{"unknown key", "apiVersion: obsctl/v1\nname: x\nalertng: {}\n", CheckSchema, 3, 1, `unknown key "alertng"`},
		{"wrong version", "apiVersion: obsctl/v2\nname: x\n", CheckSchema, 1, 13, "unsupported apiVersion"},
		{"missing name", "apiVersion: obsctl/v1\n", CheckSchema, 1, 1, `missing required key "name"`},
		{"bad duration", "apiVersion: obsctl/v1\nname: x\nprometheus:\n  scrapeInterval: 30 seconds\n", CheckSchema, 4, 19, "invalid duration"},
		{"wrong type", "apiVersion: obsctl/v1\nname: x\nalerting:\n  severities: page\n", CheckSchema, 4, 15, "must be a list"},
		{"literal secret", "apiVersion: obsctl/v1\nname: x\nalerting:\n  receivers:\n  - name: a\n    opsgenie:\n      apiKey: 0123456789abcdef\n", CheckSecretRef, 7, 15, "literal"},
		{"bad env", "apiVersion: obsctl/v1\nname: x\nalerting:\n  receivers:\n  - name: a\n    opsgenie:\n      apiKey: {env: 'A B'}\n", CheckSchema, 7, 21, "environment variable"},
		{"duplicate key", "apiVersion: obsctl/v1\nname: x\nname: y\n", CheckSchema, 3, 1, "written twice"},
		{"empty", "", CheckSchema, 1, 1, "empty"},
		{"syntax", "apiVersion: [\n", "yaml/syntax", 1, 1, "YAML syntax"},
		{"bool", "apiVersion: obsctl/v1\nname: x\nrules:\n  requireRunbookURL: 'yes'\n", CheckSchema, 4, 22, "true or false"},
		{"bad stack name", "apiVersion: obsctl/v1\nname: Prod_1\n", CheckSchema, 2, 7, "invalid stack name"},
		{"duplicate receiver", "apiVersion: obsctl/v1\nname: x\nalerting:\n  receivers:\n  - name: a\n  - name: a\n", CheckSchema, 6, 11, "declared twice"},
		{"merge key", "apiVersion: obsctl/v1\nname: x\nrules: {<<: {}}\n", CheckSchema, 3, 9, "merge keys"},
		{"stack profile", stackSrc("profile: large"), CheckSchema, 4, 12, `unknown profile "large"`},
		{"stack namespace", stackSrc("namespace: Monitoring"), CheckSchema, 4, 14, `invalid namespace "Monitoring"`},
		{"stack same namespaces", stackSrc("namespace: mon\n  agentNamespace: mon"), CheckSchema, 5, 19, "same as namespace"},
		{"stack registry", stackSrc("registry: 'https://r.example'"), CheckSchema, 4, 13, "invalid registry"},
		{"component key", stackSrc("components: {prometheus: {replica: 2}}"), CheckSchema, 4, 29, `unknown key "replica"`},
		{"component component", stackSrc("components: {grafna: {}}"), CheckSchema, 4, 16, `unknown key "grafna"`},
		{"component version", stackSrc("components: {grafana: {version: 'v1 beta'}}"), CheckSchema, 4, 35, `grafana: invalid version "v1 beta"`},
		{"component image with tag", stackSrc("components: {grafana: {image: 'grafana/grafana:11'}}"), CheckSchema, 4, 33, "invalid image"},
		{"component replicas", stackSrc("components: {prometheus: {replicas: 0}}"), CheckSchema, 4, 39, "replicas 0: want 1 to 10"},
		{"component quantity", stackSrc("components: {prometheus: {resources: {limits: {memory: 4GB}}}}"), CheckSchema, 4, 58, `invalid quantity "4GB"`},
		{"component storage", stackSrc("components: {prometheus: {storage: {size: lots}}}"), CheckSchema, 4, 45, `invalid quantity "lots"`},
		{"component retention", stackSrc("components: {prometheus: {retention: forever}}"), CheckSchema, 4, 40, "invalid duration"},
		{"toleration operator", stackSrc("components: {fluentd: {tolerations: [{operator: Any}]}}"), CheckSchema, 4, 51, `unknown toleration operator "Any"`},
		{"toleration effect", stackSrc("components: {fluentd: {tolerations: [{operator: Exists, effect: NoRun}]}}"), CheckSchema, 4, 67, `unknown taint effect "NoRun"`},
		{"toleration seconds", stackSrc("components: {fluentd: {tolerations: [{key: k, tolerationSeconds: 30}]}}"), CheckSchema, 4, 68, "NoExecute effect only"},
		{"ingress class", stackSrc("ingress: {className: haproxy}"), CheckSchema, 4, 24, `unknown ingress class "haproxy"`},
		{"ingress no host", stackSrc("ingress: {enabled: true}"), CheckSchema, 4, 22, "enabled for no host"},
		{"ingress host", stackSrc("ingress: {hosts: {grafana: 'Grafana!'}}"), CheckSchema, 4, 30, `invalid host name "Grafana!"`},
		{"stack namespace reserved", stackSrc("namespace: kube-system"), CheckSchema, 4, 14, `stack.namespace "kube-system" is reserved`},
		{"agent namespace reserved", stackSrc("agentNamespace: kube-public"), CheckSchema, 4, 19, `stack.agentNamespace "kube-public" is reserved`},
		{"stack namespace default", stackSrc("namespace: default"), CheckSchema, 4, 14, `"default" is reserved`},
		{"rules namespace reserved", "apiVersion: obsctl/v1\nname: x\nrules:\n  namespace: kube-node-lease\n", CheckSchema, 4, 14, `rules.namespace "kube-node-lease" is reserved`},
		{"node-exporter port low", stackSrc("components: {nodeExporter: {port: 80}}"), CheckSchema, 4, 37, "port 80: want 1024 to 65535"},
		{"node-exporter port high", stackSrc("components: {nodeExporter: {port: 70000}}"), CheckSchema, 4, 37, "port 70000"},
		{"node-exporter port type", stackSrc("components: {nodeExporter: {port: http}}"), CheckSchema, 4, 37, "whole number"},
		{"node-exporter component key", stackSrc("components: {nodeExporter: {version: 'v 1'}}"), CheckSchema, 4, 40, `nodeExporter: invalid version`},
		{"scrape interval by job zero", "apiVersion: obsctl/v1\nname: x\nprometheus:\n  scrapeIntervals:\n    batch: 0s\n", CheckSchema, 5, 5, "scrapeIntervals.batch must be longer than zero"},
		{"scrape interval by job bad", "apiVersion: obsctl/v1\nname: x\nprometheus:\n  scrapeIntervals: {batch: often}\n", CheckSchema, 4, 28, "invalid duration"},
		{"runbook annotation name", "apiVersion: obsctl/v1\nname: x\nrules:\n  runbookAnnotations: [runbook-url]\n", CheckSchema, 4, 24, `invalid annotation name "runbook-url"`},
		{"silent severity twice", "apiVersion: obsctl/v1\nname: x\nalerting:\n  silentSeverities: [none, none]\n", CheckSchema, 4, 28, `silent severity "none" is listed twice`},
		{"port on another component", stackSrc("components: {grafana: {port: 3000}}"), CheckSchema, 4, 26, `unknown key "port"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, fs := parse(t, tt.src)
			for _, f := range fs {
				if f.Check == tt.check && f.Start.Line == tt.line && f.Start.Col == tt.col && strings.Contains(f.Message, tt.msg) {
					return
				}
			}
			t.Errorf("want %s at %d:%d containing %q, got %v", tt.check, tt.line, tt.col, tt.msg, fs)
		})
	}
}

// TestNeutralDefaults: what obsctl.yaml does not say is no policy. No
// runbook is required, the scrape interval is unknown to lint (render
// keeps its default), and none is the silent severity.
func TestNeutralDefaults(t *testing.T) {
	c, fs := parse(t, "apiVersion: obsctl/v1\nname: x\n")
	if len(fs) != 0 {
		t.Fatalf("unexpected findings: %v", fs)
	}
	if got := c.RequiredAnnotations(); strings.Join(got, ",") != "summary,description" {
		t.Errorf("RequiredAnnotations = %v, want no runbook", got)
	}
	if d, ok := c.KnownScrapeInterval(""); ok {
		t.Errorf("KnownScrapeInterval = %v, want unknown", d)
	}
	if c.ScrapeInterval() != DefaultScrapeInterval {
		t.Errorf("ScrapeInterval = %v, want the render default", c.ScrapeInterval())
	}
	if !c.SilentSeverity("none") || c.SilentSeverity("info") {
		t.Errorf("SilentSeverities = %v, want [none]", c.SilentSeverities())
	}
	if got := c.RunbookAnnotations(); strings.Join(got, ",") != "runbook_url" {
		t.Errorf("RunbookAnnotations = %v", got)
	}
}

func TestDeclaredPolicy(t *testing.T) {
	c, fs := parse(t, `apiVersion: obsctl/v1
name: x
prometheus:
  scrapeInterval: 30s
  scrapeIntervals: {batch: 2m, edge: 5s}
rules:
  requireRunbookURL: true
  runbookAnnotations: [documentation]
alerting:
  silentSeverities: []
`)
	if len(fs) != 0 {
		t.Fatalf("unexpected findings: %v", fs)
	}
	if got := c.RequiredAnnotations(); strings.Join(got, ",") != "summary,description,runbook_url" {
		t.Errorf("RequiredAnnotations = %v", got)
	}
	if got := c.RunbookAnnotations(); strings.Join(got, ",") != "runbook_url,documentation" {
		t.Errorf("RunbookAnnotations = %v", got)
	}
	for job, want := range map[string]time.Duration{"batch": 2 * time.Minute, "edge": 5 * time.Second, "api": 30 * time.Second, "": 30 * time.Second} {
		if d, ok := c.KnownScrapeInterval(job); !ok || d != want {
			t.Errorf("KnownScrapeInterval(%q) = %v %v, want %v", job, d, ok, want)
		}
	}
	if c.SilentSeverity("none") {
		t.Error("silentSeverities: [] leaves no silent severity, none included")
	}
}

// TestEmbeddedPolicy: the embedded default repo keeps its strict policy by
// saying so, now that an unset field means none.
func TestEmbeddedPolicy(t *testing.T) {
	src, err := os.ReadFile("../../obsctl.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, fs := parse(t, string(src))
	if len(fs) != 0 {
		t.Fatalf("unexpected findings: %v", fs)
	}
	if got := c.RequiredAnnotations(); strings.Join(got, ",") != "summary,description,runbook_url" {
		t.Errorf("RequiredAnnotations = %v", got)
	}
	if d, ok := c.KnownScrapeInterval(""); !ok || d != 30*time.Second {
		t.Errorf("KnownScrapeInterval = %v %v", d, ok)
	}
	if len(c.Alerting.Severities) == 0 {
		t.Error("the embedded repo declares no severities")
	}
}

func TestUnknownKeySuggests(t *testing.T) {
	_, fs := parse(t, "apiVersion: obsctl/v1\nname: x\nalerting:\n  recievers: []\n")
	if len(fs) != 1 || fs[0].Hint != `did you mean "receivers"?` {
		t.Fatalf("got %v", fs)
	}
}

func TestLiteralSecretNotEchoed(t *testing.T) {
	_, fs := parse(t, "apiVersion: obsctl/v1\nname: x\nalerting:\n  receivers:\n  - name: a\n    slack:\n      webhookURL: https://hooks.example/T0/B0/s3cr3t\n")
	for _, f := range fs {
		if strings.Contains(f.Message+f.Hint, "s3cr3t") {
			t.Errorf("finding leaks the secret: %v", f)
		}
	}
	if len(fs) == 0 {
		t.Fatal("want a finding")
	}
}

// stackSrc is an obsctl.yaml whose stack: mapping holds body, from line 4
// column 3.
func stackSrc(body string) string {
	return "apiVersion: obsctl/v1\nname: x\nstack:\n  " + body + "\n"
}

func TestStackDefaults(t *testing.T) {
	c, fs := parse(t, "apiVersion: obsctl/v1\nname: x\nstack:\n  components: {kibana: {enabled: false}}\n")
	if len(fs) != 0 {
		t.Fatal(fs)
	}
	if c.StackProfile() != ProfileMinimal || c.StackNamespace() != "monitoring" || c.StackAgentNamespace() != "monitoring-agents" || !c.NetworkPoliciesOn() {
		t.Errorf("defaults: profile %q namespace %q agents %q", c.StackProfile(), c.StackNamespace(), c.StackAgentNamespace())
	}
	for _, nc := range c.ComponentsByName() {
		if nc.On() != (nc.Name != "kibana") {
			t.Errorf("%s on = %v", nc, nc.On())
		}
	}
	c, _ = parse(t, "apiVersion: obsctl/v1\nname: x\nrules: {namespace: obs}\n")
	if c.StackNamespace() != "obs" || c.StackAgentNamespace() != "obs-agents" {
		t.Errorf("namespaces from rules.namespace: %q %q", c.StackNamespace(), c.StackAgentNamespace())
	}
}

func TestReservedNamespace(t *testing.T) {
	for ns, want := range map[string]bool{
		"kube-system": true, "kube-public": true, "kube-node-lease": true, "default": true,
		"monitoring": false, "": false, "kube-system-2": false, "defaults": false,
	} {
		if got := ReservedNamespace(ns); got != want {
			t.Errorf("ReservedNamespace(%q) = %v, want %v", ns, got, want)
		}
	}
}

func TestNodeExporterPort(t *testing.T) {
	c, fs := parse(t, stackSrc("components: {nodeExporter: {port: 9200, enabled: true}}"))
	if len(fs) != 0 {
		t.Fatal(fs)
	}
	ne := &c.Stack.Components.NodeExporter
	if ne.HostPort() != 9200 || !ne.On() {
		t.Errorf("port %d on %v", ne.HostPort(), ne.On())
	}
	// The inlined component's keys are recorded for its checks' spans.
	if !ne.Has("enabled") || !ne.Component.Has("port") {
		t.Errorf("keys not recorded: %v", ne.Keys)
	}
	c, _ = parse(t, stackSrc("profile: ha"))
	if p := c.Stack.Components.NodeExporter.HostPort(); p != DefaultNodeExporterPort {
		t.Errorf("default port %d", p)
	}
}

// TestItemPositions checks that a finding about one item of a list or
// one key of a mapping points at it, and a value of the wrong shape
// reached through an alias at the alias.
func TestItemPositions(t *testing.T) {
	src := `apiVersion: obsctl/v1
name: prod
prometheus:
  externalLabels:
    cluster: a
    data-center: b
alerting:
  severities:
    - critical
    - warning
    - critical
  groupBy: [alertname, bad-label]
  defaultReceiver: hook
  inhibit:
    equal:
      - alertname
      - other-bad
  receivers: &recv
    - name: hook
      webhook: {url: "http://127.0.0.1/"}
  routes:
    - receiver: *recv
`
	_, fs := parse(t, src)
	want := map[string]int{
		`invalid label name "data-center"`:      6,
		`severity "critical" is declared twice`: 11,
		`invalid label name "bad-label"`:        12,
		`invalid label name "other-bad"`:        17,
		`routes[0].receiver must be a string`:   22,
	}
	for msg, line := range want {
		found := false
		for _, f := range fs {
			if strings.Contains(f.Message, msg) {
				found = true
				if f.Start.Line != line {
					t.Errorf("%q at line %d, want %d", msg, f.Start.Line, line)
				}
			}
		}
		if !found {
			t.Errorf("no finding %q in %v", msg, fs)
		}
	}
}
