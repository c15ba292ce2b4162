package load

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing/fstest"

	"github.com/obsctl/obsctl"
	"github.com/obsctl/obsctl/dashboards"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/fluentd"
	"github.com/obsctl/obsctl/internal/parallel"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/slo"
	"github.com/obsctl/obsctl/internal/source"
	"github.com/obsctl/obsctl/pipelines"
	"github.com/obsctl/obsctl/rules"
	"github.com/obsctl/obsctl/slos"
)

// Repo is a loaded observability repo.
type Repo struct {
	// Dir is the folder the repo was loaded from as the user sees it: --repo
	// as given, "." for the working directory, the way up to the folder
	// discovery found ("..", "../.."), or "" for the embedded default.
	Dir string
	// Root is the repo folder's absolute path; "" for the embedded default.
	Root string
	// Default is set when no obsctl.yaml was found and the embedded
	// default repo was loaded: a command that changes a cluster must not
	// mistake it for the user's repo.
	Default bool
	// Config is the decoded obsctl.yaml (never nil).
	Config *config.Config
	// ConfigFile is the source of obsctl.yaml.
	ConfigFile *source.File
	// RuleFiles are the loaded rule files, sorted by path.
	RuleFiles []*promrule.File
	// Pipelines are the loaded Fluentd pipelines, in routing order.
	Pipelines []*fluentd.Pipeline
	// Dashboards are the Grafana dashboards (dashboards/*.json), sorted by
	// path; lint checks them.
	Dashboards []*source.File
	// RuleTests are the rule unit test files (promtool's format) given on
	// the command line: read and parsed, not linted as rules.
	RuleTests []*source.File
	// Others are the other files given on the command line that lint
	// reads whole: an obsctl.yaml that is not the repo's, a raw
	// Alertmanager configuration.
	Others []*source.File
	// SLOs are the service level objectives (slos/*.yaml) that loaded
	// without errors, in path order; each is compiled into a rule file of
	// RuleFiles under the spec's own path.
	SLOs []*slo.SLO
	// SLOTests are the SLOs' generated rule unit tests, one file each,
	// named after the spec (slos/NAME.yaml#tests): obsctl test runs them
	// with the test files.
	SLOTests []*source.File
	// Findings are the problems met while loading.
	Findings []diag.Finding
	// DefaultItems are the items of the default content the repo builds
	// on, as obsctl ships them (before the overrides), with a digest
	// each (layer.Items); nil when it builds on none.
	DefaultItems map[string]string
	// Neutral is set when no obsctl.yaml applies: files given on the
	// command line outside any repo. Config is then the empty one (no
	// required annotations, no declared severities, no routing, no
	// scrape interval), ConfigFile is nil, and no embedded content is
	// loaded beside the files.
	Neutral bool
	// Skipped are the paths named on the command line that are of no
	// kind obsctl reads (a README.md): they are not linted.
	Skipped []string
	// Partial is set when the files loaded may not be the whole of what
	// is deployed (files given outside any repo): the checks that judge
	// what nothing in the repo does, such as an unused recording rule,
	// then say nothing. Files given inside a repo are linted with the
	// whole repo loaded, so that is not partial.
	Partial bool

	// pending are the rule files found and not read yet (Options.Defer),
	// sorted by path; kept are the sources of those of them that were
	// read and handed back with KeepSource, by path.
	pending    []ruleSource
	kept       map[string]*source.File
	extraSLOs  []*source.File // SLO specs given on the command line outside slos/
	deferRules bool           // Options.Defer

	// layered is set when default content was loaded under the repo's.
	layered bool
	// tree is where the repo's files are read from.
	tree *tree
	// configRefused is set when obsctl.yaml was not read (a load/file
	// finding says why): ConfigFile then names it, with no content.
	configRefused bool
	// configBroken is set when obsctl.yaml does not decode without an
	// error: no default content is layered under it (see layerDefaults).
	configBroken bool
	// targets, when not nil, are the paths given on the command line (or
	// the files changed): only findings on them are reported (Reports).
	targets []string
	// shown maps a repo-relative path given on the command line to the
	// path the user named it by, so that a file is shown one way.
	shown map[string]string
}

// Embedded reports whether r is the embedded default repo.
func (r *Repo) Embedded() bool { return r.Default }

