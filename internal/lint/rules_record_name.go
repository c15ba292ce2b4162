package lint

import (
	"regexp"
	"slices"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
)

// recordName reports recording rules whose name is not a valid metric
// name, or plainly outside the Prometheus convention level:metric:operations
// (the labels the result is aggregated by, the metric it derives from, and
// what was applied, for example `namespace_job:http_requests:rate5m`):
// a name without a colon, which reads as a scraped metric and can clash
// with one, or a colon-separated name with an empty part in the middle
// (`job::rate5m`).
//
// The variants established projects use are accepted: two parts
// (`apiserver_request:burnrate5m`), an empty level (`:http_requests:rate5m`)
// or operations (`node_namespace_pod:kube_pod_info:`), and more than two
// colons (`instance:node_cpu:rate:sum`). Naming is style, so the findings
// are informational.
//
// It is off by default (enable it with `--enable rules/record-name` or
// lint.enable): on public rule collections the names it still questions
// are established conventions of their projects: it is house style.
type recordName struct{}

func (recordName) Name() string { return "rules/record-name" }

func (recordName) Meta() Meta {
	return Meta{Severity: diag.Info, Scope: ScopeRule, Optional: true, Summary: "A recording rule name is not a valid metric name, or has no colon (level:metric:operations)."}
}

var metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

func (recordName) Check(p *Pass) {
	r := p.Rule
	if r.Record == "" {
		return
	}
	parts := strings.Split(r.Record, ":")
	var inner []string // the parts between the first and the last colon
	if len(parts) > 2 {
		inner = parts[1 : len(parts)-1]
	}
	switch {
	case !metricNameRE.MatchString(r.Record):
		p.Report(r.NameSpan, "use letters, digits, '_' and ':'", "%q is not a valid metric name", r.Record)
	case len(parts) == 1:
		p.Report(r.NameSpan, "name it level:metric:operations, for example job:http_requests:rate5m",
			"recording rule %q has no colon: it reads as a scraped metric (level:metric:operations)", r.Record)
	case strings.Trim(r.Record, ":") == "" || slices.Contains(inner, ""):
		p.Report(r.NameSpan, "name it level:metric:operations, for example job:http_requests:rate5m",
			"recording rule %q has an empty part between colons", r.Record)
	}
}
