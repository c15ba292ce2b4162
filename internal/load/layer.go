package load

import (
	"maps"
	"slices"
	"strings"

	"github.com/prometheus/alertmanager/pkg/labels"

	"github.com/obsctl/obsctl/internal/amroute"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/layer"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/slo"
	"github.com/obsctl/obsctl/internal/source"
)

// Layered reports whether the repo builds on the embedded default
// content: some of it was loaded under the repo's own (see layerDefaults).
func (r *Repo) Layered() bool { return r.layered }

// LayerDefaults layers the default content under a repo built in memory
// (tests build one without Load), as Load layers a repo it loads.
func (r *Repo) LayerDefaults() error { return r.layerDefaults(Options{}) }

// layerDefaults puts the embedded default content under the repo's own,
// as obsctl.yaml's defaults: and overrides: say (internal/layer): the
// default rules with their tests, SLOs, dashboards and pipelines, each
// shown under @defaults/, and the routing skeleton where the repo's
// alerting leaves it out. Nothing is layered under the embedded repo
// itself, files given outside any repo, or an obsctl.yaml that was not
// read or has an error: its findings come first.
func (r *Repo) layerDefaults(opts Options) error {
	cfg := r.Config
	if r.Default || r.Neutral || r.configRefused || r.configBroken || r.ConfigFile == nil || !cfg.AnyDefaults() {
		return nil
	}
	d, err := loadConfig(Options{}, Location{Dir: layer.Dir}) // obsctl's own content: not held to the user's limits
	if err != nil {
		return err
	}
	if cfg.DefaultsOn("routing") {
		skeleton(&cfg.Alerting, &d.Config.Alerting)
	}
	if len(cfg.Alerting.Severities) > 0 {
		// The default SLOs name no severities: they page and ticket at
		// the repo's (slo.SLO.Severities).
		d.Config.Alerting.Severities = cfg.Alerting.Severities
	}
	if err := d.loadAll(nil, false); err != nil {
		return err
	}
	r.layered = true
	under := func(rel string) string {
		if layer.IsDefault(rel) {
			return rel
		}
		return layer.Dir + "/" + rel
	}
	def := &layer.Content{}
	for _, f := range d.RuleFiles {
		if layer.ManagedOut(cfg, f.Rel) {
			continue
		}
		f.Rel = under(f.Rel)
		isSLO := strings.HasPrefix(f.Rel, layer.Dir+"/"+slo.Dir+"/")
		if isSLO && cfg.DefaultsOn("slos") || !isSLO && cfg.DefaultsOn("rules") {
			def.RuleFiles = append(def.RuleFiles, f)
		}
	}
	if cfg.DefaultsOn("rules") {
		for _, f := range d.RuleTests {
			// The hand-written tests of the default SLOs hold their
			// alerts at the default severities; a repo's SLOs compile
			// at its own, and their generated tests (below) follow.
			if layer.ManagedOut(cfg, f.Rel) || strings.HasPrefix(f.Rel, slo.Dir+"/") {
				continue
			}
			f.Rel = under(f.Rel)
			def.RuleTests = append(def.RuleTests, f)
		}
	}
	if cfg.DefaultsOn("dashboards") {
		for _, f := range d.Dashboards {
			if layer.ManagedOut(cfg, f.Rel) {
				continue
			}
			f.Rel = under(f.Rel)
			def.Dashboards = append(def.Dashboards, f)
		}
	}
	if cfg.DefaultsOn("pipelines") {
		for _, p := range d.Pipelines {
			p.Rel = under(p.Rel)
			def.Pipelines = append(def.Pipelines, p)
		}
	}
	r.DefaultItems = layer.Items(def.RuleFiles, def.Dashboards, def.Pipelines)

	own := &layer.Content{RuleFiles: r.RuleFiles, RuleTests: r.RuleTests, Dashboards: r.Dashboards, Pipelines: r.Pipelines}
	if hasAlert(cfg, def.RuleFiles, infoInhibitor) && !routesInfoInhibitor(&cfg.Alerting) {
		// The InfoInhibitor notifies nobody only where the routing
		// sends it nowhere and holds info alerts back with it, as the
		// default obsctl.yaml does; a repo's own routing does neither
		// until it says so (README: Building on the defaults), so the
		// alert is left out rather than sent to the repo's receivers.
		if !overridesAlert(&cfg.Overrides, infoInhibitor) {
			alerts := maps.Clone(cfg.Overrides.Alerts)
			if alerts == nil {
				alerts = map[string]*config.AlertOverride{}
			}
			alerts[infoInhibitor] = &config.AlertOverride{Disabled: true}
			cfg.Overrides.Alerts = alerts
		}
	}
	res := layer.Apply(cfg, r.ConfigFile, own, def)
	var sloTests []*source.File
	if cfg.DefaultsOn("slos") {
		for _, s := range d.SLOs {
			s.File.Rel = under(s.File.Rel)
		}
		for _, f := range d.SLOTests {
			f.Rel = under(f.Rel)
		}
		sloTests = d.SLOTests
	}
	tests, fds := layer.Tests(res, r.RuleTests, append(def.RuleTests, sloTests...))
	r.Findings = append(r.Findings, res.Findings...)
	r.Findings = append(r.Findings, fds...)
	for _, f := range d.Findings {
		if f.File != d.ConfigFile.Path {
			r.Findings = append(r.Findings, f)
		}
	}

	r.RuleFiles = append(r.RuleFiles, def.RuleFiles...)
	slices.SortStableFunc(r.RuleFiles, func(a, b *promrule.File) int { return strings.Compare(a.Path, b.Path) })
	for _, f := range tests {
		if strings.HasSuffix(f.Path, "#tests") {
			r.SLOTests = append(r.SLOTests, f)
		} else {
			r.RuleTests = append(r.RuleTests, f)
		}
	}
	r.Dashboards = append(r.Dashboards, def.Dashboards...)
	r.Pipelines = layer.Pipelines(r.Pipelines, def.Pipelines)
	if cfg.DefaultsOn("slos") {
		r.SLOs = append(r.SLOs, d.SLOs...)
	}
	return nil
}

