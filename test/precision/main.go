// Command precision measures how often obsctl lint is right on content
// that nobody here wrote: rule collections, dashboards and Alertmanager
// configs that public projects ship. `make precision` runs it.
//
//	go run ./test/precision corpus -out DIR [-mirror DIR] [-cache DIR]
//	go run ./test/precision run -corpus DIR [-obsctl bin/obsctl] [-judgements FILE] [-list] [-markdown]
//
// corpus writes the collections (see sources in corpus.go: pinned public
// repositories) into DIR, one folder per collection, outside the repo:
// their files may not be copied into it. A collection is linted as a
// project would lint it: from its own folder, with no obsctl.yaml, so the
// neutral defaults apply.
//
// run lints every collection of the corpus with the default checks
// (`obsctl lint --format json`) and looks each finding up in the
// judgements (judgements.tsv beside this file): a finding is keyed by
// collection, file, rule (the alert, recording rule or group it is on;
// for a file without rules, its message) and check, and judged true (a
// problem the project's maintainers would want to know about) or false.
// It prints, per check, the findings, their severity and how many are
// judged true, false or not yet; with -list every finding, for judging;
// with -markdown the table docs/precision.md shows. It exits 1 when a
// finding is not judged yet or is judged false, 2 on bad flags.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: precision corpus -out DIR | run -corpus DIR")
		return 2
	}
	switch args[0] {
	case "corpus":
		fs := flag.NewFlagSet("corpus", flag.ContinueOnError)
		out := fs.String("out", "", "folder to write the corpus to (outside the repo)")
		mirror := fs.String("mirror", "/work/.mirror", "folder of bare mirrors, owner+name/repo, used when it holds the pinned commit")
		cache := fs.String("cache", filepath.Join(os.TempDir(), "obsctl-precision-git"), "folder for clones from GitHub")
		if err := fs.Parse(args[1:]); err != nil || *out == "" {
			fmt.Fprintln(stderr, "precision corpus: -out DIR is required")
			return 2
		}
		if err := buildCorpus(*out, *mirror, *cache); err != nil {
			fmt.Fprintln(stderr, "precision corpus:", err)
			return 1
		}
		return 0
	case "run":
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		corpus := fs.String("corpus", "", "the corpus folder (precision corpus -out)")
		obsctl := fs.String("obsctl", "bin/obsctl", "the obsctl binary")
		judged := fs.String("judgements", "test/precision/judgements.tsv", "the judgements")
		list := fs.Bool("list", false, "print every finding with its judgement")
		md := fs.Bool("markdown", false, "print the per-check table as Markdown")
		if err := fs.Parse(args[1:]); err != nil || *corpus == "" {
			fmt.Fprintln(stderr, "precision run: -corpus DIR is required")
			return 2
		}
		js, err := readJudgements(*judged)
		if err != nil {
			fmt.Fprintln(stderr, "precision:", err)
			return 1
		}
		bin, err := filepath.Abs(*obsctl)
		if err != nil {
			fmt.Fprintln(stderr, "precision:", err)
			return 1
		}
		fds, n, err := lintCorpus(*corpus, bin)
		if err != nil {
			fmt.Fprintln(stderr, "precision:", err)
			return 1
		}
		return summarize(stdout, fds, n, js, *list, *md)
	}
	fmt.Fprintf(stderr, "precision: unknown command %q\n", args[0])
	return 2
}

// finding is one lint finding on the corpus, keyed for judging.
type finding struct {
	Collection, File, Rule, Check string
	Severity, Message             string
	Line                          int
}

func (f finding) key() string {
	return strings.Join([]string{f.Collection, f.File, f.Rule, f.Check}, "\t")
}

// judgement is a verdict on every finding of one key.
type judgement struct {
	True   bool
	Reason string
	used   bool
}

// readJudgements reads the TSV: collection, file, rule, check, verdict
// (true or false), reason. Lines starting with # are comments.
func readJudgements(name string) (map[string]*judgement, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	out := map[string]*judgement{}
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 6 || (cols[4] != "true" && cols[4] != "false") || cols[5] == "" {
			return nil, fmt.Errorf("%s:%d: want collection, file, rule, check, true|false, reason (tab-separated)", name, i+1)
		}
		k := strings.Join(cols[:4], "\t")
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s:%d: judged twice", name, i+1)
		}
		out[k] = &judgement{True: cols[4] == "true", Reason: cols[5]}
	}
	return out, nil
}

