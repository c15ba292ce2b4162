// Command lintbench measures `obsctl lint` on Prometheus rule corpora: CPU
// time and peak memory, beside a parse-only floor and promtool. `make bench`
// runs it.
//
// For each corpus size it writes a deterministic corpus of plain rule files
// (10 to 30 rules each, about a quarter of them recording rules that the
// alerts read) into a temporary folder; with -corpus it copies a real rule
// collection -scale times instead (see scaleCorpus). It runs, after one
// warm-up run, each of these a few times, interleaved:
//
//   - obsctl lint CORPUS, from a folder whose obsctl.yaml says no more than
//     apiVersion, name and rules.paths (the corpus): the corpus is linted
//     with no embedded content (no embedded rules, policy or routing), as
//     files linted without an obsctl.yaml of their own are to be; every
//     default check runs (exit code 0 or 3 is a success);
//   - the floor (test/bench/floor): one YAML decode per file and one PromQL
//     parse per rule, single threaded, built from this module;
//   - promtool check rules FILE..., in batches when the argument list would
//     be too long.
//
// It prints, for each, the CPU time (user + system, from the child's
// resource usage: the machine may be shared, and CPU time is what other
// work skews least), the peak RSS, the wall time, the findings obsctl
// reports, and whether obsctl meets its targets at every size: at most
// 1.3x the floor's CPU time (least of the runs of each), and a peak RSS
// at most 3x the floor's (median of the runs of each). It exits 1 when a
// target is missed or a run fails, 2 on bad flags. MB here is 10^6 bytes.
//
// Usage:
//
//	go run ./test/bench/lintbench -obsctl bin/obsctl [-sizes 1000,10000,50000] [-corpus DIR -scale 50] [-runs 3] [-keep] [-promtool PATH] [-seed 1]
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets obsctl must meet at every size, against the floor.
const (
	maxCPURatio = 1.3
	maxRSSRatio = 3.0
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type options struct {
	obsctl, promtool string
	sizes            []int
	runs             int
	keep             bool
	seed             uint64
	// corpus, when set, is a real rule collection to bench, copied scale
	// times, instead of the generated sizes.
	corpus string
	scale  int
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fl := flag.NewFlagSet("lintbench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.StringVar(&o.obsctl, "obsctl", "bin/obsctl", "obsctl binary to measure")
	fl.StringVar(&o.promtool, "promtool", "promtool", "promtool binary to compare with (skipped when not found)")
	sizes := fl.String("sizes", "1000,10000,50000", "comma-separated corpus sizes, in rules")
	fl.IntVar(&o.runs, "runs", 3, "measured runs of each program per size, after one warm-up run")
	fl.BoolVar(&o.keep, "keep", false, "keep the generated corpora and print where they are")
	fl.Uint64Var(&o.seed, "seed", 1, "seed of the corpus generator")
	fl.StringVar(&o.corpus, "corpus", "", "a folder of real rule files to bench instead of the generated sizes, copied -scale times")
	fl.IntVar(&o.scale, "scale", 1, "how many copies of -corpus make the corpus")
	if err := fl.Parse(args); err != nil {
		return nil, err
	}
	if fl.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fl.Args(), " "))
	}
	for s := range strings.SplitSeq(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-sizes: %q is not a positive number", s)
		}
		o.sizes = append(o.sizes, n)
	}
	if o.runs < 1 {
		return nil, errors.New("-runs must be at least 1")
	}
	if o.scale < 1 {
		return nil, errors.New("-scale must be at least 1")
	}
	if o.corpus != "" {
		o.sizes = []int{0} // one corpus, of the size it has
	}
	return o, nil
}

// result is what was measured at one corpus size.
type result struct {
	size     int
	name     string // what the corpus is, for the tables
	corpus   corpusStats
	findings findingCount
	obsctl   stats
	floor    stats
	promtool stats
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "lintbench:", err)
		return 2
	}
	results, err := bench(o, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "lintbench:", err)
		return 1
	}
	if !report(stdout, results) {
		return 1
	}
	return 0
}

