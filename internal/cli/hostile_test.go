package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
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
// reported at its file and line, that no output holds the canary (nor any
// string the case forbids), that no output exceeds its bound, and that
// the memory allocated stays within a bound linear in the case's input.
//
// A case is a txtar archive: its comment is the case's description; the
// file "case" holds directives, one a line; every other file is a file of
// the repo. Directives:
//
//	exit N                  lint's exit code (default 3)
//	exit build|render N     build's or render's (default: lint's)
//	finding CHECK FILE:LINE a finding of CHECK at FILE (repo-relative), LINE
//	finding CHECK FILE      ... at FILE, any line but not 0
//	absent TEXT             TEXT appears in no output (the canary always)
//	symlink PATH TARGET     PATH is a link to TARGET (${REPO} is the repo)
//	fifo PATH               PATH is a named pipe
//	big PATH SIZE TEXT      PATH is TEXT repeated to SIZE bytes (K, M suffixes);
//	                        PREFIX|TEXT|SUFFIX repeats TEXT whole between them,
//	                        each {n} in TEXT replaced by the repetition's number
//	maxout SIZE             bound on each output (default 1M; render's stdout, the
//	                        stack's ~5.5 MB of objects, 8M more)
//	maxheap SIZE            bound on the heap a run grows by, beside 20x the input
//	                        (default 256M)
//	skip-build, skip-render the command does not apply to the case
//	apiserver reject|accept what the real API server says to the objects the
//	                        repo renders (checked by test/e2elint, not here)
func TestHostile(t *testing.T) {
	canary := fmt.Sprintf("canary-%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Setenv(hostileCanary, canary)
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

type hostileCase struct {
	archive  *txtar.Archive
	exit     map[string]int // by command: lint, build, render
	findings []wantFinding
	absent   []string
	links    [][2]string
	fifos    []string
	bigs     []bigFile
	maxOut   int64
	maxHeap  int64
	skip     map[string]bool
}

type wantFinding struct {
	check, file string
	line        int // 0: any line but 0
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
		case "absent":
			c.absent = append(c.absent, strings.TrimSpace(strings.TrimPrefix(line, "absent")))
		case "symlink":
			if len(f) != 3 {
				bad()
			}
			c.links = append(c.links, [2]string{f[1], f[2]})
		case "fifo":
			c.fifos = append(c.fifos, f[1])
		case "big":
			if len(f) < 4 {
				bad()
			}
			text := strings.Join(f[3:], " ")
			text = strings.ReplaceAll(text, `\n`, "\n")
			c.bigs = append(c.bigs, bigFile{f[1], parseSize(t, f[2]), text})
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
	return dir, size
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
	for _, r := range runs {
		cmd := strings.Fields(r.name)[0]
		want, ok := c.exit[cmd]
		if !ok {
			want = c.exit["lint"]
		}
		stdout, stderr, code, heap := runBounded(t, r.name, dir, r.args)
		if code != want {
			t.Errorf("%s: exit %d, want %d\nstderr:\n%s", r.name, code, want, clip(stderr))
		}
		for _, out := range []struct {
			name string
			data []byte
		}{{"stdout", stdout}, {"stderr", stderr}} {
			limit := c.maxOut
			if r.name == "render" && out.name == "stdout" {
				limit += 8 << 20
			}
			if int64(len(out.data)) > limit {
				t.Errorf("%s: %s is %d bytes, over the bound of %d", r.name, out.name, len(out.data), limit)
			}
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
			c.checkFindings(t, stdout)
		}
	}
}

// runBounded runs obsctl in process and returns its outputs, exit code and
// how much the heap grew at its peak (sampled). A run that blocks (a FIFO
// opened, say) fails the case after a minute instead of hanging the suite.
func runBounded(t *testing.T, name, dir string, args []string) (stdout, stderr []byte, code int, peak int64) {
	t.Helper()
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := int64(ms.HeapAlloc)
	go func() {
		done <- Run(context.Background(), args, Deps{Stdout: &out, Stderr: &errb, WorkDir: dir, Getenv: os.Getenv})
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
			return out.Bytes(), errb.Bytes(), code, peak
		case <-tick.C:
			sample()
		case <-deadline:
			t.Fatalf("%s: still running after a minute (blocked?)", name)
		}
	}
}

func (c *hostileCase) checkFindings(t *testing.T, stdout []byte) {
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
		return
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
}

// clip shortens output for a failure message.
func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + fmt.Sprintf("... (%d bytes)", len(b))
	}
	return string(b)
}
