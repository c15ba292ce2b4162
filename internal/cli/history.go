package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/obsctl/obsctl/internal/inventory"
	"github.com/obsctl/obsctl/internal/kube"
)

// historyTimeout is history's --timeout: reading one Secret should not
// wait out apply's five minutes when the cluster is down.
const historyTimeout = 30 * time.Second

type historyOptions struct {
	*globalOptions
	clusterOptions
	output   string
	revision int
}

func newHistoryCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &historyOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "history [REVISION]",
		Short: "List the revisions applied to the stack",
		Long: `List the revisions of the stack's inventory, newest first: when each was
applied, by whom (the Kubernetes user when known, else user@host), with which
profile, git commit (-dirty when the work tree had changes) and obsctl, how
many objects it had, and how it changed them from the revision before
(+added -removed ~changed). The note says what else is worth knowing: the
apply's message, a rollback, a revision rolled forward (recorded by the next
run after its own was interrupted), failures. A change count ends in ? when
the revisions do not say which version of each object they applied (an older
inventory's revisions whose manifests were dropped); for the oldest revision
kept, whose predecessor is gone, the counts are what its apply reported
(+created -pruned ~configured). A run that recorded its intent and has not
committed (running, or interrupted) is shown after the table.

REVISION (or --revision N) shows one revision: who applied it (OS user and
Kubernetes identity), from which repo and commit, its message, its objects and
what changed from the one before. Only revisions that still hold their
manifests can be rolled back to.

Exit codes: 0 ok, 1 the stack has no inventory yet (nothing applied) or the
cluster could not be read, 2 usage error.`,
		Example: `  obsctl history
  obsctl history --stack prod -n monitoring -o json
  obsctl history 4`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				n, err := strconv.Atoi(args[0])
				if err != nil || n <= 0 {
					return usagef("REVISION %q: want a revision number", args[0])
				}
				if o.revision > 0 && o.revision != n {
					return usagef("REVISION %d and --revision %d disagree: give one", n, o.revision)
				}
				o.revision = n
			}
			return runHistory(cmd.Context(), deps, o)
		},
	}
	f := cmd.Flags()
	o.addFlags(f)
	// The shared flags are worded for apply; reading the inventory is one
	// request, retried while the API server is unreachable.
	o.timeout = historyTimeout
	if t := f.Lookup("timeout"); t != nil {
		t.DefValue = historyTimeout.String()
		t.Usage = "bound on reading the inventory, retries included"
	}
	f.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	f.IntVar(&o.revision, "revision", 0, "show this revision's objects and changes")
	return cmd
}

func runHistory(ctx context.Context, deps *Deps, o *historyOptions) error {
	if o.output != "text" && o.output != "json" {
		return usagef("unknown output format %q (want text or json)", o.output)
	}
	if o.revision < 0 {
		return usagef("--revision must be positive, got %d", o.revision)
	}
	if err := o.resolve(deps, o.globalOptions); err != nil {
		return err
	}
	conn, err := o.connect(deps)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var inv *inventory.Inventory
	err = kube.Retry(ctx, "read the inventory", func(ctx context.Context) error {
		var err error
		inv, err = inventory.Load(ctx, conn.clients.Dynamic, o.namespace, o.stack)
		return err
	})
	if err != nil {
		return err
	}
	if len(inv.Revisions()) == 0 {
		return fmt.Errorf("nothing applied yet for stack %s in namespace %s (%s)", o.stack, o.namespace, conn.where)
	}
	if o.revision > 0 {
		return writeRevision(deps.Stdout, inv, o.revision, o.output)
	}
	if o.output == "json" {
		return writeHistoryJSON(deps.Stdout, inv)
	}
	return writeHistoryTable(deps.Stdout, inv)
}

// historyEntry is one revision as history shows it.
type historyEntry struct {
	rev inventory.Revision
	// changes compare the revision with the one before; nil when the
	// inventory no longer has that one.
	changes *inventory.Changes
}

