package e2elint

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// corpusDir holds the hostile corpus; this package reads its cluster-*
// cases.
const corpusDir = "../../internal/cli/testdata/hostile"

// corpusCase is what this package needs of a hostile case: its repo, lint's
// exit code and the API server's expected answer. The directives are those
// of internal/cli/hostile_test.go, which documents them; the ones about
// links, FIFOs and bounds do not occur in the cluster cases.
type corpusCase struct {
	name      string
	archive   *txtar.Archive
	exit      int    // lint's exit code
	apiserver string // "reject", "accept" or "" (not said)
	bigs      [][3]string
}

func readCorpus(t *testing.T, prefix string) []*corpusCase {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(corpusDir, prefix+"*.txtar"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no %s* cases in %s: %v", prefix, corpusDir, err)
	}
	var out []*corpusCase
	for _, p := range paths {
		a, err := txtar.ParseFile(p)
		if err != nil {
			t.Fatal(err)
		}
		c := &corpusCase{name: strings.TrimSuffix(filepath.Base(p), ".txtar"), archive: a, exit: 3}
		for _, f := range a.Files {
			if f.Name != "case" {
				continue
			}
			for _, line := range strings.Split(string(f.Data), "\n") {
				fs := strings.Fields(line)
				switch {
				case len(fs) == 2 && fs[0] == "exit":
					if c.exit, err = strconv.Atoi(fs[1]); err != nil {
						t.Fatalf("%s: %q", p, line)
					}
				case len(fs) == 2 && fs[0] == "apiserver":
					c.apiserver = fs[1]
				case len(fs) >= 4 && fs[0] == "big":
					c.bigs = append(c.bigs, [3]string{fs[1], fs[2], strings.ReplaceAll(strings.Join(fs[3:], " "), `\n`, "\n")})
				case len(fs) > 0 && (fs[0] == "symlink" || fs[0] == "fifo"):
					t.Fatalf("%s: %s cases are not cluster cases", p, fs[0])
				}
			}
		}
		out = append(out, c)
	}
	return out
}

// materialize writes the case's repo into a new folder, as the hostile
// runner does.
func (c *corpusCase) materialize(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range c.archive.Files {
		if f.Name != "case" {
			write(f.Name, f.Data)
		}
	}
	for _, b := range c.bigs {
		write(b[0], bigText(t, b[1], b[2]))
	}
	return dir
}

// bigText is the big directive's content: PREFIX|TEXT|SUFFIX with TEXT
// repeated whole (each {n} numbered, comma-separated after a "["), or TEXT
// repeated and cut to the size.
func bigText(t *testing.T, size, text string) []byte {
	t.Helper()
	mult := 1
	switch {
	case strings.HasSuffix(size, "K"):
		mult, size = 1<<10, strings.TrimSuffix(size, "K")
	case strings.HasSuffix(size, "M"):
		mult, size = 1<<20, strings.TrimSuffix(size, "M")
	}
	n, err := strconv.Atoi(size)
	if err != nil {
		t.Fatal(err)
	}
	n *= mult
	var buf bytes.Buffer
	parts := strings.Split(text, "|")
	if len(parts) != 3 {
		for buf.Len() < n {
			buf.WriteString(text)
		}
		buf.Truncate(n)
		return buf.Bytes()
	}
	buf.WriteString(parts[0])
	for i := 0; ; i++ {
		item := strings.ReplaceAll(parts[1], "{n}", strconv.Itoa(i))
		if buf.Len()+len(item)+len(parts[2]) > n {
			break
		}
		if i > 0 && strings.HasSuffix(parts[0], "[") {
			buf.WriteByte(',')
		}
		buf.WriteString(item)
	}
	buf.WriteString(parts[2])
	return buf.Bytes()
}
