package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/inventory"
	"github.com/obsctl/obsctl/internal/kube"
)

type diffOptions struct {
	*globalOptions
	cluster        clusterOptions
	files          []string
	prune          bool
	forceConflicts bool
	profile        string
}

func newDiffCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &diffOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "diff [-f PATH...]",
		Short: "Show what apply would change, field by field",
		Long: `Show what obsctl apply would change in the cluster (the repo's stack, or
with -f other manifests), as a unified diff of
each live object against the object the API server would store (a server-side
apply dry run: defaults, admission and other field managers included).
Objects that would be created show as all added, objects apply would prune
(in the stack's inventory but not in this set) as all removed. Server-set
metadata and status are left out. Secret values are never shown: each shows as
"(redacted, N bytes)", marked "changed" when the value would change.

Exit codes, as kubectl diff users expect: 0 no changes, 1 changes,
2 usage error, 6 diff could not run.`,
		Example: `  obsctl diff
  obsctl diff --profile ha
  obsctl diff -f out/manifests/
  obsctl diff -f stack.yaml --stack prod -n monitoring | less`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDiff(cmd.Context(), deps, o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVarP(&o.files, "filename", "f", nil, "manifests to compare instead of the repo's stack: files, folders or - for standard input (repeatable)")
	addProfileFlag(cmd, &o.profile)
	f.BoolVar(&o.prune, "prune", true, "show the objects apply would prune as removed")
	f.BoolVar(&o.forceConflicts, "force-conflicts", false, "compare as if applied with --force-conflicts, taking over other managers' fields")
	o.cluster.addFlags(f)
	return cmd
}

// diffError is why diff could not run. It maps to ExitDiffFailed, since
// diff's exit code 1 means "changes found".
type diffError struct{ err error }

func (e *diffError) Error() string { return "diff: " + e.err.Error() }
func (e *diffError) Unwrap() error { return e.err }

func runDiff(ctx context.Context, deps *Deps, o *diffOptions) error {
	if err := o.cluster.resolve(deps, o.globalOptions); err != nil {
		return err
	}
	// Lint findings and usage mistakes keep their own exit codes.
	set, err := readDesired(deps, o.globalOptions, o.files, o.profile, "diff")
	if err != nil {
		var fe findingsError
		var ue usageError
		if errors.As(err, &fe) || errors.As(err, &ue) {
			return err
		}
		return &diffError{err}
	}
	changed, err := diffObjects(ctx, deps, o, set)
	if err != nil {
		return &diffError{err}
	}
	if changed {
		return silentError{code: 1}
	}
	return nil
}

// diffEntry is one object to compare: before is the live object (nil when
// apply would create it), after what apply would make of it (nil when apply
// would prune it).
type diffEntry struct {
	wave          apply.Wave
	index         int
	name          string // "apps.v1.Deployment.monitoring.web"
	before, after *unstructured.Unstructured
}

