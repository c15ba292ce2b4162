package load

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

// CheckFile names the findings about a file the loader refuses to read.
const CheckFile = "load/file"

// A repo is written by whoever opens a pull request, and obsctl lint runs
// on it in CI, where the environment holds secrets. So every file of the
// repo is read through one function, tree.read, after tree.resolve has
// made sure that it is a regular file inside the repo once its links are
// followed: a link out of the repo (to /proc/self/environ, /etc/shadow), a
// device (/dev/zero reads forever), a named pipe (opening one blocks), a
// socket, a folder where a file is expected, a dangling link or a loop of
// links is a load/file finding, and is never opened. Every read is
// bounded before it starts (the size the file system gives) and while it
// runs (in case the size lies, as it does for /proc).

// tree is the file tree of a repo as the loader reads it: a folder on
// disk, or the embedded default (an fs.FS of regular files only).
type tree struct {
	fsys fs.FS  // the embedded default; nil on disk
	dir  string // on disk: the folder, as it was named
	real string // on disk: the folder's real path, links resolved
	// limit is the most bytes one file may hold.
	limit int64
	// outside names, for messages, a folder outside the repo given on
	// the command line; "" for the repo.
	outside string
}

// diskTree returns the tree of the folder dir on disk.
func diskTree(dir string, limit int64) (*tree, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	return &tree{dir: abs, real: real, limit: limit}, nil
}

// node is a path of a tree, resolved.
type node struct {
	// rel is the path as named, slash-separated and relative to the tree.
	rel string
	// info describes what the path leads to, links followed; nil when the
	// path leads nowhere (a dangling link, a loop).
	info fs.FileInfo
	// real is the real path on disk; "" in the embedded default.
	real string
	// refused says why the loader does not read the path at all, whatever
	// is expected of it (a link out of the repo, a dangling link, a loop).
	refused *refusal
}

// refusal says why the loader does not read a file: the message of a
// load/file finding, after the file's name, and its hint.
type refusal struct{ msg, hint string }

// The kinds of thing the loader expects at a path.
type want int

const (
	wantFile   want = iota + 1 // a regular file
	wantFolder                 // a folder
	wantEither                 // a regular file or a folder (a rule path)
)

const (
	hintInside  = "obsctl reads only files inside the repo: copy the file into the repo instead of linking to it"
	hintRegular = "obsctl reads only regular files: replace it with the file itself"
)

// resolve follows rel's links without opening anything. It returns an
// error wrapping fs.ErrNotExist when nothing is at rel, and other errors
// for what the file system cannot answer; a path the loader will not read
// is a node with refused set.
func (t *tree) resolve(rel string) (node, error) {
	n := node{rel: rel}
	if t.fsys != nil {
		st, err := fs.Stat(t.fsys, rel)
		n.info = st
		return n, err
	}
	full := filepath.Join(t.dir, filepath.FromSlash(rel))
	lst, lerr := os.Lstat(full)
	link := lerr == nil && lst.Mode()&fs.ModeSymlink != 0
	st, err := os.Stat(full)
	switch {
	case err == nil:
	case errors.Is(err, syscall.ELOOP):
		n.refused = &refusal{"is a link in a loop (or at the end of a chain of more than 40 links)", "point the link at a file inside the repo, or replace it with the file"}
		return n, nil
	case errors.Is(err, fs.ErrNotExist) && link:
		target, _ := os.Readlink(full)
		n.refused = &refusal{fmt.Sprintf("is a link to %s, which does not exist", quote(target)), "point the link at a file inside the repo, or remove it"}
		return n, nil
	case link:
		// A link to where obsctl may not look (permission denied): say
		// so rather than stop the whole run.
		var errno syscall.Errno
		if !errors.As(err, &errno) {
			return n, err
		}
		n.refused = &refusal{fmt.Sprintf("is a link that cannot be followed: %v", errno), "point the link at a file inside the repo, or remove it"}
		return n, nil
	default:
		return n, err
	}
	real, err := filepath.EvalSymlinks(full)
	if err != nil {
		return n, err
	}
	n.info, n.real = st, real
	if !within(t.real, real) {
		what, where := "leads", "the repo"
		if link {
			what = "is a link that leads"
		}
		if t.outside != "" {
			where = t.outside
		}
		n.refused = &refusal{fmt.Sprintf("%s out of %s, to %s: not read", what, where, quote(real)), hintInside}
	}
	return n, nil
}

