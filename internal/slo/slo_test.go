package slo

import (
	"strings"
	"testing"
	"time"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

func load(t *testing.T, src string) *SLO {
	t.Helper()
	s, fds := Load(source.NewFile("slos/x.yaml", []byte(src)))
	if s == nil || diag.Max(fds) >= diag.Error {
		t.Fatalf("load: %v", fds)
	}
	return s
}

const head = "apiVersion: obsctl/v1\nkind: SLO\nname: checkout\nservice: shop\n"

// TestCompile compiles SLIs of every kind and windows other than 30d,
// and generates their tests: the generator replays each test's traffic
// and refuses a test that would not do what it is for.
func TestCompile(t *testing.T) {
	for name, spec := range map[string]string{
		"bad":     "objective: 99.9\nsli:\n  ratio:\n    bad: http_requests_total{code=~\"5..\"}\n    total: http_requests_total\n",
		"good":    "objective: 99.5\nwindow: 28d\nsli:\n  ratio:\n    good: http_requests_total{code!~\"5..\"}\n    total: http_requests_total\n",
		"metrics": "objective: 99\nwindow: 7d\nsli:\n  ratio:\n    bad: errors_total{job=\"a\"}\n    total: requests_total{job=\"a\"}\n",
		"latency": "objective: 95\nsli:\n  latency:\n    histogram: http_request_duration_seconds_bucket{job=\"a\"}\n    threshold: 1s\n",
	} {
		t.Run(name, func(t *testing.T) {
			s := load(t, head+spec)
			f := Compile(s, Options{Severities: []string{"page", "critical", "warning", "info"}})
			var records, alerts []string
			for _, r := range f.Rules() {
				if r.IsAlert() {
					sev, _ := r.Label("severity")
					alerts = append(alerts, r.Alert+"/"+sev.Value)
				} else {
					records = append(records, r.Record)
				}
			}
			if got := strings.Join(alerts, " "); got != "CheckoutBudgetBurn/page CheckoutBudgetBurn/warning" {
				t.Errorf("alerts %s", got)
			}
			if len(records) != len(s.Windows())+4 {
				t.Errorf("records %v", records)
			}
			src, err := Tests(s, f)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(src), "just above") {
				t.Errorf("no burn test:\n%s", src)
			}
		})
	}
}

func TestBudgetAndWindows(t *testing.T) {
	s := load(t, head+"objective: 99.95\nwindow: 28d\nsli:\n  ratio:\n    bad: a_total{c=\"5\"}\n    total: a_total\n")
	if s.Budget != "0.0005" {
		t.Errorf("budget %s", s.Budget)
	}
	b := s.Burns()[0]
	if b.Long != 56*time.Minute || b.Short != 5*time.Minute || b.Factor != 14.4 {
		t.Errorf("first pair %+v", b)
	}
	if got := leMatcher(1).String(); got != `le=~"1|1\\.0"` {
		t.Errorf("le matcher %s", got)
	}
}

func TestLoadFindings(t *testing.T) {
	_, fds := Load(source.NewFile("slos/x.yaml", []byte(head+"objective: 100\nwindow: 2h\nsli: {ratio: {total: sum(x)}}\n")))
	var checks []string
	for _, f := range fds {
		checks = append(checks, f.Check)
	}
	want := "slos/objective slos/window slos/promql slos/schema"
	if got := strings.Join(checks, " "); got != want {
		t.Errorf("checks %s, want %s: %v", got, want, fds)
	}
}