// diffObjects prints the diff and reports whether anything would change.
func diffObjects(ctx context.Context, deps *Deps, o *diffOptions, set *desiredSet) (bool, error) {
	start := time.Now()
	tctx, cancel := context.WithTimeout(ctx, o.cluster.timeout)
	defer cancel()
	conn, err := o.cluster.connect(deps)
	if err != nil {
		return false, err
	}
	objs, err := set.withGenerated(tctx, conn, o.cluster.stack, deps.Getenv)
	if err != nil {
		return false, err
	}
	check, later, err := splitDryRun(tctx, conn, objs, o.cluster.namespace)
	if err != nil {
		return false, err
	}
	var entries []diffEntry
	var current []inventory.ObjectRef
	for _, l := range later {
		entries = append(entries, diffEntry{wave: waveOf(l.obj), index: l.index, name: fileName(l.obj), after: withOwnership(l.obj, o.cluster.stack)})
		current = append(current, inventory.RefOf(l.obj))
	}
	var applyErr error
	if len(check) > 0 {
		index := map[*unstructured.Unstructured]int{}
		for i, obj := range objs {
			index[obj] = i
		}
		left := o.cluster.timeout - time.Since(start)
		if left <= 0 {
			return false, &timeoutError{timeout: o.cluster.timeout, err: errors.New("no time left for the dry run")}
		}
		var res *apply.Result
		res, applyErr = conn.applier.Apply(ctx, check, apply.Options{
			Stack: o.cluster.stack, Namespace: o.cluster.namespace, ForceConflicts: o.forceConflicts,
			Conflicts: apply.ConflictsFail, DryRun: apply.DryRunServer, Timeout: left,
		})
		if res == nil {
			return false, applyErr
		}
		for i, r := range res.Objects {
			ref := inventory.RefOf(check[i])
			ref.Namespace = r.Object.Namespace
			current = append(current, ref)
			if r.Action == apply.Unchanged || r.Applied == nil {
				continue // unchanged, failed or skipped: the error says which
			}
			after := r.Applied
			before := r.Live
			if before == nil && r.Action != apply.Created {
				// The object exists without the stack's labels.
				if before, err = getLive(tctx, conn, after); err != nil {
					return false, err
				}
			}
			entries = append(entries, diffEntry{wave: r.Wave, index: index[check[i]], name: fileName(after), before: before, after: after})
		}
	}
	if o.prune {
		var inv *inventory.Inventory
		err := kube.Retry(tctx, "load the inventory", func(ctx context.Context) error {
			var err error
			inv, err = inventory.Load(ctx, conn.clients.Dynamic, o.cluster.namespace, o.cluster.stack)
			return err
		})
		if err != nil {
			return false, err
		}
		if latest := inv.Latest(); latest != nil {
			for i, ref := range inventory.Prune(latest.Refs(), current) {
				live, err := getRef(tctx, conn, ref)
				if err != nil {
					return false, err
				}
				if live == nil || live.GetLabels()[apply.LabelStack] != o.cluster.stack {
					continue // gone already, or not the stack's: apply would not prune it
				}
				entries = append(entries, diffEntry{wave: apply.WaveOther + 1, index: i, name: fileName(live), before: live})
			}
		}
	}
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].wave != entries[j].wave {
			return entries[i].wave < entries[j].wave
		}
		return entries[i].index < entries[j].index
	})
	changed := false
	for _, e := range entries {
		before, after := redactSecrets(cleanForDiff(e.before), cleanForDiff(e.after))
		text, err := unifiedDiff(e, before, after)
		if err != nil {
			return changed, err
		}
		if text != "" {
			changed = true
			if _, err := io.WriteString(deps.Stdout, text); err != nil {
				return changed, err
			}
		}
	}
	return changed, asTimeout(applyErr, o.cluster.timeout)
}

func waveOf(obj *unstructured.Unstructured) apply.Wave {
	return apply.WaveOf(obj.GroupVersionKind().GroupKind())
}

// fileName names an object in the diff's headers as kubectl diff does:
// group.version.Kind.namespace.name.
func fileName(obj *unstructured.Unstructured) string {
	gvk := obj.GroupVersionKind()
	parts := []string{}
	if gvk.Group != "" {
		parts = append(parts, gvk.Group)
	}
	parts = append(parts, gvk.Version, gvk.Kind)
	if ns := obj.GetNamespace(); ns != "" {
		parts = append(parts, ns)
	}
	return strings.Join(append(parts, obj.GetName()), ".")
}

// withOwnership returns obj with the labels apply gives it, for objects the
// server could not dry-run.
func withOwnership(obj *unstructured.Unstructured, stack string) *unstructured.Unstructured {
	c := obj.DeepCopy()
	l := c.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	l[apply.LabelManagedBy] = apply.FieldManager
	l[apply.LabelStack] = stack
	c.SetLabels(l)
	return c
}

func getLive(ctx context.Context, conn *clusterConn, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri, _, err := conn.clients.ResourceFor(obj)
	if err != nil {
		return nil, err
	}
	var live *unstructured.Unstructured
	err = retryRequest(ctx, func(ctx context.Context) error {
		var err error
		live, err = ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", kube.Describe(obj), err)
	}
	return live, nil
}

// getRef reads the object ref names; nil when it, or its kind, is gone.
func getRef(ctx context.Context, conn *clusterConn, ref inventory.ObjectRef) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ref.GroupVersionKind())
	u.SetNamespace(ref.Namespace)
	u.SetName(ref.Name)
	gk := ref.GroupVersionKind().GroupKind()
	m, err := conn.clients.Mapper.RESTMapping(gk, ref.Version)
	if err != nil {
		if m, err = conn.clients.Mapper.RESTMapping(gk); err != nil {
			return nil, nil // the cluster no longer has the kind
		}
		u.SetAPIVersion(schema.GroupVersion{Group: m.Resource.Group, Version: m.Resource.Version}.String())
	}
	return getLive(ctx, conn, u)
}