// infoInhibitor is the default alert that holds info alerts back while
// their namespace has nothing worse (rules/alertmanager.yaml).
const infoInhibitor = "InfoInhibitor"

// hasAlert reports whether the default rule files have an alert called
// name in a group the overrides keep.
func hasAlert(cfg *config.Config, files []*promrule.File, name string) bool {
	for _, f := range files {
		for _, g := range f.Groups {
			if t := cfg.Overrides.Groups[g.Name]; t != nil && t.Disabled {
				continue
			}
			for _, r := range g.Rules {
				if r.Alert == name {
					return true
				}
			}
		}
	}
	return false
}

// routesInfoInhibitor reports whether a route of the repo's own routing
// takes the InfoInhibitor (a matcher alertname="InfoInhibitor"): only then
// does it notify nobody rather than the repo's receivers.
func routesInfoInhibitor(a *config.Alerting) bool {
	for _, rt := range a.Routes {
		for _, text := range rt.Matchers {
			m, err := amroute.ParseMatcher(text)
			if err == nil && m.Name == "alertname" && m.Type == labels.MatchEqual && m.Value == infoInhibitor {
				return true
			}
		}
	}
	return false
}

// overridesAlert reports whether the repo's overrides name the default
// alert called name, by its name or a selector of it.
func overridesAlert(o *config.Overrides, name string) bool {
	for key := range o.Alerts {
		if n, _, err := layer.Selector(key); err == nil && n == name {
			return true
		}
	}
	return false
}

// skeleton gives the repo's alerting what the default routing has and it
// leaves out: the severities, the notification grouping and timing. Its
// receivers and routes are its own.
func skeleton(a, def *config.Alerting) {
	if len(a.Severities) == 0 {
		a.Severities = def.Severities
	}
	if len(a.SilentSeverities) == 0 {
		a.SilentSeverities = def.SilentSeverities
	}
	if len(a.GroupBy) == 0 {
		a.GroupBy = def.GroupBy
	}
	for _, t := range []struct{ own, def *config.Duration }{
		{&a.GroupWait, &def.GroupWait}, {&a.GroupInterval, &def.GroupInterval}, {&a.RepeatInterval, &def.RepeatInterval},
	} {
		if !t.own.Set {
			*t.own = *t.def
		}
	}
}
