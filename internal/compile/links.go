package compile

import (
	"cmp"
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/version"
)

// DefaultRunbooks is the base of the runbook links the default content
// writes (rules/*.yaml): obsctl's source on GitHub, at main.
const DefaultRunbooks = "https://github.com/obsctl/obsctl/blob/main/docs/runbooks/"

// releaseRE matches the version of a released obsctl: a tag, not a
// pseudo-version (v0.0.0-20261206...-abcdef) nor a dirty or dev build.
var releaseRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-(alpha|beta|rc)(\.[0-9]+)?)?$`)

// RunbookBase returns where the default content's runbook links lead in
// what the repo compiles to: overrides.runbookBaseURL when the repo says,
// else obsctl's source at the tag of this obsctl (the runbooks that go
// with its alerts), else DefaultRunbooks (a development build).
func RunbookBase(cfg *config.Config, obsctlVersion string) string {
	if b := cfg.Overrides.RunbookBaseURL; b != "" {
		return strings.TrimSuffix(b, "/") + "/"
	}
	if releaseRE.MatchString(obsctlVersion) {
		return strings.Replace(DefaultRunbooks, "/blob/main/", "/blob/"+obsctlVersion+"/", 1)
	}
	return DefaultRunbooks
}

// links says where what compile writes leads the links of the default
// content: runbooks under runbooks (RunbookBase), dashboards under grafana
// (GrafanaBase), and which dashboards the build has (by uid): a link to a
// dashboard the build leaves out (an override disables it, a managed
// control plane has none, no Grafana shows any) is dropped rather than
// left to lead nowhere. A templated uid is relinked, not judged.
type links struct {
	runbooks, grafana string
	dashboards        map[string]bool
}

// GrafanaBase returns where the dashboard links of the rules (under
// dashboard.LinkBase) lead in what the repo compiles to: the Grafana the
// repo configures (config.Config.GrafanaBaseURL), else dashboard.LinkBase
// itself, which a kubectl port-forward of the stack's Grafana serves.
func GrafanaBase(cfg *config.Config) string {
	return cmp.Or(cfg.GrafanaBaseURL(), dashboard.LinkBase)
}

// newLinks returns the links of the repo's build.
func newLinks(r *load.Repo) *links {
	l := &links{runbooks: RunbookBase(r.Config, obsctlVersion()), grafana: GrafanaBase(r.Config), dashboards: map[string]bool{}}
	if r.Config.Grafana.URL == "" && !r.Config.Stack.Components.Grafana.On() {
		return l // no Grafana shows the dashboards: their links lead nowhere
	}
	for _, f := range r.Dashboards {
		var d struct {
			UID string `json:"uid"`
		}
		if json.Unmarshal(f.Src, &d) == nil && d.UID != "" {
			l.dashboards[d.UID] = true
		}
	}
	return l
}

// relink returns files with the annotations of their rules relinked
// (relinked), in copies: the loaded rules keep what their files say (lint,
// test and the release's digests read those). A file with nothing to
// relink is returned as is.
func (l *links) relink(files []*promrule.File) []*promrule.File {
	out := make([]*promrule.File, len(files))
	for i, f := range files {
		out[i] = f
		for j, g := range f.Groups {
			for k, r := range g.Rules {
				if kvs := l.relinked(r); kvs != nil {
					if out[i] == f {
						out[i] = cloneRules(f)
					}
					out[i].Groups[j].Rules[k].Annotations = kvs
				}
			}
		}
	}
	return out
}

// cloneRules copies f, its groups and its rules, each pointing at its
// copied parent.
func cloneRules(f *promrule.File) *promrule.File {
	fc := *f
	fc.Groups = make([]*promrule.Group, len(f.Groups))
	for j, g := range f.Groups {
		gc := *g
		gc.File = &fc
		gc.Rules = make([]*promrule.Rule, len(g.Rules))
		for k, r := range g.Rules {
			rc := *r
			rc.Group = &gc
			gc.Rules[k] = &rc
		}
		fc.Groups[j] = &gc
	}
	return &fc
}

// relinked returns r's annotations with its runbook link under the
// runbooks' base and its dashboard link under Grafana's, or dropped when
// the build has not its dashboard; nil when nothing changes.
func (l *links) relinked(r *promrule.Rule) []promrule.KV {
	var kvs []promrule.KV
	edit := func() {
		if kvs == nil {
			kvs = slices.Clone(r.Annotations)
		}
	}
	for i := len(r.Annotations) - 1; i >= 0; i-- {
		kv := r.Annotations[i]
		switch kv.Key {
		case "runbook_url":
			if rest, ok := strings.CutPrefix(kv.Value, DefaultRunbooks); ok && l.runbooks != DefaultRunbooks {
				edit()
				kvs[i].Value = l.runbooks + rest
			}
		case dashboard.LinkAnnotation:
			d, ok := dashboard.ParseLink(kv.Value, dashboard.LinkBase)
			switch {
			case !ok:
			case !l.dashboards[d.UID] && !strings.Contains(d.UID, "{{"):
				edit()
				kvs = slices.Delete(kvs, i, i+1)
			case l.grafana != dashboard.LinkBase:
				edit()
				kvs[i].Value = l.grafana + strings.TrimPrefix(kv.Value, dashboard.LinkBase)
			}
		}
	}
	return kvs
}

// obsctlVersion is the running obsctl's version (a variable for tests).
var obsctlVersion = func() string { return version.Get().Version }
