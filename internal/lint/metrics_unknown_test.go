package lint

import (
	"strings"
	"testing"
)

// Files linted with no obsctl.yaml have no stack: only a likely
// misspelling of a name a program exposes is reported.
func TestUnknownMetricNeutral(t *testing.T) {
	r := repoOf("", map[string]string{"a.yaml": `groups:
  - name: a
    rules:
      - alert: Typo
        expr: kube_pod_status_phaze{phase="Failed"} > 0
      - alert: Removed
        expr: kube_pod_container_resource_requests_cpu_cores > 0
      - alert: OtherJob
        expr: node_cpu_seconds_total{job="kube-state-metrics"} > 0
      - alert: App
        expr: checkout_errors_total > 0
`})
	r.Neutral, r.Config.Lint.StrictMetrics = true, true // neutral wins
	l, err := New(Options{Enable: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range l.Run(r) {
		if f.Check == "rules/unknown-metric" {
			got = append(got, f.Span.String()+" "+f.Message+" ("+f.Hint+")")
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], `a.yaml:5:15`) || !strings.Contains(got[0], `did you mean "kube_pod_status_phase"?`) {
		t.Errorf("want only the misspelling at a.yaml:5:15, with a suggestion; got %q", got)
	}
}

func TestGrafanaExpr(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{`rate(x[$__rate_interval])`, `rate(x[5m              ])`, true},
		{`rate(x{a="$v"}[${__range}])`, `rate(x{a="$v"}[5m        ])`, true},
		{`topk($n, x) offset $off`, `topk(1 , x) offset 5m  `, true},
		{`x[[[interval]]]`, `x[5m          ]`, true},
		{`http_${code}_total`, ``, false},
		{`foo_$suffix`, ``, false},
		{`x[$i]`, `x[5m]`, true},
		{`x{a=~"$a|$b"} and 'quoted $x'`, `x{a=~"$a|$b"} and 'quoted $x'`, true},
	} {
		got, ok := grafanaExpr(c.in)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("grafanaExpr(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
		if ok && len(got) != len(c.in) {
			t.Errorf("grafanaExpr(%q) changed the length", c.in)
		}
	}
}

func TestJSONStringOffsets(t *testing.T) {
	raw := `"a\"b\u00e9\ud83d\ude00c"`
	s, offs, ok := jsonStringOffsets([]byte(raw), 10)
	if !ok || s != "a\"bé😀c" {
		t.Fatalf("decoded %q, %v", s, ok)
	}
	if len(offs) != len(s)+1 {
		t.Fatalf("%d offsets for %d bytes", len(offs), len(s))
	}
	// a at 11, the escaped quote at 12, b at 14, é (2 bytes) at 15, the
	// pair (4 bytes) at 21, c at 33, the closing quote at 34.
	want := []int{11, 12, 14, 15, 15, 21, 21, 21, 21, 33, 34}
	for i := range want {
		if offs[i] != want[i] {
			t.Fatalf("offsets %v, want %v", offs, want)
		}
	}
}
