// Command lintbench measures `obsctl lint` on generated Prometheus rule
// corpora: wall time and peak memory, beside a parse-only floor and
// promtool. `make bench` runs it.
//
// For each corpus size it writes a deterministic corpus of plain rule files
// (10 to 30 rules each, about a quarter of them recording rules that the
// alerts read) into a temporary folder, and runs, after one warm-up run,
// each of these a few times, interleaved:
//
//   - obsctl lint CORPUS, from an empty working folder, so that the embedded
//     default obsctl.yaml applies and every offline check runs (exit code 0
//     or 3 is a success);
//   - the floor (test/bench/floor): one YAML decode per file and one PromQL
//     parse per rule, single threaded, built from this module;
//   - promtool check rules FILE..., in batches when the argument list would
//     be too long.
//
// It prints the best wall time and the peak RSS of each, the median wall
// times, the findings obsctl reports on the corpus, and whether obsctl meets
// its targets: wall time within 1.5x of the floor at every size, and under
// 100 MB peak RSS at 10,000 rules. It exits 1 when a target is missed or a
// run fails, 2 on bad flags. MB here is 10^6 bytes.
//
// Usage:
//
//	go run ./test/bench/lintbench -obsctl bin/obsctl [-sizes 1000,10000,50000] [-runs 3] [-keep] [-promtool PATH] [-seed 1]
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

// Targets obsctl must meet.
const (
	maxFloorRatio = 1.5
	memTargetSize = 10000
	maxRSSBytes   = 100e6
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
	return o, nil
}

// result is what was measured at one corpus size.
type result struct {
	size     int
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
	// An empty working folder: no obsctl.yaml, so obsctl lint uses the
	// embedded default config.
	work := filepath.Join(tmp, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		return nil, err
	}
	floor := filepath.Join(tmp, "floor")
	if err := buildFloor(floor); err != nil {
		return nil, err
	}

	fmt.Fprintf(stdout, "load average before: %s\n", loadAverage())
	defer func() { fmt.Fprintf(stdout, "load average after: %s\n", loadAverage()) }()
	var results []result
	for _, size := range o.sizes {
		dir := filepath.Join(tmp, "corpus-"+strconv.Itoa(size))
		start := time.Now()
		cs, err := generateCorpus(dir, size, o.seed)
		if err != nil {
			return nil, fmt.Errorf("generate %d rules: %w", size, err)
		}
		fmt.Fprintf(stdout, "corpus %d: %d files, %d recording + %d alerting rules, %.1f MB, generated in %.1fs\n",
			size, cs.Files, cs.Records, cs.Alerts, float64(cs.Bytes)/1e6, time.Since(start).Seconds())
		r := result{size: size, corpus: cs}

		tools := []*tool{
			{name: "obsctl", argv: [][]string{{obsctl, "lint", "--color", "never", dir}}, dir: work, ok: []int{0, 3}},
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
				fmt.Fprintf(stderr, "lintbench: %d rules: %v\n", size, errs[i])
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
					fmt.Fprintf(stderr, "lintbench: %d rules: %v\n", size, err)
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
	cell := func(st stats, s sample, rss int64) string {
		switch {
		case st.Err != nil:
			return "failed"
		case st.Skipped && s.Wall == 0:
			return "n/a"
		}
		return fmt.Sprintf("%.3f / %.1f", s.Wall.Seconds(), float64(rss)/1e6)
	}
	ratio := func(r result, pick func(stats) sample) string {
		if r.obsctl.Err != nil || r.floor.Err != nil || pick(r.floor).Wall == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", pick(r.obsctl).Wall.Seconds()/pick(r.floor).Wall.Seconds())
	}
	best := func(st stats) sample { return st.Best }
	median := func(st stats) sample { return st.Median }

	fmt.Fprintln(w)
	fmt.Fprintln(w, "best wall time / peak RSS (MB = 10^6 bytes):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "size\tobsctl s / MB\tfloor s / MB\tpromtool s / MB\tobsctl/floor\tCPU s obsctl / floor\t")
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%.3f / %.3f\t\n", r.size,
			cell(r.obsctl, r.obsctl.Best, r.obsctl.PeakRSS), cell(r.floor, r.floor.Best, r.floor.PeakRSS),
			cell(r.promtool, r.promtool.Best, r.promtool.PeakRSS), ratio(r, best),
			r.obsctl.Best.CPU.Seconds(), r.floor.Best.CPU.Seconds())
	}
	tw.Flush()
	fmt.Fprintln(w, "\nmedian wall time (s):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "size\tobsctl\tfloor\tpromtool\tobsctl/floor\t")
	sec := func(st stats) string {
		if st.Err != nil || st.Median.Wall == 0 {
			return "-"
		}
		return fmt.Sprintf("%.3f", st.Median.Wall.Seconds())
	}
	for _, r := range results {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t\n", r.size, sec(r.obsctl), sec(r.floor), sec(r.promtool), ratio(r, median))
	}
	tw.Flush()

	fmt.Fprintln(w, "\nobsctl findings on the corpora:")
	for _, r := range results {
		fmt.Fprintf(w, "  %d rules: %s\n", r.size, r.findings)
	}

	ok := true
	fmt.Fprintln(w, "\ntargets:")
	for _, r := range results {
		if r.obsctl.Err != nil || r.floor.Err != nil {
			fmt.Fprintf(w, "  FAIL %d rules: a run failed, see above\n", r.size)
			ok = false
			continue
		}
		q := r.obsctl.Best.Wall.Seconds() / r.floor.Best.Wall.Seconds()
		verdict := "ok  "
		if q > maxFloorRatio {
			verdict, ok = "FAIL", false
		}
		fmt.Fprintf(w, "  %s %d rules: obsctl takes %.2fx the floor's time (target <= %.1fx)\n", verdict, r.size, q, maxFloorRatio)
		if r.size == memTargetSize {
			verdict = "ok  "
			if float64(r.obsctl.PeakRSS) >= maxRSSBytes {
				verdict, ok = "FAIL", false
			}
			fmt.Fprintf(w, "  %s %d rules: obsctl peaks at %.1f MB RSS (target < %.0f MB)\n", verdict, r.size, float64(r.obsctl.PeakRSS)/1e6, maxRSSBytes/1e6)
		}
	}
	if !slices.ContainsFunc(results, func(r result) bool { return r.size == memTargetSize }) {
		fmt.Fprintf(w, "  (the memory target is at %d rules, which -sizes left out)\n", memTargetSize)
	}
	if !ok {
		fmt.Fprintln(w, "\nlintbench: obsctl misses a target")
	}
	return ok
}
