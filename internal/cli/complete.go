package cli

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/inventory"
	"github.com/obsctl/obsctl/internal/lint"
	"github.com/obsctl/obsctl/internal/release"
	"github.com/obsctl/obsctl/internal/render"
)

// Shell completion completes values as well as commands and flags: output
// formats, profiles, severities, check names, kubeconfig contexts, and a
// rollback's revisions (read from the cluster, bounded by
// completeTimeout, as kubectl completes names).

// completeTimeout bounds what a completion reads from a cluster: a tab
// press must not hang.
const completeTimeout = 3 * time.Second

// outputFormats matches a flag whose usage lists its formats: "output
// format: text, json, junit" or "output format: text or json".
var outputFormats = regexp.MustCompile(`^output format: (.*)`)

// formatWord is a format in such a list: a word, outside the parentheses
// that describe it ("text (a unified diff) or json (the plan)").
var formatWord = regexp.MustCompile(`(?:^|, | or )([a-z]+)`)

// flagValues are the values of the flags whose values are a fixed list,
// by flag name; a command's own (by "command flag") come first.
var flagValues = map[string]func() []string{
	"profile":         func() []string { return []string{config.ProfileMinimal, config.ProfileHA} },
	"fail-on":         severities,
	"enable":          checkNames,
	"disable":         checkNames,
	"explain":         checkNames,
	"color":           func() []string { return []string{"auto", "always", "never"} },
	"dry-run":         func() []string { return []string{"none", "client", "server"} },
	"conflicts":       func() []string { return []string{"take", "fail"} },
	"prune-protected": pruneProtected,
	"for":             func() []string { return render.GitOpsTools },
}

func severities() []string {
	return []string{diag.Info.String(), diag.Warning.String(), diag.Error.String(), diag.Fatal.String()}
}

// checkNames are lint's checks, and the families --disable and --enable
// take (rules/*).
func checkNames() []string {
	var out []string
	for _, c := range lint.Checks() {
		out = append(out, c.Name())
		if fam := strings.SplitN(c.Name(), "/", 2)[0] + "/*"; !slices.Contains(out, fam) {
			out = append(out, fam)
		}
	}
	slices.Sort(out)
	return out
}

func pruneProtected() []string {
	out := []string{"all"}
	for _, p := range release.AllProtected {
		out = append(out, string(p))
	}
	return out
}

// registerCompletions gives every flag of root's commands whose values
// are known a completion of them.
func registerCompletions(root *cobra.Command, deps *Deps) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			values := flagValues[f.Name]
			if m := outputFormats.FindStringSubmatch(f.Usage); m != nil {
				var list []string
				for _, w := range formatWord.FindAllStringSubmatch(stripParens(m[1]), -1) {
					list = append(list, w[1])
				}
				values = func() []string { return list }
			}
			var fn cobra.CompletionFunc
			switch {
			case values != nil:
				list := strings.HasSuffix(f.Value.Type(), "Slice")
				fn = func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
					return matching(values(), toComplete, list), cobra.ShellCompDirectiveNoFileComp
				}
			case f.Name == "context":
				fn = func(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
					return kubeContexts(cmd, deps), cobra.ShellCompDirectiveNoFileComp
				}
			default:
				return
			}
			_ = c.RegisterFlagCompletionFunc(f.Name, fn) // once per flag and command
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// stripParens drops the parenthesised asides of s.
func stripParens(s string) string {
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '(':
			depth++
		case r == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// matching returns the values that complete toComplete; for a list flag
// (a,b,c) the last item is completed, after the ones before it.
func matching(values []string, toComplete string, list bool) []string {
	before, last := "", toComplete
	if i := strings.LastIndexByte(toComplete, ','); list && i >= 0 {
		before, last = toComplete[:i+1], toComplete[i+1:]
	}
	var out []string
	for _, v := range values {
		if strings.HasPrefix(v, last) {
			out = append(out, before+v)
		}
	}
	return out
}

// kubeContexts are the contexts of the kubeconfig the command would read
// (--kubeconfig, else $KUBECONFIG, else ~/.kube/config).
func kubeContexts(cmd *cobra.Command, deps *Deps) []string {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if env := deps.Getenv("KUBECONFIG"); env != "" {
		rules.Precedence = strings.Split(env, ":")
	}
	if f := cmd.Flags().Lookup("kubeconfig"); f != nil && f.Value.String() != "" {
		rules.ExplicitPath = f.Value.String()
	}
	cfg, err := rules.Load()
	if err != nil {
		return nil
	}
	var out []string
	for name := range cfg.Contexts {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// completeRevisions completes rollback's REVISION with the revisions of
// the stack that can be rolled back to, newest first, each described by
// its message (or its time), read from the cluster the flags name.
func completeRevisions(deps *Deps, o *clusterOptions, g *globalOptions) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		if o.resolve(deps, g) != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		conn, err := o.connect(deps)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), completeTimeout)
		defer cancel()
		inv, err := inventory.Load(ctx, conn.clients.Dynamic, o.namespace, o.stack)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		revs := inv.Revisions()
		var out []cobra.Completion
		for i := len(revs) - 1; i >= 0; i-- {
			r := revs[i]
			if !r.HasManifests() {
				continue
			}
			what := r.Message
			if what == "" {
				what = r.Time.UTC().Format(time.RFC3339)
			}
			out = append(out, cobra.CompletionWithDesc(strconv.Itoa(r.Number), what))
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	}
}
