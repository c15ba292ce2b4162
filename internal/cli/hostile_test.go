package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/obsctl/obsctl/internal/report"
)

// hostileCanary is planted in the test process's environment: a repo that
// links a file to /proc/self/environ must never get it printed.
const hostileCanary = "OBSCTL_HOSTILE_CANARY"

// TestHostile runs the hostile-input corpus (testdata/hostile/*.txtar):
// repos written by someone who wants obsctl to hang, run out of memory,
// print what it should not, or pass what the cluster would refuse. Each
// case runs `obsctl lint` in every format, `obsctl build` and `obsctl
// render`, and asserts the exit codes, that each expected finding is
// reported at its file and line, that no finding lacks a file and a line,
// that no output holds the canary (nor any string the case forbids), that
// no output exceeds its bound, and that the memory allocated stays within
// a bound linear in the case's input.
//
// A case is a txtar archive: its comment is the case's description; the
// file "case" holds directives, one a line; every other file is a file of
// the repo. Directives:
//
//	exit N                  lint's exit code (default 3)
//	exit build|render N     build's or render's (default: lint's)
//	finding CHECK FILE:LINE a finding of CHECK at FILE (repo-relative), LINE
//	finding CHECK FILE      ... at FILE, any line but not 0
//	nofinding CHECK         no finding of CHECK: one mistake is one finding
//	absent TEXT             TEXT appears in no output (the canary always)
//	symlink PATH TARGET     PATH is a link to TARGET (${REPO} is the repo)
//	fifo PATH               PATH is a named pipe
//	socket PATH             PATH is a Unix socket (nothing listens on it)
//	sparse PATH SIZE        PATH is a file of SIZE zero bytes that takes no disk;
//	                        not counted in the input of the heap bound, as a file
//	                        over the size limit must not be read at all
//	big PATH SIZE TEXT      PATH is TEXT repeated to SIZE bytes (K, M suffixes);
//	                        PREFIX|TEXT|SUFFIX repeats TEXT whole between them,
//	                        each {n} in TEXT replaced by the repetition's number;
//	                        TEXT is the rest of the line, blanks kept, \n a newline
//	clone PATH N            N copies of the case's file PATH beside it, named
//	                        with -1 ... -N before the extension, each {n} in
//	                        the file replaced by the copy's number
//	maxout SIZE             bound on each output (default 1M; render's stdout, the
//	                        stack's ~5.5 MB of objects, 8M more; the machine
//	                        formats, which keep every finding, 4K more a finding
//	                        of lint's JSON report)
//	maxheap SIZE            bound on the heap a run grows by, beside 20x the input
//	                        (default 256M); the outputs are captured in files, so
//	                        the heap is obsctl's own
//	skip-build, skip-render the command does not apply to the case
//	apiserver reject|accept what the real API server says to the objects the
//	                        repo renders (checked by test/e2elint, not here)
func TestHostile(t *testing.T) {
	canary := os.Getenv(hostileCanary) // set by TestMain (runWithCanary)
	// A link to /proc/self/environ shows the environment the process
	// started with: unless the canary is there, the cases that link to it
	// prove nothing.
	if environ, err := os.ReadFile("/proc/self/environ"); err != nil || !bytes.Contains(environ, []byte(canary)) {
		t.Fatalf("the canary is not in /proc/self/environ (%v): the cases that link to it would prove nothing", err)
	}
	files, err := filepath.Glob("testdata/hostile/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("hostile corpus: %d cases, %v", len(files), err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".txtar")
		t.Run(name, func(t *testing.T) {
			c := parseHostile(t, path)
			c.absent = append(c.absent, canary)
			c.run(t)
		})
	}
}

// runWithCanary runs the test binary again, with the same arguments, in
// a process whose environment holds a canary value from its start, and
// returns that process's exit code: /proc/self/environ shows the
// environment a process started with, which os.Setenv does not change. It
// runs nothing (false) when the canary is set already, as it is in that
// process and in the obsctl processes the scripts start.
func runWithCanary() (int, bool) {
	if os.Getenv(hostileCanary) != "" {
		return 0, false
	}
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=canary-%d-%d", hostileCanary, os.Getpid(), time.Now().UnixNano()))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, true
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		return exit.ExitCode(), true
	default:
		fmt.Fprintln(os.Stderr, "run the tests with the canary:", err)
		return 1, true
	}
}

