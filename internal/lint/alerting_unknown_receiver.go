package lint

import (
	"fmt"
	"strings"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/spell"
)

// unknownReceiver reports an alerting.defaultReceiver or a route's
// receiver that alerting.receivers does not declare, and an alerting
// section that has receivers or routes but no defaultReceiver.
// Alertmanager refuses the whole configuration in these cases and keeps
// running the previous one, so no routing change reaches it until this is
// fixed. The default receiver is required because it takes every alert
// that no route matches.
//
// The finding points at the receiver name, with the closest declared name
// as a hint when the name looks misspelt. Fix the name or declare the
// receiver. An alerting section with no receivers, routes or
// defaultReceiver is left alone (alerting/no-severities reports it).
type unknownReceiver struct{}

func (unknownReceiver) Name() string { return "alerting/unknown-receiver" }

func (unknownReceiver) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "A route or defaultReceiver names a receiver that is not declared."}
}

func (unknownReceiver) Check(p *Pass) {
	st := p.alerting()
	if st.empty {
		return
	}
	a := &p.Config.Alerting
	var names []string
	declared := map[string]bool{}
	for _, r := range a.Receivers {
		if r.Name != "" && !declared[r.Name] {
			declared[r.Name] = true
			names = append(names, r.Name)
		}
	}
	if a.DefaultReceiver == "" {
		p.Report(st.span(st.alertingKey(), "alerting", "defaultReceiver"), receiverHint("", names),
			"alerting has no defaultReceiver: alerts that no route matches have nowhere to go")
	} else if !declared[a.DefaultReceiver] {
		p.Report(a.Span("defaultReceiver"), receiverHint(a.DefaultReceiver, names),
			"defaultReceiver %q is not declared in alerting.receivers", a.DefaultReceiver)
	}
	for i := range a.Routes {
		r := &a.Routes[i]
		if r.Receiver == "" || declared[r.Receiver] {
			continue // a missing receiver is a config/schema finding
		}
		p.Report(r.Span("receiver"), receiverHint(r.Receiver, names),
			"route %s sends to receiver %q, which is not declared in alerting.receivers", routeName(r, i), r.Receiver)
	}
}

// receiverHint suggests the declared receiver closest to name.
func receiverHint(name string, declared []string) string {
	if len(declared) == 0 {
		return "declare the receiver under alerting.receivers"
	}
	if s := spell.Closest(name, declared); name != "" && s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return "declared receivers: " + strings.Join(declared, ", ")
}

// routeName describes route i of alerting.routes for messages.
func routeName(r *config.Route, i int) string {
	var what []string
	if r.Severity != "" {
		what = append(what, "severity "+r.Severity)
	}
	if r.Team != "" {
		what = append(what, "team "+r.Team)
	}
	if r.Namespace != "" {
		what = append(what, "namespace "+r.Namespace)
	}
	if len(what) == 0 {
		return fmt.Sprintf("#%d", i+1)
	}
	return fmt.Sprintf("#%d (%s)", i+1, strings.Join(what, ", "))
}
