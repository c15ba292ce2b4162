// Command testbench measures `obsctl test` on the embedded default repo's
// rule unit tests against `promtool test rules` on the same files, with
// promtool built from the Prometheus module obsctl evaluates with (make
// promtool-bin). `make bench` runs it.
//
// The files are rules/*_test.yaml of this repo that promtool can read: not
// the routing tests (obsctl's own kind) nor the tests of PrometheusRule
// objects, which promtool does not load. Each program runs -runs times,
// interleaved, after a warm-up run; the best wall time of each is
// compared. Target: obsctl within half of promtool's time. It exits 1 when
// the target is missed or a run fails, 2 on bad flags.
//
// Usage:
//
//	go run ./test/bench/testbench -obsctl bin/obsctl -promtool test/bin/promtool-v0.313.5 [-runs 5]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// maxRatio is the target: obsctl's time over promtool's.
const maxRatio = 0.5

func main() {
	obsctl := flag.String("obsctl", "bin/obsctl", "obsctl binary")
	promtool := flag.String("promtool", "", "promtool binary, built from the pinned Prometheus module")
	runs := flag.Int("runs", 5, "measured runs of each program")
	flag.Parse()
	if *promtool == "" || *runs < 1 {
		fmt.Fprintln(os.Stderr, "testbench: -promtool is required, -runs at least 1")
		os.Exit(2)
	}
	files, err := promtoolFiles("rules")
	if err != nil || len(files) == 0 {
		fmt.Fprintln(os.Stderr, "testbench: no test files:", err)
		os.Exit(1)
	}
	progs := []struct {
		name string
		argv []string
		best time.Duration
	}{
		{name: "obsctl test", argv: append([]string{*obsctl, "test"}, files...)},
		{name: "promtool test rules", argv: append([]string{*promtool, "test", "rules"}, files...)},
	}
	for i := range progs {
		progs[i].best = time.Duration(1<<63 - 1)
	}
	for r := 0; r <= *runs; r++ {
		for i := range progs {
			start := time.Now()
			cmd := exec.Command(progs[i].argv[0], progs[i].argv[1:]...)
			if out, err := cmd.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "testbench: %s: %v\n%s", progs[i].name, err, out)
				os.Exit(1)
			}
			if d := time.Since(start); r > 0 && d < progs[i].best { // run 0 warms up
				progs[i].best = d
			}
		}
	}
	ratio := progs[0].best.Seconds() / progs[1].best.Seconds()
	fmt.Printf("rule unit tests, %d files of the embedded default (best of %d runs, wall time):\n", len(files), *runs)
	for _, p := range progs {
		fmt.Printf("  %-20s %.3f s\n", p.name, p.best.Seconds())
	}
	verdict := "ok  "
	if ratio > maxRatio {
		verdict = "FAIL"
	}
	fmt.Printf("%s obsctl test takes %.2fx promtool's time (target <= %.1fx)\n", verdict, ratio, maxRatio)
	if ratio > maxRatio {
		os.Exit(1)
	}
}

// promtoolFiles returns the rule unit test files of dir that promtool
// reads: not routing tests, nor tests of PrometheusRule objects.
func promtoolFiles(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*_test.yaml"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if strings.Contains(string(data), "route_tests:") {
			continue
		}
		objects := false
		for _, rf := range ruleFiles(string(data)) {
			b, err := os.ReadFile(filepath.Join(dir, rf))
			if err == nil && strings.Contains(string(b), "kind: PrometheusRule") {
				objects = true
			}
		}
		if !objects {
			out = append(out, p)
		}
	}
	return out, nil
}

// ruleFiles returns the entries of a test file's rule_files list, written
// one to a line or in brackets.
func ruleFiles(src string) []string {
	var out []string
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		rest, ok := strings.CutPrefix(l, "rule_files:")
		if !ok {
			continue
		}
		if rest = strings.TrimSpace(rest); strings.HasPrefix(rest, "[") {
			for _, f := range strings.Split(strings.Trim(rest, "[]"), ",") {
				out = append(out, strings.Trim(strings.TrimSpace(f), `"'`))
			}
			return out
		}
		for _, n := range lines[i+1:] {
			n = strings.TrimSpace(n)
			if !strings.HasPrefix(n, "- ") {
				break
			}
			out = append(out, strings.Trim(strings.TrimPrefix(n, "- "), `"'`))
		}
	}
	return out
}
