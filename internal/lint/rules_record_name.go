package lint

import (
	"regexp"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
)

// recordName reports recording rules whose name does not follow the
// Prometheus convention level:metric:operations: the labels the result is
// aggregated by, the metric it derives from, and what was applied, joined
// by exactly two colons (for example `namespace_job:http_requests:rate5m`).
// Names in this shape say what the series holds, never clash with scraped
// metrics (which have no colons), and let the undefined-record check find
// recorded series that nothing records.
type recordName struct{}

func (recordName) Name() string { return "rules/record-name" }

func (recordName) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRule, Summary: "A recording rule name does not follow level:metric:operations."}
}

var (
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	levelNameRE  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z_][a-zA-Z0-9_]*:[a-zA-Z0-9_]+$`)
)

func (recordName) Check(p *Pass) {
	r := p.Rule
	if r.Record == "" {
		return
	}
	switch {
	case !metricNameRE.MatchString(r.Record):
		p.Report(r.NameSpan, "use letters, digits, '_' and ':'", "%q is not a valid metric name", r.Record)
	case strings.Count(r.Record, ":") != 2 || !levelNameRE.MatchString(r.Record):
		p.Report(r.NameSpan, "name it level:metric:operations, for example job:http_requests:rate5m",
			"recording rule %q does not follow level:metric:operations", r.Record)
	}
}