func bench(o *options, stdout, stderr io.Writer) ([]result, error) {
	obsctl, err := filepath.Abs(o.obsctl)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(obsctl); err != nil {
		return nil, fmt.Errorf("obsctl: %w (run make build)", err)
	}
	promtool, err := exec.LookPath(o.promtool)
	if err != nil {
		fmt.Fprintf(stderr, "lintbench: promtool not found (%v); it is left out\n", err)
		promtool = ""
	}

	tmp, err := os.MkdirTemp("", "lintbench-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		fmt.Fprintf(stdout, "corpora kept in %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	// The working folder holds the corpora and an obsctl.yaml naming
	// nothing but the corpus: linted with no embedded content.
	work := tmp
	floor := filepath.Join(tmp, "floor")
	if err := buildFloor(floor); err != nil {
		return nil, err
	}

	fmt.Fprintf(stdout, "load average before: %s\n", loadAverage())
	defer func() { fmt.Fprintf(stdout, "load average after: %s\n", loadAverage()) }()
	var results []result
	for _, size := range o.sizes {
		base := "corpus-" + strconv.Itoa(size)
		if o.corpus != "" {
			base = "corpus-" + filepath.Base(filepath.Clean(o.corpus)) + "-x" + strconv.Itoa(o.scale)
		}
		dir := filepath.Join(tmp, base)
		start := time.Now()
		var cs corpusStats
		name := strconv.Itoa(size)
		if o.corpus != "" {
			cs, err = scaleCorpus(o.corpus, dir, o.scale)
			size, name = cs.Rules, fmt.Sprintf("%s x%d", filepath.Base(filepath.Clean(o.corpus)), o.scale)
		} else {
			cs, err = generateCorpus(dir, size, o.seed)
		}
		if err != nil {
			return nil, fmt.Errorf("corpus %s: %w", name, err)
		}
		fmt.Fprintf(stdout, "corpus %s: %d files, %d recording + %d alerting rules, %.1f MB, written in %.1fs\n",
			name, cs.Files, cs.Records, cs.Alerts, float64(cs.Bytes)/1e6, time.Since(start).Seconds())
		r := result{size: size, name: name, corpus: cs}
		cfg := fmt.Sprintf("apiVersion: obsctl/v1\nname: bench\ndefaults: false\nrules:\n  paths: [%s]\n", base)
		if err := os.WriteFile(filepath.Join(work, "obsctl.yaml"), []byte(cfg), 0o644); err != nil {
			return nil, err
		}

		tools := []*tool{
			{name: "obsctl", argv: [][]string{{obsctl, "lint", "--color", "never", base}}, dir: work, ok: []int{0, 3}},
			{name: "floor", argv: [][]string{{floor, dir}}, dir: work, ok: []int{0}},
		}
		if promtool != "" {
			files, err := ruleFiles(dir)
			if err != nil {
				return nil, err
			}
			tools = append(tools, &tool{name: "promtool", argv: batches([]string{promtool, "check", "rules"}, files, 512<<10), dir: work, ok: []int{0}})
		}
		samples := make([][]sample, len(tools))
		errs := make([]error, len(tools))
		// Warm up: page cache and binaries. obsctl's warm-up output is
		// where the findings are counted.
		for i, t := range tools {
			var out bytes.Buffer
			if _, errs[i] = t.runOnce(&out); errs[i] != nil {
				fmt.Fprintf(stderr, "lintbench: %s: %v\n", name, errs[i])
				continue
			}
			if t.name == "obsctl" {
				r.findings = countFindings(&out)
			}
		}
		for range o.runs {
			for i, t := range tools {
				if errs[i] != nil {
					continue
				}
				s, err := t.runOnce(nil)
				if err != nil {
					errs[i] = err
					fmt.Fprintf(stderr, "lintbench: %s: %v\n", name, err)
					continue
				}
				samples[i] = append(samples[i], s)
			}
		}
		r.promtool.Skipped = true
		for i, t := range tools {
			st := summarise(samples[i])
			st.Err = errs[i]
			switch t.name {
			case "obsctl":
				r.obsctl = st
			case "floor":
				r.floor = st
			case "promtool":
				r.promtool = st
			}
		}
		results = append(results, r)
		if !o.keep {
			if err := os.RemoveAll(dir); err != nil {
				return nil, err
			}
		}
	}
	return results, nil
}

// buildFloor builds test/bench/floor from this module into out.
func buildFloor(out string) error {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if root == "." || root == "" {
		return errors.New("run lintbench from inside the obsctl module")
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./test/bench/floor")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the floor: %w\n%s", err, msg)
	}
	return nil
}

// loadAverage returns the 1, 5 and 15 minute load averages, which say how
// far other work on the machine may have skewed the wall times.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	return strings.Join(f[:min(3, len(f))], " ") + fmt.Sprintf(" (%d CPUs)", runtime.NumCPU())
}

func ruleFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	return files, err
}

// findingCount counts obsctl's findings by severity and by check.
type findingCount struct {
	total      int
	bySeverity map[string]int
	byCheck    map[string]int
	summary    string
}

// findingRE matches the first line of a text finding,
// `file:line:col: severity: message [check]`.
var findingRE = regexp.MustCompile(`^\S.*: (info|warning|error|fatal): .* \[([a-z]+/[a-z0-9-]+)\]$`)

