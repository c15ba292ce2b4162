package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/obsctl/obsctl/internal/routetest"
)

type routesTestOptions struct {
	*globalOptions
	verify string
	tree   bool
}

func newRoutesTestCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &routesTestOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "test [--tree] [--verify.receivers=R1,R2] [LABEL=VALUE...]",
		Short: "Print the receivers an alert with the given labels reaches",
		Long: `Print the receivers an alert with the given labels reaches, in routing
order and comma-separated (routes with continue: true let an alert reach
several), as amtool config routes test does: with Alertmanager's own route
matching, on the routing compiled from obsctl.yaml. The labels are those
the alert reaches Alertmanager with: Prometheus' external labels are not
added. --tree prints the routes the alert passes through first.

For many cases at once, write a routing test file (route_tests: in a
*_test.yaml under the rule paths) and run obsctl test.

Exit codes: 0 printed (and --verify.receivers matched), 1 obsctl.yaml has
errors or declares no routing, 2 usage error, 3 the receivers differ from
--verify.receivers.`,
		Example: `  obsctl routes test alertname=NodeDown severity=page
  obsctl routes test --tree severity=warning namespace=db
  obsctl routes test --verify.receivers=oncall-pager severity=page`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRoutesTest(deps, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.verify, "verify.receivers", "", "fail (exit 3) unless the alert reaches exactly these receivers, comma-separated, in order")
	f.BoolVar(&o.tree, "tree", false, "print the routes the alert passes through")
	return cmd
}

func runRoutesTest(deps *Deps, o *routesTestOptions, args []string) error {
	ls, err := routetest.ParseLabels(args)
	if err != nil {
		return usagef("%v", err)
	}
	router, err := loadRouter(deps, o.globalOptions)
	if err != nil {
		return err
	}
	if o.tree {
		fmt.Fprintln(deps.Stdout, router.MatchingTree(ls))
	}
	got := joinReceivers(router.Receivers(ls))
	fmt.Fprintln(deps.Stdout, got)
	if o.verify != "" && o.verify != got {
		fmt.Fprintf(deps.Stderr, "obsctl: the alert reaches %s; --verify.receivers expected %s\n", got, o.verify)
		return findingsError{n: 1}
	}
	return nil
}
