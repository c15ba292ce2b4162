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
	"github.com/obsctl/obsctl/internal/source"
	"github.com/obsctl/obsctl/pipelines"
	"github.com/obsctl/obsctl/rules"
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
	// FS is the repo's file tree.
	FS fs.FS
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
	// Findings are the problems met while loading.
	Findings []diag.Finding
}

// Embedded reports whether r is the embedded default repo.
func (r *Repo) Embedded() bool { return r.Default }

// Sources returns every file read, by path, for reporters that show
// source lines.
func (r *Repo) Sources() map[string]*source.File {
	m := make(map[string]*source.File, len(r.RuleFiles)+1)
	if r.ConfigFile != nil {
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
	return m
}

var (
	defaultOnce sync.Once
	defaultFS   fstest.MapFS
)

// DefaultFS returns the embedded default repo: the project's obsctl.yaml,
// rules/, dashboards/ and pipelines/.
func DefaultFS() fs.FS {
	defaultOnce.Do(func() {
		m := fstest.MapFS{config.FileName: {Data: obsctl.DefaultConfig, Mode: 0o444}}
		for dir, sub := range map[string]fs.FS{"rules": rules.FS, "dashboards": dashboards.FS, "pipelines": pipelines.FS} {
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
	// Paths, when set, are the rule files or folders to load instead of
	// the config's rule paths. They are read from the OS file system,
	// relative to the working directory.
	Paths []string
	// WorkDir is the working directory (tests set it).
	WorkDir string
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

// hasConfig reports whether dir holds an obsctl.yaml file.
func hasConfig(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, config.FileName))
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
	r := &Repo{Dir: loc.Dir, Root: loc.Root, Default: loc.Default()}
	if r.Default {
		r.FS = DefaultFS()
	} else {
		r.FS = os.DirFS(loc.Root)
	}
	data, err := fs.ReadFile(r.FS, config.FileName)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", r.display(config.FileName), err)
	}
	r.ConfigFile = source.NewFile(r.display(config.FileName), data)
	r.Config, r.Findings = config.Parse(r.ConfigFile)
	return r, nil
}

// Load loads the repo. Its error is operational (a folder that does not
// exist, an unreadable file); problems with the content are findings.
func Load(opts Options) (*Repo, error) {
	r, err := LoadConfig(opts)
	if err != nil {
		return nil, err
	}
	var files []ruleSource
	if len(opts.Paths) > 0 {
		wd, err := workDir(opts)
		if err != nil {
			return nil, err
		}
		files, err = collectOS(wd, opts.Paths)
		if err != nil {
			return nil, err
		}
	} else if files, err = r.collectRepo(r.Config.RulePaths()); err != nil {
		return nil, err
	}
	if err := r.loadRules(files); err != nil {
		return nil, err
	}
	if len(opts.Paths) == 0 {
		var fds []diag.Finding
		r.Pipelines, fds = fluentd.Load(r.FS, fluentd.Dir)
		r.Findings = append(r.Findings, fds...)
		if err := r.loadDashboards(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// dashboardsDir holds the repo's Grafana dashboards.
const dashboardsDir = "dashboards"

// loadDashboards reads dashboards/*.json; a repo without the folder has
// none.
func (r *Repo) loadDashboards() error {
	names, err := fs.Glob(r.FS, dashboardsDir+"/*.json")
	if err != nil {
		return err
	}
	for _, n := range names {
		data, err := fs.ReadFile(r.FS, n)
		if err != nil {
			return fmt.Errorf("read %s: %w", r.display(n), err)
		}
		r.Dashboards = append(r.Dashboards, source.NewFile(r.display(n), data))
	}
	return nil
}

// display turns a repo-relative path into the path shown to the user.
func (r *Repo) display(rel string) string {
	if r.Dir == "" || r.Dir == "." {
		return rel
	}
	return filepath.ToSlash(filepath.Join(r.Dir, rel))
}

type ruleSource struct {
	display string
	rel     string // relative to the repo root
	read    func() ([]byte, error)
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

// collectRepo returns the rule files under paths, the repo's rule paths.
// A path that leaves the repo or does not exist is a finding of
// obsctl.yaml at the entry of rules.paths that names it.
func (r *Repo) collectRepo(paths []string) ([]ruleSource, error) {
	var out []ruleSource
	for i, p := range paths {
		at := r.Config.Rules.Item("paths", i)
		if len(r.Config.Rules.Paths) == 0 {
			at = r.Config.Span("rules") // the default, rules
		}
		if at.File == "" && r.ConfigFile != nil {
			at = r.ConfigFile.Whole()
		}
		report := func(hint, format string, args ...any) {
			r.Findings = append(r.Findings, diag.Finding{Check: config.CheckSchema, Severity: diag.Error, Span: at,
				Message: fmt.Sprintf(format, args...), Hint: hint})
		}
		orig := p
		p = path.Clean(filepath.ToSlash(p))
		if !fs.ValidPath(p) {
			report("give a folder or file of the repo, relative to obsctl.yaml", "rule path %q is not inside the repo", orig)
			continue
		}
		missing := false
		err := fs.WalkDir(r.FS, p, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && name == p {
					missing = true
					return nil
				}
				return err
			}
			if d.IsDir() {
				if name != p && strings.HasPrefix(d.Name(), ".") {
					return fs.SkipDir
				}
				return nil
			}
			if name == p || IsRuleFile(name) {
				out = append(out, ruleSource{display: r.display(name), rel: name, read: func() ([]byte, error) { return fs.ReadFile(r.FS, name) }})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if missing {
			report("create it, or remove it from rules.paths", "rule path %s does not exist", r.display(p))
		}
	}
	return out, nil
}

func collectOS(wd string, paths []string) ([]ruleSource, error) {
	var out []ruleSource
	for _, p := range paths {
		abs := p
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(wd, p)
		}
		err := filepath.WalkDir(abs, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return fmt.Errorf("lint %s: %w", p, err)
			}
			if d.IsDir() {
				if name != abs && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if name == abs || IsRuleFile(name) {
				rel, err := filepath.Rel(abs, name)
				if err != nil {
					return err
				}
				disp := filepath.ToSlash(filepath.Join(p, rel))
				out = append(out, ruleSource{display: disp, rel: disp, read: func() ([]byte, error) { return readLimited(name) }})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readLimited reads a file, refusing to load more than the source limit
// (plus one byte, so that the loader can report the file as too large).
func readLimited(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > source.MaxFileSize {
		return make([]byte, source.MaxFileSize+1), nil
	}
	return os.ReadFile(name)
}

// loadRules reads and parses the rule files in parallel, keeping their
// order, and drops duplicates named by overlapping paths.
func (r *Repo) loadRules(srcs []ruleSource) error {
	slices.SortFunc(srcs, func(a, b ruleSource) int { return strings.Compare(a.display, b.display) })
	srcs = slices.CompactFunc(srcs, func(a, b ruleSource) bool { return a.display == b.display })
	files := make([]*promrule.File, len(srcs))
	fds := make([][]diag.Finding, len(srcs))
	errs := make([]error, len(srcs))
	parallel.Each(len(srcs), func(i int) {
		data, err := srcs[i].read()
		if err != nil {
			errs[i] = fmt.Errorf("load %s: %w", srcs[i].display, err)
			return
		}
		sf := source.NewFile(srcs[i].display, data)
		sf.Rel = srcs[i].rel
		files[i], fds[i] = promrule.Load(sf)
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.RuleFiles = files
	for _, f := range fds {
		r.Findings = append(r.Findings, f...)
	}
	return nil
}