// historyEntries returns inv's revisions, newest first, each with what
// changed from the revision before.
func historyEntries(inv *inventory.Inventory) ([]historyEntry, error) {
	revs := inv.Revisions()
	out := make([]historyEntry, len(revs))
	for i, r := range revs {
		e := historyEntry{rev: r}
		switch {
		case i > 0:
			c, err := inventory.DiffRevisions(&revs[i-1], &revs[i])
			if err != nil {
				return nil, err
			}
			e.changes = &c
		case r.Number == 1:
			// The first apply added everything it had.
			e.changes = &inventory.Changes{Added: r.Refs(), Compared: true}
		}
		out[len(revs)-1-i] = e
	}
	return out, nil
}

// counts formats the entry's changes as "+3 -1 ~2".
func (e historyEntry) counts() string {
	if e.changes == nil {
		s := e.rev.Summary
		return fmt.Sprintf("+%d -%d ~%d", s.Created, s.Pruned, s.Configured)
	}
	changed := strconv.Itoa(len(e.changes.Changed))
	if !e.changes.Compared {
		changed = "?"
	}
	return fmt.Sprintf("+%d -%d ~%s", len(e.changes.Added), len(e.changes.Removed), changed)
}

// notes says what else is worth knowing about the entry: its message, a
// revision rolled forward, a rollback, failed objects, dropped manifests,
// counts that come from the apply.
func (e historyEntry) notes() []string {
	var out []string
	if m := messageLine(e.rev.Message); m != "" {
		out = append(out, strconv.Quote(m))
	}
	if e.rev.State == inventory.StateRolledForward {
		out = append(out, "rolled forward (its run was interrupted)")
	}
	if e.rev.RollbackOf > 0 {
		out = append(out, fmt.Sprintf("rollback of %d", e.rev.RollbackOf))
	}
	if e.rev.Summary.Failed > 0 {
		out = append(out, fmt.Sprintf("%d failed", e.rev.Summary.Failed))
	}
	if e.changes == nil {
		out = append(out, "changes as applied (previous revision not kept)")
	}
	if !e.rev.HasManifests() {
		out = append(out, "manifests dropped")
	}
	return out
}

// messageLine is the first line of a message, cut to fit a table row.
func messageLine(m string) string {
	m, _, _ = strings.Cut(strings.TrimSpace(m), "\n")
	if r := []rune(m); len(r) > 50 {
		m = string(r[:49]) + "…"
	}
	return m
}

