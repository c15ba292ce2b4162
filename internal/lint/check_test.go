package lint

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/fluentd"
	"github.com/obsctl/obsctl/internal/layer"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/source"
)

// lintSources lints one config and rule files given as path -> content,
// with every check on.
// dashboardWantRE is a want comment at the end of a dashboard's line; the
// harness cuts it off, leaving valid JSON with the same positions.
var dashboardWantRE = regexp.MustCompile(`(?m)\s*// want.*$`)

func lintSources(t testing.TB, cfg string, rules map[string]string, pipelines ...map[string]string) []diag.Finding {
	t.Helper()
	r := repoOf(cfg, rules, pipelines...)
	l, err := New(Options{Enable: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	return l.Run(r)
}

// repoOf builds a loaded repo of one config and rule files given as path
// -> content, and pipelines and dashboards.
func repoOf(cfg string, rules map[string]string, pipelines ...map[string]string) *load.Repo {
	r := &load.Repo{Dir: "."}
	r.ConfigFile = source.NewFile("obsctl.yaml", []byte(cfg))
	r.Config, r.Findings = config.Parse(r.ConfigFile)
	for _, p := range slices.Sorted(maps.Keys(rules)) {
		f, fds := promrule.Load(source.NewFile(p, []byte(rules[p])))
		r.RuleFiles = append(r.RuleFiles, f)
		r.Findings = append(r.Findings, fds...)
	}
	var sloFiles []*source.File
	defer func() {
		r.AddSLOs(sloFiles)
		// A case whose obsctl.yaml says what of the default content it
		// takes is linted on it, as the loader layers a repo on disk.
		if r.Config.Fields.Has("defaults") || r.Config.Fields.Has("overrides") {
			if err := r.LayerDefaults(); err != nil {
				panic(err)
			}
		}
	}()
	for _, m := range pipelines {
		for _, p := range slices.Sorted(maps.Keys(m)) {
			if strings.HasSuffix(p, "_test.yaml") {
				r.RuleTests = append(r.RuleTests, source.NewFile(p, []byte(m[p])))
				continue
			}
			if strings.HasSuffix(p, ".slo.yaml") {
				sloFiles = append(sloFiles, source.NewFile(p, []byte(m[p])))
				continue
			}
			if strings.HasSuffix(p, ".dashboard.json") {
				src := dashboardWantRE.ReplaceAllString(m[p], "")
				r.Dashboards = append(r.Dashboards, source.NewFile(p, []byte(src)))
				continue
			}
			pl, fds := fluentd.LoadFile(source.NewFile(p, []byte(m[p])))
			if pl != nil {
				r.Pipelines = append(r.Pipelines, pl)
			}
			r.Findings = append(r.Findings, fds...)
		}
		if len(r.Pipelines) > 0 {
			r.Findings = append(r.Findings, fluentd.CheckSet(r.Pipelines)...)
		}
	}
	return r
}

var (
	wantRE    = regexp.MustCompile(`(?:#|//) want((?:\s+"(?:[^"\\]|\\.)*")+)`)
	patternRE = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)
)

// wants maps "file:line" to the message patterns expected there.
func wants(path, src string) map[string][]*regexp.Regexp {
	out := map[string][]*regexp.Regexp{}
	for i, line := range strings.Split(src, "\n") {
		for _, m := range wantRE.FindAllStringSubmatch(line, -1) {
			key := path + ":" + itoa(i+1)
			for _, p := range patternRE.FindAllStringSubmatch(m[1], -1) {
				out[key] = append(out[key], regexp.MustCompile(strings.ReplaceAll(p[1], `\"`, `"`)))
			}
		}
	}
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestChecks runs every check on its fixtures in testdata/<check name>/.
// A case is <case>.good.yaml or <case>.bad.yaml (rule files, linted with
// <case>.obsctl.yaml or testdata/default.obsctl.yaml, and with the
// dashboard <case>.dashboard.json and the rule unit tests <case>_test.yaml
// when present), or
// <case>.good.obsctl.yaml / <case>.bad.obsctl.yaml (configs, linted with
// rules.yaml of the same folder when present). Bad cases mark each expected
// finding of the check with `# want "regexp"` on its line; good cases must
// give no finding of the check. Every check has at least one of each. No
// finding of any check may lack a file, a line or a column.
func TestChecks(t *testing.T) {
	defCfg, err := os.ReadFile("testdata/default.obsctl.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Checks() {
		t.Run(c.Name(), func(t *testing.T) {
			if reason, ok := noFixtures[c.Name()]; ok {
				t.Skip(reason)
			}
			dir := filepath.Join("testdata", c.Name())
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatalf("every check needs fixtures in %s: %v", dir, err)
			}
			var good, bad int
			for _, e := range entries {
				name := e.Name()
				isCfg := strings.HasSuffix(name, ".obsctl.yaml")
				isPipeline := strings.HasSuffix(name, ".pipeline.yaml") || strings.HasSuffix(name, ".dashboard.json") || strings.HasSuffix(name, ".slo.yaml")
				base := name
				for _, suffix := range []string{".yaml", ".json", ".obsctl", ".pipeline", ".dashboard", ".slo"} {
					base = strings.TrimSuffix(base, suffix)
				}
				var kind string
				switch {
				case strings.HasSuffix(base, ".good"):
					kind = "good"
				case strings.HasSuffix(base, ".bad"):
					kind = "bad"
				default:
					continue
				}
				caseName := strings.TrimSuffix(base, "."+kind)
				t.Run(base, func(t *testing.T) {
					cfg, rules, pipes := string(defCfg), map[string]string{}, map[string]string{}
					read := func(p string) string {
						b, err := os.ReadFile(filepath.Join(dir, p))
						if err != nil {
							t.Fatal(err)
						}
						return string(b)
					}
					if isPipeline {
						// A pipeline case: its file, with the folder's other
						// pipelines (_shared.pipeline.yaml, read first) for checks across files.
						pipes[name] = read(name)
						if _, err := os.Stat(filepath.Join(dir, "_shared.pipeline.yaml")); err == nil {
							pipes["_shared.pipeline.yaml"] = read("_shared.pipeline.yaml")
						}
						// A dashboard case: with the folder's other dashboard
						// (_shared.dashboard.json), for checks across files.
						if _, err := os.Stat(filepath.Join(dir, "_shared.dashboard.json")); err == nil && strings.HasSuffix(name, ".dashboard.json") {
							pipes["_shared.dashboard.json"] = read("_shared.dashboard.json")
						}
						if _, err := os.Stat(filepath.Join(dir, caseName+".obsctl.yaml")); err == nil {
							cfg = read(caseName + ".obsctl.yaml")
						}
						// An SLO case may come with the rules of its repo.
						if _, err := os.Stat(filepath.Join(dir, caseName+".rules.yaml")); err == nil && strings.HasSuffix(name, ".slo.yaml") {
							rules[caseName+".rules.yaml"] = read(caseName + ".rules.yaml")
						}
					} else if isCfg {
						cfg = read(name)
						if _, err := os.Stat(filepath.Join(dir, "rules.yaml")); err == nil {
							rules["rules.yaml"] = read("rules.yaml")
						}
					} else {
						rules[name] = read(name)
						if _, err := os.Stat(filepath.Join(dir, caseName+".obsctl.yaml")); err == nil {
							cfg = read(caseName + ".obsctl.yaml")
						}
						// A rule case may come with the dashboard of the
						// repo it is linted in.
						if _, err := os.Stat(filepath.Join(dir, caseName+".dashboard.json")); err == nil {
							pipes[caseName+".dashboard.json"] = read(caseName + ".dashboard.json")
						}
						// And with its rule unit tests.
						if _, err := os.Stat(filepath.Join(dir, caseName+"_test.yaml")); err == nil {
							pipes[caseName+"_test.yaml"] = read(caseName + "_test.yaml")
						}
					}
					want := wants("obsctl.yaml", cfg)
					for p, src := range pipes {
						rules[p] = src // for the want comments only
					}
					for p, src := range rules {
						for k, v := range wants(p, src) {
							want[k] = append(want[k], v...)
						}
					}
					if kind == "good" && len(want) > 0 {
						t.Fatal("a good case must not have want comments")
					}
					for p := range pipes {
						delete(rules, p)
					}
					got := lintSources(t, cfg, rules, pipes)
					for _, f := range got {
						// Whatever the check, a finding says where.
						if f.File == "" || f.Start.Line < 1 || f.Start.Col < 1 {
							t.Errorf("finding without a file, line and column: %v", f)
						}
					}
					matched := map[*regexp.Regexp]bool{}
					for _, f := range got {
						if f.Check != c.Name() {
							continue
						}
						if f.Severity != c.Meta().Severity {
							t.Errorf("%v: severity %v, want the check's %v", f, f.Severity, c.Meta().Severity)
						}
						ok := false
						for _, re := range want[f.File+":"+itoa(f.Start.Line)] {
							if re.MatchString(f.Message) {
								ok, matched[re] = true, true
							}
						}
						if !ok {
							t.Errorf("unexpected finding: %v", f)
						}
					}
					for k, res := range want {
						for _, re := range res {
							if !matched[re] {
								t.Errorf("%s: no finding matching %q", k, re)
							}
						}
					}
				})
				if kind == "good" {
					good++
				} else {
					bad++
				}
			}
			if good == 0 || bad == 0 {
				t.Errorf("%s needs at least one good and one bad case (has %d good, %d bad)", dir, good, bad)
			}
		})
	}
}

// noFixtures are the checks TestChecks cannot give fixtures, and why.
var noFixtures = map[string]string{
	"pipelines/read": "an unreadable file cannot be a fixture; internal/fluentd tests it",
	"load/file":      "a link, a pipe or a device cannot be a fixture; internal/load and the hostile corpus (internal/cli/testdata/hostile/load-*) test it",
}

// TestLoadCheckNames keeps the registered load check's name equal to the
// loader's.
func TestLoadCheckNames(t *testing.T) {
	if _, ok := Lookup(load.CheckFile); !ok {
		t.Errorf("the loader reports %s, which is not a registered check", load.CheckFile)
	}
}

// TestPipelineCheckNames keeps the registered pipeline checks' names equal
// to the loader's.
func TestPipelineCheckNames(t *testing.T) {
	for _, name := range []string{fluentd.CheckRead, fluentd.CheckSchema, fluentd.CheckKubernetesName, fluentd.CheckFieldName,
		fluentd.CheckIndexName, fluentd.CheckIndexPrefix, fluentd.CheckRegexp, fluentd.CheckDuplicateName, fluentd.CheckCatchAll, fluentd.CheckOverlap} {
		if !slices.ContainsFunc(Checks(), func(c Check) bool { return c.Name() == name }) {
			t.Errorf("the pipeline loader reports %s, which is not a registered check", name)
		}
	}
}

// TestLayerCheckNames keeps the registered layering checks' names equal
// to internal/layer's.
func TestLayerCheckNames(t *testing.T) {
	for _, name := range []string{layer.CheckOverride, layer.CheckParameter, layer.CheckTest, layer.CheckShadow} {
		if _, ok := Lookup(name); !ok {
			t.Errorf("internal/layer reports %s, which is not a registered check", name)
		}
	}
}

func TestUnknownCheckName(t *testing.T) {
	_, err := New(Options{Disable: []string{"rules/for-mising"}})
	var uc *UnknownCheckError
	if err == nil || !errors.As(err, &uc) || !strings.Contains(err.Error(), `did you mean "rules/for-missing"`) {
		t.Fatalf("got %v", err)
	}
}

func TestChecksAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	nameRE := regexp.MustCompile(`^[a-z]+/[a-z]+(-[a-z]+)*$`)
	for _, c := range Checks() {
		m := c.Meta()
		switch {
		case !nameRE.MatchString(c.Name()):
			t.Errorf("%s: name must be area/kebab-case", c.Name())
		case seen[c.Name()]:
			t.Errorf("%s: registered twice", c.Name())
		case !m.Severity.Valid() || m.Scope == 0 || m.Summary == "":
			t.Errorf("%s: incomplete meta %+v", c.Name(), m)
		case docs[c.Name()] == "":
			t.Errorf("%s: no doc comment (run make generate)", c.Name())
		}
		seen[c.Name()] = true
	}
}
