// Package fuzzseed adds files to a fuzz target's seed corpus. It is for
// tests only.
package fuzzseed

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// MaxSize caps seed files: the fuzzer minimizes every new input it finds,
// and large ones make it spend its time doing that. Longer files are cut
// at the last line break before it.
const MaxSize = 2 << 10

// Files adds the files matching the glob patterns to f's corpus, each cut
// to MaxSize, and fails f when none matches.
func Files(f *testing.F, patterns ...string) {
	f.Helper()
	FilesUpTo(f, MaxSize, patterns...)
}

// FilesUpTo is Files with seeds cut to max bytes: the head of a file has
// the shapes the rest has.
func FilesUpTo(f *testing.F, max int, patterns ...string) {
	f.Helper()
	n := 0
	for _, pat := range patterns {
		paths, err := filepath.Glob(pat)
		if err != nil {
			f.Fatal(err)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			if len(b) > max {
				b = b[:bytes.LastIndexByte(b[:max], '\n')+1]
			}
			f.Add(b)
			n++
		}
	}
	if n == 0 {
		f.Fatalf("no seed files match %v", patterns)
	}
}
