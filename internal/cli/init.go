package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/obsctl/obsctl/internal/scaffold"
	"github.com/obsctl/obsctl/internal/version"
)

// releaseVersion is a version go install can fetch: a release tag, not a
// git describe of a commit after one (v1.2.0-3-gabc1234), a dirty tree or
// a build's metadata.
var releaseVersion = regexp.MustCompile(`^v\d+\.\d+\.\d+(-(rc|beta|alpha)\.?\d+)?$`)

type initOptions struct {
	name, namespace string
}

func newInitCmd(deps *Deps) *cobra.Command {
	o := &initOptions{}
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Write a new observability repo that lints, tests and applies clean",
		Long: `Write a new observability repo into DIR (default: the current folder; made
when missing): obsctl.yaml with comments, one example each of a rule file
with its unit tests (rules/example.yaml, rules/example_test.yaml), a
PrometheusRule object, a routing test (rules/routing_test.yaml), a Grafana
dashboard (dashboards/example.json) and a log pipeline
(pipelines/everything.yaml), a GitHub Actions workflow and a GitLab CI job
that run obsctl lint and obsctl test, and a .gitignore.

The stack is named --name (default: DIR's name, made a DNS label); the
examples live in --namespace (default: the stack's). The alerts go to a
Slack channel whose webhook URL obsctl apply reads from SLACK_WEBHOOK_URL.

init overwrites nothing: when any of those files exists, it writes none and
says which.

Exit codes: 0 written, 1 a file exists (or cannot be written), 2 usage error.`,
		Example: `  obsctl init observability && cd observability && obsctl lint && obsctl test
  obsctl init --name payments --namespace payments`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			return runInit(deps, o, dir)
		},
	}
	cmd.Flags().StringVar(&o.name, "name", "", "the stack's name (default: the folder's name)")
	cmd.Flags().StringVar(&o.namespace, "namespace", "", "the namespace of the examples' objects and alerts (default: the stack's name)")
	return cmd
}

func runInit(deps *Deps, o *initOptions, dir string) error {
	abs, err := filepath.Abs(deps.path(dir))
	if err != nil {
		return err
	}
	name := o.name
	if name == "" {
		if name = scaffold.NameOf(filepath.Base(abs)); name == "" {
			return usagef("cannot make a stack name of the folder %q: give one with --name", filepath.Base(abs))
		}
	}
	if why := scaffold.CheckName(name); why != "" {
		return usagef("--name: %s", why)
	}
	ns := o.namespace
	if ns == "" {
		ns = name
	}
	if why := scaffold.CheckName(ns); why != "" {
		return usagef("--namespace: %s", strings.Replace(why, "stack name", "namespace", 1))
	}
	v := version.Get().Version
	if !releaseVersion.MatchString(v) {
		v = "latest" // a build of no release: go install could not fetch it
	}
	paths, err := scaffold.Write(deps.path(dir), scaffold.Options{Name: name, Namespace: ns, Version: v})
	var ee *scaffold.ExistsError
	if errors.As(err, &ee) {
		ee.Dir = dir
		return err
	}
	if err != nil {
		return err
	}
	for _, p := range paths {
		fmt.Fprintf(deps.Stdout, "created %s\n", filepath.Join(dir, filepath.FromSlash(p)))
	}
	next := "obsctl lint && obsctl test"
	if dir != "." {
		next = "cd " + dir + " && " + next
	}
	fmt.Fprintf(deps.Stderr, "obsctl: repo of stack %s written; next: %s\n", name, next)
	return nil
}