// collections returns the collection folders of the corpus: a folder with
// a rules/, dashboards/ or alerting/ (Alertmanager configs) folder (mixins/<name> nests one
// deeper).
func collections(corpus string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(corpus, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || p == corpus {
			return err
		}
		for _, sub := range []string{"rules", "dashboards", "alerting"} {
			if st, err := os.Stat(filepath.Join(p, sub)); err == nil && st.IsDir() {
				rel, _ := filepath.Rel(corpus, p)
				out = append(out, filepath.ToSlash(rel))
				return filepath.SkipDir
			}
		}
		return nil
	})
	slices.Sort(out)
	return out, err
}

// lintCorpus lints each collection from its own folder.
func lintCorpus(corpus, bin string) ([]finding, int, error) {
	colls, err := collections(corpus)
	if err != nil {
		return nil, 0, err
	}
	if len(colls) == 0 {
		return nil, 0, fmt.Errorf("%s holds no collection (precision corpus -out %s makes one)", corpus, corpus)
	}
	var out []finding
	for _, c := range colls {
		dir := filepath.Join(corpus, filepath.FromSlash(c))
		var paths []string
		for _, sub := range []string{"rules", "dashboards", "alerting"} {
			if _, err := os.Stat(filepath.Join(dir, sub)); err == nil {
				paths = append(paths, sub)
			}
		}
		cmd := exec.Command(bin, append([]string{"lint", "--format", "json", "--fail-on", "fatal"}, paths...)...)
		cmd.Dir = dir
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 3 {
				return nil, 0, fmt.Errorf("%s: obsctl lint: %v\n%s", c, err, stderr.String())
			}
		}
		var rep struct {
			Findings []struct {
				Check, Severity, File, Message string
				Start                          struct{ Line int }
			}
		}
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			return nil, 0, fmt.Errorf("%s: report: %w", c, err)
		}
		lines := map[string][]string{}
		for _, f := range rep.Findings {
			if _, ok := lines[f.File]; !ok {
				data, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.File)))
				lines[f.File] = strings.Split(string(data), "\n")
			}
			out = append(out, finding{
				Collection: c, File: f.File, Check: f.Check, Severity: f.Severity,
				Message: f.Message, Line: f.Start.Line,
				Rule: ruleAt(lines[f.File], f.Start.Line, f.Message),
			})
		}
	}
	return out, len(colls), nil
}

var (
	ruleRE  = regexp.MustCompile(`^\s*(?:-\s*)?(alert|record):\s*["']?([^"'\s#]+)`)
	groupRE = regexp.MustCompile(`^\s*-\s*name:\s*["']?([^"'\s#]+)`)
	digits  = regexp.MustCompile(`[0-9]+`)
)

// ruleAt names what a finding at line is on: the alert or recording rule
// whose entry starts at or above it, or the group when the group's name
// comes first; for a file without rules, the message, its numbers blanked
// (a count or position must not change the key).
func ruleAt(lines []string, line int, message string) string {
	for i := min(line, len(lines)) - 1; i >= 0 && line > 0; i-- {
		if m := ruleRE.FindStringSubmatch(lines[i]); m != nil {
			return m[1] + " " + m[2]
		}
		if m := groupRE.FindStringSubmatch(lines[i]); m != nil {
			return "group " + m[1]
		}
	}
	msg := digits.ReplaceAllString(message, "N")
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return "file: " + strings.ReplaceAll(msg, "\t", " ")
}

// atOrAbove reports whether severity counts toward precision: warning,
// error and fatal.
func atOrAbove(sev string) bool { return sev == "warning" || sev == "error" || sev == "fatal" }

type tally struct {
	findings, warnPlus, t, f, unjudged int
	warnTrue, warnUnjudged             int
	sev                                map[string]int
}