// Sources returns every file read, by path, for reporters that show
// source lines. A rule file of Options.Defer is there under its path
// with its source when it was kept (KeepSource), else nil.
func (r *Repo) Sources() map[string]*source.File {
	m := make(map[string]*source.File, len(r.RuleFiles)+len(r.pending)+1)
	for _, s := range r.pending {
		m[safeName(s.display)] = r.kept[safeName(s.display)]
	}
	if r.ConfigFile != nil && !r.configRefused {
		m[r.ConfigFile.Path] = r.ConfigFile
	}
	for _, f := range r.RuleFiles {
		m[f.Path] = f.File
	}
	for _, p := range r.Pipelines {
		m[p.File.Path] = p.File
	}
	for _, f := range r.Dashboards {
		m[f.Path] = f
	}
	for _, f := range r.RuleTests {
		m[f.Path] = f
	}
	for _, f := range r.Others {
		m[f.Path] = f
	}
	return m
}

var (
	defaultOnce sync.Once
	defaultFS   fstest.MapFS
)

// DefaultFS returns the embedded default repo: the project's obsctl.yaml,
// rules/, dashboards/, pipelines/ and slos/.
func DefaultFS() fs.FS {
	defaultOnce.Do(func() {
		m := fstest.MapFS{config.FileName: {Data: obsctl.DefaultConfig, Mode: 0o444}}
		for dir, sub := range map[string]fs.FS{"rules": rules.FS, "dashboards": dashboards.FS, "pipelines": pipelines.FS, slo.Dir: slos.FS} {
			err := fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				data, err := fs.ReadFile(sub, p)
				m[path.Join(dir, p)] = &fstest.MapFile{Data: data, Mode: 0o444}
				return err
			})
			if err != nil {
				panic(fmt.Sprintf("embedded %s: %v", dir, err)) // a build defect, not input
			}
		}
		defaultFS = m
	})
	return defaultFS
}

// Options says where to load from.
type Options struct {
	// Dir is the --repo flag; "" means the nearest folder holding an
	// obsctl.yaml from the working directory up, and the embedded default
	// when there is none (see Find).
	Dir string
	// Paths, when set, are the files or folders to lint: each file's kind
	// (rule file, PrometheusRule, rule test, pipeline, dashboard,
	// obsctl.yaml, Alertmanager configuration) is decided from its place
	// and its content (see KindOf), and it is loaded beside the whole
	// repo, so that the checks across the repo see everything; Reports
	// then says which findings are about them. With no repo, they are
	// loaded alone, under neutral defaults (see Repo.Neutral). They are
	// read from the OS file system, relative to the working directory. A path inside the repo (or, with
	// no repo, inside the working directory) is held to it as the repo's
	// own files are: what it leads to after its links are followed must be
	// inside too. A path outside is the user's choice, and is read where it
	// leads; the files below a folder named so must stay inside that
	// folder. Wherever a path leads, only regular files are read, and no
	// more than the limit of each.
	Paths []string
	// Selected says Paths were chosen by obsctl, not named by the user
	// (the files changed since a git revision): with none, no finding is
	// reported, and a file of no kind obsctl reads is passed over
	// without a note.
	Selected bool
	// WorkDir is the working directory (tests set it).
	WorkDir string
	// MaxFileSize is the most bytes the loader reads of one file;
	// source.MaxFileSize when 0. Tests lower it.
	MaxFileSize int64
	// Defer finds the rule files without reading them: RuleFiles stays
	// empty, and the caller reads each with ReadRuleFile, so that it can
	// check a file and let it go before the next (lint holds no more
	// than a few files at a time).
	Defer bool
}

func (o Options) limit() int64 {
	if o.MaxFileSize > 0 {
		return o.MaxFileSize
	}
	return source.MaxFileSize
}

// ErrNoConfig is returned when --repo names a folder without obsctl.yaml.
var ErrNoConfig = errors.New("no " + config.FileName)

// Location is where a repo is: a folder on disk, or the embedded default.
type Location struct {
	// Dir is the folder as the user sees it (see Repo.Dir); "" for the
	// embedded default.
	Dir string
	// Root is the folder's absolute path; "" for the embedded default.
	Root string
}

// Default reports whether no folder was found: the embedded default repo.
func (l Location) Default() bool { return l.Root == "" }