// within reports whether the real path p is dir or below it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && !filepath.IsAbs(rel) && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// check returns why the loader will not read n as w, or nil.
func (n node) check(w want) *refusal {
	if n.refused != nil {
		return n.refused
	}
	m := n.info.Mode()
	switch {
	case m.IsRegular() && w != wantFolder, m.IsDir() && w != wantFile:
		return nil
	case m.IsDir():
		return &refusal{"is a folder, not a file", "a name like this one is read as a file: rename the folder"}
	case m.IsRegular():
		return &refusal{"is a file, not a folder", "obsctl reads a folder of this name: rename the file"}
	case w == wantFolder:
		return &refusal{kindOf(m) + ", not a folder: not read", "obsctl reads a folder of this name: replace it with the folder"}
	}
	return &refusal{kindOf(m) + ", not a regular file: not read", hintRegular}
}

// kindOf names the kind of file a mode that is neither a regular file nor
// a folder is.
func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "is a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "is a socket"
	case m&fs.ModeCharDevice != 0:
		return "is a character device"
	case m&fs.ModeDevice != 0:
		return "is a device"
	case m&fs.ModeSymlink != 0:
		return "is a link"
	}
	return "is not a regular file"
}

// read reads the regular file n, which resolve returned, within the
// tree's limit. It returns a refusal when the file is over the limit, or
// is no longer what resolve saw.
func (t *tree) read(n node) ([]byte, *refusal, error) {
	if r := n.check(wantFile); r != nil {
		return nil, r, nil
	}
	if n.info.Size() > t.limit {
		return nil, t.tooLarge(n.info.Size()), nil
	}
	var f fs.File
	var err error
	if t.fsys != nil {
		f, err = t.fsys.Open(n.rel)
	} else {
		f, err = openRegular(n.real)
	}
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, changed, nil // became a link since resolve
		}
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() || (t.fsys == nil && !os.SameFile(st, n.info)) {
		return nil, changed, nil
	}
	var b bytes.Buffer
	b.Grow(int(min(st.Size(), t.limit)) + bytes.MinRead)
	if _, err := b.ReadFrom(io.LimitReader(f, t.limit+1)); err != nil {
		return nil, nil, err
	}
	if int64(b.Len()) > t.limit {
		return nil, t.tooLarge(-1), nil
	}
	return b.Bytes(), nil, nil
}

var changed = &refusal{"changed while it was read: not read", "run obsctl again when nothing else writes to the repo"}

func (t *tree) tooLarge(size int64) *refusal {
	msg := fmt.Sprintf("is %d bytes, over the %d byte limit: not read", size, t.limit)
	if size < 0 {
		msg = fmt.Sprintf("holds more than the %d byte limit: not read", t.limit)
	}
	return &refusal{msg, "the files of an observability repo are text; is this file in the right folder?"}
}

// list returns the entries of the folder n, sorted by name.
func (t *tree) list(n node) ([]fs.DirEntry, error) {
	if t.fsys != nil {
		return fs.ReadDir(t.fsys, n.rel)
	}
	return os.ReadDir(n.real)
}

// badName returns why a file or folder name cannot be shown as it is (a
// control character, which a terminal or CI log would act on, a line
// break, a character that reverses the text around it, invalid UTF-8), or
// "" for a name that can.
func badName(name string) string {
	if !utf8.ValidString(name) {
		return "is not UTF-8"
	}
	for _, r := range name {
		switch {
		case unicode.IsControl(r), unicode.In(r, unicode.Zl, unicode.Zp):
			return "holds a control character or line break"
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F:
			return "holds a character that changes the direction of text"
		}
	}
	return ""
}

