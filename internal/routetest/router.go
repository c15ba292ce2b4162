package routetest

import (
	"fmt"
	"slices"
	"strings"

	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/inhibit"
	"github.com/prometheus/common/model"

	"github.com/obsctl/obsctl/internal/amroute"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
)

// Router is the compiled alert routing of a repo: Alertmanager's route
// tree and inhibition rules, and where obsctl.yaml declares each route.
type Router struct {
	// Config is the Alertmanager configuration as amroute compiles it.
	Config *amconfig.Config
	// Root is the route tree as Alertmanager's dispatcher builds it.
	Root *dispatch.Route
	// Routes are the routes of the tree, root first, depth first.
	Routes []*Route

	byRoute  map[*dispatch.Route]int
	inhibits []*inhibit.InhibitRule
}

// Route is one route of the tree.
type Route struct {
	// Route is the dispatcher's route; Config is the route as configured,
	// which keeps what the route sets itself (not what it inherits).
	Route  *dispatch.Route
	Config *amconfig.Route
	// Span is where obsctl.yaml declares the route: the item of
	// alerting.routes, or alerting.defaultReceiver for the root.
	Span diag.Span
	// Depth is 0 for the root.
	Depth int
}

// Compile compiles cfg's alerting section with amroute and builds
// Alertmanager's route tree and inhibition rules from it.
func Compile(cfg *config.Config) (*Router, error) {
	if !cfg.Alerting.Routing() {
		return nil, fmt.Errorf("%s declares no alert routing (alerting.receivers, routes, defaultReceiver)", config.FileName)
	}
	res, err := amroute.Compile(cfg)
	if err != nil {
		return nil, err
	}
	a := &cfg.Alerting
	spans := []diag.Span{a.Span("defaultReceiver")}
	for i := range a.Routes {
		spans = append(spans, a.Routes[i].At)
	}
	return New(res.Config, spans), nil
}

// New builds the router of an Alertmanager configuration. spans, when
// long enough, are where the routes are declared, in the order of
// Router.Routes.
func New(cfg *amconfig.Config, spans []diag.Span) *Router {
	r := &Router{Config: cfg, Root: dispatch.NewRoute(cfg.Route, nil), byRoute: map[*dispatch.Route]int{}}
	var walk func(d *dispatch.Route, c *amconfig.Route, depth int)
	walk = func(d *dispatch.Route, c *amconfig.Route, depth int) {
		rt := &Route{Route: d, Config: c, Depth: depth}
		if n := len(r.Routes); n < len(spans) {
			rt.Span = spans[n]
		}
		r.byRoute[d] = len(r.Routes)
		r.Routes = append(r.Routes, rt)
		for i, child := range d.Routes {
			walk(child, c.Routes[i], depth+1)
		}
	}
	walk(r.Root, cfg.Route, 0)
	for _, ir := range cfg.InhibitRules {
		r.inhibits = append(r.inhibits, inhibit.NewInhibitRule(ir))
	}
	return r
}

// Match returns the routes an alert with labels ls is delivered by, in
// order, as Alertmanager's dispatcher matches them.
func (r *Router) Match(ls model.LabelSet) []*dispatch.Route { return r.Root.Match(ls) }

// Receivers returns the receivers of the routes ls matches, in order.
func (r *Router) Receivers(ls model.LabelSet) []string {
	var out []string
	for _, m := range r.Root.Match(ls) {
		out = append(out, m.RouteOpts.Receiver)
	}
	return out
}

// Index returns the index in Routes of a route of the tree; -1 for
// another.
func (r *Router) Index(d *dispatch.Route) int {
	if i, ok := r.byRoute[d]; ok {
		return i
	}
	return -1
}

// Inhibited reports whether an alert with labels ls is inhibited while
// the alerts firing fire, and by which of them (its index), with
// Alertmanager's semantics (inhibit.Inhibitor.Mutes): a rule whose target
// matchers match ls, and a firing alert that its source matchers match
// and that has the same values of the rule's equal labels (a label
// missing on both sides is equal). When ls itself matches the source
// matchers too, firing alerts that match both sides do not count. The
// rules are Alertmanager's own (inhibit.NewInhibitRule), evaluated here
// rather than by an Inhibitor, which needs a running alert store; unlike
// the Inhibitor's index, every firing alert is considered, not the
// latest one of each equal-label set, which is the same as long as the
// firing alerts do not end.
func (r *Router) Inhibited(ls model.LabelSet, firing []model.LabelSet) (int, bool) {
	for _, rule := range r.inhibits {
		if !rule.TargetMatchers.Matches(ls) {
			continue
		}
		twoSided := rule.SourceMatchers.Matches(ls)
		for i, src := range firing {
			if !rule.SourceMatchers.Matches(src) {
				continue
			}
			if twoSided && rule.TargetMatchers.Matches(src) {
				continue
			}
			if equalOn(rule.Equal, ls, src) {
				return i, true
			}
		}
	}
	return -1, false
}