// Find says where the repo is, as every command finds it: --repo's folder
// (which must hold obsctl.yaml), else the nearest folder holding an
// obsctl.yaml from the working directory up to the file system's root,
// as git finds .git, so that obsctl run in rules/ uses the repo around
// it; only when there is none, the embedded default.
func Find(opts Options) (Location, error) {
	wd, err := workDir(opts)
	if err != nil {
		return Location{}, err
	}
	if opts.Dir != "" {
		dir := opts.Dir
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(wd, dir)
		}
		st, err := os.Stat(dir)
		if err != nil {
			return Location{}, fmt.Errorf("repo %s: %w", opts.Dir, err)
		}
		if !st.IsDir() {
			return Location{}, fmt.Errorf("repo %s: not a folder", opts.Dir)
		}
		if !hasConfig(dir) {
			return Location{}, fmt.Errorf("repo %s: %w", opts.Dir, ErrNoConfig)
		}
		return Location{Dir: opts.Dir, Root: dir}, nil
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if hasConfig(dir) {
			rel, err := filepath.Rel(wd, dir)
			if err != nil {
				rel = dir
			}
			return Location{Dir: rel, Root: dir}, nil
		}
		if filepath.Dir(dir) == dir {
			return Location{}, nil
		}
	}
}

// hasConfig reports whether dir holds an obsctl.yaml that is not a
// folder: a link or a pipe of that name makes dir the repo too, whose
// loading then says what is wrong with it, rather than obsctl quietly
// looking further up.
func hasConfig(dir string) bool {
	st, err := os.Lstat(filepath.Join(dir, config.FileName))
	return err == nil && !st.IsDir()
}

func workDir(opts Options) (string, error) {
	if opts.WorkDir != "" {
		return filepath.Abs(opts.WorkDir)
	}
	return os.Getwd()
}

// LoadConfig finds the repo (see Find) and reads its obsctl.yaml only:
// for commands that need the stack's name and namespaces but must not be
// kept from running by a rule file with a mistake. Problems in obsctl.yaml
// are findings, as Load returns them.
func LoadConfig(opts Options) (*Repo, error) {
	loc, err := Find(opts)
	if err != nil {
		return nil, err
	}
	return loadConfig(opts, loc)
}

func loadConfig(opts Options, loc Location) (*Repo, error) {
	var err error
	r := &Repo{Dir: loc.Dir, Root: loc.Root, Default: loc.Default()}
	if r.Default {
		r.tree = &tree{fsys: DefaultFS(), limit: opts.limit()}
	} else if r.tree, err = diskTree(loc.Root, opts.limit()); err != nil {
		return nil, fmt.Errorf("repo %s: %w", loc.Dir, err)
	}
	display := r.display(config.FileName)
	f, err := r.readFile(r.tree, config.FileName, display, diag.Span{})
	if err != nil {
		return nil, err
	}
	if f == nil {
		// Not read: the settings are the defaults, and the checks that
		// read them are not run (see Repo.ConfigRefused).
		r.ConfigFile, r.Config, r.configRefused = source.NewFile(display, nil), &config.Config{}, true
		r.ConfigFile.Rel = config.FileName
		return r, nil
	}
	r.ConfigFile = f
	var fds []diag.Finding
	r.Config, fds = config.Parse(f)
	r.Findings = append(r.Findings, fds...)
	r.configBroken = slices.ContainsFunc(fds, func(f diag.Finding) bool { return f.Severity >= diag.Error })
	return r, nil
}

// ConfigRefused reports whether obsctl.yaml was not read at all (a link
// out of the repo, a pipe: a load/file finding says why), so that Config
// holds defaults rather than what the file says.
func (r *Repo) ConfigRefused() bool { return r.configRefused }

// Load loads the repo. Its error is operational (a folder that does not
// exist, an unreadable file); problems with the content are findings.
func Load(opts Options) (*Repo, error) {
	loc, err := Find(opts)
	if err != nil {
		return nil, err
	}
	given := len(opts.Paths) > 0 || opts.Selected
	var r *Repo
	if given && loc.Default() {
		// Files of the user's, with no obsctl.yaml of theirs: the
		// embedded repo's policy is its own content's, not theirs.
		// What is not given is not known either: Partial.
		r = &Repo{Neutral: true, Partial: true, Config: &config.Config{}}
	} else if r, err = loadConfig(opts, loc); err != nil {
		return nil, err
	}
	r.deferRules = opts.Defer
	if !given {
		err = r.loadAll(nil, false)
	} else {
		err = r.loadGiven(opts)
	}
	if err == nil {
		err = r.layerDefaults(opts)
	}
	if err == nil {
		err = r.addSLODashboard()
	}
	return r, err
}

