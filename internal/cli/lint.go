package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/lint"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/report"
	"github.com/obsctl/obsctl/internal/source"
	"github.com/obsctl/obsctl/internal/version"
)

type lintOptions struct {
	*globalOptions
	format  string
	failOn  string
	enable  []string
	disable []string
	explain string
	list    bool
	output  string
	color   string
	// changedFrom is --changed-from: a git revision.
	changedFrom string
}

func newLintCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &lintOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "lint [PATH...]",
		Short: "Check rules and alert routing, with findings for CI",
		Long: `Lint the observability repo: obsctl.yaml and its alert routing, every rule
file under the configured rule paths, the pipelines and the dashboards.

PATHs lint those files, and the files of those folders, each as its kind,
decided from its name, place and content: a rule file or PrometheusRule
objects, a rule unit test (*_test.yaml, or rule_files:/tests:; parsed only),
a Fluentd pipeline (pipelines/, kind: Pipeline), a Grafana dashboard (*.json),
obsctl.yaml, or a raw Alertmanager configuration (route: and receivers:,
checked with Alertmanager's own loader). The whole repo is still loaded, so
that checks across it (undefined-record, unused-record, routing) see
everything, but only findings on the PATHs are reported. In a folder, files
of no kind are passed over; such a file named (a README.md) is skipped with
a note on stderr, so that obsctl lint $(git diff --name-only) works.

With no obsctl.yaml in this folder or above and no --repo, PATHs are linted
alone under neutral defaults: no required annotations, severities and
routing not checked, no scrape or evaluation interval assumed, and nothing
judged against what obsctl would render (a dashboard's ConfigMap). The
embedded default repo's policy applies to its own content only (obsctl lint
with no PATH and no repo).

--changed-from REF asks git for the files and lines changed between REF and
the working tree (untracked files count as new, deleted files are ignored),
loads everything and reports only findings on changed lines, on a rule with
a changed line, or about a changed file as a whole, like pint ci. With
PATHs, only the changed files below them. A REF that is not a revision is a
usage error; outside a git work tree, lint cannot run.

Only regular files inside the repo are read: a link that leads out of it, a
device, a named pipe or a socket is a load/file finding and is never opened.
A PATH inside the repo is held to the repo the same way; a PATH outside it is
read where it leads (it is your choice), but still only as a regular file.

Exit codes: 0 no findings at or above --fail-on, 1 lint could not run,
2 usage error, 3 findings at or above --fail-on.

Silence a check for one rule with a comment on the rule,
  # obsctl:disable rules/for-missing -- reason
or for a whole file with # obsctl:disable-file CHECK.`,
		Example: `  obsctl lint
  obsctl lint rules/node.yaml --format github
  obsctl lint dashboards/ pipelines/apps.yaml
  obsctl lint --changed-from origin/main --format gitlab -o gl-code-quality.json
  obsctl lint --format sarif -o obsctl.sarif
  obsctl lint --disable rules/unused-record --fail-on warning
  obsctl lint --explain rules/template-labels`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLint(cmd.Context(), deps, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.format, "format", "f", "text", "output format: "+strings.Join(report.Formats(), ", "))
	f.StringVar(&o.failOn, "fail-on", "", "lowest severity that fails (info, warning, error, fatal; default from obsctl.yaml, else error)")
	f.StringSliceVar(&o.enable, "enable", nil, "checks to run in addition (name, area/* or all)")
	f.StringSliceVar(&o.disable, "disable", nil, "checks not to run (name, area/* or all)")
	f.StringVar(&o.explain, "explain", "", "print the documentation of a check and exit")
	f.BoolVar(&o.list, "list", false, "list every check and exit")
	f.StringVarP(&o.output, "output", "o", "", "write the report to this file instead of standard output")
	f.StringVar(&o.color, "color", "auto", "colour text output: auto, always or never")
	f.StringVar(&o.changedFrom, "changed-from", "", "report only findings on the files and lines changed since this git revision (the whole repo is still loaded)")
	return cmd
}