// safeName returns name with every character badName objects to written
// as an escape (\x1b, \u202e), so that it can be printed.
func safeName(name string) string {
	if badName(name) == "" {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); {
		r, w := utf8.DecodeRuneInString(name[i:])
		switch {
		case r == utf8.RuneError && w <= 1:
			fmt.Fprintf(&b, `\x%02x`, name[i])
		case badName(string(r)) != "" && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case badName(string(r)) != "":
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += w
	}
	return b.String()
}

// quote quotes a path for a message.
func quote(p string) string { return fmt.Sprintf("%q", p) }

// refuse records that the file shown as display is not read, at span at,
// or at the file itself when at is zero.
func (r *Repo) refuse(at diag.Span, display string, why *refusal) {
	r.Findings = append(r.Findings, refusalFinding(at, display, why))
}

func refusalFinding(at diag.Span, display string, why *refusal) diag.Finding {
	display = safeName(display)
	if at.File == "" {
		at = diag.At(display, 1, 1)
	}
	return diag.Finding{Check: CheckFile, Severity: diag.Error, Span: at,
		Message: display + " " + why.msg, Hint: why.hint}
}

// badNameRefusal refuses a file whose name cannot be shown.
func badNameRefusal(why string) *refusal {
	return &refusal{"has a name that " + why + ": not read", "rename it"}
}

// load is the loader's one way to read a file of the repo: n of t, which
// resolve (or child) returned, shown as display. It reads nothing that is
// not a regular file inside the repo, nor more than the limit; such a file
// is a finding instead, at at (the file itself when at is zero). Its error
// is for what is not the content's fault: a file that cannot be read.
func (t *tree) load(n node, display string, at diag.Span) (*source.File, *diag.Finding, error) {
	if why := badName(display); why != "" {
		fd := refusalFinding(at, display, badNameRefusal(why))
		return nil, &fd, nil
	}
	data, why, err := t.read(n)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", display, err)
	}
	if why != nil {
		fd := refusalFinding(at, display, why)
		return nil, &fd, nil
	}
	f := source.NewFile(display, data)
	f.Rel = n.rel
	return f, nil, nil
}

// readFile reads the file rel of t with load, recording its finding. It
// returns nil when the file is refused, and an error wrapping
// fs.ErrNotExist when there is nothing at rel.
func (r *Repo) readFile(t *tree, rel, display string, at diag.Span) (*source.File, error) {
	n, err := t.resolve(rel)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", safeName(display), err)
	}
	return r.keep(t.load(n, display, at))
}

// keep records fd, if any, and returns f.
func (r *Repo) keep(f *source.File, fd *diag.Finding, err error) (*source.File, error) {
	if fd != nil {
		r.Findings = append(r.Findings, *fd)
	}
	return f, err
}

// child resolves the entry e of the folder parent. An entry that is not
// a link is below parent's real path, so only a link needs resolving.
func (t *tree) child(parent node, e fs.DirEntry) (node, error) {
	rel := path.Join(parent.rel, e.Name())
	if t.fsys != nil || parent.real == "" || e.Type()&fs.ModeSymlink != 0 {
		return t.resolve(rel)
	}
	real := filepath.Join(parent.real, e.Name())
	st, err := os.Lstat(real)
	if err != nil {
		return node{rel: rel}, err
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		return t.resolve(rel) // it became one since the folder was listed
	}
	return node{rel: rel, info: st, real: real}, nil
}

// readFolder returns the files of the folder rel of t whose names match
// (not its sub-folders), each read with load, in name order. A folder that
// does not exist holds none; anything else at rel that is not a folder
// inside the repo is a finding. A matching name that is not a regular file
// (a folder, a pipe) is a finding too: it was meant to be read.
func (r *Repo) readFolder(t *tree, rel string, match func(name string) bool) ([]*source.File, error) {
	n, err := t.resolve(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if why := n.check(wantFolder); why != nil {
		r.refuse(diag.Span{}, r.display(rel), why)
		return nil, nil
	}
	entries, err := t.list(n)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.display(rel), err)
	}
	var out []*source.File
	for _, e := range entries {
		if !match(e.Name()) {
			continue
		}
		c, err := t.child(n, e)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", safeName(r.display(c.rel)), err)
		}
		f, err := r.keep(t.load(c, r.display(c.rel), diag.Span{}))
		if err != nil {
			return nil, err
		}
		if f != nil {
			out = append(out, f)
		}
	}
	return out, nil
}

