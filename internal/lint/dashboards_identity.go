package lint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/render"
	"github.com/obsctl/obsctl/internal/source"
)

// dashboardUID reports a dashboard uid that Grafana refuses or that two
// dashboards share: a uid of more than 40 characters or of characters
// other than letters, digits, - and _ (Grafana refuses to save the
// dashboard), or one another dashboard of the repo already has (Grafana's
// file provisioning logs "the same 'uid' is used more than once", keeps
// one of them, and stops saving the provider's new dashboards). The
// finding is on the later file's uid, in path order.
type dashboardUID struct{}

func (dashboardUID) Name() string { return "dashboards/uid" }

func (dashboardUID) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "A dashboard uid is invalid, or two dashboards share one."}
}

// maxUIDLength is the longest uid Grafana takes.
const maxUIDLength = 40

var uidRE = regexp.MustCompile(`^[a-zA-Z0-9_-]*$`)

func (dashboardUID) Check(p *Pass) {
	seen := map[string]*source.File{}
	for _, d := range p.dashboards() {
		f, top := d.file, d.top()
		v, ok := top["uid"]
		if !ok {
			continue // dashboards/no-uid
		}
		var uid string
		if json.Unmarshal(v.raw, &uid) != nil || uid == "" {
			continue
		}
		span := v.span(f)
		switch {
		case len(uid) > maxUIDLength:
			p.Report(span, "shorten it to 40 characters or fewer", "uid %q is %d characters long: Grafana takes at most %d", uid, len(uid), maxUIDLength)
		case !uidRE.MatchString(uid):
			p.Report(span, "use letters, digits, - and _ only", "uid %q holds characters Grafana refuses in a uid", uid)
		case seen[uid] != nil:
			p.Report(span, "give each dashboard a uid of its own", "uid %q is already the uid of %s: Grafana provisions one of them, and then no new dashboard", uid, seen[uid].Path)
		default:
			seen[uid] = f
		}
	}
}

// dashboardNoUID reports a dashboard without a uid: Grafana makes one up
// when it provisions the dashboard, a new one each time its database is
// new (a Grafana without a volume, another cluster), so links and
// bookmarks to the dashboard break.
type dashboardNoUID struct{}

func (dashboardNoUID) Name() string { return "dashboards/no-uid" }

func (dashboardNoUID) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRepo, Summary: "A dashboard has no uid: Grafana makes one up, and links to it break."}
}

func (dashboardNoUID) Check(p *Pass) {
	for _, d := range p.dashboards() {
		f, top := d.file, d.top()
		if top == nil {
			continue // dashboards/syntax
		}
		v, ok := top["uid"]
		if ok && string(v.raw) != "null" && string(v.raw) != `""` {
			continue
		}
		p.Report(f.Whole(), `add "uid": "<name>" (letters, digits, - and _, at most 40)`, "dashboard has no uid: Grafana makes one up, a new one with each new database, and links to the dashboard break")
	}
}

// dashboardTitle reports a dashboard without a title, which Grafana
// refuses to save, and two dashboards of one title in the same folder
// (obsctl's for those at the top of dashboards/, and one for each folder
// in it): Grafana's file
// provisioning logs "the same 'title' is used more than once", keeps one
// of them, and stops saving the provider's new dashboards.
type dashboardTitle struct{}

func (dashboardTitle) Name() string { return "dashboards/title" }

func (dashboardTitle) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "A dashboard has no title, or two in one folder share one."}
}

func (dashboardTitle) Check(p *Pass) {
	seen := map[[2]string]*source.File{} // by folder and title
	for _, d := range p.dashboards() {
		f, top := d.file, d.top()
		if top == nil {
			continue // dashboards/syntax
		}
		v, ok := top["title"]
		var title string
		if ok {
			_ = json.Unmarshal(v.raw, &title)
		}
		if title == "" {
			p.Report(f.Whole(), `add "title": "..."`, "dashboard has no title: Grafana refuses to save it")
			continue
		}
		key := [2]string{render.DashboardFolder(f), title}
		if prev := seen[key]; prev != nil {
			p.Report(v.span(f), "give each dashboard of a folder a title of its own", "title %q is already the title of %s, in the same folder: Grafana provisions one of them, and then no new dashboard", title, prev.Path)
			continue
		}
		seen[key] = f
	}
}

// topValue is a value of a dashboard's top level, raw, at its offset.
type topValue struct {
	raw    json.RawMessage
	offset int
}

// span returns where the value is written in f.
func (v topValue) span(f *source.File) diag.Span {
	return diag.Span{File: f.Path, Start: f.Pos(v.offset), End: f.Pos(v.offset + len(v.raw))}
}

// topLevel returns the values of a dashboard's top-level keys (the first
// of a key written twice), or nil when it is not a JSON object.
func topLevel(src []byte) map[string]topValue {
	dec := json.NewDecoder(bytes.NewReader(src))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	out := map[string]topValue{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key := fmt.Sprint(tok)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil
		}
		if _, dup := out[key]; !dup {
			out[key] = topValue{raw: raw, offset: int(dec.InputOffset()) - len(raw)}
		}
	}
	return out
}