// addSLODashboard adds the dashboard of the repo's SLOs (the default
// content's among them) to Dashboards, as the SLOs' compiled output: a
// row each (slo.Dashboard).
func (r *Repo) addSLODashboard() error {
	if r.Neutral || len(r.SLOs) == 0 {
		return nil
	}
	if t := r.Config.Overrides.Dashboards[slo.DashboardUID]; r.layered && t != nil && t.Disabled {
		return nil
	}
	src, err := slo.Dashboard(r.SLOs)
	if err != nil {
		return fmt.Errorf("the SLOs' dashboard: %w", err)
	}
	f := source.NewFile(r.display(slo.DashboardPath), src)
	f.Rel = slo.DashboardPath
	r.Dashboards = append(r.Dashboards, f)
	return nil
}

// loadAll loads the repo's rule files, pipelines and dashboards (none for
// a neutral repo), and the files given on the command line that are not
// among them, each as its kind.
func (r *Repo) loadAll(given []givenFile, quiet bool) error {
	var files []ruleSource
	var pfiles, sfiles []*source.File
	var err error
	if !r.Neutral {
		if files, err = r.collectRepo(map[string]bool{}); err != nil {
			return err
		}
		for i, s := range files {
			if d, ok := r.shown[s.node.rel]; ok {
				files[i].display = d // named on the command line: shown so
			}
		}
		pfiles, err = r.readFolder(r.tree, fluentd.Dir, func(name string) bool {
			return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
		})
		if err != nil {
			return err
		}
		if r.Dashboards, err = r.readDashboards(); err != nil {
			return err
		}
		if sfiles, err = r.readFolder(r.tree, slo.Dir, IsRuleFile); err != nil {
			return err
		}
		for _, f := range sfiles {
			f.Rel = r.rel(f.Path)
		}
	}
	extraRules, extraPipelines, err := r.loadExtra(given, files, pfiles, sfiles, quiet)
	if err != nil {
		return err
	}
	if !r.Neutral {
		if err := r.loadRuleTests(); err != nil {
			return err
		}
	}
	if r.deferRules {
		r.pending = dedupe(append(files, extraRules...))
	} else if err := r.loadRules(append(files, extraRules...)); err != nil {
		return err
	}
	r.AddSLOs(append(sfiles, r.extraSLOs...))
	var fds []diag.Finding
	r.Pipelines, fds = fluentd.LoadFiles(append(pfiles, extraPipelines...))
	r.Findings = append(r.Findings, fds...)
	for _, p := range r.Pipelines {
		p.Rel = r.rel(p.Path())
	}
	return nil
}

// dashboardsDir holds the repo's Grafana dashboards: the *.json files at
// its top, in obsctl's Grafana folder, and those of each of its folders,
// in a Grafana folder of that name.
const dashboardsDir = "dashboards"

// readDashboards reads the dashboards: the *.json files of the dashboards
// folder, then those of each folder in it (not hidden, not named like a
// dashboard, which readFolder refuses; a link is not followed, and a
// folder in a folder is not read: Grafana's folders from files are one
// level deep), each sorted by name.
func (r *Repo) readDashboards() ([]*source.File, error) {
	isJSON := func(name string) bool { return strings.HasSuffix(name, ".json") }
	out, err := r.readFolder(r.tree, dashboardsDir, isJSON)
	if err != nil {
		return nil, err
	}
	n, err := r.tree.resolve(dashboardsDir)
	if err != nil || n.check(wantFolder) != nil {
		return out, nil // readFolder said what it had to
	}
	entries, err := r.tree.list(n)
	if err != nil {
		return out, nil
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || isJSON(name) || strings.HasPrefix(name, ".") || badName(name) != "" {
			continue
		}
		files, err := r.readFolder(r.tree, dashboardsDir+"/"+name, isJSON)
		if err != nil {
			return nil, err
		}
		out = append(out, files...)
	}
	return out, nil
}

