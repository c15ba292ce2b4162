package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/routetest"
)

// newRoutesCmd is the group of the routing commands, `routes show` and
// `routes test`; alone it shows the tree, as amtool config routes does.
func newRoutesCmd(deps *Deps, g *globalOptions) *cobra.Command {
	show := newRoutesShowCmd(deps, g)
	cmd := &cobra.Command{
		Use:   "routes",
		Short: "Show the alert routing tree, or the receivers an alert reaches",
		Long: `Show the alert routing compiled from obsctl.yaml's alerting section as
Alertmanager's route tree (routes show, the default), or the receivers an
alert with given labels reaches (routes test), as amtool config routes
does, on the configuration obsctl build writes. Routing test files
(route_tests: in *_test.yaml) are run by obsctl test.`,
		Example: `  obsctl routes
  obsctl routes test severity=page alertname=NodeDown`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %s (want show or test)", args[0], cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRoutesShow(deps, g)
		},
	}
	cmd.AddCommand(show, newRoutesTestCmd(deps, g))
	return cmd
}

// loadRouter reads the repo's obsctl.yaml (only: a rule file with a
// mistake does not keep routing from being shown) and compiles its
// routing. Errors in obsctl.yaml are printed with their positions.
func loadRouter(deps *Deps, g *globalOptions) (*routetest.Router, error) {
	r, err := load.LoadConfig(load.Options{Dir: g.repo, WorkDir: deps.WorkDir})
	if err != nil {
		return nil, err
	}
	if diag.Max(r.Findings) >= diag.Error {
		n := 0
		for _, f := range diag.Sort(r.Findings) {
			if f.Severity >= diag.Error {
				fmt.Fprintln(deps.Stderr, f.String())
				n++
			}
		}
		return nil, fmt.Errorf("%s: %s: the alert routing cannot be compiled", r.ConfigFile.Path, plural(n, "error"))
	}
	router, err := routetest.Compile(r.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (obsctl lint says where)", r.ConfigFile.Path, err)
	}
	return router, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

type routesShowOptions struct {
	*globalOptions
}

func newRoutesShowCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &routesShowOptions{globalOptions: g}
	return &cobra.Command{
		Use:   "show",
		Short: "Print the alert routing tree",
		Long: `Print the routing tree compiled from obsctl.yaml as amtool config routes
show does: each route's matchers (default-route for the root), continue
when set, its receiver, and the group_by and timers it sets itself (the
others it inherits from its parent).

Exit codes: 0 printed, 1 obsctl.yaml has errors or declares no routing,
2 usage error.`,
		Example: `  obsctl routes show
  obsctl routes show --repo path/to/repo`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRoutesShow(deps, o.globalOptions)
		},
	}
}

func runRoutesShow(deps *Deps, g *globalOptions) error {
	router, err := loadRouter(deps, g)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(deps.Stdout, router.Tree())
	return err
}

// joinReceivers writes receivers as amtool does: comma-separated.
func joinReceivers(rs []string) string { return strings.Join(rs, ",") }
