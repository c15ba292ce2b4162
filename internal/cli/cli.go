package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/lock"
	"github.com/obsctl/obsctl/internal/release"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitFailure  = 1
	ExitUsage    = 2
	ExitFindings = 3
	// ExitNotReady: objects did not become ready within --timeout, or
	// --timeout ran out before the run was done.
	ExitNotReady = 4
	// ExitLocked: another run holds the stack's lock and --wait-lock=false.
	ExitLocked = 5
	// ExitDiffFailed: `obsctl diff` could not run; its exit code 1 means
	// "changes found", as kubectl diff users expect.
	ExitDiffFailed = 6
	// ExitConfirm: a destructive change (a mass prune, a replace, a
	// profile downgrade, lost volumes) or a change of the stack's profile
	// was not confirmed: nothing changed; --yes (or --profile) says so.
	ExitConfirm = 7
)

// Deps are what commands take from the outside world, so that tests can
// pass buffers and a working directory of their own.
type Deps struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// WorkDir is the working directory; "" means the process's.
	WorkDir string
	// Getenv reads the environment.
	Getenv func(string) string
	// Environ lists the environment as KEY=value, for settings known by a
	// prefix (Argo CD's ARGOCD_ENV_); nil reads as an empty one.
	Environ func() []string
	// IsTerminal reports whether w is an interactive terminal.
	IsTerminal func(w io.Writer) bool
	// StdinIsTerminal reports whether Stdin is one, so that apply may
	// ask before a destructive change.
	StdinIsTerminal func() bool
}

// OSDeps returns the real process streams and environment.
func OSDeps() Deps {
	return Deps{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Getenv: os.Getenv, Environ: os.Environ,
		IsTerminal: func(w io.Writer) bool {
			f, ok := w.(*os.File)
			return ok && term.IsTerminal(int(f.Fd()))
		},
		StdinIsTerminal: func() bool { return term.IsTerminal(int(os.Stdin.Fd())) },
	}
}

func (d *Deps) fill() {
	if d.Stdin == nil {
		d.Stdin = strings.NewReader("")
	}
	if d.Stdout == nil {
		d.Stdout = io.Discard
	}
	if d.Stderr == nil {
		d.Stderr = io.Discard
	}
	if d.Getenv == nil {
		d.Getenv = func(string) string { return "" }
	}
	if d.IsTerminal == nil {
		d.IsTerminal = func(io.Writer) bool { return false }
	}
	if d.StdinIsTerminal == nil {
		d.StdinIsTerminal = func() bool { return false }
	}
}

// globalOptions are the flags every command has.
type globalOptions struct {
	repo string
}

// Run executes obsctl with args and returns the exit code.
func Run(ctx context.Context, args []string, deps Deps) int {
	// obsctl writes no memory profile: sampling allocations for one costs
	// CPU and keeps every sampled call stack (lint: ~5% of the CPU time,
	// 1.5 MB).
	runtime.MemProfileRate = 0
	deps.fill()
	// client-go's klog writes to the process's stderr; see quietKlog.
	quietKlog()
	root := newRoot(&deps)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return exitCode(err, deps.Stderr)
}

// usageError marks a mistake in how obsctl was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// findingsError reports that lint or test found problems at or above
// --fail-on; the findings themselves were already printed.
type findingsError struct{ n int }

func (e findingsError) Error() string { return fmt.Sprintf("%d findings at or above --fail-on", e.n) }

// silentError carries an exit code for an outcome already explained on
// the output (such as `diff` finding changes).
type silentError struct{ code int }

func (e silentError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	var fe findingsError
	var se silentError
	var ue usageError
	var de *diffError
	var held *lock.HeldError
	var nr *apply.NotReadyError
	var te *release.TimeoutError
	var ns *notReadyStatus
	var ce *release.ConfirmError
	var pe *release.ProfileError
	var re *release.RepoError
	switch {
	case errors.As(err, &fe):
		return ExitFindings
	case errors.As(err, &se):
		return se.code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "obsctl: %v\nRun 'obsctl --help' for usage.\n", err)
		return ExitUsage
	case errors.As(err, &de):
		// Checked before the interrupt: for diff, 1 means "changes".
		fmt.Fprintf(stderr, "obsctl: %v\n", err)
		return ExitDiffFailed
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "obsctl: interrupted")
		return ExitFailure
	case errors.As(err, &held):
		fmt.Fprintf(stderr, "obsctl: %v\n", err)
		return ExitLocked
	case errors.As(err, &ce), errors.As(err, &pe):
		fmt.Fprintf(stderr, "obsctl: %v\n", err)
		return ExitConfirm
	case errors.As(err, &re):
		fmt.Fprintf(stderr, "obsctl: %v\n", err)
		return ExitUsage
	case errors.As(err, &nr), errors.As(err, &te), errors.As(err, &ns):
		fmt.Fprintf(stderr, "obsctl: %v\n", err)
		return ExitNotReady
	}
	fmt.Fprintf(stderr, "obsctl: %v\n", err)
	return ExitFailure
}

// noArgs and maxArgs validate arguments so that mistakes are usage errors.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}

func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usagef("%s takes at most %d argument(s), got %q", cmd.CommandPath(), n, args)
		}
		return nil
	}
}

func newRoot(deps *Deps) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "obsctl",
		Short: "Keep cluster observability in git: lint, test, build and apply it",
		Long: `obsctl compiles, lints, tests and applies an observability repo: obsctl.yaml
(the stack and alert routing), rules/ (Prometheus alerting and recording rules),
dashboards/ and pipelines/.

Without --repo, obsctl uses the nearest folder holding an obsctl.yaml, from
the current one up (as git finds its repository), and otherwise the embedded
default repo. It never stands up the embedded default's stack where another
stack or another repo's release of it is.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %q?)", s[0])
			}
			return usagef("%s", msg)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	root.SetIn(deps.Stdin)
	root.SetOut(deps.Stdout)
	root.SetErr(deps.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&g.repo, "repo", "", "observability repo folder (default: the nearest folder with an obsctl.yaml, from the current one up, else the embedded default)")
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		newInitCmd(deps),
		newLintCmd(deps, g),
		newTestCmd(deps, g),
		newRoutesCmd(deps, g),
		newBuildCmd(deps, g),
		newRenderCmd(deps, g),
		newVersionCmd(deps),
		newCompletionCmd(deps),
		newApplyCmd(deps, g),
		newDiffCmd(deps, g),
		newHistoryCmd(deps, g),
		newRollbackCmd(deps, g),
		newStatusCmd(deps, g),
		newLogsCmd(deps, g),
		newDashboardsCmd(deps, g),
		newRBACCmd(deps, g),
		newSecretsCmd(deps, g),
	)
	for _, c := range root.Commands() {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	}
	registerCompletions(root, deps)
	return root
}
