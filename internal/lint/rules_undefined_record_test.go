package lint

import (
	"strings"
	"testing"
)

// TestUndefinedRecordPartial: with files given outside any repo, what is
// not defined may be recorded elsewhere; only a likely misspelling of a
// name that is recorded is reported.
func TestUndefinedRecordPartial(t *testing.T) {
	rules := map[string]string{"r.yaml": `groups:
  - name: g
    rules:
      - record: job:http_errors:rate5m
        expr: sum by (job) (rate(http_errors_total[5m]))
      - alert: Typo
        expr: job:http_error:rate5m > 1
        for: 5m
      - alert: RecordedElsewhere
        expr: node_namespace_pod_container:container_cpu_usage_seconds_total:sum_irate > 1
        for: 5m
      - alert: ExporterNameWithColons
        expr: rate(:tensorflow:serving:request_count[5m]) > 1
        for: 5m
`}
	for _, partial := range []bool{false, true} {
		r := repoOf("apiVersion: obsctl/v1\nname: t\n", rules)
		r.Partial = partial
		l, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range l.Run(r) {
			if f.Check == "rules/undefined-record" {
				got = append(got, f.Message)
			}
		}
		want := 3
		if partial {
			want = 1
		}
		if len(got) != want {
			t.Errorf("partial %v: %d findings, want %d: %q", partial, len(got), want, got)
			continue
		}
		if partial && !strings.Contains(got[0], `"job:http_error:rate5m" is not defined by any recording rule, but "job:http_errors:rate5m" is`) {
			t.Errorf("partial: %q", got[0])
		}
	}
}
