package load

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	amconfig "github.com/prometheus/alertmanager/config"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/fluentd"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/slo"
	"github.com/obsctl/obsctl/internal/source"
)

// Kind is what a file given on the command line is to lint.
type Kind int

// The kinds of file lint reads.
const (
	// KindUnknown is a file of no kind obsctl reads (a README.md).
	KindUnknown Kind = iota
	// KindRules is a Prometheus rule file or a file of PrometheusRule objects.
	KindRules
	// KindRuleTest is a rule unit test file, in promtool's format: it is
	// parsed, not linted as rules.
	KindRuleTest
	// KindPipeline is a Fluentd pipeline (pipelines/*.yaml).
	KindPipeline
	// KindDashboard is a Grafana dashboard (JSON).
	KindDashboard
	// KindConfig is an obsctl.yaml.
	KindConfig
	// KindAlertmanager is a raw Alertmanager configuration (route: and
	// receivers:), checked with Alertmanager's own loader.
	KindAlertmanager
	// KindSLO is a service level objective (slos/*.yaml, kind: SLO).
	KindSLO
)

var kindNames = [...]string{"unknown", "rules", "rule test", "pipeline", "dashboard", "obsctl.yaml", "Alertmanager configuration", "SLO"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "unknown"
	}
	return kindNames[k]
}

// KindOf decides the kind of the file at p (slash-separated, relative to
// the repo when it is inside it) that holds src: first by its name
// (obsctl.yaml, *_test.yaml, *.json), then by what it holds (groups:,
// kind: PrometheusRule, kind: Pipeline, rule_files:/tests:, route: with
// receivers:), then by its place (a pipelines folder). A YAML file none of
// these decide is KindUnknown: the caller says whether it is read as rules
// (a file named on the command line, as promtool would) or passed over (a
// file met in a folder, which may be any YAML).
func KindOf(p string, src []byte) Kind {
	base := path.Base(p)
	ext := path.Ext(base)
	folder := path.Base(path.Dir(p))
	switch ext {
	case ".json":
		if folder == dashboardsDir || path.Base(path.Dir(path.Dir(p))) == dashboardsDir {
			return KindDashboard // at the top of dashboards/, or in a folder of it
		}
		return jsonKind(src)
	case ".yaml", ".yml":
	default:
		return KindUnknown
	}
	switch {
	case base == config.FileName:
		return KindConfig
	case strings.HasSuffix(strings.TrimSuffix(base, ext), "_test"):
		return KindRuleTest
	}
	keys := topKeys(src)
	_, groups := keys["groups"]
	_, ruleFiles := keys["rule_files"]
	_, tests := keys["tests"]
	_, route := keys["route"]
	_, receivers := keys["receivers"]
	switch {
	case keys["kind"] == "PrometheusRule":
		return KindRules
	case keys["kind"] == fluentd.Kind:
		return KindPipeline
	case keys["kind"] == slo.Kind:
		return KindSLO
	case groups:
		return KindRules
	case ruleFiles || tests:
		return KindRuleTest
	case route && receivers:
		return KindAlertmanager
	case folder == fluentd.Dir:
		return KindPipeline
	case folder == slo.Dir:
		return KindSLO
	}
	return KindUnknown
}

// topKeys returns the keys at the top level of YAML src, with their
// values when they are plain scalars on the same line, from a scan of its
// lines: a file that is not valid YAML still says what it was meant to be.
// Only the first of a key written twice (or in two documents) counts.
func topKeys(src []byte) map[string]string {
	keys := map[string]string{}
	for len(src) > 0 {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			src = nil
		}
		if len(line) == 0 || !(line[0] == '_' || line[0] == '"' || line[0] == '\'' ||
			line[0] >= 'a' && line[0] <= 'z' || line[0] >= 'A' && line[0] <= 'Z') {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		key := strings.Trim(string(bytes.TrimSpace(k)), `"'`)
		if _, dup := keys[key]; dup {
			continue
		}
		val := string(v)
		if i := strings.Index(val, " #"); i >= 0 {
			val = val[:i]
		}
		keys[key] = strings.Trim(strings.TrimSpace(val), `"'`)
	}
	return keys
}

