package rules_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/load"
)

var update = flag.Bool("update", false, "write the default content's counts into docs/coverage.md")

// TestCoverageDoc keeps docs/coverage.md true of the default content: the
// counts in its table are the embedded default repo's, every obsctl alert
// a row names is one of its alerts, each kube-prometheus alert has one
// row, and the summary counts the rows; the alerts the mixins' rows name
// at the end are the default content's too. `go test ./rules -update`
// rewrites the counts.
func TestCoverageDoc(t *testing.T) {
	r, err := load.Load(load.Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Embedded() {
		t.Fatal("not the embedded default repo")
	}
	alerts, records := map[string]bool{}, map[string]bool{}
	nAlerts, nRecords := 0, 0
	for _, f := range r.RuleFiles {
		for _, rule := range f.Rules() {
			if rule.IsAlert() {
				nAlerts++
				alerts[rule.Alert] = true
			} else {
				nRecords++
				records[rule.Record] = true
			}
		}
	}
	counts := map[string]string{
		"alerts":     fmt.Sprintf("%d (%d names)", nAlerts, len(alerts)),
		"records":    fmt.Sprintf("%d (%d names)", nRecords, len(records)),
		"dashboards": fmt.Sprint(len(r.Dashboards)),
		"slos":       fmt.Sprint(len(r.SLOs)),
	}

	path := filepath.Join("..", "docs", "coverage.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for key, want := range counts {
		re := regexp.MustCompile(`<!-- ` + key + ` -->([^<]*)<!-- /` + key + ` -->`)
		m := re.FindStringSubmatch(doc)
		if m == nil {
			t.Fatalf("docs/coverage.md has no <!-- %s --> count", key)
		}
		if m[1] != want {
			if *update {
				doc = re.ReplaceAllString(doc, "<!-- "+key+" -->"+want+"<!-- /"+key+" -->")
				continue
			}
			t.Errorf("docs/coverage.md counts %s %q, the default content has %q: run go test ./rules -update", key, m[1], want)
		}
	}
	if *update {
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	row := regexp.MustCompile("^\\| ([A-Za-z0-9]+) \\| (.*) \\| (.*) \\|$")
	name := regexp.MustCompile("`([A-Za-z0-9]+)`")
	seen := map[string]bool{}
	covered, leftOut, notYet := 0, 0, 0
	areas := false  // the rows under the areas' headings, not the counts' table
	mixins := false // the rows of the mixins' alerts, after kube-prometheus'
	for i, line := range strings.Split(doc, "\n") {
		areas = areas || strings.HasPrefix(line, "## ")
		mixins = mixins || strings.HasPrefix(line, "## Beyond kube-prometheus")
		if mixins {
			for _, n := range name.FindAllStringSubmatch(line, -1) {
				if !alerts[n[1]] {
					t.Errorf("docs/coverage.md:%d: %s is no alert of the default content", i+1, n[1])
				}
			}
			continue
		}
		m := row.FindStringSubmatch(line)
		if !areas || m == nil || m[1] == "kube" {
			continue
		}
		kp, mine, note := m[1], m[2], m[3]
		if seen[kp] {
			t.Errorf("docs/coverage.md:%d: %s has two rows", i+1, kp)
		}
		seen[kp] = true
		names := name.FindAllStringSubmatch(mine, -1)
		switch {
		case len(names) > 0:
			covered++
		case strings.HasPrefix(note, "left out"):
			leftOut++
		case strings.HasPrefix(note, "not yet"):
			notYet++
		default:
			t.Errorf("docs/coverage.md:%d: %s names no obsctl alert and says neither \"left out\" nor \"not yet\"", i+1, kp)
		}
		for _, n := range names {
			if !alerts[n[1]] {
				t.Errorf("docs/coverage.md:%d: %s is covered by %s, which is no alert of the default content", i+1, kp, n[1])
			}
		}
	}
	if len(seen) != 125 {
		t.Errorf("docs/coverage.md has %d kube-prometheus alerts, want the 125 names it ships", len(seen))
	}
	summary := fmt.Sprintf("Of kube-prometheus' %d alert names, **%d are covered**, %d are left out on purpose", len(seen), covered, leftOut)
	rest := fmt.Sprintf("and %d are not covered yet", notYet)
	if notYet == 1 {
		rest = "and 1 is not covered yet"
	}
	if !strings.Contains(doc, summary) || !strings.Contains(doc, rest) {
		t.Errorf("docs/coverage.md's summary does not say: %s ... %s", summary, rest)
	}
}
