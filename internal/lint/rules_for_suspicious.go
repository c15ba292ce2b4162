package lint

import (
	"strings"
	"time"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
)

// forSuspicious reports alerts whose `for` cannot mean what it says.
//
// A `for` shorter than the evaluation interval (the group's `interval`, or
// prometheus.evaluationInterval in obsctl.yaml, 30s by default) is rounded
// up by Prometheus: the condition is only looked at once per interval, so
// `for: 10s` on a 1m group waits a full minute. The rule reads as if it
// tolerated a 10 second blip while it actually fires on the second matching
// evaluation, and whoever tunes it at 3 a.m. tunes the wrong number.
// Use a `for` of a few evaluation intervals instead.
//
// A `for` longer than 24 hours is almost always a unit mistake (`for: 15h`
// meant as 15 minutes, `for: 2d` for 2 hours). Such an alert stays pending
// for a day or more, and any gap in the condition starts the wait again, so
// in practice it never fires and nobody notices. Write the intended
// duration; a condition that is truly worth reporting only after days is
// better served by a ticket-style report than by an alert.
//
// `for: 0` (or no `for`) is left to rules/for-missing. Silence this check
// for one rule with `# obsctl:disable rules/for-suspicious`.
type forSuspicious struct{}

func (forSuspicious) Name() string { return "rules/for-suspicious" }

func (forSuspicious) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRule, Summary: "An alert's `for` is shorter than the evaluation interval or implausibly long."}
}

// maxPlausibleFor is the longest `for` that is taken as meant.
const maxPlausibleFor = 24 * time.Hour

func (forSuspicious) Check(p *Pass) {
	r := p.Rule
	if !r.IsAlert() || !r.ForSet || r.For <= 0 {
		return
	}
	interval, from := r.Group.Interval, "the group's interval"
	if interval <= 0 {
		interval, from = config.DefaultEvalInterval, "the evaluation interval"
		if p.Config != nil {
			interval = p.Config.Prometheus.EvaluationInterval.Or(config.DefaultEvalInterval)
		}
	}
	switch {
	case r.For < interval:
		p.Report(r.ForSpan, "use a `for` of a few evaluation intervals, for example `for: "+promDuration(3*interval)+"`",
			"`for: %s` is shorter than %s (%s): Prometheus waits a whole interval anyway",
			forText(r), from, promDuration(interval))
	case r.For > maxPlausibleFor:
		p.Report(r.ForSpan, "check the unit (m for minutes, h for hours); an alert pending for days rarely fires at all",
			"`for: %s` is longer than 24h: is the unit right?", forText(r))
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
