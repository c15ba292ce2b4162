package ruletest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPromtoolPassesDefault: the embedded default repo's rule unit tests,
// which obsctl test passes (test_default.txtar), pass promtool test rules
// too, every one promtool reads (not the routing tests, obsctl's own kind,
// nor the tests of PrometheusRule objects, which promtool does not load).
// An expectation that holds only in the group order obsctl happens to use
// fails here: promtool's order is random unless group_eval_order says it.
func TestPromtoolPassesDefault(t *testing.T) {
	bin := promtoolBin(t)
	paths, err := filepath.Glob("../../rules/*_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "route_tests:") {
			continue
		}
		objects := false
		for _, l := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(l, "rule_files:"); ok {
				for _, rf := range strings.Split(strings.Trim(strings.TrimSpace(rest), "[]"), ",") {
					b, err := os.ReadFile(filepath.Join("../../rules", strings.TrimSpace(rf)))
					objects = objects || err == nil && strings.Contains(string(b), "kind: PrometheusRule")
				}
			}
		}
		if !objects {
			files = append(files, filepath.Base(p))
		}
	}
	if len(files) < 8 {
		t.Fatalf("%d test files promtool reads, want the 8 of the default rule files: %v", len(files), files)
	}
	// Several runs: the order of groups promtool does not order is random.
	for range 3 {
		cmd := exec.Command(bin, append([]string{"test", "rules"}, files...)...)
		cmd.Dir = "../../rules"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool test rules %s: %v\n%s", strings.Join(files, " "), err, out)
		}
	}
}