// display turns a repo-relative path into the path shown to the user.
func (r *Repo) display(rel string) string {
	if d, ok := r.shown[rel]; ok {
		return d
	}
	if r.Dir == "" || r.Dir == "." {
		return rel
	}
	return filepath.ToSlash(filepath.Join(r.Dir, rel))
}

// rel returns the repo-relative path of a file display names: what goes
// into compiled artifacts, which must not depend on the folder obsctl runs
// from.
func (r *Repo) rel(display string) string {
	if r.Dir == "" || r.Dir == "." {
		return display
	}
	if rel, err := filepath.Rel(filepath.FromSlash(r.Dir), filepath.FromSlash(display)); err == nil {
		return filepath.ToSlash(rel)
	}
	return display
}

// ruleSource is a rule file found, to be read.
type ruleSource struct {
	display string
	rel     string // relative to the repo root; the display path for a path given
	tree    *tree
	node    node
	at      diag.Span    // where a refusal is reported; zero: the file itself
	file    *source.File // the file, when it was read already (to decide its kind)
	test    bool         // found under tests.paths: a test file whatever its name
}

// IsRuleFile reports whether name is a rule file by its name: YAML, and
// not a rule unit test (*_test.yaml).
func IsRuleFile(name string) bool {
	ext := path.Ext(name)
	if ext != ".yaml" && ext != ".yml" {
		return false
	}
	return !strings.HasSuffix(strings.TrimSuffix(name, ext), "_test")
}

// IsRuleTestFile reports whether name is a rule unit test file by its
// name: *_test.yaml or *_test.yml, in promtool's format.
func IsRuleTestFile(name string) bool {
	ext := path.Ext(name)
	return (ext == ".yaml" || ext == ".yml") && strings.HasSuffix(strings.TrimSuffix(name, ext), "_test")
}

// loadRuleTests reads the rule unit test files under the config's rule
// paths and tests.paths into RuleTests (those given on the command line are there
// already): what they query counts as read (rules/unused-record), and one
// that is not YAML is a finding. A rule path that is missing or refused
// was reported when the rule files were collected.
func (r *Repo) loadRuleTests() error {
	var srcs []ruleSource
	seen := map[string]bool{}
	n := len(r.Findings)
	for _, p := range append(r.Config.RulePaths(), slo.Dir) {
		p = path.Clean(filepath.ToSlash(p))
		if !fs.ValidPath(p) {
			continue
		}
		if err := r.collectPath(r.tree, p, r.display(p), diag.Span{}, IsRuleTestFile, seen, &srcs); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rule path %s: %w", safeName(r.display(p)), err)
		}
	}
	// The walk refuses again what the rule files' walk refused (a rule
	// path or folder that leads out): one mistake is one finding. A
	// refused test file is news.
	r.Findings = append(r.Findings[:n], slices.DeleteFunc(r.Findings[n:], func(f diag.Finding) bool { return !IsRuleTestFile(f.File) })...)
	if err := r.collectTestPaths(seen, &srcs); err != nil {
		return err
	}
	for _, s := range dedupe(srcs) {
		if !(s.test || IsRuleTestFile(s.display)) || slices.ContainsFunc(r.RuleTests, func(f *source.File) bool { return f.Path == s.display }) {
			continue
		}
		sf, refused, err := s.read()
		switch {
		case err != nil:
			return err
		case refused != nil:
			continue // reported with the rule files
		}
		sf.Rel = s.rel
		r.RuleTests = append(r.RuleTests, sf)
		if _, fd := sf.ParseYAML(promrule.CheckSyntax); fd != nil {
			r.Findings = append(r.Findings, *fd)
		}
	}
	return nil
}

// collectTestPaths adds the test files under the config's tests.paths to
// srcs. An entry that leaves the repo, does not exist or is refused is a
// finding at the entry; a file it names is a test file whatever its name.
func (r *Repo) collectTestPaths(seen map[string]bool, srcs *[]ruleSource) error {
	for i, p := range r.Config.Tests.Paths {
		at := r.Config.Tests.Item("paths", i)
		n := len(*srcs)
		if err := r.collectEntry("test", "tests.paths", p, at, at, IsRuleTestFile, seen, srcs); err != nil {
			return err
		}
		for j := n; j < len(*srcs); j++ {
			(*srcs)[j].test = true
		}
	}
	return nil
}

