package load_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/fuzzseed"
	"github.com/obsctl/obsctl/internal/lint"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/report"
	"github.com/obsctl/obsctl/internal/source"
)

// The fuzz targets below build a small repo on disk from fuzzed bytes and
// a fuzzed choice of what one of its files (or folders) is: the file
// itself, a link inside the repo, a link out of it (to the process
// environment, a device, /etc), a dangling link, a loop, a named pipe, a
// socket, a folder, a file over the limit. The loader must return at once
// (it never opens a pipe or reads a device), must refuse exactly the kinds
// it should with a positioned load/file finding, must read nothing it
// refuses, and lint's report in every format must hold nothing of what the
// links lead to.

// fuzzLimit is the size limit the targets load with, so that a file over
// it costs nothing.
const fuzzLimit = 64 << 10

// kind is what the fuzzed path of a repo is made.
type kind struct {
	name string
	// make creates the path p (absolute) in the repo dir; content is what
	// a file the loader may read holds.
	make func(t *testing.T, dir, p string, content []byte)
	// file and folder say whether the loader reads p when it expects a
	// file or a folder there; content too large still makes a file
	// refused.
	file, folder bool
}

func writeFile(t *testing.T, p string, content []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
}

func link(t *testing.T, target, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// inFolder is where a folder kind puts the content: a file of the name
// the loader reads there.
func inFolder(p string) string {
	switch {
	case strings.HasSuffix(p, ".json"), strings.HasSuffix(p, "dashboards"):
		return "a.json"
	default:
		return "a.yaml"
	}
}

var kinds = []kind{
	{"file", func(t *testing.T, _, p string, c []byte) { writeFile(t, p, c) }, true, false},
	{"relative link inside", func(t *testing.T, dir, p string, c []byte) {
		target := filepath.Join(dir, "elsewhere", filepath.Base(p))
		writeFile(t, target, c)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		from, err := filepath.EvalSymlinks(filepath.Dir(p)) // a relative link is read from where it really is
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(from, target)
		if err != nil {
			t.Fatal(err)
		}
		link(t, rel, p)
	}, true, false},
	{"absolute link inside", func(t *testing.T, dir, p string, c []byte) {
		target := filepath.Join(dir, "abs", filepath.Base(p))
		writeFile(t, target, c)
		link(t, target, p)
	}, true, false},
	{"folder", func(t *testing.T, _, p string, c []byte) { writeFile(t, filepath.Join(p, inFolder(p)), c) }, false, true},
	{"link to a folder inside", func(t *testing.T, dir, p string, c []byte) {
		target := filepath.Join(dir, "linked", filepath.Base(p))
		writeFile(t, filepath.Join(target, inFolder(p)), c)
		link(t, target, p)
	}, false, true},
	{"link to the environment", func(t *testing.T, _, p string, _ []byte) { link(t, "/proc/self/environ", p) }, false, false},
	{"link to /dev/zero", func(t *testing.T, _, p string, _ []byte) { link(t, "/dev/zero", p) }, false, false},
	{"link to /dev/urandom", func(t *testing.T, _, p string, _ []byte) { link(t, "/dev/urandom", p) }, false, false},
	{"link to /dev/null", func(t *testing.T, _, p string, _ []byte) { link(t, "/dev/null", p) }, false, false},
	{"link to /etc", func(t *testing.T, _, p string, _ []byte) { link(t, "/etc", p) }, false, false},
	{"relative link climbing out", func(t *testing.T, _, p string, _ []byte) {
		link(t, strings.Repeat("../", 40)+"etc/passwd", p)
	}, false, false},
	{"chain out", func(t *testing.T, dir, p string, _ []byte) {
		hop := filepath.Join(dir, "hops", filepath.Base(p))
		link(t, "/etc/passwd", hop)
		link(t, hop, p)
	}, false, false},
	{"dangling link", func(t *testing.T, _, p string, _ []byte) { link(t, "nowhere", p) }, false, false},
	{"loop", func(t *testing.T, _, p string, _ []byte) { link(t, filepath.Base(p), p) }, false, false},
	{"named pipe", func(t *testing.T, _, p string, _ []byte) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}, false, false},
	{"socket", func(t *testing.T, _, p string, _ []byte) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
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
	}, false, false},
	{"over the limit", func(t *testing.T, _, p string, _ []byte) {
		writeFile(t, p, nil)
		if err := os.Truncate(p, fuzzLimit+1); err != nil {
			t.Fatal(err)
		}
	}, false, false},
}

func kindOf(b byte) kind { return kinds[int(b)%len(kinds)] }

// want is what the loader expects at a fuzzed path.
type want int

const (
	wantFile want = iota
	wantFolder
	wantEither
)

