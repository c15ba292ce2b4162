package load

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/obsctl/obsctl/internal/diag"
)

const goodRule = "groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: up\n"

// repoSpec is a repo to build on disk: files, links and named pipes.
type repoSpec struct {
	files map[string]string
	links map[string]string // path -> target; ${REPO} is the repo's folder
	fifos []string
}

func (s repoSpec) build(t *testing.T) string {
	t.Helper()
	dir := writeRepo(t, s.files)
	for p, target := range s.links {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(strings.ReplaceAll(target, "${REPO}", dir), full); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range s.fifos {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(full, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadWithin runs Load, failing the test when it does not return within
// seconds: a loader that opens a named pipe blocks forever.
func loadWithin(t *testing.T, opts Options) (*Repo, error) {
	t.Helper()
	type result struct {
		r   *Repo
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := Load(opts)
		done <- result{r, err}
	}()
	select {
	case res := <-done:
		return res.r, res.err
	case <-time.After(20 * time.Second):
		t.Fatal("Load still running after 20s: it opened a pipe or a device")
		return nil, nil
	}
}

// loaded returns every file the repo holds the content of.
func loaded(r *Repo) []string {
	var out []string
	for p := range r.Sources() {
		out = append(out, p)
	}
	return out
}

// TestLoadRefuses: what a link, a pipe or a device leads to is never
// read; each is a load/file finding at the file (or at the rules.paths
// entry that names it), and the rest of the repo still loads.
func TestLoadRefuses(t *testing.T) {
	const cfg = "apiVersion: obsctl/v1\nname: t\ndefaults: false\n"
	environ := "/proc/self/environ"
	tests := []struct {
		name  string
		spec  repoSpec
		opts  Options  // WorkDir is set to the repo unless given
		want  []string // file:line of each load/file finding
		files []string // the files whose content was read (sorted), besides obsctl.yaml
	}{
		{"rule file to the environment", repoSpec{files: map[string]string{"obsctl.yaml": cfg, "rules/ok.yaml": goodRule},
			links: map[string]string{"rules/x.yaml": environ}}, Options{}, []string{"rules/x.yaml:1"}, []string{"rules/ok.yaml"}},
		{"rule file to /dev/zero", repoSpec{files: map[string]string{"obsctl.yaml": cfg, "rules/ok.yaml": goodRule},
			links: map[string]string{"rules/z.yaml": "/dev/zero"}}, Options{}, []string{"rules/z.yaml:1"}, []string{"rules/ok.yaml"}},
		{"rule file is a pipe", repoSpec{files: map[string]string{"obsctl.yaml": cfg, "rules/ok.yaml": goodRule},
			fifos: []string{"rules/p.yaml"}}, Options{}, []string{"rules/p.yaml:1"}, []string{"rules/ok.yaml"}},
		{"rule path to a folder outside", repoSpec{files: map[string]string{"obsctl.yaml": "apiVersion: obsctl/v1\nname: t\nrules:\n  paths:\n  - rules\n  - ext\ndefaults: false\n", "rules/ok.yaml": goodRule},
			links: map[string]string{"ext": "/etc"}}, Options{}, []string{"obsctl.yaml:6"}, []string{"rules/ok.yaml"}},
		{"config to the environment", repoSpec{files: map[string]string{"rules/ok.yaml": goodRule},
			links: map[string]string{"obsctl.yaml": environ}}, Options{}, []string{"obsctl.yaml:1"}, []string{"rules/ok.yaml"}},
		{"config is a pipe", repoSpec{files: map[string]string{"rules/ok.yaml": goodRule},
			fifos: []string{"obsctl.yaml"}}, Options{}, []string{"obsctl.yaml:1"}, []string{"rules/ok.yaml"}},
		{"dashboard to the environment", repoSpec{files: map[string]string{"obsctl.yaml": cfg, "rules/ok.yaml": goodRule, "dashboards/a.json": "{}"},
			links: map[string]string{"dashboards/x.json": environ}}, Options{}, []string{"dashboards/x.json:1"}, []string{"dashboards/a.json", "rules/ok.yaml"}},
		{"dashboard is a pipe", repoSpec{files: map[string]string{"obsctl.yaml": cfg, "rules/ok.yaml": goodRule},
			fifos: []string{"dashboards/p.json"}}, Options{}, []string{"dashboards/p.json:1"}, []string{"rules/ok.yaml"}},
		{"pipeline to /dev/zero", repoSpec{files: map[string]string{"obsctl.yaml": cfg, "rules/ok.yaml": goodRule},
			links: map[string]string{"pipelines/z.yaml": "/dev/zero"}}, Options{}, []string{"pipelines/z.yaml:1"}, []string{"rules/ok.yaml"}},
		{"pipeline is a pipe", repoSpec{files: map[string]string{"obsctl.yaml": cfg, "rules/ok.yaml": goodRule},
			fifos: []string{"pipelines/p.yaml"}}, Options{}, []string{"pipelines/p.yaml:1"}, []string{"rules/ok.yaml"}},
		{"dashboards folder outside", repoSpec{files: map[string]string{"obsctl.yaml": cfg, "rules/ok.yaml": goodRule},
			links: map[string]string{"dashboards": "/etc"}}, Options{}, []string{"dashboards:1"}, []string{"rules/ok.yaml"}},
		{"link inside the repo is followed, its file read once", repoSpec{files: map[string]string{"obsctl.yaml": cfg, "rules/ok.yaml": goodRule},
			links: map[string]string{"rules/alias.yaml": "${REPO}/rules/ok.yaml", "rules/rel.yaml": "ok.yaml"}}, Options{}, nil, []string{"rules/ok.yaml"}},
		{"linked folder inside is walked", repoSpec{files: map[string]string{"obsctl.yaml": cfg, "shared/a.yaml": goodRule},
			links: map[string]string{"rules/team": "../shared"}}, Options{}, nil, []string{"rules/team/a.yaml"}},
		{"linked folder outside is a finding", repoSpec{files: map[string]string{"obsctl.yaml": cfg, "rules/ok.yaml": goodRule},
			links: map[string]string{"rules/etc": "/etc"}}, Options{}, []string{"rules/etc:1"}, []string{"rules/ok.yaml"}},
		{"dangling and looping links", repoSpec{files: map[string]string{"obsctl.yaml": cfg, "rules/ok.yaml": goodRule},
			links: map[string]string{"rules/d.yaml": "nowhere", "rules/l.yaml": "l.yaml"}}, Options{}, []string{"rules/d.yaml:1", "rules/l.yaml:1"}, []string{"rules/ok.yaml"}},

		// Paths given on the command line.
		{"a path in the repo is held to it", repoSpec{files: map[string]string{"obsctl.yaml": cfg, "rules/ok.yaml": goodRule},
			links: map[string]string{"rules/x.yaml": environ}}, Options{Paths: []string{"rules/x.yaml", "rules/ok.yaml"}}, []string{"rules/x.yaml:1"}, []string{"rules/ok.yaml"}},
		{"a folder in the repo is held to it", repoSpec{files: map[string]string{"obsctl.yaml": cfg, "rules/ok.yaml": goodRule},
			links: map[string]string{"rules/x.yaml": environ}}, Options{Paths: []string{"rules"}}, []string{"rules/x.yaml:1"}, []string{"rules/ok.yaml"}},
		{"a pipe given by name", repoSpec{files: map[string]string{"obsctl.yaml": cfg},
			fifos: []string{"p.yaml"}}, Options{Paths: []string{"p.yaml"}}, []string{"p.yaml:1"}, nil},
		{"a device given by name", repoSpec{files: map[string]string{"obsctl.yaml": cfg}},
			Options{Paths: []string{"/dev/zero"}}, []string{"/dev/zero:1"}, nil},
		{"with no repo, held to the working folder", repoSpec{files: map[string]string{"rules/ok.yaml": goodRule},
			links: map[string]string{"rules/x.yaml": environ}}, Options{Paths: []string{"rules"}}, []string{"rules/x.yaml:1"}, []string{"rules/ok.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.spec.build(t)
			opts := tt.opts
			if opts.WorkDir == "" {
				opts.WorkDir = dir
			}
			r, err := loadWithin(t, opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range r.Findings {
				if f.Check == "load/file" {
					got = append(got, fmt.Sprintf("%s:%d", f.File, f.Start.Line))
					if f.Severity != diag.Error || f.Message == "" {
						t.Errorf("malformed finding %+v", f)
					}
				}
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("load/file findings %v, want %v (all: %v)", got, tt.want, r.Findings)
			}
			var files []string
			for _, p := range loaded(r) {
				if p != "obsctl.yaml" {
					files = append(files, p)
				}
			}
			if strings.Join(sorted(files), " ") != strings.Join(tt.files, " ") {
				t.Errorf("read %v, want %v", sorted(files), tt.files)
			}
			for p, f := range r.Sources() {
				if strings.Contains(string(f.Src), "PATH=") {
					t.Errorf("%s holds the process environment", p)
				}
			}
		})
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestExplicitPathOutsideIsRead: a file outside the repo named on the
// command line is the user's choice and is read; a link below a folder
// named so must stay inside that folder.
func TestExplicitPathOutsideIsRead(t *testing.T) {
	repo := repoSpec{files: map[string]string{"obsctl.yaml": "apiVersion: obsctl/v1\nname: t\ndefaults: false\n"}}.build(t)
	outside := repoSpec{files: map[string]string{"team/a.yaml": goodRule, "secret.txt": "tok-1d1d\n"},
		links: map[string]string{"team/leak.yaml": "../secret.txt"}}.build(t)
	r, err := loadWithin(t, Options{WorkDir: repo, Paths: []string{filepath.Join(outside, "team")}})
	if err != nil {
		t.Fatal(err)
	}
	if files := reportedFiles(r); len(files) != 1 || !strings.HasSuffix(files[0].Path, "team/a.yaml") {
		t.Errorf("rule files %v", files)
	}
	if fds := reported(r); len(fds) != 1 || fds[0].Check != "load/file" || !strings.HasSuffix(fds[0].File, "team/leak.yaml") {
		t.Errorf("findings %v", fds)
	}
	for _, f := range r.Sources() {
		if strings.Contains(string(f.Src), "tok-1d1d") {
			t.Errorf("%s was read through a link out of the folder named", f.Path)
		}
	}
}