// collectRepo finds the rule files of the config's rule paths. A path
// that leaves the repo, does not exist, or is refused by the loader (a
// link out, a device) is a finding of obsctl.yaml at the entry of
// rules.paths that names it.
func (r *Repo) collectRepo(seen map[string]bool) ([]ruleSource, error) {
	var out []ruleSource
	for i, p := range r.Config.RulePaths() {
		at := r.Config.Rules.Item("paths", i)
		if len(r.Config.Rules.Paths) == 0 {
			at = r.Config.Span("rules") // the default, rules
		}
		if at.File == "" && r.ConfigFile != nil {
			at = r.ConfigFile.Whole()
		}
		// The loader reports a refusal at the entry the user wrote, or,
		// for the default rules folder, at the folder itself.
		refuseAt := at
		if !r.Config.Rules.Has("paths") {
			refuseAt = diag.Span{}
			// The rules folder obsctl.yaml does not name may be absent: a
			// repo of the default content and overrides has no rules of
			// its own.
			if _, err := r.tree.resolve(p); errors.Is(err, fs.ErrNotExist) {
				continue
			}
		}
		if err := r.collectEntry("rule", "rules.paths", p, at, refuseAt, IsRuleFile, seen, &out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// collectEntry adds to out the files match picks under p, an entry of
// obsctl.yaml's list key (rules.paths, tests.paths) at at, of what kind
// says. An entry that leaves the repo or does not exist is a finding at
// at; the loader reports one it refuses at refuseAt.
func (r *Repo) collectEntry(kind, key, p string, at, refuseAt diag.Span, match func(string) bool, seen map[string]bool, out *[]ruleSource) error {
	report := func(hint, format string, args ...any) {
		r.Findings = append(r.Findings, diag.Finding{Check: config.CheckSchema, Severity: diag.Error, Span: at,
			Message: fmt.Sprintf(format, args...), Hint: hint})
	}
	orig := p
	p = path.Clean(filepath.ToSlash(p))
	if !fs.ValidPath(p) {
		report("give a folder or file of the repo, relative to obsctl.yaml", "%s path %q is not inside the repo", kind, orig)
		return nil
	}
	err := r.collectPath(r.tree, p, r.display(p), refuseAt, match, seen, out)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		report("create it, or remove it from "+key, "%s path %s does not exist", kind, safeName(r.display(p)))
	case err != nil:
		return fmt.Errorf("%s path %s: %w", kind, safeName(r.display(p)), err)
	}
	return nil
}

// outsideTree returns the tree a path outside the repo given on the
// command line is read from: the folder it leads to, or the folder of the
// file it leads to, and the path in that tree.
func outsideTree(abs string, limit int64) (*tree, string, error) {
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, "", err
	}
	st, err := os.Stat(real)
	if err != nil {
		return nil, "", err
	}
	dir, rel := real, "."
	if !st.IsDir() {
		dir, rel = filepath.Dir(real), filepath.Base(real)
	}
	t, err := diskTree(dir, limit)
	if t != nil {
		t.outside = "the folder given, " + quote(abs)
	}
	return t, rel, err
}

// loadRules reads and parses the rule files in parallel, keeping their
// order, and drops duplicates (see dedupe).
func (r *Repo) loadRules(srcs []ruleSource) error {
	srcs = dedupe(srcs)
	files := make([]*promrule.File, len(srcs))
	fds := make([][]diag.Finding, len(srcs))
	errs := make([]error, len(srcs))
	parallel.Each(len(srcs), func(i int) { files[i], fds[i], errs[i] = srcs[i].loadRules() })
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, f := range files {
		if f != nil {
			r.RuleFiles = append(r.RuleFiles, f)
		}
		r.Findings = append(r.Findings, fds[i]...)
	}
	return nil
}

// loadRules reads and parses the rule file s. A file the loader refuses
// is a finding, and no File.
func (s ruleSource) loadRules() (*promrule.File, []diag.Finding, error) {
	sf, refused, err := s.read()
	switch {
	case err != nil:
		return nil, nil, err
	case refused != nil:
		return nil, []diag.Finding{*refused}, nil
	}
	sf.Rel = s.rel
	f, fds := promrule.Load(sf)
	return f, fds, nil
}

// read returns the source of s: the file read already (a path given on
// the command line, read to tell its kind), or read now.
func (s ruleSource) read() (*source.File, *diag.Finding, error) {
	if s.file != nil {
		return s.file, nil, nil
	}
	return s.tree.load(s.node, s.display, s.at)
}

// DeferredRuleFiles returns how many rule files Load found and did not
// read (Options.Defer).
func (r *Repo) DeferredRuleFiles() int { return len(r.pending) }

// ReadRuleFile reads and parses the i-th rule file Load found and did not
// read (Options.Defer), in path order, as Load would have: the File (nil
// when the loader refuses the file) and the findings of loading it. Its
// error is operational, as Load's. It is safe to call from several
// goroutines at once.
func (r *Repo) ReadRuleFile(i int) (*promrule.File, []diag.Finding, error) {
	return r.pending[i].loadRules()
}

// KeepSource keeps the source of a rule file read with ReadRuleFile, so
// that Sources has it for reporters: the caller keeps those that have
// findings.
func (r *Repo) KeepSource(sf *source.File) {
	if r.kept == nil {
		r.kept = map[string]*source.File{}
	}
	r.kept[sf.Path] = sf
}

// ReadRuleSource reads the i-th rule file Load found and did not read
// (Options.Defer) without parsing it, and keeps it (KeepSource): for
// reporters, when findings about it come after it was let go. It returns
// nil when the loader refuses the file.
func (r *Repo) ReadRuleSource(i int) (*source.File, error) {
	s := r.pending[i]
	sf, refused, err := s.read()
	if err != nil || refused != nil {
		return nil, err
	}
	sf.Rel = s.rel
	r.KeepSource(sf)
	return sf, nil
}

// DeferredRuleFile returns the path shown for the i-th rule file Load
// found and did not read (Options.Defer).
func (r *Repo) DeferredRuleFile(i int) string { return safeName(r.pending[i].display) }

// DeferredBytes returns the size of the rule files Load found and did not
// read (Options.Defer), as the file system gave it when they were found.
func (r *Repo) DeferredBytes() int64 {
	var n int64
	for _, s := range r.pending {
		if s.node.info != nil {
			n += s.node.info.Size()
		}
	}
	return n
}

// defaultSLONames are the names of the default content's SLOs, in the
// order of their files: the default SLOs number their dashboard panels
// (slo.SLO.Ordinal) after them wherever they are loaded (served, layered,
// or obsctl's own tree), so that their alerts' links and the tests that
// hold them agree.
var defaultSLONames = sync.OnceValue(func() []string {
	var files []*source.File
	entries, _ := fs.ReadDir(slos.FS, ".")
	for _, e := range entries {
		if n := e.Name(); strings.HasSuffix(n, ".yaml") && !strings.HasSuffix(n, "_test.yaml") {
			if data, err := fs.ReadFile(slos.FS, n); err == nil {
				files = append(files, source.NewFile(n, data))
			}
		}
	}
	specs, _ := slo.LoadFiles(files)
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	return names
})

// AddSLOs loads the SLO specs, compiles each that loads without errors
// into a rule file of the spec's path (added to RuleFiles, which stay
// sorted by path) and generates its tests.
func (r *Repo) AddSLOs(files []*source.File) {
	if len(files) == 0 {
		return
	}
	specs, fds := slo.LoadFiles(files)
	r.Findings = append(r.Findings, fds...)
	opts := slo.Options{Severities: r.Config.Alerting.Severities}
	own := 0
	for _, s := range specs {
		if i := slices.Index(defaultSLONames(), s.Name); i >= 0 {
			s.Ordinal = slo.DefaultOrdinal + i
		} else {
			s.Ordinal = own
			own++
		}
		rf := slo.Compile(s, opts)
		src, err := slo.Tests(s, rf)
		if err != nil {
			r.Findings = append(r.Findings, diag.Finding{Check: slo.CheckPromQL, Severity: diag.Error, Span: s.SLISpan,
				Message: "obsctl cannot write the SLO's tests: " + err.Error(),
				Hint:    "the good (or bad) events must be some, not all, of the events total selects"})
			continue
		}
		tf := source.NewFile(s.File.Path+"#tests", src)
		tf.Rel = s.File.Rel + "#tests"
		r.SLOs = append(r.SLOs, s)
		r.SLOTests = append(r.SLOTests, tf)
		r.RuleFiles = append(r.RuleFiles, rf)
	}
	slices.SortStableFunc(r.RuleFiles, func(a, b *promrule.File) int { return strings.Compare(a.Path, b.Path) })
}
