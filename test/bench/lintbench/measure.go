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
	// Best and Median are the runs of least and median wall time.
	Best, Median sample
	// CPU and MedianCPU are the least and the median CPU time (user +
	// system) of the runs: the least is what the program costs with the
	// least interference from the other work on the machine.
	CPU, MedianCPU time.Duration
	// RSS is the median of the runs' peak RSS, and PeakRSS the largest:
	// a run on a busy machine may peak higher when the garbage collector
	// falls behind.
	RSS, PeakRSS int64
	Err          error
	Skipped      bool
}

func summarise(ss []sample) stats {
	if len(ss) == 0 {
		return stats{}
	}
	byWall := slices.Clone(ss)
	slices.SortFunc(byWall, func(a, b sample) int { return int(a.Wall - b.Wall) })
	st := stats{Best: byWall[0], Median: byWall[len(byWall)/2]}
	cpu := make([]time.Duration, len(ss))
	rss := make([]int64, len(ss))
	for i, s := range ss {
		cpu[i], rss[i] = s.CPU, s.MaxRSS
		st.PeakRSS = max(st.PeakRSS, s.MaxRSS)
	}
	slices.Sort(cpu)
	slices.Sort(rss)
	st.CPU, st.MedianCPU, st.RSS = cpu[0], cpu[len(cpu)/2], rss[len(rss)/2]
	return st
}
