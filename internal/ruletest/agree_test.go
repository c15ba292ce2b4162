package ruletest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obsctl/obsctl/internal/cli"
)

// promModule is the Prometheus module obsctl evaluates rules with; the
// oracle is its promtool at the version go.mod pins.
const promModule = "github.com/prometheus/prometheus"

// agreeCorpus holds the rule unit tests both tools run. A file named
// *_pass_test.yaml passes and a *_fail_test.yaml fails (or cannot run),
// which the oracle checks too, so that the corpus proves what it claims.
const agreeCorpus = "testdata/agree"

// agreeExceptions are corpus files on whose outcome obsctl differs from
// promtool on purpose, with the reason. The other deliberate differences
// (an alert_rule_test for an alert no rule has, group_eval_order naming a
// missing group or leaving groups out, NaN equal to NaN, the sample limit)
// are kept out of the corpus.
var agreeExceptions = map[string]string{
	"rule_file_missing_pass_test.yaml": "a rule file that matches nothing: promtool warns and tests without it, obsctl cannot run the file (exit 1)",
}

// TestPromtoolAgrees runs every test file of the corpus with `obsctl test`
// and with promtool test rules built from the pinned Prometheus module,
// and requires the same outcome of each file and of each test group.
func TestPromtoolAgrees(t *testing.T) {
	promtool := promtoolBin(t)
	files, err := filepath.Glob(filepath.Join(agreeCorpus, "*_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("the agreement corpus has %d test files, want at least 40", len(files))
	}
	// Outside this repo, so that its obsctl.yaml (external labels) is not
	// applied: promtool knows none.
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(agreeCorpus)); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, "_test.yaml"), func(t *testing.T) {
			want := strings.HasSuffix(name, "_pass_test.yaml")
			if !want && !strings.HasSuffix(name, "_fail_test.yaml") {
				t.Fatalf("%s: name it *_pass_test.yaml or *_fail_test.yaml", name)
			}
			pt := runPromtool(t, promtool, dir, name)
			ob := runObsctl(t, dir, name)
			if pt.passed != want {
				t.Errorf("promtool: passed=%v, but the file is named for passed=%v\n%s", pt.passed, want, pt.output)
			}
			if reason, ok := agreeExceptions[name]; ok {
				t.Logf("known difference (%s): promtool passed=%v, obsctl passed=%v", reason, pt.passed, ob.passed)
				return
			}
			if pt.passed != ob.passed {
				t.Fatalf("promtool passed=%v, obsctl passed=%v\npromtool:\n%s\nobsctl:\n%s", pt.passed, ob.passed, pt.output, ob.output)
			}
			// Per test group, where both ran the groups.
			if len(pt.groups) == 0 || len(ob.groups) == 0 {
				return
			}
			if len(pt.groups) != len(ob.groups) {
				t.Fatalf("promtool ran %d test groups, obsctl %d\npromtool:\n%s\nobsctl:\n%s", len(pt.groups), len(ob.groups), pt.output, ob.output)
			}
			for i := range pt.groups {
				if pt.groups[i] != ob.groups[i] {
					t.Errorf("test group %d: promtool passed=%v, obsctl passed=%v\npromtool:\n%s\nobsctl:\n%s", i+1, pt.groups[i], ob.groups[i], pt.output, ob.output)
				}
			}
		})
	}
}

// outcome is what one tool said of one test file.
type outcome struct {
	passed bool
	// groups says whether each test group passed, in file order; empty
	// when the file could not be run.
	groups []bool
	output string
}

func runPromtool(t *testing.T, promtool, dir, name string) outcome {
	t.Helper()
	junit := filepath.Join(t.TempDir(), "junit.xml")
	cmd := exec.Command(promtool, "test", "rules", "--junit="+junit, name)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && exit.ExitCode() == 1:
	default:
		t.Fatalf("promtool test rules %s: %v\n%s", name, err, out)
	}
	o := outcome{passed: err == nil, output: string(out)}
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Error string `xml:"error"`
			Cases []struct {
				Name     string   `xml:"name,attr"`
				Failures []string `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil {
		t.Fatalf("promtool's JUnit report: %v\n%s", err, data)
	}
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			o.groups = append(o.groups, len(c.Failures) == 0)
		}
	}
	return o
}

func runObsctl(t *testing.T, dir, name string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"test", "--format", "json", name},
		cli.Deps{Stdout: &stdout, Stderr: &stderr, WorkDir: dir})
	if code != 0 && code != 1 && code != 3 {
		t.Fatalf("obsctl test %s: exit %d\n%s%s", name, code, stdout.String(), stderr.String())
	}
	o := outcome{passed: code == 0, output: stdout.String() + stderr.String()}
	var rep struct {
		Files []struct {
			Groups []struct {
				Checks []struct {
					Passed bool `json:"passed"`
				} `json:"checks"`
			} `json:"groups"`
		} `json:"files"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("obsctl test --format json: %v\n%s", err, o.output)
	}
	for _, f := range rep.Files {
		for _, g := range f.Groups {
			passed := true
			for _, c := range g.Checks {
				passed = passed && c.Passed
			}
			o.groups = append(o.groups, passed)
		}
	}
	return o
}

// promtoolBin returns promtool built from the Prometheus module at the
// version go.mod requires, cached as test/bin/promtool-<version>
// (`make promtool-bin` builds it; ~6 min cold on two cores, instant
// cached). It builds it here when missing, through the Go module proxy as
// `go build` would fetch any module; it never skips.
func promtoolBin(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	version := requiredVersion(t, filepath.Join(root, "go.mod"), promModule)
	bin := filepath.Join(root, "test", "bin", "promtool-"+version)
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	t.Logf("building promtool %s into %s (cached after this)", version, bin)
	start := time.Now()
	mod := t.TempDir()
	tmp := bin + ".tmp"
	for _, args := range [][]string{
		{"mod", "init", "promtoolbuild"},
		{"get", promModule + "/cmd/promtool@" + version},
		{"build", "-trimpath", "-o", tmp, promModule + "/cmd/promtool"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build promtool: go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatal(err)
	}
	t.Logf("built promtool in %s", time.Since(start).Round(time.Second))
	return bin
}

// requiredVersion reads the version of module from a go.mod's require
// lines.
func requiredVersion(t *testing.T, gomod, module string) string {
	t.Helper()
	f, err := os.Open(gomod)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == module {
			return fields[1]
		}
	}
	t.Fatalf("%s requires no %s", gomod, module)
	return ""
}
