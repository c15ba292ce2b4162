// Command lintprof profiles obsctl's lint pipeline in process, to find what
// makes `obsctl lint` miss the targets of lintbench (test/bench/lintbench).
//
// It lints the rule files under the corpus folder DIR the way `obsctl lint
// DIR` does from lintbench's working folder, DIR's parent, whose obsctl.yaml
// must name nothing but the corpus (no embedded content): load.Load with Defer, then every
// default check (lint.New + Lint), which reads each file as it checks it.
// It prints the time and live heap after each stage. With -cpuprofile and
// -memprofile it writes pprof profiles of the whole run; the heap profile
// is taken after the checks, while what lint keeps of the repo is still
// alive, so its in-use view shows what is kept and its alloc view what
// each stage allocated. Read them with `go tool pprof -top`.
//
// Corpora come from `go run ./test/bench/lintbench -keep`; the obsctl.yaml
// it leaves names the last one, and lintprof says what it must hold.
//
// Usage:
//
//	go run ./test/bench/lintprof [-cpuprofile cpu.prof] [-memprofile mem.prof] DIR
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"time"

	"github.com/obsctl/obsctl/internal/lint"
	"github.com/obsctl/obsctl/internal/load"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("lintprof", flag.ContinueOnError)
	fl.SetOutput(stderr)
	cpuProfile := fl.String("cpuprofile", "", "write a CPU profile to this file")
	memProfile := fl.String("memprofile", "", "write a heap profile to this file")
	if err := fl.Parse(args); err != nil || fl.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: lintprof [-cpuprofile FILE] [-memprofile FILE] DIR")
		return 2
	}
	if err := profile(fl.Args(), *cpuProfile, *memProfile, stdout); err != nil {
		fmt.Fprintln(stderr, "lintprof:", err)
		return 1
	}
	return 0
}

func profile(dirs []string, cpuProfile, memProfile string, w io.Writer) error {
	// As in lintbench: linted from the corpus's parent folder, whose
	// obsctl.yaml names nothing but the corpus, so that the corpus is
	// the repo's rule files and nothing else is loaded.
	if len(dirs) != 1 {
		return fmt.Errorf("one corpus folder, not %d", len(dirs))
	}
	dir, err := filepath.Abs(dirs[0])
	if err != nil {
		return err
	}
	work, base := filepath.Dir(dir), filepath.Base(dir)
	cfg := fmt.Sprintf("apiVersion: obsctl/v1\nname: bench\ndefaults: false\nrules:\n  paths: [%s]\n", base)
	if data, err := os.ReadFile(filepath.Join(work, "obsctl.yaml")); err != nil || string(data) != cfg {
		return fmt.Errorf("%s must hold an obsctl.yaml of exactly:\n%s", work, cfg)
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	start := time.Now()
	r, err := load.Load(load.Options{Paths: []string{base}, WorkDir: work, Defer: true})
	if err != nil {
		return err
	}
	stage(w, "load", time.Since(start), fmt.Sprintf("%d rule files found", r.DeferredRuleFiles()))

	l, err := lint.New(lint.Options{})
	if err != nil {
		return err
	}
	start = time.Now()
	findings, err := l.Lint(r)
	if err != nil {
		return err
	}
	stage(w, "lint", time.Since(start), fmt.Sprintf("%d findings", len(findings)))

	if memProfile != "" {
		f, err := os.Create(memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			return err
		}
	}
	runtime.KeepAlive(r)
	return nil
}

// stage prints how long a stage took, the live heap after it, and the
// memory the Go runtime holds beside the heap's objects (what a soft
// memory limit counts too): free heap spans not returned yet, stacks,
// and the runtime's own metadata.
func stage(w io.Writer, name string, d time.Duration, what string) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/memory/classes/metadata/other:bytes"},
		{Name: "/memory/classes/metadata/mspan/inuse:bytes"},
		{Name: "/memory/classes/other:bytes"},
		{Name: "/memory/classes/profiling/buckets:bytes"},
		{Name: "/memory/classes/os-stacks:bytes"},
	}
	metrics.Read(samples)
	mb := func(i int) float64 { return float64(samples[i].Value.Uint64()) / 1e6 }
	fmt.Fprintf(w, "%-5s before GC: runtime holds %.1f MB (released %.1f): free spans %.1f, unused in spans %.1f, stacks %.1f, metadata %.1f + mspans %.1f, other %.1f, profiling %.1f, OS stacks %.1f\n",
		name, mb(0)-mb(1), mb(1), mb(2), mb(3), mb(4), mb(5), mb(6), mb(7), mb(8), mb(9))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Fprintf(w, "%-5s %7.3fs  live heap %6.1f MB  total alloc %7.1f MB  (%s)\n",
		name, d.Seconds(), float64(ms.HeapAlloc)/1e6, float64(ms.TotalAlloc)/1e6, what)
}
