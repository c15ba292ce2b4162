package cli

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/routetest"
	"github.com/obsctl/obsctl/internal/ruletest"
	"github.com/obsctl/obsctl/internal/source"
)

type testOptions struct {
	*globalOptions
	format   string
	run      string
	coverage bool
}

func newTestCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &testOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "test [PATH...]",
		Short: "Run rule unit tests (promtool's format) and routing tests on what obsctl compiles",
		Long: `Run the rule unit tests of the repo: the *_test.yaml files under its rule
paths and its tests.paths (and the files tests.paths names), or those
PATHs name (files, or folders to search). The tests are in
the format of promtool test rules: rule_files, evaluation_interval,
group_eval_order, fuzzy_compare, and tests with interval, input_series in
the expanding notation (1+2x3, _, stale), external_labels, external_url,
start_timestamp, alert_rule_test and promql_expr_test.

rule_files are resolved relative to the test file, inside the repo, and
may name plain rule files and PrometheusRule objects, or globs of them. The
tests see the rules as obsctl compiles them (group labels on each rule)
with the stack's prometheus.externalLabels in $externalLabels; a test
group's external_labels win over them. They are evaluated by Prometheus'
own rule manager and PromQL engine, as promtool does.

Unlike promtool, an alert_rule_test for an alert name no rule file has
fails, and group_eval_order may name only groups the rule files have.

Routing tests are *_test.yaml files with route_tests: instead: each case
an alert's labels, the receivers it should reach in order (continue
included), and optionally other firing alerts and whether they inhibit
it. They run on the routing compiled from obsctl.yaml, with Alertmanager's
own route matching and inhibition rules:

  route_tests:
    - name: pages go to the pager
      labels: {alertname: NodeDown, severity: page}
      receivers: [oncall-pager]
    - name: a critical alert silences its warning
      labels: {alertname: DiskFull, severity: warning, namespace: db}
      firing: [{alertname: DiskFull, severity: critical, namespace: db}]
      inhibited: true

The report then lists the routes no case reaches.

--run REGEX keeps the test groups whose name it matches, and in the others
the checks whose alert name or expression it matches, and the routing
cases whose name it matches.

--coverage lists what the tests do not prove: the alerts no passing test
makes fire with their severity and every annotation asserted, or shows
silent at a time its input matches every selector of the expression (an
expression that reads no series, such as vector(1), needs no silent
test), and the recording rules no passing test reads (an expression
test, or a covered alert, through other recording rules too). With
tests.requireCoverage in obsctl.yaml, a run of all the tests lists the
gaps and exits 3 when there are any.

--format junit writes a test suite per test file and a test case per
alert or expression check or routing case; with coverage, a suite of a
test case per alert and recording rule (a gap is a failure when the repo
requires coverage, and skipped when it does not), and when routing tests
ran, a suite of the routes (one no case reaches is skipped).

Exit codes: 0 every check passed, 1 a test file could not run (a rule file
missing or broken, a mistake in the test file, routing that does not
compile), 2 usage error, 3 a check failed (or a rule is not covered, when
the repo requires coverage).`,
		Example: `  obsctl test
  obsctl test rules/node_test.yaml
  obsctl test --run NodeDown --format junit > rule-tests.xml
  obsctl test --coverage`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTest(cmd.Context(), deps, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.format, "format", "f", "text", "output format: "+strings.Join(ruletest.Formats, ", "))
	f.StringVar(&o.run, "run", "", "run only the test groups, alert names or expressions this regular expression matches")
	f.BoolVar(&o.coverage, "coverage", false, "list the alerts and recording rules the tests do not cover")
	return cmd
}

// testRouter compiles the repo's routing for its routing tests; the
// error says why it cannot be, and each routing test file then cannot run.
func testRouter(r *load.Repo) (*routetest.Router, error) {
	if r.ConfigFile != nil {
		for _, f := range r.Findings {
			if f.File == r.ConfigFile.Path && f.Severity >= diag.Error {
				return nil, fmt.Errorf("%s has errors (obsctl lint says where), the first at %s: %s", r.ConfigFile.Path, f.Span, f.Message)
			}
		}
	}
	return routetest.Compile(r.Config)
}

func runTest(ctx context.Context, deps *Deps, o *testOptions, paths []string) error {
	if !slices.Contains(ruletest.Formats, o.format) {
		return usagef("unknown format %q (want %s)", o.format, strings.Join(ruletest.Formats, ", "))
	}
	opts := ruletest.Options{}
	if o.run != "" {
		re, err := regexp.Compile(o.run)
		if err != nil {
			return usagef("--run: %v", err)
		}
		opts.Run = re
	}
	r, err := load.Load(load.Options{Dir: o.repo, Paths: paths, WorkDir: deps.WorkDir})
	if err != nil {
		return err
	}
	for _, p := range r.Skipped {
		fmt.Fprintf(deps.Stderr, "obsctl: %s skipped: not a rule unit test\n", p)
	}
	var files, routeFiles []*source.File
	for _, f := range r.RuleTests {
		switch {
		case !r.Reports(f.Path):
		case routetest.IsRouteTest(f.Src):
			routeFiles = append(routeFiles, f)
		default:
			files = append(files, f)
		}
	}
	for i, f := range r.SLOTests {
		// An SLO's generated tests run with the tests when its spec is
		// among the files given, or none are.
		if r.Reports(r.SLOs[i].File.Path) {
			files = append(files, f)
		}
	}
	slices.SortFunc(files, func(a, b *source.File) int { return strings.Compare(a.Path, b.Path) })
	slices.SortFunc(routeFiles, func(a, b *source.File) int { return strings.Compare(a.Path, b.Path) })
	if len(files)+len(routeFiles) == 0 {
		if len(paths) > 0 {
			return fmt.Errorf("no rule unit tests or routing tests in %s", strings.Join(paths, ", "))
		}
		fmt.Fprintln(deps.Stderr, "obsctl: no rule unit tests or routing tests (*_test.yaml) under the rule paths or tests.paths")
	}
	opts.ExternalLabels = r.Config.Prometheus.ExternalLabels
	opts.Rules = ruletest.RepoRules(r, deps.WorkDir)
	// A run of some tests only (PATHs, --run) cannot prove the repo
	// covered: it reports on the rule files its tests load, and the
	// requirement holds for whole runs.
	partial := len(paths) > 0 || o.run != ""
	require := r.Config.Tests.RequireCoverage && !partial
	opts.Coverage = o.coverage || require
	res, err := ruletest.Run(ctx, files, opts)
	if err != nil {
		return err
	}
	if opts.Coverage {
		cov := res.CoverageOf(r.RuleFiles, partial)
		if o.coverage || !cov.Covered() {
			res.Coverage, res.RequireCoverage = cov, require
		}
	}
	if len(routeFiles) > 0 {
		router, err := testRouter(r)
		routetest.Run(res, routeFiles, router, err, routetest.Options{Run: opts.Run})
		slices.SortStableFunc(res.Files, func(a, b *ruletest.FileResult) int { return strings.Compare(a.Path, b.Path) })
	}
	if err := ruletest.Write(deps.Stdout, o.format, res); err != nil {
		return err
	}
	_, failed, broken := res.Counts()
	switch {
	case broken > 0:
		return silentError{code: ExitFailure}
	case failed > 0:
		return findingsError{n: failed}
	case res.CoverageFailed():
		return findingsError{n: res.Coverage.Gaps()}
	}
	return nil
}
