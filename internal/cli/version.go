package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/obsctl/obsctl/internal/version"
)

type versionOptions struct {
	output string
}

func newVersionCmd(deps *Deps) *cobra.Command {
	o := &versionOptions{}
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print the obsctl version",
		Example: "  obsctl version\n  obsctl version -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVersion(deps, o)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runVersion(deps *Deps, o *versionOptions) error {
	info := version.Get()
	switch o.output {
	case "text":
		fmt.Fprintf(deps.Stdout, "obsctl %s", info.Version)
		if info.Commit != "" {
			fmt.Fprintf(deps.Stdout, " (%s)", info.Commit)
		}
		fmt.Fprintf(deps.Stdout, " %s %s\n", info.GoVersion, info.Platform)
	case "json":
		enc := json.NewEncoder(deps.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	default:
		return usagef("unknown output format %q (want text or json)", o.output)
	}
	return nil
}