func runLint(ctx context.Context, deps *Deps, o *lintOptions, paths []string) error {
	if o.explain != "" {
		return explainCheck(deps.Stdout, o.explain)
	}
	if o.list {
		return listChecks(deps.Stdout)
	}
	var err error
	if !slices.Contains(report.Formats(), o.format) {
		return usagef("unknown format %q (want %s)", o.format, strings.Join(report.Formats(), ", "))
	}
	// The rule files are read as lint checks them, a few at a time: lint
	// keeps no more of each than the repo checks need; except with
	// --changed-from, which needs where each rule starts and ends.
	opts := load.Options{Dir: o.repo, Paths: paths, WorkDir: deps.WorkDir, Defer: o.changedFrom == ""}
	var changed *changes
	if o.changedFrom != "" {
		if changed, err = changedPaths(ctx, deps, &opts, o.changedFrom); err != nil {
			return err
		}
	}
	r, err := load.Load(opts)
	if err != nil {
		return err
	}
	lintNotes(deps.Stderr, r)
	failOn, err := resolveFailOn(o.failOn, r.Config.Lint.FailOn)
	if err != nil {
		return err
	}
	cfgEnable, cfgDisable, unknown := lint.ConfigSelection(r.Config)
	r.Findings = append(r.Findings, unknown...)
	l, err := lint.New(checkSelection(cfgEnable, cfgDisable, o.enable, o.disable))
	if err != nil {
		var uc *lint.UnknownCheckError
		if errors.As(err, &uc) {
			return usageError{err}
		}
		return err
	}
	// What lint keeps grows with the rule files, read now or held already.
	input := r.DeferredBytes()
	for _, f := range r.RuleFiles {
		input += int64(len(f.Src))
	}
	defer lintMemory(input)()
	all, err := l.Lint(r)
	if err != nil {
		return err
	}
	findings := reportedFindings(all, r)
	if changed != nil {
		findings = keepChanged(findings, changed, r)
	}

	w := deps.Stdout
	color := o.color == "always" || (o.color == "auto" && deps.IsTerminal(deps.Stdout) && deps.Getenv("NO_COLOR") == "")
	if o.output != "" {
		f, err := os.Create(o.output)
		if err != nil {
			return fmt.Errorf("lint report: %w", err)
		}
		defer f.Close()
		w, color = f, false
	}
	if err := writeReport(w, o.format, r, l, findings, color); err != nil {
		return err
	}
	if o.output != "" {
		if err := w.(*os.File).Close(); err != nil {
			return fmt.Errorf("lint report: %w", err)
		}
	}
	n := 0
	for _, f := range findings {
		if f.Severity >= failOn {
			n++
		}
	}
	if n > 0 {
		return findingsError{n: n}
	}
	return nil
}

// checkSelection merges obsctl.yaml's lint.enable/disable with the flags.
// The command line wins: --enable NAME turns on a check that obsctl.yaml
// disables, and --disable wins over everything.
func checkSelection(cfgEnable, cfgDisable, flagEnable, flagDisable []string) lint.Options {
	disable := slices.DeleteFunc(slices.Clone(cfgDisable), func(n string) bool { return slices.Contains(flagEnable, n) })
	return lint.Options{
		Enable:  append(slices.Clone(cfgEnable), flagEnable...),
		Disable: append(disable, flagDisable...),
	}
}

func resolveFailOn(flag, fromConfig string) (diag.Severity, error) {
	switch {
	case flag != "":
		s, err := diag.ParseSeverity(flag)
		if err != nil {
			return 0, usageError{fmt.Errorf("--fail-on: %w", err)}
		}
		return s, nil
	case fromConfig != "":
		// obsctl.yaml's value was validated when it was loaded.
		if s, err := diag.ParseSeverity(fromConfig); err == nil {
			return s, nil
		}
	}
	return diag.Error, nil
}

// writeReport renders findings in format.
func writeReport(w io.Writer, format string, r *load.Repo, l *lint.Linter, findings []diag.Finding, color bool) error {
	sources := r.Sources()
	files := make([]string, 0, len(sources))
	for p := range sources {
		if r.Reports(p) {
			files = append(files, p)
		}
	}
	slices.Sort(files)
	var checks []report.CheckInfo
	for _, c := range l.Checks() {
		doc, _ := lint.Explain(c.Name())
		checks = append(checks, report.CheckInfo{Name: c.Name(), Summary: c.Meta().Summary, Doc: doc, Severity: c.Meta().Severity})
	}
	in := report.Input{
		Findings: findings,
		Files:    files,
		Source:   func(p string) *source.File { return sources[p] },
		Checks:   checks,
		Tool:     report.Tool{Name: "obsctl", Version: version.Get().Version, InformationURI: "https://github.com/obsctl/obsctl"},
	}
	return report.Write(w, format, in, report.Options{Color: color})
}

