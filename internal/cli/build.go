package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/obsctl/obsctl/internal/compile"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/lint"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/promrule"
)

type buildOptions struct {
	*globalOptions
	out string
}

// buildDirs are the folders build owns inside the output folder; they are
// replaced whole on each build so that no stale file survives.
var buildDirs = []string{"prometheus", "prometheusrules", "alertmanager"}

func newBuildCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &buildOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Compile rules and alert routing into Prometheus and Alertmanager files",
		Long: `Compile the observability repo into files Prometheus and Alertmanager load:

  prometheus/rules/<set>.yaml     one Prometheus rule file per rule file or PrometheusRule
  prometheusrules/<set>.yaml      the same rules as PrometheusRule objects; a set over the
                                  512 KiB the Prometheus Operator takes in one object is
                                  split between groups: <set>-2.yaml, <set>-3.yaml...
  alertmanager/alertmanager.yaml  the routing, receivers and inhibition of obsctl.yaml
                                  (left out when obsctl.yaml declares no routing)

The output is byte-stable: the same repo always gives the same bytes. Build
lints first and writes nothing when lint finds errors. Receiver secrets are
never written: the config refers to files where Alertmanager mounts them.`,
		Example: "  obsctl build\n  obsctl build -o /tmp/out && promtool check rules /tmp/out/prometheus/rules/*.yaml",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBuild(deps, o)
		},
	}
	cmd.Flags().StringVarP(&o.out, "output", "o", "out", "output folder")
	return cmd
}

func runBuild(deps *Deps, o *buildOptions) error {
	_, c, err := loadCompiled(deps, o.globalOptions, "build")
	if err != nil {
		return err
	}
	outputs, err := c.Outputs()
	if err != nil {
		return err
	}
	dir := o.out
	if !filepath.IsAbs(dir) && deps.WorkDir != "" {
		dir = filepath.Join(deps.WorkDir, dir)
	}
	if err := writeOutputs(dir, outputs); err != nil {
		return err
	}
	fmt.Fprintf(deps.Stdout, "wrote %d files to %s\n", len(outputs), o.out)
	return nil
}

// loadCompiled runs the stages before render: it loads the repo, compiles
// it and lints it, the checks reusing the compiled routing. Findings at
// error or above are printed on stderr and stop the command (what says
// which) with exit code 3, so that nothing is built from a repo lint
// rejects. A repo whose files do not even load is linted before it is
// compiled: lint says where the problems are, which compile cannot.
func loadCompiled(deps *Deps, g *globalOptions, what string) (*load.Repo, *compile.Compiled, error) {
	r, err := load.Load(load.Options{Dir: g.repo, WorkDir: deps.WorkDir})
	if err != nil {
		return nil, nil, err
	}
	l, err := lint.New(lint.Options{Enable: r.Config.Lint.Enable, Disable: r.Config.Lint.Disable})
	if err != nil {
		return nil, nil, err
	}
	var c *compile.Compiled
	var compileErr error
	if diag.Max(r.Findings) < diag.Error {
		c, compileErr = compile.Compile(r)
	}
	findings := l.RunCompiled(r, c)
	if diag.Max(findings) >= diag.Error {
		var bad []diag.Finding
		for _, f := range findings {
			if f.Severity >= diag.Error {
				bad = append(bad, f)
			}
		}
		if err := writeReport(deps.Stderr, "text", r, l, bad, false); err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(deps.Stderr, "obsctl: %s stopped: fix the errors above first\n", what)
		return nil, nil, findingsError{n: len(bad)}
	}
	if c == nil && compileErr == nil {
		// Load findings lint was told to ignore: compile after all.
		c, compileErr = compile.Compile(r)
	}
	if compileErr != nil {
		return nil, nil, compileErr
	}
	return r, c, nil
}

// writeOutputs writes outputs under dir, replacing the folders build owns
// in one step each, so that an interrupted build never leaves a mix of old
// and new files and no stale file survives.
func writeOutputs(dir string, outputs []promrule.Output) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".obsctl-build-")
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, o := range outputs {
		p := filepath.Join(tmp, filepath.FromSlash(o.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("build: %w", err)
		}
		if err := os.WriteFile(p, o.Data, 0o644); err != nil {
			return fmt.Errorf("build: %w", err)
		}
	}
	for _, d := range buildDirs {
		final := filepath.Join(dir, d)
		if err := os.RemoveAll(final); err != nil {
			return fmt.Errorf("build: %w", err)
		}
		if _, err := os.Stat(filepath.Join(tmp, d)); err != nil {
			continue
		}
		if err := os.Rename(filepath.Join(tmp, d), final); err != nil {
			return fmt.Errorf("build: %w", err)
		}
	}
	return nil
}
