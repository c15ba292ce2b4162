package cli

import (
	"github.com/spf13/cobra"
)

func newCompletionCmd(deps *Deps) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Print a completion script for bash, zsh or fish. It completes commands and
flags, and the values of flags that have known ones: output formats,
profiles, severities, check names (--enable, --disable, --explain),
--dry-run, --conflicts, --prune-protected, kubeconfig contexts (--context),
and rollback's revisions, read from the cluster (at most 3 seconds).

  bash: needs the bash-completion package, version 2 (bash 4.1 or later;
        on macOS, brew install bash-completion@2), then
        source <(obsctl completion bash)
  zsh:  obsctl completion zsh > "${fpath[1]}/_obsctl"
        (with compinit run in ~/.zshrc)
  fish: obsctl completion fish | source`,
		Example:   "  obsctl completion bash > /etc/bash_completion.d/obsctl",
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("completion takes one shell: bash, zsh or fish")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(deps.Stdout, true)
			case "zsh":
				return root.GenZshCompletion(deps.Stdout)
			case "fish":
				return root.GenFishCompletion(deps.Stdout, true)
			}
			return usagef("unknown shell %q (want bash, zsh or fish)", args[0])
		},
	}
}
