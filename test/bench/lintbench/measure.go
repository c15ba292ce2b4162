package main

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

// sample is one measured run of a program (or of a series of batches, for
// promtool): wall time, CPU time and peak resident set size.
type sample struct {
	Wall, CPU time.Duration
	// MaxRSS is in bytes; for batches, the largest of them.
	MaxRSS int64
}

// tool is a program under measurement.
type tool struct {
	name string
	// argv returns the command lines of one run: one, or several batches
	// run in turn.
	argv [][]string
	dir  string
	// ok lists the exit codes that mean the run worked.
	ok []int
}

// runOnce runs t and measures it. stdout, when non-nil, receives the
// program's standard output.
func (t *tool) runOnce(stdout *bytes.Buffer) (sample, error) {
	var s sample
	for _, argv := range t.argv {
		var stderr bytes.Buffer
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = t.dir
		cmd.Stderr = &stderr
		if stdout != nil {
			cmd.Stdout = stdout
		}
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start)
		if cmd.ProcessState == nil {
			return s, fmt.Errorf("%s: %w", t.name, err)
		}
		code := cmd.ProcessState.ExitCode()
		if !slices.Contains(t.ok, code) {
			var ee *exec.ExitError
			if err == nil || errors.As(err, &ee) {
				err = fmt.Errorf("exit code %d", code)
			}
			return s, fmt.Errorf("%s: %w\n%s", t.name, err, head(stderr.String(), 20))
		}
		ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		if !ok {
			return s, fmt.Errorf("%s: no resource usage on this platform", t.name)
		}
		s.Wall += wall
		s.CPU += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		// Maxrss is in KiB on Linux.
		s.MaxRSS = max(s.MaxRSS, ru.Maxrss*1024)
	}
	return s, nil
}

func head(s string, lines int) string {
	ls := strings.SplitN(s, "\n", lines+1)
	if len(ls) > lines {
		ls[lines] = "..."
	}
	return strings.Join(ls, "\n")
}

// batches splits files into command lines of prefix plus as many files as
// fit in limit bytes of arguments.
func batches(prefix []string, files []string, limit int) [][]string {
	var out [][]string
	size := 0
	for _, p := range prefix {
		size += len(p) + 1
	}
	cur, n := slices.Clone(prefix), size
	for _, f := range files {
		if len(cur) > len(prefix) && n+len(f)+1 > limit {
			out = append(out, cur)
			cur, n = slices.Clone(prefix), size
		}
		cur = append(cur, f)
		n += len(f) + 1
	}
	if len(cur) > len(prefix) {
		out = append(out, cur)
	}
	return out
}

// stats summarises the measured runs of one tool on one corpus.
type stats struct {
	Best, Median sample
	// PeakRSS is the largest MaxRSS of all runs.
	PeakRSS int64
	Err     error
	Skipped bool
}

func summarise(ss []sample) stats {
	if len(ss) == 0 {
		return stats{}
	}
	byWall := slices.Clone(ss)
	slices.SortFunc(byWall, func(a, b sample) int { return int(a.Wall - b.Wall) })
	st := stats{Best: byWall[0], Median: byWall[len(byWall)/2]}
	for _, s := range ss {
		st.PeakRSS = max(st.PeakRSS, s.MaxRSS)
	}
	return st
}
