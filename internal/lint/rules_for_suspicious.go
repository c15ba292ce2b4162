package lint

import (
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
)

// forSuspicious reports alerts whose `for` cannot mean what it says: a
// `for` shorter than the evaluation interval, when the interval is known
// (the group's `interval`, or prometheus.evaluationInterval as obsctl.yaml
// declares it; with neither, the interval is the Prometheus server's,
// which lint does not know, and nothing is judged).
//
// Such a `for` is rounded up by Prometheus: the condition is only looked at once per interval, so
// `for: 10s` on a 1m group waits a full minute. The rule reads as if it
// tolerated a 10 second blip while it actually fires on the second matching
// evaluation, and whoever tunes it at 3 a.m. tunes the wrong number.
// Use a `for` of a few evaluation intervals instead.
//
// A long `for` is left alone: on public rule collections every `for` of a
// day or more (`for: 7d` on an under-used container, `for: 1w`) was meant.
//
// `for: 0` (or no `for`) is left to rules/for-missing. Silence this check
// for one rule with `# obsctl:disable rules/for-suspicious`.
type forSuspicious struct{}

func (forSuspicious) Name() string { return "rules/for-suspicious" }

func (forSuspicious) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRule, Summary: "An alert's `for` is shorter than the evaluation interval."}
}

func (forSuspicious) Check(p *Pass) {
	r := p.Rule
	if !r.IsAlert() || !r.ForSet || r.For <= 0 {
		return
	}
	interval, from := r.Group.Interval, "the group's interval"
	if interval <= 0 {
		if p.Config == nil || !p.Config.Prometheus.EvaluationInterval.Set {
			return // the server's interval: not known here
		}
		interval, from = p.Config.Prometheus.EvaluationInterval.D, "the evaluation interval"
	}
	if r.For < interval {
		p.Report(r.ForSpan, "use a `for` of a few evaluation intervals, for example `for: "+promDuration(3*interval)+"`",
			"`for: %s` is shorter than %s (%s): Prometheus waits a whole interval anyway",
			forText(r), from, promDuration(interval))
	}
}

// forText returns r's `for` as written, so that the message quotes what
// the user sees; 25h stays 25h rather than becoming 1d1h.
func forText(r *promrule.Rule) string {
	if f := r.Group.File; f != nil && r.ForSpan.Start.Line == r.ForSpan.End.Line {
		a, b := f.Offset(r.ForSpan.Start), f.Offset(r.ForSpan.End)
		if 0 <= a && a < b && b <= len(f.Src) {
			if s := strings.Trim(string(f.Src[a:b]), `"' `); s != "" && !strings.ContainsAny(s, "\n#") {
				return s
			}
		}
	}
	return promDuration(r.For)
}