type hostileCase struct {
	archive  *txtar.Archive
	exit     map[string]int // by command: lint, build, render
	findings []wantFinding
	nochecks []string
	absent   []string
	links    [][2]string
	fifos    []string
	sockets  []string
	sparse   []bigFile
	bigs     []bigFile
	clones   []cloneFile
	maxOut   int64
	maxHeap  int64
	skip     map[string]bool
}

type wantFinding struct {
	check, file string
	line        int // 0: any line but 0
}

type cloneFile struct {
	path string
	n    int
}

type bigFile struct {
	path string
	size int64
	text string
}

func parseSize(t *testing.T, s string) int64 {
	t.Helper()
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("size %q: %v", s, err)
	}
	return n * mult
}

func parseHostile(t *testing.T, path string) *hostileCase {
	t.Helper()
	a, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &hostileCase{archive: a, exit: map[string]int{"lint": ExitFindings}, maxOut: 1 << 20, maxHeap: 256 << 20, skip: map[string]bool{}}
	var directives string
	for _, f := range a.Files {
		if f.Name == "case" {
			directives = string(f.Data)
		}
	}
	for i, line := range strings.Split(directives, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		bad := func() { t.Fatalf("%s: case line %d: %q", path, i+1, line) }
		switch f[0] {
		case "exit":
			switch len(f) {
			case 2:
				n, err := strconv.Atoi(f[1])
				if err != nil {
					bad()
				}
				c.exit["lint"] = n
			case 3:
				n, err := strconv.Atoi(f[2])
				if err != nil {
					bad()
				}
				c.exit[f[1]] = n
			default:
				bad()
			}
		case "finding":
			if len(f) != 3 {
				bad()
			}
			w := wantFinding{check: f[1], file: f[2]}
			if file, l, ok := strings.Cut(f[2], ":"); ok {
				n, err := strconv.Atoi(l)
				if err != nil {
					bad()
				}
				w.file, w.line = file, n
			}
			c.findings = append(c.findings, w)
		case "nofinding":
			if len(f) != 2 {
				bad()
			}
			c.nochecks = append(c.nochecks, f[1])
		case "absent":
			c.absent = append(c.absent, strings.TrimSpace(strings.TrimPrefix(line, "absent")))
		case "symlink":
			if len(f) != 3 {
				bad()
			}
			c.links = append(c.links, [2]string{f[1], f[2]})
		case "fifo":
			c.fifos = append(c.fifos, f[1])
		case "socket":
			c.sockets = append(c.sockets, f[1])
		case "sparse":
			if len(f) != 3 {
				bad()
			}
			c.sparse = append(c.sparse, bigFile{path: f[1], size: parseSize(t, f[2])})
		case "big":
			if len(f) < 4 {
				bad()
			}
			// TEXT is the rest of the line as written, blanks and all:
			// drop the words big, PATH and SIZE.
			text := strings.TrimSpace(line)
			for range 3 {
				text = strings.TrimLeft(text[len(strings.Fields(text)[0]):], " \t")
			}
			text = strings.ReplaceAll(text, `\n`, "\n")
			c.bigs = append(c.bigs, bigFile{f[1], parseSize(t, f[2]), text})
		case "clone":
			if len(f) != 3 {
				bad()
			}
			n, err := strconv.Atoi(f[2])
			if err != nil || n < 1 {
				bad()
			}
			c.clones = append(c.clones, cloneFile{f[1], n})
		case "maxout":
			c.maxOut = parseSize(t, f[1])
		case "maxheap":
			c.maxHeap = parseSize(t, f[1])
		case "skip-build":
			c.skip["build"] = true
		case "skip-render":
			c.skip["render"] = true
		case "apiserver":
			if len(f) != 2 || f[1] != "reject" && f[1] != "accept" {
				bad()
			}
		default:
			bad()
		}
	}
	return c
}