func explainCheck(w io.Writer, name string) error {
	c, ok := lint.Lookup(name)
	if !ok {
		return usageError{&lint.UnknownCheckError{Name: name}}
	}
	doc, _ := lint.Explain(name)
	m := c.Meta()
	fmt.Fprintf(w, "%s (%s", c.Name(), m.Severity)
	if m.Optional {
		fmt.Fprint(w, ", off by default")
	}
	if m.Required {
		fmt.Fprint(w, ", always on")
	}
	fmt.Fprintf(w, ")\n\n%s\n", doc)
	return nil
}

func listChecks(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSEVERITY\tSUMMARY")
	for _, c := range lint.Checks() {
		m := c.Meta()
		sev := m.Severity.String()
		if m.Optional {
			sev += " (off)"
		}
		if m.Required {
			sev += " (always on)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name(), sev, m.Summary)
	}
	return tw.Flush()
}

// reportedFindings keeps the findings on the paths given (load.Repo.Reports):
// the rest of the repo was loaded for the checks across it, not to be
// reported.
func reportedFindings(findings []diag.Finding, r *load.Repo) []diag.Finding {
	if r.Targets() == nil {
		return findings
	}
	out := findings[:0]
	for _, f := range findings {
		if r.Reports(f.File) {
			out = append(out, f)
		}
	}
	return out
}

// lintNotes says on standard error what the report cannot: that no
// obsctl.yaml applies, and which files named are of no kind lint reads.
func lintNotes(w io.Writer, r *load.Repo) {
	if r.Neutral {
		fmt.Fprintln(w, "obsctl: no obsctl.yaml here or above: neutral defaults apply, not the embedded repo's policy (add an obsctl.yaml, or give --repo, for yours)")
	}
	for _, p := range r.Skipped {
		fmt.Fprintf(w, "obsctl: %s skipped: not a rule file, PrometheusRule, rule test, pipeline, dashboard, obsctl.yaml or Alertmanager configuration\n", p)
	}
}

// lintMemory sets the garbage collector for a lint of rule files of
// inputBytes, and returns what restores it. Lint allocates the YAML and
// PromQL trees of a few files at a time (about 30 bytes a byte of rule
// file, all short-lived) and keeps a summary of every rule and its
// findings. At the default GOGC=100 the collector runs whenever the heap
// doubles: on a small repo, whose live heap is mostly what the program's
// packages built at start-up, it marks that again and again (a quarter of
// the CPU time at 1k rules). Lint collects at five times the live heap
// instead, under a soft limit of what is in the heap already (the repo
// loaded) plus 12 MiB plus a byte a byte of input, which bounds the peak
// of big repos. What lint keeps follows the rules and findings rather
// than the bytes (50k one-line alerts with findings keep ~40 bytes a
// byte): after each collection the limit is raised, when it must be, to
// 1.5 times the live heap plus 12 MiB, so that the collector never runs
// without end. GOGC and GOMEMLIMIT in the environment win.
func lintMemory(inputBytes int64) (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(heap)
	var inHeap int64
	if heap[0].Value.Kind() == metrics.KindUint64 {
		inHeap = int64(heap[0].Value.Uint64())
	}
	g := &gcFloor{}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.prevPercent = debug.SetGCPercent(400)
	g.prevLimit = debug.SetMemoryLimit(inHeap + 12<<20 + inputBytes)
	g.arm()
	return g.restore
}

// gcFloor keeps the soft memory limit lintMemory sets above what the heap
// holds live: it runs after each collection (a finalizer of an object
// made for the purpose, armed again each time).
type gcFloor struct {
	mu          sync.Mutex
	done        bool
	prevPercent int
	prevLimit   int64
}

// gcSentinel is the object whose finalizer runs after a collection. It
// holds a pointer so that it is not batched with other small objects,
// whose finalizers may never run.
type gcSentinel struct{ _ *int }

func (g *gcFloor) arm() {
	runtime.SetFinalizer(&gcSentinel{}, func(*gcSentinel) { g.afterGC() })
}

func (g *gcFloor) afterGC() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done {
		return
	}
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	if live[0].Value.Kind() == metrics.KindUint64 {
		n := int64(live[0].Value.Uint64())
		if want := n + n/2 + 12<<20; want > debug.SetMemoryLimit(-1) {
			debug.SetMemoryLimit(want)
		}
	}
	g.arm()
}

func (g *gcFloor) restore() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.done = true
	debug.SetGCPercent(g.prevPercent)
	debug.SetMemoryLimit(g.prevLimit)
}
