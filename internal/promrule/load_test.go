package promrule

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

func load(t *testing.T, src string) (*File, []diag.Finding) {
	t.Helper()
	return Load(source.NewFile("r.yaml", []byte(src)))
}

func TestLoadPlain(t *testing.T) {
	f, fds := load(t, `groups:
  - name: g
    interval: 1m
    labels: {team: infra}
    rules:
      # obsctl:disable rules/for-missing
      - alert: A # obsctl:disable rules/alert-name, rules/no-comparison -- why
        expr: |
          up == 0
        for: 5m
        keep_firing_for: 10m
        labels: {severity: page}
        annotations: {summary: s}
      - record: job:up:sum
        expr: sum by (job) (up)
`)
	if len(fds) != 0 {
		t.Fatalf("findings: %v", fds)
	}
	if len(f.Groups) != 1 || len(f.Groups[0].Rules) != 2 {
		t.Fatalf("groups: %+v", f.Groups)
	}
	g := f.Groups[0]
	if g.Interval != time.Minute || g.File != f || g.Object != nil {
		t.Errorf("group: %+v", g)
	}
	if v, ok := g.Label("team"); !ok || v.Value != "infra" {
		t.Errorf("group label: %+v", v)
	}
	a := g.Rules[0]
	if !a.IsAlert() || a.Name() != "A" || a.For != 5*time.Minute || !a.ForSet || a.KeepFiringFor != 10*time.Minute {
		t.Errorf("alert: %+v", a)
	}
	if a.Expr != "up == 0\n" || a.ExprSpan.Start != (diag.Pos{Line: 8, Col: 15}) {
		t.Errorf("expr %q at %v", a.Expr, a.ExprSpan)
	}
	if a.NameSpan.Start != (diag.Pos{Line: 7, Col: 16}) {
		t.Errorf("name span %v", a.NameSpan)
	}
	want := []string{"rules/for-missing", "rules/alert-name", "rules/no-comparison"}
	if !slices.Equal(a.Disabled, want) {
		t.Errorf("disabled = %v, want %v", a.Disabled, want)
	}
	if !f.DisabledFor(a, "rules/no-comparison") || f.DisabledFor(a, "rules/severity-label") || f.DisabledFor(g.Rules[1], "rules/for-missing") {
		t.Error("DisabledFor is wrong")
	}
	if kv, ok := a.Label("severity"); !ok || kv.ValueSpan().Start != (diag.Pos{Line: 12, Col: 28}) {
		t.Errorf("severity label %+v", kv)
	}
}

func TestLoadObjects(t *testing.T) {
	f, fds := load(t, `# obsctl:disable-file rules/*
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: one
  namespace: monitoring
  labels: {role: alert-rules}
spec:
  groups:
    - name: a
      rules:
        - record: job:up:sum
          expr: sum by (job) (up)
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: two}
spec:
  groups:
    - name: b
      rules: []
`)
	if len(fds) != 0 {
		t.Fatalf("findings: %v", fds)
	}
	if len(f.Objects) != 2 || f.Objects[0].Name != "one" || f.Objects[0].Labels["role"] != "alert-rules" || f.Objects[1].Namespace != "" {
		t.Fatalf("objects: %+v %+v", f.Objects[0], f.Objects[1])
	}
	if f.Groups[0].Object != f.Objects[0] || f.Groups[1].Object != f.Objects[1] {
		t.Error("groups are not tied to their objects")
	}
	if !f.DisabledFor(nil, "rules/anything") || f.DisabledFor(nil, "alerting/x") {
		t.Error("file-level disable by area is wrong")
	}
}

func TestLoadKeepsGoingAfterErrors(t *testing.T) {
	_, fds := load(t, `groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0
        for: soon
        lables: {}
      - record: x
        for: 5m
        annotations: {a: b}
      - 42
`)
	var got []string
	for _, f := range fds {
		got = append(got, f.Span.String()+" "+f.Message)
	}
	for _, want := range []string{
		`r.yaml:6:14 for: invalid duration "soon"`,
		`r.yaml:7:9 unknown key "lables" in rule`,
		`r.yaml:9:14 recording rule "x" has ` + "`for`",
		`r.yaml:10:22 recording rule "x" has annotations`,
		`r.yaml:8:9 rule "x" has no expr`,
		`r.yaml:11:9 a rule must be a mapping, not "42"`,
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
	for _, f := range fds {
		if f.Check != CheckSchema {
			t.Errorf("check %q", f.Check)
		}
	}
}

func TestLoadUnknownKeyHint(t *testing.T) {
	_, fds := load(t, "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        anotations: {}\n")
	if len(fds) != 1 || fds[0].Hint != `did you mean "annotations"?` {
		t.Fatalf("got %v", fds)
	}
}

func TestLoadTwoPlainDocuments(t *testing.T) {
	_, fds := load(t, "groups: []\n---\ngroups: []\n")
	if len(fds) != 1 || !strings.Contains(fds[0].Message, "one YAML document") || fds[0].Start.Line != 3 {
		t.Fatalf("got %v", fds)
	}
}