// cleanForDiff returns a copy of obj without what the server sets on every
// write and what says nothing about the change: managedFields,
// resourceVersion, generation, uid, creationTimestamp, status and obsctl's
// applied-hash annotation.
func cleanForDiff(obj *unstructured.Unstructured) *unstructured.Unstructured {
	if obj == nil {
		return nil
	}
	c := obj.DeepCopy()
	for _, f := range []string{"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"} {
		unstructured.RemoveNestedField(c.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(c.Object, "status")
	if a := c.GetAnnotations(); a != nil {
		delete(a, apply.AnnotationHash)
		if len(a) == 0 {
			unstructured.RemoveNestedField(c.Object, "metadata", "annotations")
		} else {
			c.SetAnnotations(a)
		}
	}
	return c
}

const annotationLastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// redactSecrets replaces the values of Secrets, on copies already made by
// cleanForDiff, with "(redacted, N bytes)", adding ", changed" on the after
// side where the value differs from the before side, so that a change
// shows without its content. kubectl's last-applied annotation, which holds
// the values too, is redacted the same way.
func redactSecrets(before, after *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured) {
	bv := secretValues(before)
	av := secretValues(after)
	redact := func(obj *unstructured.Unstructured, mine, other map[string][]byte, isAfter bool) {
		if !isSecret(obj) {
			return
		}
		marker := func(k string, v []byte) string {
			s := fmt.Sprintf("(redacted, %d bytes", len(v))
			if o, ok := other[k]; isAfter && other != nil && ok && !bytes.Equal(o, v) {
				s += ", changed"
			}
			return s + ")"
		}
		for _, field := range []string{"data", "stringData"} {
			m, ok := obj.Object[field].(map[string]any)
			if !ok {
				continue
			}
			out := make(map[string]any, len(m))
			for k := range m {
				out[k] = marker(field+"/"+k, mine[field+"/"+k])
			}
			obj.Object[field] = out
		}
		if a := obj.GetAnnotations(); a[annotationLastApplied] != "" {
			s := "(redacted)"
			if o, ok := other[annotationLastApplied]; isAfter && ok && !bytes.Equal(o, []byte(a[annotationLastApplied])) {
				s = "(redacted, changed)"
			}
			a[annotationLastApplied] = s
			obj.SetAnnotations(a)
		}
	}
	redact(before, bv, av, false)
	redact(after, av, bv, true)
	return before, after
}

func isSecret(obj *unstructured.Unstructured) bool {
	if obj == nil {
		return false
	}
	gvk := obj.GroupVersionKind()
	return gvk.Group == "" && gvk.Kind == "Secret"
}

// secretValues returns a Secret's values by "data/KEY" (decoded) and
// "stringData/KEY", stringData counted as the data it becomes, and its
// last-applied annotation; nil for other objects.
func secretValues(obj *unstructured.Unstructured) map[string][]byte {
	if !isSecret(obj) {
		return nil
	}
	out := map[string][]byte{}
	if m, ok := obj.Object["data"].(map[string]any); ok {
		for k, v := range m {
			s, _ := v.(string)
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				b = []byte(s)
			}
			out["data/"+k] = b
		}
	}
	if m, ok := obj.Object["stringData"].(map[string]any); ok {
		for k, v := range m {
			s, _ := v.(string)
			out["stringData/"+k] = []byte(s)
			out["data/"+k] = []byte(s)
		}
	}
	if a := obj.GetAnnotations()[annotationLastApplied]; a != "" {
		out[annotationLastApplied] = []byte(a)
	}
	return out
}

// unifiedDiff renders before and after as YAML with sorted keys and returns
// their unified diff with three lines of context, or "" when they render
// the same.
func unifiedDiff(e diffEntry, before, after *unstructured.Unstructured) (string, error) {
	render := func(u *unstructured.Unstructured) ([]string, error) {
		if u == nil {
			return nil, nil
		}
		b, err := yaml.Marshal(u.Object)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", e.name, err)
		}
		return splitLines(string(b)), nil
	}
	a, err := render(before)
	if err != nil {
		return "", err
	}
	b, err := render(after)
	if err != nil {
		return "", err
	}
	hunks := diffHunks(a, b, 3)
	if len(hunks) == 0 {
		return "", nil
	}
	var out strings.Builder
	from, to := "live/"+e.name, "obsctl/"+e.name
	if before == nil {
		from = "/dev/null"
	}
	if after == nil {
		to = "/dev/null"
	}
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", from, to)
	for _, h := range hunks {
		out.WriteString(h)
	}
	return out.String(), nil
}

