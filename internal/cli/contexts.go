package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"k8s.io/client-go/tools/clientcmd"
)

// A fleet: apply, diff and status run against several kubeconfig contexts
// in one run (--context a --context b, or --all-contexts), a few at a time
// (--parallel). Each context's run is the command's own, its output kept
// and printed whole once it is done, under a line naming the context; a
// table (or one JSON report) with a line per context follows, and the exit
// code is the most severe of theirs by the command's precedence.

// Exit-code precedence, most severe first: the code of a fleet run is the
// first of these that a context's run exited with (0 when all did).
var (
	// apply: a failure anywhere, then a usage error (a cluster that
	// refused the repo), then lint's findings, then what was not
	// confirmed, then a held lock, then what did not become ready.
	applyPrecedence = []int{ExitFailure, ExitUsage, ExitFindings, ExitConfirm, ExitLocked, ExitNotReady}
	// diff: a diff that could not run, then a usage error, then lint's
	// findings, then changes.
	diffPrecedence = []int{ExitDiffFailed, ExitUsage, ExitFindings, ExitFailure}
	// status: a cluster that could not be read, then one not ready.
	statusPrecedence = []int{ExitFailure, ExitUsage, ExitNotReady}
)

// defaultParallel is how many contexts run at once.
const defaultParallel = 4

// contextNames returns the contexts the flags name: --all-contexts (every
// context of the kubeconfig, sorted), else the --context flags in their
// order, without repeats. One or none is a run like any other.
func (c *clusterOptions) contextNames(deps *Deps) ([]string, error) {
	if c.allContexts {
		if len(c.contexts) > 0 {
			return nil, usagef("--all-contexts and --context contradict each other")
		}
		names, err := kubeconfigContexts(deps, c.kubeconfig)
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, usagef("--all-contexts: the kubeconfig has no context")
		}
		return names, nil
	}
	var out []string
	for _, n := range c.contexts {
		if n == "" {
			return nil, usagef("--context: give a context's name")
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// single checks the flags name one context at most, and sets it as the
// run's: a fleet has been split into runs of one context by then, and the
// other commands read one cluster.
func (c *clusterOptions) single(deps *Deps) error {
	names, err := c.contextNames(deps)
	if err != nil {
		return err
	}
	if len(names) > 1 {
		return usagef("this command reads one cluster: give one --context (apply, diff and status take several)")
	}
	if len(names) == 1 {
		c.context = names[0]
	}
	return nil
}

// kubeconfigContexts returns the contexts of the kubeconfig obsctl reads
// (explicit, else $KUBECONFIG, else ~/.kube/config), sorted.
func kubeconfigContexts(deps *Deps, explicit string) ([]string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if env := deps.Getenv("KUBECONFIG"); env != "" {
		rules.Precedence = strings.Split(env, ":")
	}
	rules.ExplicitPath = explicit
	cfg, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("read the kubeconfig: %w", err)
	}
	var out []string
	for name := range cfg.Contexts {
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// contextRun is one context's run of a fleet.
type contextRun struct {
	name           string
	code           int
	stdout, stderr bytes.Buffer
	took           time.Duration
}

// result is the run's outcome in a few words: ok, or the last message it
// gave on standard error.
func (r *contextRun) result() string {
	lines := strings.Split(strings.TrimSpace(r.stderr.String()), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if msg, ok := strings.CutPrefix(lines[i], "obsctl: "); ok && !strings.HasPrefix(msg, "Run 'obsctl") {
			return msg
		}
	}
	if r.code == ExitOK {
		return "ok"
	}
	return fmt.Sprintf("exit %d", r.code)
}

// runContexts runs run once per context, parallel at a time, each with
// output of its own, then prints them in the contexts' order and the
// report, and returns the exit code by precedence as a silentError (or
// nil when every run exited 0).
func runContexts(ctx context.Context, deps *Deps, names []string, output string, parallel int, verbose bool, precedence []int, run func(ctx context.Context, deps *Deps, context string) error) error {
	if parallel < 1 {
		return usagef("--parallel must be at least 1, got %d", parallel)
	}
	// client-go's log (-v) is the process's, not a context's: it goes to
	// standard error once, its lines whole, rather than into whichever
	// context's buffer connected last.
	if verbose {
		kubeLogTo(&lockedWriter{w: deps.Stderr})
	}
	runs := make([]*contextRun, len(names))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, name := range names {
		r := &contextRun{name: name}
		runs[i] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fmt.Fprintf(deps.Stderr, "obsctl: context %s: started\n", name)
			start := time.Now()
			d := Deps{Stdout: &r.stdout, Stderr: &r.stderr, WorkDir: deps.WorkDir, Getenv: deps.Getenv}
			d.fill()
			r.code = exitCode(run(ctx, &d, name), &r.stderr)
			r.took = time.Since(start)
			fmt.Fprintf(deps.Stderr, "obsctl: context %s: done, exit %d in %s\n", name, r.code, r.took.Round(10*time.Millisecond))
		}()
	}
	wg.Wait()

	code := ExitOK
	for _, c := range slices.Backward(precedence) {
		if slices.ContainsFunc(runs, func(r *contextRun) bool { return r.code == c }) {
			code = c
		}
	}
	if code == ExitOK && slices.ContainsFunc(runs, func(r *contextRun) bool { return r.code != ExitOK }) {
		code = ExitFailure // an exit code the precedence does not list
	}

	if output == "json" {
		type entry struct {
			Context string          `json:"context"`
			Exit    int             `json:"exit"`
			Result  string          `json:"result"`
			Seconds float64         `json:"seconds"`
			Report  json.RawMessage `json:"report,omitempty"`
			Stderr  string          `json:"stderr,omitempty"`
		}
		rep := struct {
			Exit     int     `json:"exit"`
			Contexts []entry `json:"contexts"`
		}{Exit: code}
		for _, r := range runs {
			e := entry{Context: r.name, Exit: r.code, Result: r.result(), Seconds: r.took.Seconds(), Stderr: r.stderr.String()}
			if out := bytes.TrimSpace(r.stdout.Bytes()); json.Valid(out) {
				e.Report = out
			}
			rep.Contexts = append(rep.Contexts, e)
		}
		enc := json.NewEncoder(deps.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		for _, r := range runs {
			fmt.Fprintf(deps.Stdout, "==> context %s\n", r.name)
			_, _ = deps.Stdout.Write(r.stdout.Bytes())
			if r.stderr.Len() > 0 {
				fmt.Fprintf(deps.Stderr, "==> context %s\n", r.name)
				_, _ = deps.Stderr.Write(r.stderr.Bytes())
			}
		}
		fmt.Fprintln(deps.Stdout)
		tw := tabwriter.NewWriter(deps.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "CONTEXT\tEXIT\tTOOK\tRESULT")
		for _, r := range runs {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", r.name, r.code, r.took.Round(100*time.Millisecond), r.result())
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if code == ExitOK {
		return nil
	}
	return silentError{code: code}
}