func countFindings(r io.Reader) findingCount {
	fc := findingCount{bySeverity: map[string]int{}, byCheck: map[string]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := findingRE.FindStringSubmatch(line); m != nil {
			fc.total++
			fc.bySeverity[m[1]]++
			fc.byCheck[m[2]]++
			continue
		}
		if strings.HasPrefix(line, "no findings") || strings.Contains(line, " finding") && !strings.HasPrefix(line, " ") {
			fc.summary = line
		}
	}
	return fc
}

func (fc findingCount) String() string {
	if fc.total == 0 {
		return "none (obsctl: " + fc.summary + ")"
	}
	var parts []string
	for _, s := range []string{"fatal", "error", "warning", "info"} {
		if n := fc.bySeverity[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	var checks []string
	for _, c := range slices.Sorted(maps.Keys(fc.byCheck)) {
		checks = append(checks, fmt.Sprintf("%s %d", c, fc.byCheck[c]))
	}
	return fmt.Sprintf("%d (%s): %s", fc.total, strings.Join(parts, ", "), strings.Join(checks, ", "))
}

// report prints the tables and the targets, and reports whether every
// target was met and every obsctl and floor run worked.
func report(w io.Writer, results []result) bool {
	failed := func(r result) bool { return r.obsctl.Err != nil || r.floor.Err != nil }
	cpuRatio := func(r result) float64 { return r.obsctl.CPU.Seconds() / r.floor.CPU.Seconds() }
	rssRatio := func(r result) float64 { return float64(r.obsctl.RSS) / float64(r.floor.RSS) }
	mb := func(n int64) float64 { return float64(n) / 1e6 }
	promtool := func(st stats) string {
		switch {
		case st.Err != nil:
			return "failed"
		case st.Skipped && st.Best.Wall == 0:
			return "n/a"
		}
		return fmt.Sprintf("%.3f / %.1f", st.CPU.Seconds(), mb(st.RSS))
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "CPU time (user+sys, least of the runs) and peak RSS (median of the runs; MB = 10^6 bytes):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "corpus\trules\tobsctl CPU s\tfloor CPU s\tCPU ratio\tobsctl MB\tfloor MB\tRSS ratio\tobsctl max MB\tpromtool CPU s / MB\t")
	for _, r := range results {
		if failed(r) {
			fmt.Fprintf(tw, "%s\t%d\tfailed\t\t\t\t\t\t\t\t\n", r.name, r.size)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.2fx\t%.1f\t%.1f\t%.2fx\t%.1f\t%s\t\n", r.name, r.size,
			r.obsctl.CPU.Seconds(), r.floor.CPU.Seconds(), cpuRatio(r),
			mb(r.obsctl.RSS), mb(r.floor.RSS), rssRatio(r), mb(r.obsctl.PeakRSS), promtool(r.promtool))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nwall time (s), for information: best / median:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "corpus\tobsctl\tfloor\tpromtool\tmedian CPU s obsctl / floor\t")
	sec := func(st stats) string {
		if st.Err != nil || st.Median.Wall == 0 {
			return "-"
		}
		return fmt.Sprintf("%.3f / %.3f", st.Best.Wall.Seconds(), st.Median.Wall.Seconds())
	}
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.3f / %.3f\t\n", r.name, sec(r.obsctl), sec(r.floor), sec(r.promtool),
			r.obsctl.MedianCPU.Seconds(), r.floor.MedianCPU.Seconds())
	}
	tw.Flush()

	fmt.Fprintln(w, "\nobsctl findings on the corpora:")
	for _, r := range results {
		fmt.Fprintf(w, "  %s: %s\n", r.name, r.findings)
	}

	ok := true
	fmt.Fprintln(w, "\ntargets:")
	verdict := func(good bool) string {
		if good {
			return "ok  "
		}
		ok = false
		return "FAIL"
	}
	for _, r := range results {
		if failed(r) {
			fmt.Fprintf(w, "  FAIL %s: a run failed, see above\n", r.name)
			ok = false
			continue
		}
		q := cpuRatio(r)
		fmt.Fprintf(w, "  %s %s: obsctl takes %.2fx the floor's CPU time (target <= %.1fx)\n", verdict(q <= maxCPURatio), r.name, q, maxCPURatio)
		q = rssRatio(r)
		fmt.Fprintf(w, "  %s %s: obsctl peaks at %.2fx the floor's RSS, %.1f MB (target <= %.0fx)\n", verdict(q <= maxRSSRatio), r.name, q, mb(r.obsctl.RSS), maxRSSRatio)
	}
	if !ok {
		fmt.Fprintln(w, "\nlintbench: obsctl misses a target")
	}
	return ok
}