// refused reports whether the loader must refuse k made with content at
// a path where it expects w.
func (k kind) refused(w want, content []byte) bool {
	switch {
	case k.file && len(content) > fuzzLimit:
		return true
	case w == wantFile:
		return !k.file
	case w == wantFolder:
		return !k.folder
	}
	return !k.file && !k.folder
}

const (
	fuzzConfig = "apiVersion: obsctl/v1\nname: fuzz\nrules:\n  paths: [rules, extra]\ndefaults: false\n"
	fuzzRule   = "groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: up\n"
	fuzzDash   = "{\"title\": \"d\", \"panels\": []}\n"
	fuzzPipe   = "apiVersion: obsctl/v1\nkind: Pipeline\nname: p\nmatch: {namespaces: [p]}\noutput: {index: logs-p}\n"
)

// slot is one fuzzed path of a repo.
type slot struct {
	rel  string // in the repo
	want want
	// at is the file:line of the load/file finding when refused.
	at string
}

// fuzzRepo builds a repo of a valid config, rule file, pipeline and
// dashboard, then makes each slot the kind its byte picks (the slot's
// file is not written otherwise), and loads it with opts. It checks every
// property the targets share and returns the repo.
func fuzzRepo(t *testing.T, content []byte, slots []slot, picks []byte, opts load.Options, configOnly bool) *load.Repo {
	t.Helper()
	dir := t.TempDir()
	base := map[string]string{
		"obsctl.yaml":        fuzzConfig,
		"rules/ok.yaml":      fuzzRule,
		"extra/ok.yaml":      fuzzRule,
		"pipelines/ok.yaml":  fuzzPipe,
		"dashboards/ok.json": fuzzDash,
	}
	for _, s := range slots {
		delete(base, s.rel)
		if s.rel == "extra" || s.rel == "dashboards" {
			for p := range base {
				if strings.HasPrefix(p, s.rel+"/") {
					delete(base, p)
				}
			}
		}
	}
	for p, data := range base {
		writeFile(t, filepath.Join(dir, p), []byte(data))
	}
	for i, s := range slots {
		kindOf(picks[i]).make(t, dir, filepath.Join(dir, s.rel), content)
	}
	opts.WorkDir, opts.MaxFileSize = dir, fuzzLimit
	r := loadWithin(t, opts, configOnly)

	// Each slot is refused exactly when it must be, at its place.
	refusedAt := map[string]bool{}
	for _, f := range r.Findings {
		if f.Check == load.CheckFile {
			refusedAt[fmt.Sprintf("%s:%d", f.File, f.Start.Line)] = true
		}
	}
	sources := r.Sources()
	for i, s := range slots {
		k := kindOf(picks[i])
		if k.refused(s.want, content) != refusedAt[s.at] {
			t.Fatalf("%s as %s (%d bytes): refused %v, want %v; findings %v", s.rel, k.name, len(content), refusedAt[s.at], k.refused(s.want, content), r.Findings)
		}
		if k.refused(s.want, content) {
			for p := range sources {
				if p == s.rel || strings.HasPrefix(p, s.rel+"/") {
					t.Fatalf("%s as %s is refused, yet %s was read", s.rel, k.name, p)
				}
			}
		}
	}
	checkRepo(t, r, content)

	// The same repo loads the same way twice.
	if r2 := loadWithin(t, opts, configOnly); !reflect.DeepEqual(r.Findings, r2.Findings) {
		t.Fatalf("Load is not deterministic:\n%v\n%v", r.Findings, r2.Findings)
	}
	return r
}

// environ is this process's environment as /proc/self/environ gives it.
var environ, _ = os.ReadFile("/proc/self/environ")

// outside is what the links out of the repo lead to.
var outside = func() [][]byte {
	var out [][]byte
	for _, v := range bytes.Split(environ, []byte{0}) {
		if len(v) >= 8 {
			out = append(out, v)
		}
	}
	if b, err := os.ReadFile("/etc/passwd"); err == nil {
		for _, l := range bytes.Split(b, []byte("\n")) {
			if len(l) >= 8 {
				out = append(out, l)
			}
		}
	}
	return out
}()

