package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/load"
)

// changes is what git says changed between a revision and the working
// tree: per file (named as lint shows it, relative to the working
// folder), the lines of the working tree that are new or next to lines
// removed. A file git does not track yet is new as a whole.
type changes struct {
	lines map[string][]lineRange
	whole map[string]bool
}

// lineRange is the lines from, to (inclusive).
type lineRange struct{ from, to int }

// files returns the changed files, sorted.
func (c *changes) files() []string {
	out := make([]string, 0, len(c.lines)+len(c.whole))
	for f := range c.lines {
		out = append(out, f)
	}
	for f := range c.whole {
		if _, ok := c.lines[f]; !ok {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// gitChanges asks git, run in the working folder wd, what changed between
// ref and the working tree: `git diff -U0 ref` for the files and lines
// changed (deleted files left out, a moved file new as a whole), and the
// untracked files that .gitignore does not hide. A ref that is not a
// revision is a usage error; a folder outside any git work tree, or a git
// that cannot run, is an operational one.
func gitChanges(ctx context.Context, wd, ref string) (*changes, error) {
	if ref == "" || strings.HasPrefix(ref, "-") {
		return nil, usagef("--changed-from %q: give a git revision (a commit, branch or tag such as origin/main or HEAD~1)", ref)
	}
	top, err := git(ctx, wd, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("--changed-from: %s is not inside a git work tree: %w", wd, err)
	}
	root := strings.TrimSpace(string(top))
	if _, err := git(ctx, root, "rev-parse", "--verify", "--quiet", "--end-of-options", ref+"^{commit}"); err != nil {
		return nil, usagef("--changed-from %s: not a revision of the git repository at %s (fetch it first in a shallow CI clone)", ref, root)
	}
	diff, err := git(ctx, root, "-c", "core.quotePath=false", "diff", "-U0", "--no-color", "--no-ext-diff", "--no-renames",
		"--diff-filter=d", "--src-prefix=a/", "--dst-prefix=b/", ref, "--")
	if err != nil {
		return nil, fmt.Errorf("--changed-from %s: %w", ref, err)
	}
	untracked, err := git(ctx, root, "ls-files", "--others", "--exclude-standard", "-z")
	if err != nil {
		return nil, fmt.Errorf("--changed-from %s: %w", ref, err)
	}
	// Paths are shown from the working folder, as lint shows them; git
	// names them from the top of the work tree, its real path.
	base := wd
	if real, err := filepath.EvalSymlinks(wd); err == nil {
		base = real
	}
	show := func(p string) string {
		rel, err := filepath.Rel(base, filepath.Join(root, filepath.FromSlash(p)))
		if err != nil {
			return filepath.ToSlash(filepath.Join(root, p))
		}
		return filepath.ToSlash(rel)
	}
	c := &changes{lines: map[string][]lineRange{}, whole: map[string]bool{}}
	parseDiff(diff, func(p string, r lineRange) {
		p = show(p)
		c.lines[p] = append(c.lines[p], r)
	})
	for _, p := range bytes.Split(untracked, []byte{0}) {
		if len(p) > 0 {
			c.whole[show(string(p))] = true
		}
	}
	return c, nil
}

// git runs git in dir and returns its standard output, or an error
// holding what it said on standard error.
func git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, fmt.Errorf("git %s: %s", args[0], firstLine(msg))
		}
		return nil, fmt.Errorf("git %s: %w", args[0], err)
	}
	return out, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// parseDiff calls fn with each file and range of new lines of a unified
// diff with no context (-U0). A hunk that only removes lines marks the
// lines either side of the gap, so that what the removal changed (a rule
// losing its `for`) is still judged.
func parseDiff(diff []byte, fn func(file string, r lineRange)) {
	file := ""
	sc := bufio.NewScanner(bytes.NewReader(diff))
	sc.Buffer(make([]byte, 64<<10), 1<<30)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "diff --git "):
			file = ""
		case strings.HasPrefix(line, "+++ "):
			file = strings.TrimPrefix(line, "+++ ")
			if q, err := strconv.Unquote(file); err == nil {
				file = q // git quotes a name with a tab, a quote or a line break
			}
			if !strings.HasPrefix(file, "b/") {
				file = "" // /dev/null: deleted
				continue
			}
			file = strings.TrimPrefix(file, "b/")
		case strings.HasPrefix(line, "@@ ") && file != "":
			// @@ -a[,b] +c[,d] @@
			fields := strings.Fields(line)
			if len(fields) < 3 || !strings.HasPrefix(fields[2], "+") {
				continue
			}
			startS, countS, hasCount := strings.Cut(fields[2][1:], ",")
			start, err := strconv.Atoi(startS)
			if err != nil {
				continue
			}
			count := 1
			if hasCount {
				if count, err = strconv.Atoi(countS); err != nil {
					continue
				}
			}
			if count == 0 {
				fn(file, lineRange{max(start, 1), start + 1})
				continue
			}
			fn(file, lineRange{start, start + count - 1})
		}
	}
}