// splitLines splits s into lines that each end with "\n".
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	lines := strings.SplitAfter(s, "\n")
	return lines[:len(lines)-1]
}

// edit is one line of an edit script: kept (' '), deleted ('-') or
// inserted ('+').
type edit struct {
	op   byte
	text string
}

// maxEdits bounds the search for the shortest edit script: past it, the
// changed middle of the two texts shows as deleted then inserted whole. The
// search costs memory quadratic in the number of edits.
const maxEdits = 2000

// editScript returns a shortest edit script from a to b (Myers' algorithm)
// after taking off the lines they start and end with in common.
func editScript(a, b []string) []edit {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var out []edit
	for _, l := range a[:pre] {
		out = append(out, edit{' ', l})
	}
	out = append(out, myers(a[pre:len(a)-suf], b[pre:len(b)-suf])...)
	for _, l := range a[len(a)-suf:] {
		out = append(out, edit{' ', l})
	}
	return out
}

func myers(a, b []string) []edit {
	n, m := len(a), len(b)
	whole := func() []edit {
		out := make([]edit, 0, n+m)
		for _, l := range a {
			out = append(out, edit{'-', l})
		}
		for _, l := range b {
			out = append(out, edit{'+', l})
		}
		return out
	}
	if n == 0 || m == 0 {
		return whole()
	}
	limit := min(n+m, maxEdits)
	off := limit + 1
	v := make([]int, 2*off+1)
	// trace[d] is v around diagonals -d-1..d+1 before step d.
	var trace [][]int
	for d := 0; d <= limit; d++ {
		trace = append(trace, append([]int(nil), v[off-d-1:off+d+2]...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				return backtrack(trace, a, b, d)
			}
		}
	}
	return whole()
}

func backtrack(trace [][]int, a, b []string, dEnd int) []edit {
	x, y := len(a), len(b)
	var rev []edit
	for d := dEnd; d > 0; d-- {
		v := trace[d]
		at := func(k int) int { return v[k+d+1] }
		k := x - y
		var pk int
		if k == -d || (k != d && at(k-1) < at(k+1)) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := at(pk)
		py := px - pk
		for x > px && y > py {
			rev = append(rev, edit{' ', a[x-1]})
			x--
			y--
		}
		if x == px {
			rev = append(rev, edit{'+', b[y-1]})
			y--
		} else {
			rev = append(rev, edit{'-', a[x-1]})
			x--
		}
	}
	for x > 0 && y > 0 {
		rev = append(rev, edit{' ', a[x-1]})
		x--
		y--
	}
	out := make([]edit, len(rev))
	for i, e := range rev {
		out[len(rev)-1-i] = e
	}
	return out
}

// diffHunks returns the unified diff hunks from a to b with ctx lines of
// context, each with its "@@ -l,n +l,n @@" header. Lines end with "\n".
func diffHunks(a, b []string, ctx int) []string {
	es := editScript(a, b)
	var hunks []string
	i := 0
	for i < len(es) {
		for i < len(es) && es[i].op == ' ' {
			i++
		}
		if i == len(es) {
			break
		}
		// A hunk runs from ctx lines before this change to ctx lines
		// after the last change closer than 2*ctx to the one before.
		start := max(0, i-ctx)
		end := i
		for j := i; j < len(es); j++ {
			if es[j].op != ' ' {
				end = j
				continue
			}
			if j-end > 2*ctx {
				break
			}
		}
		stop := min(len(es), end+ctx+1)
		// Line numbers of the hunk's first line in a and b.
		la, lb := 1, 1
		for _, e := range es[:start] {
			if e.op != '+' {
				la++
			}
			if e.op != '-' {
				lb++
			}
		}
		var na, nb int
		var body strings.Builder
		for _, e := range es[start:stop] {
			if e.op != '+' {
				na++
			}
			if e.op != '-' {
				nb++
			}
			body.WriteByte(e.op)
			body.WriteString(e.text)
		}
		if na == 0 {
			la--
		}
		if nb == 0 {
			lb--
		}
		hunks = append(hunks, fmt.Sprintf("@@ -%d,%d +%d,%d @@\n%s", la, na, lb, nb, body.String()))
		i = stop
	}
	return hunks
}