// checkRepo checks what every loaded repo must hold: findings with a
// place, shown names that a terminal cannot act on, and no source and no
// report holding what lies out of the repo.
func checkRepo(t *testing.T, r *load.Repo, content []byte) {
	t.Helper()
	for _, f := range r.Findings {
		if f.Check == load.CheckFile && (f.File == "" || f.Start.Line < 1 || f.Severity != diag.Error || f.Message == "") {
			t.Fatalf("malformed finding %+v", f)
		}
		if strings.ContainsFunc(f.File, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
			t.Fatalf("finding names a file with a control character: %q", f.File)
		}
	}
	var out [][]byte // what lies out of the repo, and not in the fuzzed content
	for _, o := range outside {
		if !bytes.Contains(content, o) {
			out = append(out, o)
		}
	}
	for p, sf := range r.Sources() {
		for _, o := range out {
			if bytes.Contains(sf.Src, o) {
				t.Fatalf("%s holds %q, from outside the repo", p, o)
			}
		}
	}
	l, err := lint.New(lint.Options{Enable: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	findings := l.Run(r)
	srcs := r.Sources()
	in := report.Input{Findings: findings, Source: func(p string) *source.File { return srcs[p] }}
	for _, format := range report.Formats() {
		var b bytes.Buffer
		if err := report.Write(&b, format, in, report.Options{}); err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			if bytes.Contains(b.Bytes(), o) {
				t.Fatalf("the %s report holds %q, from outside the repo", format, o)
			}
		}
	}
}

// loadWithin loads, failing when the loader does not return at once: it
// opened a pipe, or reads a device.
func loadWithin(t *testing.T, opts load.Options, configOnly bool) *load.Repo {
	t.Helper()
	type result struct {
		r   *load.Repo
		err error
	}
	done := make(chan result, 1)
	go func() {
		loadFn := load.Load
		if configOnly {
			loadFn = load.LoadConfig
		}
		r, err := loadFn(opts)
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			t.Fatalf("Load: %v", res.err)
		}
		return res.r
	case <-time.After(10 * time.Second):
		t.Fatal("Load still running after 10s: it opened a pipe or reads a device")
		return nil
	}
}

// addKinds seeds f with every kind for each seed file, and an empty file.
func addKinds(f *testing.F, nKinds int, patterns ...string) {
	fuzzseed.Files(f, patterns...)
	for k := range len(kinds) {
		picks := make([]byte, nKinds)
		for i := range picks {
			picks[i] = byte(k + i)
		}
		f.Add(append(picks, []byte("x: 1\n")...))
	}
}

// split takes the picks off the front of a fuzzed input.
func split(data []byte, n int) ([]byte, []byte) {
	picks := make([]byte, n)
	copy(picks, data)
	if len(data) < n {
		return picks, nil
	}
	return picks, data[n:]
}

// FuzzLoadConfig: obsctl.yaml is any bytes, and any kind of file.
func FuzzLoadConfig(f *testing.F) {
	addKinds(f, 1, "../../obsctl.yaml", "../config/testdata/*.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		picks, content := split(data, 1)
		if kindOf(picks[0]).folder {
			// A folder named obsctl.yaml is not a config: the repo is
			// then found above, or is the embedded default.
			picks[0] = 0
		}
		fuzzRepo(t, content, []slot{{"obsctl.yaml", wantFile, "obsctl.yaml:1"}}, picks, load.Options{}, true)
	})
}

// FuzzLoadRules: a rule file of the rules folder, and the folder or file
// a rules.paths entry names, are any bytes and any kind of file.
func FuzzLoadRules(f *testing.F) {
	addKinds(f, 2, "../../rules/*.yaml", "../lint/testdata/corpus/yaml-*.bad.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		picks, content := split(data, 2)
		fuzzRepo(t, content, []slot{
			{"rules/x.yaml", wantEither, "rules/x.yaml:1"}, // a folder of that name is walked
			{"extra", wantEither, "obsctl.yaml:4"},
		}, picks, load.Options{}, false)
	})
}

// FuzzLoadDashboards: a dashboard is any bytes and any kind of file, and
// so is the dashboards folder; lint then reads the dashboards as JSON.
func FuzzLoadDashboards(f *testing.F) {
	addKinds(f, 2, "../../dashboards/*.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		picks, content := split(data, 2)
		slots := []slot{{"dashboards", wantFolder, "dashboards:1"}}
		if kindOf(picks[0]).folder {
			// The folder is there: a dashboard in it is fuzzed too.
			slots = append(slots, slot{"dashboards/x.json", wantFile, "dashboards/x.json:1"})
		}
		fuzzRepo(t, content, slots, picks, load.Options{}, false)
	})
}

// FuzzLoadPipelines: a pipeline is any bytes and any kind of file.
func FuzzLoadPipelines(f *testing.F) {
	addKinds(f, 1, "../../pipelines/*.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		picks, content := split(data, 1)
		fuzzRepo(t, content, []slot{{"pipelines/x.yaml", wantFile, "pipelines/x.yaml:1"}}, picks, load.Options{}, false)
	})
}

// FuzzLoadPaths: a path inside the repo given on the command line is any
// bytes and any kind of file, and is held to the repo.
func FuzzLoadPaths(f *testing.F) {
	addKinds(f, 1, "../../rules/*.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		picks, content := split(data, 1)
		name := path.Join("given", "x.yaml")
		fuzzRepo(t, content, []slot{{name, wantEither, name + ":1"}}, picks, load.Options{Paths: []string{name}}, false)
	})
}
