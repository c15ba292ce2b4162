package routetest

import (
	"regexp"
	"slices"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/ruletest"
	"github.com/obsctl/obsctl/internal/source"
)

// Options says how to run.
type Options struct {
	// Run, when set, keeps the cases whose name it matches.
	Run *regexp.Regexp
}

// Run runs the routing test files against router and adds their outcomes
// to res: one file result each, with one group (route_tests) of one
// check per case, and the routes no case reaches. When the routing does
// not compile (router is nil), routingErr says why, and each file is one
// that cannot run.
func Run(res *ruletest.Result, files []*source.File, router *Router, routingErr error, opts Options) {
	if len(files) == 0 {
		return
	}
	reached := map[int]bool{}
	ran := 0
	for _, sf := range files {
		fr := &ruletest.FileResult{Path: sf.Path}
		res.Files = append(res.Files, fr)
		f, fds := Parse(sf)
		for _, fd := range fds {
			if fd.Severity >= diag.Error {
				fr.Errors = append(fr.Errors, fd)
			}
		}
		if router == nil && len(fr.Errors) == 0 {
			fr.Errors = append(fr.Errors, diag.Finding{Check: ruletest.CheckSchema, Severity: diag.Error, Span: f.Span,
				Message: "the alert routing does not compile: " + routingErr.Error()})
		}
		if len(fr.Errors) > 0 {
			continue
		}
		g := &ruletest.GroupResult{Name: Key, Span: f.Span}
		for _, c := range f.Cases {
			if opts.Run != nil && !opts.Run.MatchString(c.Name) {
				continue
			}
			g.Checks = append(g.Checks, router.check(c, reached))
		}
		if len(g.Checks) > 0 {
			fr.Groups = append(fr.Groups, g)
			ran += len(g.Checks)
		}
	}
	if router == nil || ran == 0 {
		return // no case ran: coverage would say nothing
	}
	res.Routes = nil
	for i, rt := range router.Routes {
		res.Routes = append(res.Routes, ruletest.Route{Span: rt.Span, Route: Describe(rt.Route), Reached: reached[i]})
	}
}

// check runs one case, marking the routes it reaches.
func (r *Router) check(c *Case, reached map[int]bool) *ruletest.Check {
	ch := &ruletest.Check{Kind: ruletest.KindRoute, Name: c.Name, Span: c.Span,
		Labels: c.Labels.String(), ExpectedReceivers: c.Receivers, ExpectedInhibited: c.Inhibited}
	for _, m := range r.Match(c.Labels) {
		reached[r.Index(m)] = true
		ch.GotReceivers = append(ch.GotReceivers, m.RouteOpts.Receiver)
	}
	for _, f := range c.Firing {
		ch.Firing = append(ch.Firing, f.String())
	}
	if i, ok := r.Inhibited(c.Labels, c.Firing); ok {
		ch.GotInhibited, ch.InhibitedBy = true, c.Firing[i].String()
	}
	ch.Passed = ch.GotInhibited == c.Inhibited && (c.Receivers == nil || slices.Equal(c.Receivers, ch.GotReceivers))
	return ch
}