// jsonKind decides the kind of a JSON file outside a dashboards folder: a
// dashboard when it says so (panels, a dashboard wrapper, Grafana's
// schemaVersion) or does not parse (dashboards/syntax says where), rules
// when it holds groups (YAML reads JSON), else unknown.
func jsonKind(src []byte) Kind {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(src, &top); err != nil {
		return KindDashboard
	}
	for _, k := range []string{"panels", "dashboard", "schemaVersion", "rows"} {
		if _, ok := top[k]; ok {
			return KindDashboard
		}
	}
	if _, ok := top["groups"]; ok {
		return KindRules
	}
	return KindUnknown
}

// lintable reports whether a file met in a folder named on the command
// line may be of a kind lint reads, by its name.
func lintable(name string) bool {
	switch path.Ext(name) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// givenFile is a file of a path given on the command line.
type givenFile struct {
	src ruleSource
	// inRepo is set when the file is inside the repo (or, with no repo,
	// the working folder): src.node.rel is its path there.
	inRepo bool
	// explicit is set when the file was named itself, not met in a
	// folder named.
	explicit bool
}

// loadGiven loads the repo and the paths given on the command line (see
// Options.Paths).
func (r *Repo) loadGiven(opts Options) error {
	wd, err := workDir(opts)
	if err != nil {
		return err
	}
	base := r.Root
	if base == "" {
		base = wd
	}
	repo, err := diskTree(base, opts.limit())
	if err != nil {
		return err
	}
	r.targets, r.shown = []string{}, map[string]string{}
	var given []givenFile
	seen := map[string]bool{}
	for _, p := range opts.Paths {
		abs := p
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(wd, p)
		}
		abs = filepath.Clean(abs)
		t, rel, inRepo := repo, "", within(repo.dir, abs)
		if inRepo {
			rel, err = filepath.Rel(repo.dir, abs)
		} else {
			t, rel, err = outsideTree(abs, opts.limit())
		}
		if err != nil {
			return fmt.Errorf("lint %s: %w", safeName(p), err)
		}
		display := filepath.ToSlash(filepath.Clean(p))
		r.targets = append(r.targets, display)
		var out []ruleSource
		if err := r.collectPath(t, filepath.ToSlash(rel), display, diag.Span{}, lintable, seen, &out); err != nil {
			return fmt.Errorf("lint %s: %w", safeName(p), err)
		}
		for _, s := range out {
			given = append(given, givenFile{src: s, inRepo: inRepo, explicit: s.display == display})
			if _, ok := r.shown[s.node.rel]; inRepo && !ok {
				// The repo's own loading shows the file as it was named.
				r.shown[s.node.rel] = s.display
			}
		}
	}
	if err := r.loadAll(given, opts.Selected); err != nil {
		return err
	}
	r.Findings = dedupeFindings(r.Findings)
	return nil
}

