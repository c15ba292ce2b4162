package routetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/inhibit"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/common/model"

	obsctl "github.com/obsctl/obsctl"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/ruletest"
	"github.com/obsctl/obsctl/internal/source"
	"github.com/obsctl/obsctl/rules"
)

// teamConfig has a continue route, a route on several labels and an
// explicit inhibition rule beside the severity inhibition.
const teamConfig = `apiVersion: obsctl/v1
name: demo
alerting:
  severities: [critical, warning]
  defaultReceiver: fallback
  receivers:
    - {name: fallback, webhook: {url: http://fallback/}}
    - {name: audit, webhook: {url: http://audit/}}
    - {name: db-pager, webhook: {url: http://db/}}
    - {name: pager, webhook: {url: http://pager/}}
    - {name: chat, webhook: {url: http://chat/}}
  routes:
    - matchers: ['alertname=~"Audit.*"']
      receiver: audit
      continue: true
    - team: db
      severity: critical
      receiver: db-pager
    - severity: critical
      receiver: pager
      groupBy: [alertname]
    - severity: warning
      receiver: chat
  inhibit:
    equal: [namespace]
    rules:
      - source: ['alertname="ClusterDown"']
        target: ['alertname!="ClusterDown"']
        equal: [cluster]
`

func router(t testing.TB, src string) *Router {
	t.Helper()
	cfg, fds := config.Parse(source.NewFile("obsctl.yaml", []byte(src)))
	if diag.Max(fds) >= diag.Error {
		t.Fatalf("config: %v", fds)
	}
	r, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestReceivers(t *testing.T) {
	r := router(t, teamConfig)
	for _, tc := range []struct {
		labels string
		want   string
	}{
		{"", "fallback"},
		{"severity=critical", "pager"},
		{"severity=critical team=db", "db-pager"},
		{"severity=warning team=db", "chat"},
		{"alertname=AuditLog severity=critical team=db", "audit,db-pager"},
		{"alertname=AuditLog", "audit"}, // a continue route that matched: the root is not reached,
		{"severity=info", "fallback"},
	} {
		t.Run(tc.labels, func(t *testing.T) {
			ls, err := ParseLabels(strings.Fields(tc.labels))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(r.Receivers(ls), ","); got != tc.want {
				t.Errorf("receivers = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseLabels(t *testing.T) {
	ls, err := ParseLabels([]string{"a=b", `c="d e"`})
	if err != nil || ls["a"] != "b" || ls["c"] != "d e" {
		t.Errorf("ParseLabels = %v, %v", ls, err)
	}
	for _, bad := range [][]string{{"a=~b"}, {"a!=b"}, {"nolabel"}, {"a=b", "a=c"}} {
		if _, err := ParseLabels(bad); err == nil {
			t.Errorf("ParseLabels(%q) = nil error", bad)
		}
	}
}

func TestIsRouteTest(t *testing.T) {
	for src, want := range map[string]bool{
		"route_tests:\n  - labels: {}\n":    true,
		"# c\nroute_tests :\n":              true,
		"\"route_tests\": []\n":             true,
		"rule_files: [a.yaml]\ntests: []\n": false,
		"tests:\n  - route_tests: x\n":      false,
		"route_tests_old: []\n":             false,
	} {
		if got := IsRouteTest([]byte(src)); got != want {
			t.Errorf("IsRouteTest(%q) = %v, want %v", src, got, want)
		}
	}
}

// TestInhibitedAgreesWithInhibitor holds Router.Inhibited to
// Alertmanager's Inhibitor, run over its in-memory alert store with the
// firing alerts and the alert itself in it, as in Alertmanager.
func TestInhibitedAgreesWithInhibitor(t *testing.T) {
	r := router(t, teamConfig)
	ls := func(s string) model.LabelSet {
		l, err := ParseLabels(strings.Fields(s))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	for _, tc := range []struct {
		alert  string
		firing []string
		want   bool
	}{
		{"alertname=A severity=warning namespace=db", nil, false},
		{"alertname=A severity=warning namespace=db", []string{"alertname=B severity=critical namespace=db"}, true},
		{"alertname=A severity=warning namespace=db", []string{"alertname=B severity=critical namespace=web"}, false},
		{"alertname=A severity=warning", []string{"alertname=B severity=critical"}, true}, // missing on both sides is equal
		{"alertname=A severity=warning namespace=db", []string{"alertname=B severity=critical"}, false},
		{"alertname=A severity=critical namespace=db", []string{"alertname=B severity=warning namespace=db"}, false},
		{"alertname=A severity=critical namespace=db", []string{"alertname=B severity=critical namespace=db"}, false},
		{"alertname=A cluster=c1", []string{"alertname=ClusterDown cluster=c1"}, true},
		{"alertname=A cluster=c1", []string{"alertname=ClusterDown cluster=c2"}, false},
		{"alertname=ClusterDown cluster=c1", []string{"alertname=ClusterDown cluster=c1 x=y"}, false},
		{"alertname=A severity=warning namespace=db cluster=c1", []string{"alertname=Z severity=info", "alertname=ClusterDown cluster=c1"}, true},
	} {
		t.Run(tc.alert+" "+strings.Join(tc.firing, ","), func(t *testing.T) {
			var firing []model.LabelSet
			for _, f := range tc.firing {
				firing = append(firing, ls(f))
			}
			_, got := r.Inhibited(ls(tc.alert), firing)
			if got != tc.want {
				t.Errorf("Inhibited = %v, want %v", got, tc.want)
			}
			if oracle := inhibitorMutes(t, r, ls(tc.alert), firing); oracle != got {
				t.Errorf("Inhibited = %v, Alertmanager's Inhibitor says %v", got, oracle)
			}
		})
	}
}

func inhibitorMutes(t *testing.T, r *Router, alert model.LabelSet, firing []model.LabelSet) bool {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ap, err := mem.NewAlerts(ctx, time.Hour, 0, nil, logger, eventrecorder.NopRecorder(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ap.Close()
	now := time.Now()
	for _, l := range append([]model.LabelSet{alert}, firing...) {
		a := &types.Alert{Alert: model.Alert{Labels: l, StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour)}, UpdatedAt: now}
		if err := ap.Put(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	ih := inhibit.NewInhibitor(ap, r.Config.InhibitRules, logger, eventrecorder.NopRecorder())
	go ih.Run()
	defer ih.Stop()
	ih.WaitForLoading()
	return ih.Mutes(ctx, alert)
}

func TestRun(t *testing.T) {
	r := router(t, teamConfig)
	src := `route_tests:
  - name: critical db
    labels: {severity: critical, team: db}
    receivers: [db-pager]
  - name: wrong
    labels: {severity: warning}
    receivers: [pager]
  - name: not inhibited after all
    labels: {alertname: A, severity: warning}
    firing: [{alertname: B, severity: critical}]
    inhibited: false
`
	res := &ruletest.Result{}
	Run(res, []*source.File{source.NewFile("rules/routing_test.yaml", []byte(src))}, r, nil, Options{})
	if len(res.Files) != 1 || len(res.Files[0].Errors) > 0 {
		t.Fatalf("files = %+v", res.Files)
	}
	checks := res.Files[0].Groups[0].Checks
	var passed []bool
	for _, c := range checks {
		passed = append(passed, c.Passed)
	}
	if !slices.Equal(passed, []bool{true, false, false}) {
		t.Fatalf("passed = %v", passed)
	}
	if got := checks[1].Span.String(); got != "rules/routing_test.yaml:5:5" {
		t.Errorf("span = %s", got)
	}
	diff := checks[1].Diff()
	for _, want := range []string{"expected receivers: pager", "got receivers:      chat"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	if !strings.Contains(checks[2].Diff(), `inhibited by firing alert {alertname="B", severity="critical"}; expected not inhibited`) {
		t.Errorf("diff:\n%s", checks[2].Diff())
	}
	var unreached []string
	for _, rt := range res.Unreached() {
		unreached = append(unreached, rt.Route)
	}
	want := []string{`default-route to receiver fallback`, `{alertname=~"Audit.*"} to receiver audit`, `{severity="critical"} to receiver pager`}
	if !slices.Equal(unreached, want) {
		t.Errorf("unreached = %q, want %q", unreached, want)
	}

	// --run keeps cases by name; coverage counts those that ran.
	res = &ruletest.Result{}
	Run(res, []*source.File{source.NewFile("t_test.yaml", []byte(src))}, r, nil, Options{Run: regexp.MustCompile("wrong")})
	if n := len(res.Files[0].Groups[0].Checks); n != 1 {
		t.Errorf("--run kept %d checks", n)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"route_tests:\n  - labels: {a: b}\n", "t_test.yaml:2:5: route_tests[0] expects nothing"},
		{"route_tests:\n  - receivers: [x]\n", "t_test.yaml:2:5: route_tests[0] has no labels"},
		{"route_tests:\n  - {labels: {a: b}, receivers: [x], bogus: 1}\n", `t_test.yaml:2:38: unknown field "bogus"`},
		{"route_tests:\n  - {labels: {a: b}, inhibited: maybe}\n", "t_test.yaml:2:33: route_tests[0].inhibited must be true or false"},
		{"route_tests:\n  - {labels: [a], receivers: [x]}\n", "t_test.yaml:2:14: route_tests[0].labels must be a mapping"},
		{"route_tests: {}\n", "t_test.yaml:1:14: route_tests must be a list"},
		{"route_tests: [\n", "t_test.yaml:"},
	} {
		_, fds := Parse(source.NewFile("t_test.yaml", []byte(tc.src)))
		var got []string
		for _, f := range fds {
			got = append(got, fmt.Sprintf("%s: %s", f.Span, f.Message))
		}
		if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, tc.want) }) {
			t.Errorf("Parse(%q) = %q, want one starting %q", tc.src, got, tc.want)
		}
	}
}

// TestDefaultRouting runs the embedded default's routing tests: every
// case passes and every route is reached.
func TestDefaultRouting(t *testing.T) {
	r := router(t, string(obsctl.DefaultConfig))
	src, err := rules.FS.ReadFile("routing_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	res := &ruletest.Result{}
	Run(res, []*source.File{source.NewFile("rules/routing_test.yaml", src)}, r, nil, Options{})
	if _, failed, broken := res.Counts(); failed+broken > 0 {
		var b strings.Builder
		_ = ruletest.Write(&b, "text", res)
		t.Fatalf("default routing tests fail:\n%s", b.String())
	}
	if un := res.Unreached(); len(un) > 0 || len(res.Routes) != len(r.Routes) {
		t.Errorf("routes not reached: %v", un)
	}
}

// BenchmarkRun1000 runs 1,000 routing cases on the default routing in
// one process, parse included: issue 12 wants under 0.1 s (amtool takes
// 16 to 19 s, one process per case).
func BenchmarkRun1000(b *testing.B) {
	r := router(b, string(obsctl.DefaultConfig))
	sevs := []string{"page", "critical", "warning", "info", "none", ""}
	recv := map[string]string{"page": "oncall-pager", "critical": "oncall-pagerduty", "warning": "slack-alerts", "info": "slack-info", "none": "slack-alerts", "": "slack-alerts"}
	var src strings.Builder
	src.WriteString("route_tests:\n")
	for i := range 1000 {
		s := sevs[i%len(sevs)]
		fmt.Fprintf(&src, "  - name: case %d\n    labels: {alertname: Alert%d, severity: %q, namespace: ns%d}\n    receivers: [%s]\n", i, i, s, i%7, recv[s])
		if i%3 == 0 {
			fmt.Fprintf(&src, "    firing: [{alertname: Alert%d, severity: page, namespace: ns%d}]\n    inhibited: %v\n", i, i%7, s == "critical" || s == "warning" || s == "info")
		}
	}
	sf := []byte(src.String())
	b.ResetTimer()
	for range b.N {
		res := &ruletest.Result{}
		Run(res, []*source.File{source.NewFile("bench_test.yaml", sf)}, r, nil, Options{})
		if checks, failed, broken := res.Counts(); checks != 1000 || failed+broken > 0 {
			b.Fatalf("%d checks, %d failed, %d broken", checks, failed, broken)
		}
	}
}
