package cli

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/ruletest"
	"github.com/obsctl/obsctl/internal/source"
)

type testOptions struct {
	*globalOptions
	format string
	run    string
}

func newTestCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &testOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "test [PATH...]",
		Short: "Run rule unit tests (promtool's format) on the rules as compiled",
		Long: `Run the rule unit tests of the repo: the *_test.yaml files under its rule
paths, or those PATHs name (files, or folders to search). The tests are in
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

--run REGEX keeps the test groups whose name it matches, and in the others
the checks whose alert name or expression it matches.

Exit codes: 0 every check passed, 1 a test file could not run (a rule file
missing or broken, a mistake in the test file), 2 usage error, 3 a check
failed.`,
		Example: `  obsctl test
  obsctl test rules/node_test.yaml
  obsctl test --run NodeDown --format junit > rule-tests.xml`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTest(cmd.Context(), deps, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.format, "format", "f", "text", "output format: "+strings.Join(ruletest.Formats, ", "))
	f.StringVar(&o.run, "run", "", "run only the test groups, alert names or expressions this regular expression matches")
	return cmd
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
	var files []*source.File
	for _, f := range r.RuleTests {
		if r.Reports(f.Path) {
			files = append(files, f)
		}
	}
	slices.SortFunc(files, func(a, b *source.File) int { return strings.Compare(a.Path, b.Path) })
	if len(files) == 0 {
		if len(paths) > 0 {
			return fmt.Errorf("no rule unit tests in %s", strings.Join(paths, ", "))
		}
		fmt.Fprintln(deps.Stderr, "obsctl: no rule unit tests (*_test.yaml) under the rule paths")
	}
	opts.ExternalLabels = r.Config.Prometheus.ExternalLabels
	opts.Rules = ruletest.RepoRules(r, deps.WorkDir)
	res, err := ruletest.Run(ctx, files, opts)
	if err != nil {
		return err
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
	}
	return nil
}