func equalOn(names map[model.LabelName]struct{}, a, b model.LabelSet) bool {
	for n := range names {
		if a[n] != b[n] {
			return false
		}
	}
	return true
}

// Describe says what a route matches and where it sends, for reports:
// `{severity="info"} to receiver slack-info`, `default-route to receiver
// slack-alerts` for the root.
func Describe(d *dispatch.Route) string {
	return matchersOf(d) + " to receiver " + d.RouteOpts.Receiver
}

func matchersOf(d *dispatch.Route) string {
	if d.Matchers.Len() == 0 {
		return "default-route"
	}
	return d.Matchers.String()
}

// details writes what a route sets itself, amtool's way and then
// Alertmanager's configuration keys.
func details(rt *Route) string {
	var b strings.Builder
	b.WriteString(matchersOf(rt.Route))
	if rt.Route.Continue {
		b.WriteString("  continue: true")
	}
	b.WriteString("  receiver: " + rt.Route.RouteOpts.Receiver)
	c := rt.Config
	if c == nil {
		return b.String()
	}
	switch {
	case c.GroupByAll:
		b.WriteString("  group_by: [...]")
	case c.GroupByStr != nil:
		b.WriteString("  group_by: [" + strings.Join(c.GroupByStr, ", ") + "]")
	}
	for _, t := range []struct {
		key string
		d   *model.Duration
	}{{"group_wait", c.GroupWait}, {"group_interval", c.GroupInterval}, {"repeat_interval", c.RepeatInterval}} {
		if t.d != nil {
			b.WriteString("  " + t.key + ": " + t.d.String())
		}
	}
	if len(c.MuteTimeIntervals) > 0 {
		b.WriteString("  mute_time_intervals: [" + strings.Join(c.MuteTimeIntervals, ", ") + "]")
	}
	if len(c.ActiveTimeIntervals) > 0 {
		b.WriteString("  active_time_intervals: [" + strings.Join(c.ActiveTimeIntervals, ", ") + "]")
	}
	return b.String()
}

// Tree returns the routing tree as amtool config routes show prints it,
// each route with what it sets itself: matchers, continue, receiver,
// group_by and the timers.
func (r *Router) Tree() string {
	var b strings.Builder
	b.WriteString("Routing tree:\n.\n")
	lines := make([]string, len(r.Routes))
	for i, rt := range r.Routes {
		lines[i] = details(rt)
	}
	r.draw(&b, r.Root, "", true, func(d *dispatch.Route) (string, bool) { return lines[r.byRoute[d]], true })
	return b.String()
}

// MatchingTree returns the routes an alert with labels ls passes through,
// as amtool config routes test --tree prints them: the routes it ends at
// with their receivers.
func (r *Router) MatchingTree(ls model.LabelSet) string {
	var b strings.Builder
	b.WriteString("Matching routes:\n.\n")
	final := map[*dispatch.Route]bool{}
	for _, m := range r.Root.Match(ls) {
		final[m] = true
	}
	r.draw(&b, r.Root, "", true, func(d *dispatch.Route) (string, bool) {
		if !r.passes(d, ls) {
			return "", false
		}
		if final[d] {
			return matchersOf(d) + "  receiver: " + d.RouteOpts.Receiver, true
		}
		return matchersOf(d), true
	})
	return b.String()
}

// passes reports whether the dispatcher's walk for ls reaches route d
// and d matches: its parent is passed, d's matchers match, and no earlier
// sibling matched without continue.
func (r *Router) passes(d *dispatch.Route, ls model.LabelSet) bool {
	if d == r.Root {
		return d.Matchers.Matches(ls)
	}
	parent := r.parentOf(d)
	if parent == nil || !r.passes(parent, ls) {
		return false
	}
	for _, s := range parent.Routes {
		if s == d {
			return d.Matchers.Matches(ls)
		}
		if s.Match(ls) != nil && !s.Continue {
			return false
		}
	}
	return false
}

func (r *Router) parentOf(d *dispatch.Route) *dispatch.Route {
	for _, rt := range r.Routes {
		if slices.Contains(rt.Route.Routes, d) {
			return rt.Route
		}
	}
	return nil
}

// draw writes the tree under d with box-drawing branches, leaving out
// the routes label rejects (and theirs).
func (r *Router) draw(b *strings.Builder, d *dispatch.Route, indent string, last bool, label func(*dispatch.Route) (string, bool)) {
	text, ok := label(d)
	if !ok {
		return
	}
	branch, next := "├── ", "│   "
	if last {
		branch, next = "└── ", "    "
	}
	b.WriteString(indent + branch + text + "\n")
	var kids []*dispatch.Route
	for _, c := range d.Routes {
		if _, ok := label(c); ok {
			kids = append(kids, c)
		}
	}
	for i, c := range kids {
		r.draw(b, c, indent+next, i == len(kids)-1, label)
	}
}
