package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/grafana-tools/sdk"
	"github.com/spf13/cobra"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/source"
)

func newDashboardsCmd(deps *Deps, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dashboards",
		Short: "Work with the repo's dashboards in a Grafana",
		Args:  noArgs,
	}
	cmd.AddCommand(newDashboardsPullCmd(deps, g))
	return cmd
}

type pullOptions struct {
	*globalOptions
	url, output string
	timeout     time.Duration
}

func newDashboardsPullCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &pullOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "pull UID",
		Short: "Fetch a dashboard edited in Grafana's UI, as the repo's file",
		Long: `Fetch the dashboard of uid UID from a Grafana, as it was edited in its UI,
and write it as the repo's file, so that the diff in git is only what was
changed there: Grafana's own fields (id, version, iteration) are dropped,
and against the repo's file of that dashboard (-o FILE when it exists,
else the repo's dashboard of that uid) keys keep the file's order, values
Grafana holds resolved are written as the file wrote them (its ${DS_...}
placeholders), its schemaVersion, __inputs and __requires stay, and its
indentation is kept.

Grafana is reached at --grafana-url, or grafana.url in obsctl.yaml, with a
service account's token in OBSCTL_GRAFANA_TOKEN (else grafana.token, when it
names an environment variable), or a user and password in
OBSCTL_GRAFANA_USERNAME and OBSCTL_GRAFANA_PASSWORD.

Exit codes: 0 written, 1 Grafana could not be read, 2 usage error.`,
		Example: `  obsctl dashboards pull nodes --grafana-url https://grafana.example.com -o dashboards/nodes.json
  obsctl dashboards pull nodes > /tmp/nodes.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("%s takes one argument, the dashboard's uid, got %q", cmd.CommandPath(), args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDashboardsPull(cmd.Context(), deps, o, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.url, "grafana-url", "", "Grafana URL (default: grafana.url of obsctl.yaml)")
	f.StringVarP(&o.output, "output", "o", "", "file to write (default: standard output); when it exists, the base of the normalisation")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "how long to wait for Grafana")
	return cmd
}

func runDashboardsPull(ctx context.Context, deps *Deps, o *pullOptions, uid string) error {
	r, err := load.Load(load.Options{Dir: o.repo, WorkDir: deps.WorkDir})
	if err != nil {
		return err
	}
	url := o.url
	if url == "" && r.Config != nil {
		url = r.Config.Grafana.URL
	}
	switch {
	case url == "":
		return usagef("give Grafana's URL with --grafana-url, or grafana.url in obsctl.yaml")
	case config.CheckGrafanaURL(url) != "":
		return usagef("--grafana-url: %s", config.CheckGrafanaURL(url))
	case o.timeout <= 0:
		return usagef("--timeout must be positive")
	}
	auth, err := grafanaAuth(ctx, deps, r.Config, nil, "")
	if err != nil {
		return err
	}
	// The base: the file -o names, else the repo's dashboard of that uid.
	var base *source.File
	out := o.output
	if out != "" {
		out = deps.path(out)
	}
	if out != "" {
		if src, err := os.ReadFile(out); err == nil {
			base = source.NewFile(o.output, src)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	} else {
		for _, d := range r.Dashboards {
			if dashboardUID(d.Src) == uid {
				base = d
				break
			}
		}
	}

	client, err := sdk.NewClient(url, auth, &http.Client{Timeout: o.timeout})
	if err != nil {
		return usagef("--grafana-url: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	raw, _, err := client.GetRawDashboardByUID(ctx, uid)
	if err != nil {
		switch status := dashboard.Status(err); status {
		case 0:
			return fmt.Errorf("cannot reach grafana at %s: %v", url, err)
		case 401:
			return fmt.Errorf("grafana at %s refused the credentials (401): set OBSCTL_GRAFANA_TOKEN to a service account's token, or OBSCTL_GRAFANA_USERNAME and OBSCTL_GRAFANA_PASSWORD", url)
		case 403:
			return fmt.Errorf("grafana at %s does not let these credentials read dashboard %q (403)", url, uid)
		case 404:
			return fmt.Errorf("grafana at %s has no dashboard of uid %q (404)", url, uid)
		default:
			return fmt.Errorf("grafana at %s answered %d for dashboard %q", url, status, uid)
		}
	}
	var repoSrc []byte
	if base != nil {
		repoSrc = base.Src
	}
	data, err := dashboard.Normalize(raw, repoSrc, dashboard.ConfigUIDOf(r.Config))
	if err != nil {
		return fmt.Errorf("dashboard %q: %w", uid, err)
	}
	if out == "" {
		_, err := deps.Stdout.Write(data)
		return err
	}
	if err := replaceFile(out, data); err != nil {
		return err
	}
	what := "written"
	if base != nil {
		what = "updated"
	}
	fmt.Fprintf(deps.Stderr, "obsctl: dashboard %q %s: %s\n", uid, what, o.output)
	return nil
}

// dashboardUID returns a dashboard file's uid, or "".
func dashboardUID(src []byte) string {
	var d struct {
		UID string `json:"uid"`
	}
	_ = json.Unmarshal(src, &d)
	return d.UID
}