// walk finds the files below the folder n of t (shown as display) whose
// names match (IsRuleFile for rule paths) in it and its sub-folders,
// following links to folders inside the tree, each real folder once
// (seen), and skipping hidden folders. What would have been read and is
// refused (a rule file that is a pipe or a link out of the repo, a linked
// folder outside it) is a finding at itself.
func (r *Repo) walk(t *tree, n node, display string, match func(name string) bool, seen map[string]bool, out *[]ruleSource) error {
	if n.real != "" {
		if seen[n.real] {
			return nil
		}
		seen[n.real] = true
	}
	entries, err := t.list(n)
	if err != nil {
		return fmt.Errorf("read %s: %w", safeName(display), err)
	}
	for _, e := range entries {
		name := e.Name()
		cdisp := path.Join(display, name)
		typ, rule, hidden := e.Type(), match(name), strings.HasPrefix(name, ".")
		switch {
		case typ.IsDir() && hidden, typ.IsRegular() && !rule:
			continue
		case !rule && !typ.IsDir() && typ&fs.ModeSymlink == 0:
			continue // a pipe or socket not named as a rule file: not read
		}
		c, err := t.child(n, e)
		if err != nil {
			return fmt.Errorf("read %s: %w", safeName(cdisp), err)
		}
		folder := c.info != nil && c.info.IsDir()
		switch {
		case folder && hidden:
		case folder && c.refused == nil:
			if why := badName(name); why != "" {
				r.refuse(diag.Span{}, cdisp, badNameRefusal(why))
				continue
			}
			if err := r.walk(t, c, cdisp, match, seen, out); err != nil {
				return err
			}
		case rule:
			// load refuses what is not a regular file, or badly named.
			*out = append(*out, ruleSource{display: cdisp, rel: c.rel, tree: t, node: c})
		case folder:
			// A linked folder out of the repo: its rule files were meant
			// to be read.
			r.refuse(diag.Span{}, cdisp, c.refused)
		}
	}
	return nil
}

// collectPath finds the rule files a rule path names: the path itself
// when it is a file (whatever its name), the rule files below it when it
// is a folder. A path that leads nowhere the loader reads is a finding at
// at; one that does not exist is an error wrapping fs.ErrNotExist.
func (r *Repo) collectPath(t *tree, rel, display string, at diag.Span, match func(name string) bool, seen map[string]bool, out *[]ruleSource) error {
	if why := badName(display); why != "" {
		r.refuse(at, display, badNameRefusal(why))
		return nil
	}
	n, err := t.resolve(rel)
	if err != nil {
		return err
	}
	if why := n.check(wantEither); why != nil {
		r.refuse(at, display, why)
		return nil
	}
	if n.info.IsDir() {
		return r.walk(t, n, display, match, seen, out)
	}
	*out = append(*out, ruleSource{display: display, rel: n.rel, tree: t, node: n, at: at})
	return nil
}

// dedupe sorts rule sources by display path and keeps one of each file:
// the first of the same display path (overlapping rule paths), and of the
// same real file (a link inside the repo to another rule file) the one
// named without a link, else the first.
func dedupe(srcs []ruleSource) []ruleSource {
	slices.SortFunc(srcs, func(a, b ruleSource) int { return strings.Compare(a.display, b.display) })
	srcs = slices.CompactFunc(srcs, func(a, b ruleSource) bool { return a.display == b.display })
	byReal := map[string]int{}
	keep := make([]bool, len(srcs))
	for i, s := range srcs {
		key := s.node.real
		if key == "" {
			keep[i] = true
			continue
		}
		j, ok := byReal[key]
		switch {
		case !ok:
			byReal[key], keep[i] = i, true
		case !srcs[j].direct() && s.direct():
			keep[j], keep[i], byReal[key] = false, true, i
		}
	}
	out := srcs[:0]
	for i, s := range srcs {
		if keep[i] {
			out = append(out, s)
		}
	}
	return out
}

// direct reports whether s is named without a link: its path in the tree
// is its real path.
func (s ruleSource) direct() bool {
	return s.tree.fsys != nil || s.node.real == filepath.Join(s.tree.real, filepath.FromSlash(s.node.rel))
}
