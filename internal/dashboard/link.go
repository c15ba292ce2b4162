package dashboard

import (
	"strconv"
	"strings"
)

// LinkBase is the base of the dashboard links that rules write, in the
// dashboard_url annotation: Grafana's own default root URL, which is also
// where `kubectl port-forward svc/grafana 3000` serves the stack's Grafana.
// What obsctl builds leads such links to the Grafana the repo configures
// instead (config.Config.GrafanaBaseURL).
const LinkBase = "http://localhost:3000/"

// LinkAnnotation is the annotation of an alert that leads to the dashboard
// panel a person looks at next.
const LinkAnnotation = "dashboard_url"

// Link is a link to a dashboard, a panel of it and values of its
// variables, as Grafana's URLs give them: BASE/d/UID[/SLUG]?viewPanel=ID
// &var-NAME=VALUE...
type Link struct {
	UID string
	// Panel is the value of viewPanel: a panel's id (Grafana 8 and later
	// take it; Grafana 11's dashboards also take panel-ID), "" for the
	// whole dashboard.
	Panel string
	// Vars are the names of the variables the link sets, in order.
	Vars []string
}

// ParseLink reads a dashboard link under base: ok is false when the link
// does not lead under base to a dashboard (/d/UID). Values may hold
// templates ({{ $labels.namespace }}): they are not read.
func ParseLink(link, base string) (l Link, ok bool) {
	rest, ok := strings.CutPrefix(link, base)
	if !ok {
		return Link{}, false
	}
	path, query, _ := strings.Cut(rest, "?")
	path, _, _ = strings.Cut(path, "#")
	query, _, _ = strings.Cut(query, "#")
	d, ok := strings.CutPrefix(path, "d/")
	if !ok {
		return Link{}, false
	}
	l.UID, _, _ = strings.Cut(d, "/")
	if l.UID == "" {
		return Link{}, false
	}
	for _, kv := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case k == "viewPanel":
			l.Panel = v
		case strings.HasPrefix(k, "var-"):
			l.Vars = append(l.Vars, strings.TrimPrefix(k, "var-"))
		}
	}
	return l, true
}

// PanelLink returns the link, under LinkBase, to the panel with id of the
// dashboard with uid.
func PanelLink(uid string, id int64) string {
	return LinkBase + "d/" + uid + "?viewPanel=" + strconv.FormatInt(id, 10)
}