// materialize writes the case's repo into a new folder and returns it
// with the total bytes of input.
func (c *hostileCase) materialize(t *testing.T) (string, int64) {
	t.Helper()
	dir := t.TempDir()
	var size int64
	for _, f := range c.archive.Files {
		if f.Name == "case" {
			continue
		}
		p := filepath.Join(dir, f.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		size += int64(len(f.Data))
	}
	for _, b := range c.bigs {
		p := filepath.Join(dir, b.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if parts := strings.Split(b.text, "|"); len(parts) == 3 {
			buf.WriteString(parts[0])
			for n := 0; ; n++ {
				text := strings.ReplaceAll(parts[1], "{n}", strconv.Itoa(n))
				if int64(buf.Len()+len(text)+len(parts[2])) > b.size {
					break
				}
				if n > 0 && strings.HasSuffix(parts[0], "[") {
					buf.WriteByte(',')
				}
				buf.WriteString(text)
			}
			buf.WriteString(parts[2])
		} else {
			for int64(buf.Len()) < b.size {
				buf.WriteString(b.text)
			}
			buf.Truncate(int(b.size))
		}
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		size += b.size
	}
	for _, cl := range c.clones {
		data, err := os.ReadFile(filepath.Join(dir, cl.path))
		if err != nil {
			t.Fatalf("clone %s: %v", cl.path, err)
		}
		ext := filepath.Ext(cl.path)
		for i := 1; i <= cl.n; i++ {
			p := filepath.Join(dir, fmt.Sprintf("%s-%d%s", strings.TrimSuffix(cl.path, ext), i, ext))
			copied := bytes.ReplaceAll(data, []byte("{n}"), []byte(strconv.Itoa(i)))
			if err := os.WriteFile(p, copied, 0o644); err != nil {
				t.Fatal(err)
			}
			size += int64(len(copied))
		}
	}
	for _, l := range c.links {
		p := filepath.Join(dir, l[0])
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(strings.ReplaceAll(l[1], "${REPO}", dir), p); err != nil {
			t.Fatal(err)
		}
	}
	for _, fifo := range c.fifos {
		p := filepath.Join(dir, fifo)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, sp := range c.sockets {
		p := filepath.Join(dir, sp)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		// A socket's path is limited to about 100 bytes: bind it in a
		// short folder and move it into the repo.
		short, err := os.MkdirTemp("", "s")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(short)
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(short, "s"), Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		l.SetUnlinkOnClose(false)
		l.Close()
		if err := os.Rename(filepath.Join(short, "s"), p); err != nil {
			t.Fatal(err)
		}
	}
	for _, sp := range c.sparse {
		p := filepath.Join(dir, sp.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(sp.size); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dir, size
}

var (
	overheadOnce sync.Once
	overhead     map[string]int64
)

// formatOverhead returns, by run ("lint sarif"), the bytes a machine
// format prints for a repo with no finding: its fixed part (SARIF lists
// every check as a rule, with its documentation), which grows with the
// checks and not with the input. The bounds are on what a hostile input
// adds to it.
func formatOverhead(t *testing.T) map[string]int64 {
	overheadOnce.Do(func() {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "obsctl.yaml"), []byte("apiVersion: obsctl/v1\nname: empty\ndefaults: false\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		overhead = map[string]int64{}
		for _, f := range report.Formats() {
			stdout, _, code, _ := runBounded(t, "lint "+f, dir, []string{"lint", "--format", f, "--color", "never"})
			if code != 0 {
				t.Fatalf("lint --format %s of an empty repo: exit %d", f, code)
			}
			overhead["lint "+f] = int64(len(stdout))
		}
	})
	return overhead
}

// hostileRun is one command of a case.
type hostileRun struct {
	name string
	args []string
}

func (c *hostileCase) run(t *testing.T) {
	dir, size := c.materialize(t)
	var runs []hostileRun
	for _, f := range report.Formats() {
		runs = append(runs, hostileRun{"lint " + f, []string{"lint", "--format", f, "--color", "never"}})
	}
	if !c.skip["build"] {
		runs = append(runs, hostileRun{"build", []string{"build", "-o", filepath.Join(t.TempDir(), "out")}})
	}
	if !c.skip["render"] {
		runs = append(runs, hostileRun{"render", []string{"render", "-o", "-"}})
	}
	// Output bounds are checked once lint's JSON report has said how
	// many findings the machine formats must keep.
	type output struct {
		run, name string
		size      int64
	}
	var outputs []output
	findings := 0
	for _, r := range runs {
		cmd := strings.Fields(r.name)[0]
		want, ok := c.exit[cmd]
		if !ok {
			want = c.exit["lint"]
		}
		stdout, stderr, code, heap := runBounded(t, r.name, dir, r.args)
		// With -v, the figures a closing note gives: heap and output.
		t.Logf("measure %s: exit %d, heap +%d bytes, stdout %d bytes, stderr %d bytes, input %d bytes", r.name, code, heap, len(stdout), len(stderr), size)
		if code != want {
			t.Errorf("%s: exit %d, want %d\nstderr:\n%s", r.name, code, want, clip(stderr))
		}
		for _, out := range []struct {
			name string
			data []byte
		}{{"stdout", stdout}, {"stderr", stderr}} {
			outputs = append(outputs, output{r.name, out.name, int64(len(out.data))})
			for _, a := range c.absent {
				if a != "" && bytes.Contains(out.data, []byte(a)) {
					t.Errorf("%s: %s holds %q", r.name, out.name, a)
				}
			}
		}
		if bound := c.maxHeap + 20*size; heap > bound {
			t.Errorf("%s: the heap grew by %d bytes, over the bound of %d (input %d bytes)", r.name, heap, bound, size)
		}
		if r.name == "lint json" {
			findings = c.checkFindings(t, stdout)
		}
	}
	for _, o := range outputs {
		limit := c.maxOut
		switch {
		case o.run == "render" && o.name == "stdout":
			limit += 8 << 20
		case strings.HasPrefix(o.run, "lint ") && o.run != "lint text" && o.name == "stdout":
			limit += 4<<10*int64(findings) + formatOverhead(t)[o.run]
		}
		if o.size > limit {
			t.Errorf("%s: %s is %d bytes, over the bound of %d", o.run, o.name, o.size, limit)
		}
	}
}

// runBounded runs obsctl in process and returns its outputs, exit code and
// how much the heap grew at its peak (sampled). A run that blocks (a FIFO
// opened, say) fails the case after a minute instead of hanging the suite.
func runBounded(t *testing.T, name, dir string, args []string) (stdout, stderr []byte, code int, peak int64) {
	t.Helper()
	// The outputs go to files, not buffers, so that the heap measured
	// is obsctl's alone, however much a machine format must print.
	outf, err := os.CreateTemp(t.TempDir(), "stdout")
	if err != nil {
		t.Fatal(err)
	}
	defer outf.Close()
	errf, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	done := make(chan int, 1)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := int64(ms.HeapAlloc)
	go func() {
		// Wrapped, so that nothing takes the files for a terminal.
		done <- Run(context.Background(), args, Deps{Stdout: struct{ io.Writer }{outf}, Stderr: struct{ io.Writer }{errf}, WorkDir: dir, Getenv: os.Getenv})
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	sample := func() {
		runtime.ReadMemStats(&ms)
		peak = max(peak, int64(ms.HeapAlloc)-base)
	}
	for {
		select {
		case code = <-done:
			sample()
			stdout, err := os.ReadFile(outf.Name())
			if err != nil {
				t.Fatal(err)
			}
			stderr, err := os.ReadFile(errf.Name())
			if err != nil {
				t.Fatal(err)
			}
			return stdout, stderr, code, peak
		case <-tick.C:
			sample()
		case <-deadline:
			t.Fatalf("%s: still running after a minute (blocked?)", name)
		}
	}
}

// checkFindings asserts the expected findings in lint's JSON report and
// returns how many findings it holds.
func (c *hostileCase) checkFindings(t *testing.T, stdout []byte) int {
	t.Helper()
	var rep struct {
		Findings []struct {
			Check string
			File  string
			Start struct{ Line int }
		}
	}
	if err := json.Unmarshal(stdout, &rep); err != nil {
		t.Errorf("lint json: not JSON: %v\n%s", err, clip(stdout))
		return 0
	}
	for _, f := range rep.Findings {
		if f.File == "" || f.Start.Line < 1 {
			t.Errorf("a finding of %s without a file and line: %q:%d", f.Check, f.File, f.Start.Line)
		}
	}
	for _, check := range c.nochecks {
		for _, f := range rep.Findings {
			if f.Check == check {
				t.Errorf("a finding of %s at %s:%d, want none", check, f.File, f.Start.Line)
			}
		}
	}
	for _, w := range c.findings {
		found := false
		for _, f := range rep.Findings {
			if f.Check == w.check && filepath.ToSlash(f.File) == w.file && (w.line == f.Start.Line || w.line == 0 && f.Start.Line > 0) {
				found = true
				break
			}
		}
		if !found {
			var got []string
			for _, f := range rep.Findings {
				got = append(got, fmt.Sprintf("%s %s:%d", f.Check, f.File, f.Start.Line))
			}
			t.Errorf("no finding %s at %s:%d; got %v", w.check, w.file, w.line, got)
		}
	}
	return len(rep.Findings)
}

// clip shortens output for a failure message.
func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + fmt.Sprintf("... (%d bytes)", len(b))
	}
	return string(b)
}