func summarize(w io.Writer, fds []finding, ncoll int, js map[string]*judgement, list, md bool) int {
	byCheck := map[string]*tally{}
	byColl := map[string]*tally{}
	get := func(m map[string]*tally, k string) *tally {
		if m[k] == nil {
			m[k] = &tally{sev: map[string]int{}}
		}
		return m[k]
	}
	var total tally
	var unjudged []finding
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	for _, f := range fds {
		j := js[f.key()]
		verdict := "UNJUDGED"
		for _, t := range []*tally{get(byCheck, f.Check), get(byColl, f.Collection), &total} {
			t.findings++
			if t.sev != nil {
				t.sev[f.Severity]++
			}
			switch {
			case j == nil:
				t.unjudged++
			case j.True:
				t.t++
			default:
				t.f++
			}
			if atOrAbove(f.Severity) {
				t.warnPlus++
				switch {
				case j == nil:
					t.warnUnjudged++
				case j.True:
					t.warnTrue++
				}
			}
		}
		if j != nil {
			j.used = true
			verdict = fmt.Sprint(j.True)
		} else {
			unjudged = append(unjudged, f)
		}
		if list {
			fmt.Fprintf(bw, "%s\t%s:%d\t%s\t%s\t%s\t%s\t%s\n", verdict, f.File, f.Line, f.Collection, f.Rule, f.Check, f.Severity, f.Message)
		}
	}
	// Precision at warning and above, over judged findings.
	var wt, wf int
	for _, f := range fds {
		if j := js[f.key()]; j != nil && atOrAbove(f.Severity) {
			if j.True {
				wt++
			} else {
				wf++
			}
		}
	}
	checks := slices.Sorted(maps.Keys(byCheck))
	if md {
		fmt.Fprintln(bw, "| check | findings | at warning+ | true | false | not judged |")
		fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|")
		for _, c := range checks {
			t := byCheck[c]
			fmt.Fprintf(bw, "| `%s` | %d | %d | %d | %d | %d |\n", c, t.findings, t.warnPlus, t.t, t.f, t.unjudged)
		}
		fmt.Fprintf(bw, "| **all** | %d | %d | %d | %d | %d |\n", total.findings, total.warnPlus, total.t, total.f, total.unjudged)
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "| collection | findings | at warning+ | true | false | not judged | precision at warning+ |")
		fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|---:|")
		for _, c := range slices.Sorted(maps.Keys(byColl)) {
			t := byColl[c]
			prec := "n/a"
			if wt, wf := t.warnTrue, t.warnPlus-t.warnTrue-t.warnUnjudged; wt+wf > 0 {
				prec = fmt.Sprintf("%.1f%%", 100*float64(wt)/float64(wt+wf))
			}
			fmt.Fprintf(bw, "| %s | %d | %d | %d | %d | %d | %s |\n", c, t.findings, t.warnPlus, t.t, t.f, t.unjudged, prec)
		}
	} else {
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CHECK\tFINDINGS\tWARNING+\tTRUE\tFALSE\tUNJUDGED")
		for _, c := range checks {
			t := byCheck[c]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\n", c, t.findings, t.warnPlus, t.t, t.f, t.unjudged)
		}
		fmt.Fprintf(tw, "all\t%d\t%d\t%d\t%d\t%d\n", total.findings, total.warnPlus, total.t, total.f, total.unjudged)
		tw.Flush()
	}
	colls := slices.Sorted(maps.Keys(byColl))
	fmt.Fprintf(bw, "\n%d collections linted, %d with findings; %d findings\n", ncoll, len(colls), len(fds))
	if wt+wf > 0 {
		fmt.Fprintf(bw, "precision at warning and above: %d of %d judged true (%.1f%%)\n", wt, wt+wf, 100*float64(wt)/float64(wt+wf))
	}
	var stale int
	for _, j := range js {
		if !j.used {
			stale++
		}
	}
	if stale > 0 {
		fmt.Fprintf(bw, "%d judgements match no finding now (a check no longer reports them)\n", stale)
	}
	if total.unjudged > 0 || total.f > 0 {
		fmt.Fprintf(bw, "FAIL: %d findings not judged, %d judged false\n", total.unjudged, total.f)
		if !list {
			for _, f := range unjudged {
				fmt.Fprintf(bw, "  not judged: %s\t%s\t%s\t%s\t(%s:%d %s)\n", f.Collection, f.File, f.Rule, f.Check, f.File, f.Line, f.Message)
			}
		}
		return 1
	}
	return 0
}