// keepChanged returns the findings on what changed: on a file new as a
// whole, about a file as a whole (no line, or its start), or on a changed
// line. A finding on a rule whose lines changed is kept too, wherever in
// the rule it is: a rule's problem can show on a line the change did not
// touch (a removed `for` is reported at the alert's name).
func keepChanged(findings []diag.Finding, c *changes, r *load.Repo) []diag.Finding {
	ranges := ruleRanges(c, r)
	out := findings[:0]
	for _, f := range findings {
		switch {
		case c.whole[f.File]:
		case len(c.lines[f.File]) == 0:
			continue
		case f.Start.Line <= 0, f.Start.Line == 1 && f.Start.Col <= 1 && f.End.Line <= 1 && f.End.Col <= 1:
		default:
			end := max(f.End.Line, f.Start.Line)
			if !slices.ContainsFunc(ranges[f.File], func(lr lineRange) bool { return lr.from <= end && f.Start.Line <= lr.to }) {
				continue
			}
		}
		out = append(out, f)
	}
	return out
}

// ruleRanges returns the changed lines of each file, with the whole of
// every rule (from its first line to the line before the next rule or
// group) that a change touches.
func ruleRanges(c *changes, r *load.Repo) map[string][]lineRange {
	out := make(map[string][]lineRange, len(c.lines))
	for f, rs := range c.lines {
		out[f] = slices.Clone(rs)
	}
	for _, f := range r.RuleFiles {
		changed := c.lines[f.Path]
		if len(changed) == 0 {
			continue
		}
		var starts []int
		for _, g := range f.Groups {
			starts = append(starts, g.Span.Start.Line)
			for _, rule := range g.Rules {
				starts = append(starts, rule.Span.Start.Line)
			}
		}
		slices.Sort(starts)
		for i, s := range starts {
			end := f.NumLines()
			if i+1 < len(starts) {
				end = max(s, starts[i+1]-1)
			}
			whole := lineRange{s, end}
			if slices.ContainsFunc(changed, func(lr lineRange) bool { return lr.from <= whole.to && whole.from <= lr.to }) {
				out[f.Path] = append(out[f.Path], whole)
			}
		}
	}
	return out
}

// pathUnder reports whether the slash path file is dir or below it, both
// relative to the working folder (or absolute).
func pathUnder(file, dir string) bool {
	dir = path.Clean(dir)
	switch {
	case file == dir:
		return true
	case dir == ".":
		return !path.IsAbs(file) && file != ".." && !strings.HasPrefix(file, "../")
	}
	return strings.HasPrefix(file, strings.TrimSuffix(dir, "/")+"/")
}

// changedPaths sets opts to lint the files changed since ref: those below
// the PATHs given, if any (so that `obsctl lint rules --changed-from
// main` reports on changed rule files only), and below the repo's folder
// when there is a repo.
func changedPaths(ctx context.Context, deps *Deps, opts *load.Options, ref string) (*changes, error) {
	wd := deps.WorkDir
	if wd == "" {
		var err error
		if wd, err = filepath.Abs("."); err != nil {
			return nil, err
		}
	}
	loc, err := load.Find(*opts)
	if err != nil {
		return nil, err
	}
	c, err := gitChanges(ctx, wd, ref)
	if err != nil {
		return nil, err
	}
	repoDir := ""
	if !loc.Default() {
		repoDir = filepath.ToSlash(loc.Dir)
	}
	var files []string
	for _, f := range c.files() {
		if repoDir != "" && !pathUnder(f, repoDir) {
			continue
		}
		if len(opts.Paths) > 0 && !slices.ContainsFunc(opts.Paths, func(p string) bool { return pathUnder(f, filepath.ToSlash(p)) }) {
			continue
		}
		files = append(files, f)
	}
	opts.Paths, opts.Selected = files, true
	return c, nil
}