// who says who applied r for the table: the Kubernetes user, which the
// cluster's audit log names, or, without it, the OS user and host.
func who(r inventory.Revision) string {
	if r.KubeUser != "" {
		return r.KubeUser
	}
	return dashIfEmpty(r.Who())
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeHistoryTable(w io.Writer, inv *inventory.Inventory) error {
	entries, err := historyEntries(inv)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REVISION\tTIME\tWHO\tPROFILE\tCOMMIT\tOBSCTL\tOBJECTS\tCHANGES\tNOTE")
	for _, e := range entries {
		r := e.rev
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Number, r.Time.UTC().Format(time.RFC3339), who(r),
			dashIfEmpty(r.Profile), dashIfEmpty(r.Git.Short()), dashIfEmpty(r.ObsctlVersion), len(r.Entries), e.counts(), strings.Join(e.notes(), "; "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if p := inv.Pending(); p != nil {
		fmt.Fprintf(&buf, "\nPending: run %s (would be revision %d) recorded its intent at %s, by %s, and has not committed:\nit is still running, or was interrupted; the next apply rolls it forward.\n",
			p.RunID, p.Number, p.Time.UTC().Format(time.RFC3339), who(*p))
	}
	// A row without a note would end in the padding of its last column.
	for line := range strings.Lines(buf.String()) {
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// writeRevision shows revision n: its details, what changed from the one
// before and its objects.
func writeRevision(w io.Writer, inv *inventory.Inventory, n int, format string) error {
	entries, err := historyEntries(inv)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(entries, func(e historyEntry) bool { return e.rev.Number == n })
	if i < 0 {
		revs := inv.Revisions()
		return fmt.Errorf("stack %s in namespace %s has no revision %d (it keeps revisions %d to %d)",
			inv.Stack(), inv.Namespace(), n, revs[0].Number, revs[len(revs)-1].Number)
	}
	e := entries[i]
	if format == "json" {
		return historyEncode(w, e.json(true))
	}
	r := e.rev
	var details bytes.Buffer
	tw := tabwriter.NewWriter(&details, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "Revision:\t%d\n", r.Number)
	fmt.Fprintf(tw, "Time:\t%s\n", r.Time.UTC().Format(time.RFC3339))
	if r.State == inventory.StateRolledForward {
		fmt.Fprintf(tw, "State:\trolled forward: its run was interrupted, the next run recorded its intent\n")
	}
	fmt.Fprintf(tw, "Who:\t%s\n", dashIfEmpty(r.Who()))
	if r.KubeUser != "" {
		groups := ""
		if len(r.KubeGroups) > 0 {
			groups = " (groups " + strings.Join(r.KubeGroups, ", ") + ")"
		}
		fmt.Fprintf(tw, "Kubernetes user:\t%s%s\n", r.KubeUser, groups)
	}
	if r.Profile != "" {
		fmt.Fprintf(tw, "Profile:\t%s\n", r.Profile)
	}
	if r.Repo != "" {
		fmt.Fprintf(tw, "Repo:\t%s\n", r.Repo)
	}
	if g := r.Git; g != nil && g.Commit != "" {
		commit := g.Commit
		if g.Dirty {
			commit += " (dirty: the work tree had changes not in the commit)"
		}
		fmt.Fprintf(tw, "Commit:\t%s\n", commit)
		if g.Author != "" {
			fmt.Fprintf(tw, "Author:\t%s\n", g.Author)
		}
		if g.Subject != "" {
			fmt.Fprintf(tw, "Subject:\t%s\n", g.Subject)
		}
	}
	if r.Message != "" {
		fmt.Fprintf(tw, "Message:\t%s\n", strings.ReplaceAll(strings.TrimSpace(r.Message), "\n", "\n\t"))
	}
	fmt.Fprintf(tw, "obsctl:\t%s\n", dashIfEmpty(r.ObsctlVersion))
	if r.RunID != "" {
		fmt.Fprintf(tw, "Run:\t%s\n", r.RunID)
	}
	fmt.Fprintf(tw, "Applied:\t%s\n", r.Summary)
	if r.RollbackOf > 0 {
		fmt.Fprintf(tw, "Rollback of:\t%d\n", r.RollbackOf)
	}
	if r.HasManifests() {
		fmt.Fprintf(tw, "Rollback:\tpossible (manifests kept)\n")
	} else {
		fmt.Fprintf(tw, "Rollback:\tnot possible (%s)\n", dashIfEmpty(r.ManifestsDropped))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// A message's blank lines would end in the padding of the labels.
	for line := range strings.Lines(details.String()) {
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}

	fmt.Fprintln(w)
	switch c := e.changes; {
	case c == nil:
		fmt.Fprintf(w, "Changes: revision %d is no longer kept; the apply reported %s.\n", r.Number-1, r.Summary)
	case r.Number == 1 && i == len(entries)-1:
		fmt.Fprintf(w, "Changes: the first revision, %d objects added.\n", len(c.Added))
	default:
		fmt.Fprintf(w, "Changes from revision %d: %s.\n", entries[i+1].rev.Number, c)
		for _, l := range []struct {
			mark string
			refs []inventory.ObjectRef
		}{{"+", c.Added}, {"-", c.Removed}, {"~", c.Changed}} {
			for _, ref := range l.refs {
				fmt.Fprintf(w, "  %s %s\n", l.mark, ref.Qualified())
			}
		}
	}
	fmt.Fprintf(w, "\nObjects (%d):\n", len(r.Refs()))
	for _, ref := range r.Refs() {
		fmt.Fprintf(w, "  %s\n", ref.Qualified())
	}
	return nil
}