// loadExtra reads the files given that the repo's own loading did not
// (repoRules, pipelines, r.Dashboards and obsctl.yaml), each as its kind:
// it returns the rule files and pipelines among them, to be loaded with
// the repo's, and keeps the others. quiet passes over a file of no kind
// without a note (Options.Selected).
func (r *Repo) loadExtra(given []givenFile, repoRules []ruleSource, pipelines, specs []*source.File, quiet bool) ([]ruleSource, []*source.File, error) {
	if len(given) == 0 {
		return nil, nil, nil
	}
	loaded := map[string]bool{}
	if !r.Neutral {
		loaded[config.FileName] = true
		for _, s := range repoRules {
			loaded[s.node.rel] = true
		}
		for _, f := range append(slices.Clone(pipelines), specs...) {
			loaded[f.Rel] = true
		}
		for _, f := range r.Dashboards {
			loaded[f.Rel] = true
		}
	}
	var rules []ruleSource
	var extraPipelines []*source.File
	done := map[string]bool{}
	for _, g := range given {
		s := g.src
		if done[s.display] {
			continue
		}
		done[s.display] = true
		if g.inRepo && loaded[s.node.rel] {
			if s.node.rel == config.FileName && r.ConfigFile != nil {
				r.targets = append(r.targets, r.ConfigFile.Path)
			}
			continue
		}
		sf, refused, err := s.tree.load(s.node, s.display, s.at)
		if err != nil {
			return nil, nil, err
		}
		if refused != nil {
			r.Findings = append(r.Findings, *refused)
			continue
		}
		place := s.display
		if g.inRepo {
			place = s.node.rel
		}
		kind := KindOf(place, sf.Src)
		if kind == KindUnknown && g.explicit && (path.Ext(place) == ".yaml" || path.Ext(place) == ".yml") {
			kind = KindRules // named, and YAML: read as promtool check rules would
		}
		sf.Rel = s.display // no path in the repo to name it by
		switch kind {
		case KindRules:
			s.rel, s.file = s.display, sf
			rules = append(rules, s)
		case KindPipeline:
			extraPipelines = append(extraPipelines, sf)
		case KindDashboard:
			r.Dashboards = append(r.Dashboards, sf)
		case KindSLO:
			r.extraSLOs = append(r.extraSLOs, sf)
		case KindRuleTest:
			r.RuleTests = append(r.RuleTests, sf)
			if _, fd := sf.ParseYAML(promrule.CheckSyntax); fd != nil {
				r.Findings = append(r.Findings, *fd)
			}
		case KindConfig:
			r.Others = append(r.Others, sf)
			_, fds := config.Parse(sf)
			r.Findings = append(r.Findings, fds...)
		case KindAlertmanager:
			r.Others = append(r.Others, sf)
			r.Findings = append(r.Findings, checkAlertmanager(sf)...)
		default:
			if g.explicit && !quiet {
				r.Skipped = append(r.Skipped, safeName(s.display))
			}
		}
	}
	slices.SortFunc(r.Dashboards, func(a, b *source.File) int { return strings.Compare(a.Path, b.Path) })
	return rules, extraPipelines, nil
}

// CheckAlertmanagerConfig names the findings of a raw Alertmanager
// configuration that Alertmanager's own loader refuses: the finding of
// the check that judges the configuration obsctl compiles.
const CheckAlertmanagerConfig = "alerting/invalid-config"

var amLineRE = regexp.MustCompile(`line (\d+)`)

// checkAlertmanager loads a raw Alertmanager configuration with
// Alertmanager's own loader, as Alertmanager and amtool would, and
// returns what it refuses: a YAML syntax error at its position, anything
// else at the line the loader names, or at the file's start.
func checkAlertmanager(sf *source.File) []diag.Finding {
	if _, fd := sf.ParseYAML(promrule.CheckSyntax); fd != nil {
		return []diag.Finding{*fd}
	}
	_, err := amconfig.Load(string(sf.Src))
	if err == nil {
		return nil
	}
	span := sf.Whole()
	if m := amLineRE.FindStringSubmatch(err.Error()); m != nil {
		if n, _ := strconv.Atoi(m[1]); n >= 1 && n <= sf.NumLines() {
			span = sf.At(n, 1)
		}
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	return []diag.Finding{{Check: CheckAlertmanagerConfig, Severity: diag.Error, Span: span,
		Message: "Alertmanager refuses this configuration: " + msg,
		Hint:    "Alertmanager keeps its previous configuration when it refuses a new one; `amtool check-config` says the same"}}
}

// dedupeFindings drops findings equal to one before them: a file refused
// both as a path given and as part of the repo is one finding.
func dedupeFindings(fds []diag.Finding) []diag.Finding {
	seen := make(map[diag.Finding]bool, len(fds))
	out := fds[:0]
	for _, f := range fds {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// Reports reports whether findings on file are reported: with paths
// given on the command line, only those on them (the rest of the repo is
// loaded so that the checks across it see everything); otherwise all.
func (r *Repo) Reports(file string) bool {
	if r.targets == nil {
		return true
	}
	for _, t := range r.targets {
		if under(file, t) {
			return true
		}
	}
	return false
}

// Targets returns the paths given on the command line that Reports keeps
// findings of; nil when every finding is reported.
func (r *Repo) Targets() []string { return slices.Clone(r.targets) }

// under reports whether the slash path file is dir or below it, both as
// given (relative to the working folder, or absolute).
func under(file, dir string) bool {
	switch {
	case file == dir:
		return true
	case dir == ".":
		return !path.IsAbs(file) && file != ".." && !strings.HasPrefix(file, "../")
	}
	return strings.HasPrefix(file, strings.TrimSuffix(dir, "/")+"/")
}
