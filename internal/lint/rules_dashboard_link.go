package lint

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/layer"
	"github.com/obsctl/obsctl/internal/spell"
)

// dashboardLink reports an alert whose dashboard_url leads to a dashboard
// of the repo that does not have what the link names: no dashboard of
// that uid, no panel of that id (viewPanel), a row rather than a panel,
// or a variable (var-NAME) the dashboard does not have. Grafana opens such
// a link on an error ("Dashboard not found", "Panel not found") or the
// whole dashboard, and the person paged follows it at the worst time.
//
// Links under http://localhost:3000/ (what the default content writes,
// and obsctl leads to the repo's Grafana when it builds) must name one of
// the repo's dashboards; links under grafana.url or the stack's Grafana
// host are held to the repo's dashboards when they name one of them (a
// team's Grafana also holds dashboards of its own); other links are not
// read. Templated parts ({{ $labels.x }}) are not judged. The default
// content's links are obsctl's to keep right: a dashboard an override
// leaves out takes its links out of the build with it.
type dashboardLink struct{}

func (dashboardLink) Name() string { return "rules/dashboard-link" }

func (dashboardLink) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRule, Summary: "An alert's dashboard_url names a dashboard, panel or variable the repo's dashboards do not have."}
}

func (dashboardLink) Check(p *Pass) {
	r := p.Rule
	if !r.IsAlert() || p.run == nil || (p.Repo != nil && p.Repo.Neutral) || layer.IsDefault(r.Group.File.Path) {
		return
	}
	kv, ok := r.Annotation(dashboard.LinkAnnotation)
	if !ok || kv.ValueLoc.IsZero() {
		return // none, or one obsctl wrote (an SLO's), which a build drops with its dashboard
	}
	boards, base := p.run.linkTargets(p)
	l, own := dashboard.ParseLink(kv.Value, dashboard.LinkBase)
	if !own {
		if base == "" {
			return
		}
		if l, ok = dashboard.ParseLink(kv.Value, base); !ok || boards[l.UID] == nil {
			return
		}
	}
	if strings.Contains(l.UID, "{{") {
		return
	}
	b := boards[l.UID]
	if b == nil {
		hint := "link one of the repo's dashboards by its uid"
		if s := spell.Closest(l.UID, slices.Sorted(maps.Keys(boards))); s != "" {
			hint = "did you mean \"" + s + "\"? " + hint
		}
		p.Report(kv.ValueSpan(), hint, "alert %q links dashboard %q, which no dashboard of the repo has as its uid", r.Alert, l.UID)
		return
	}
	if id := strings.TrimPrefix(l.Panel, "panel-"); id != "" && !strings.Contains(id, "{{") {
		pn, ok := b.panels[id]
		switch {
		case !ok:
			p.Report(kv.ValueSpan(), "give the id of one of its panels (the \"id\" of the panel in "+b.file+")",
				"alert %q links panel %s of dashboard %q, which has no panel of that id", r.Alert, l.Panel, l.UID)
		case pn.row:
			p.Report(kv.ValueSpan(), "link a panel of the row, not the row",
				"alert %q links panel %s of dashboard %q, which is the row %q: Grafana cannot show a row on its own", r.Alert, l.Panel, l.UID, pn.title)
		}
	}
	for _, v := range l.Vars {
		if !slices.Contains(b.vars, v) && !strings.Contains(v, "{{") {
			hint := "it has no variables"
			if len(b.vars) > 0 {
				hint = "its variables: " + strings.Join(b.vars, ", ")
			}
			p.Report(kv.ValueSpan(), hint,
				"alert %q sets variable %q of dashboard %q, which has no such variable", r.Alert, v, l.UID)
		}
	}
}

// linkBoard is what links to a dashboard can name: its file, its panels
// by id, its variables.
type linkBoard struct {
	file   string
	panels map[string]linkPanel
	vars   []string
}

type linkPanel struct {
	title string
	row   bool
}

// linkTargets returns the repo's dashboards by uid, and the base of the
// Grafana the repo configures, read once per run (rule files are linted
// in parallel) from the dashboards the run's repo checks read.
func (st *runState) linkTargets(p *Pass) (map[string]*linkBoard, string) {
	st.linksOnce.Do(func() {
		st.links, st.grafanaBase = map[string]*linkBoard{}, p.Config.GrafanaBaseURL()
		if p.Repo == nil {
			return
		}
		for _, d := range st.dashboards(p.Repo) {
			m := d.model()
			if d.err != nil || m == nil || m.Board.UID == "" {
				continue
			}
			b := &linkBoard{file: d.file.Path, panels: map[string]linkPanel{}}
			for _, pn := range m.Panels {
				if id, ok := pn.ID(); ok {
					b.panels[strconv.FormatInt(id, 10)] = linkPanel{title: pn.Title(), row: pn.Type() == "row"}
				}
			}
			for _, v := range m.Variables {
				b.vars = append(b.vars, v.Name())
			}
			st.links[m.Board.UID] = b
		}
	})
	return st.links, st.grafanaBase
}

// linkState is runState's share for rules/dashboard-link, and the
// dashboards the run's passes share.
type linkState struct {
	linksOnce   sync.Once
	links       map[string]*linkBoard
	grafanaBase string
	dashOnce    sync.Once
	dashScans   []*dashboardScan
}
