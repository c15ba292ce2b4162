package lint

import (
	"fmt"

	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/diag"
)

// dashboardGrid reports a panel whose gridPos is off Grafana's grid of 24
// columns so that Grafana does not draw it where the file says: one of
// width or height under 1 (Grafana makes it one cell), one at a negative x
// or y (moved to the edge), and one that reaches past the last column
// (x + w > 24) where moving it left, as Grafana does, puts it over another
// panel, which Grafana then pushes down: panels meant side by side end up
// one under another.
//
// A panel past the last column that fits once moved left (x=12 w=18 beside
// panels that end at x=6) is drawn as meant and not reported. A row's
// width and height are not judged: Grafana draws every row the grid's
// width and one cell high, whatever its gridPos says. Panels of the
// legacy rows list (schema before 16) have no gridPos and are not judged.
// Overlapping panels are dashboards/overlap's.
type dashboardGrid struct{}

func (dashboardGrid) Name() string { return "dashboards/grid" }

func (dashboardGrid) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRepo, Summary: "A panel's gridPos is off the 24-column grid: Grafana moves it."}
}

// gridColumns is the width of Grafana's dashboard grid.
const gridColumns = 24

func (dashboardGrid) Check(p *Pass) {
	for _, d := range p.models() {
		layers := gridLayers(d.m)
		for _, pn := range d.m.Panels {
			g, ok := pn.GridPos()
			if !ok {
				continue
			}
			// The span only when reporting: a position costs a walk of
			// its line, and a minified dashboard is one line.
			span := func() diag.Span {
				f, _ := pn.Field("gridPos")
				return d.span(f.Offset, len(f.Value))
			}
			row := pn.Type() == "row"
			switch {
			case g.X < 0 || g.Y < 0:
				p.Report(span(), "place it at x and y of 0 or more",
					"%s has gridPos x=%d y=%d, off the grid: Grafana moves it", panelName(pn), g.X, g.Y)
			case row:
			case g.Has("w") && g.W < 1 || g.Has("h") && g.H < 1:
				p.Report(span(), "give it a width and height of at least 1",
					"%s has gridPos w=%d h=%d: Grafana draws it larger than the file says, over the panels around it", panelName(pn), g.W, g.H)
			case g.Has("w") && g.Has("h") && g.X+g.W > gridColumns:
				moved := g
				moved.X = max(gridColumns-g.W, 0)
				moved.W = min(g.W, gridColumns)
				for _, o := range layers[pn.Row] {
					if o.p != pn && overlaps(moved, o.g) {
						p.Report(span(), fmt.Sprintf("make x + w at most %d: at x=%d, w=%d at most", gridColumns, g.X, max(gridColumns-g.X, 1)),
							"%s has gridPos x=%d w=%d, past the grid's %d columns: Grafana moves it left to x=%d, over %s, and pushes one of them down", panelName(pn), g.X, g.W, gridColumns, moved.X, panelName(o.p))
						break
					}
				}
			}
		}
	}
}

// gridLayers returns the panels that share each layer of the grid (by
// the row holding them, nil for the top level) with their places as
// Grafana takes them: a row the grid's width and one cell high. Panels of
// a default size, or none, and copies of a repeated panel are left out.
func gridLayers(m *dashboard.Model) map[*dashboard.Panel][]placedPanel {
	out := map[*dashboard.Panel][]placedPanel{}
	for _, pn := range m.Panels {
		g, ok := pn.GridPos()
		if !ok {
			continue
		}
		if _, clone := pn.Field("repeatPanelId"); clone {
			continue
		}
		if pn.Type() == "row" {
			g.X, g.W, g.H = 0, gridColumns, 1
		} else if !g.Has("w") || !g.Has("h") || g.W < 1 || g.H < 1 {
			continue
		}
		out[pn.Row] = append(out[pn.Row], placedPanel{pn, g})
	}
	return out
}

// overlaps reports whether two places on the grid share a cell.
func overlaps(a, b dashboard.GridPos) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

// dashboardOverlap reports a panel whose gridPos overlaps a panel before it
// in the same layer (the top level, or the panels one collapsed row
// holds). Grafana lays the dashboard out again when it loads it, pushing
// one of the two down, so what it shows is not what the file says; the
// file then changes on its first save from the UI, a diff nobody made.
// Each panel is reported once, for the first panel it overlaps. A row is
// the grid's width and one cell high, as Grafana draws it.
//
// It is a house style, off by default: generators (grafonnet's layouts)
// write overlapping positions on purpose and leave the layout to Grafana.
// The embedded default repo keeps it. Copies Grafana saved of a repeated
// panel (repeatPanelId) are not judged: Grafana places them.
type dashboardOverlap struct{}

func (dashboardOverlap) Name() string { return "dashboards/overlap" }

func (dashboardOverlap) Meta() Meta {
	return Meta{Severity: diag.Info, Scope: ScopeRepo, Optional: true, Summary: "Two panels' gridPos overlap: Grafana moves one of them."}
}

func (dashboardOverlap) Check(p *Pass) {
	for _, d := range p.models() {
		for _, layer := range gridLayers(d.m) {
			for i, pp := range layer {
				for _, o := range layer[:i] {
					if !overlaps(pp.g, o.g) {
						continue
					}
					g := pp.g
					f, _ := pp.p.Field("gridPos")
					p.Report(d.span(f.Offset, len(f.Value)), fmt.Sprintf("move it to y=%d or below, or beside the other", o.g.Y+o.g.H),
						"%s at x=%d y=%d w=%d h=%d overlaps %s at x=%d y=%d w=%d h=%d: Grafana pushes one of them down", panelName(pp.p), g.X, g.Y, g.W, g.H, panelName(o.p), o.g.X, o.g.Y, o.g.W, o.g.H)
					break
				}
			}
		}
	}
}

// placedPanel is a panel with its place on the grid.
type placedPanel struct {
	p *dashboard.Panel
	g dashboard.GridPos
}
