package ruletest

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/source"
)

// RepoRules finds the rule files a test names among those the repo
// loaded (its rule paths, and the files given on the command line), as
// lint read them. A rule file of a repo on disk that is not under its rule
// paths is read from disk when it is inside the repo; with no repo
// (files given outside any), from wherever the test points.
func RepoRules(r *load.Repo, workDir string) RuleFiles {
	return &repoRules{r: r, wd: workDir}
}

type repoRules struct {
	r  *load.Repo
	wd string
}

func (rr *repoRules) errorsOf(p string) []diag.Finding {
	var out []diag.Finding
	for _, f := range rr.r.Findings {
		if f.File == p && f.Severity >= diag.Error {
			out = append(out, f)
		}
	}
	return out
}

func (rr *repoRules) Glob(pattern string) ([]LoadedRules, error) {
	pattern = path.Clean(pattern)
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("bad pattern: %w", err)
	}
	var out []LoadedRules
	for _, f := range rr.r.RuleFiles {
		if ok, _ := path.Match(pattern, path.Clean(f.Path)); ok {
			out = append(out, LoadedRules{File: f, Errors: rr.errorsOf(f.Path)})
		}
	}
	if len(out) > 0 || rr.r.Embedded() {
		return out, nil
	}
	return rr.fromDisk(pattern)
}

// fromDisk reads the rule files pattern matches on disk.
func (rr *repoRules) fromDisk(pattern string) ([]LoadedRules, error) {
	wd := rr.wd
	if wd == "" {
		var err error
		if wd, err = os.Getwd(); err != nil {
			return nil, err
		}
	}
	abs := filepath.FromSlash(pattern)
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(wd, abs)
	}
	matches, err := filepath.Glob(abs)
	if err != nil {
		return nil, err
	}
	slices.Sort(matches)
	var out []LoadedRules
	for _, m := range matches {
		if !load.IsRuleFile(filepath.Base(m)) {
			continue
		}
		display := filepath.ToSlash(m)
		if rel, err := filepath.Rel(wd, m); err == nil && !strings.HasPrefix(rel, "..") {
			display = filepath.ToSlash(rel)
		}
		if rr.r.Root != "" && !rr.r.Neutral {
			real, err := filepath.EvalSymlinks(m)
			if err != nil {
				return nil, err
			}
			if rel, err := filepath.Rel(rr.r.Root, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return nil, fmt.Errorf("%s leads out of the repo", display)
			}
		}
		data, err := readRegular(m)
		if err != nil {
			return nil, err
		}
		if data == nil {
			continue // a folder
		}
		sf := source.NewFile(display, data)
		if rr.r.Root != "" {
			if rel, err := filepath.Rel(rr.r.Root, m); err == nil {
				sf.Rel = filepath.ToSlash(rel)
			}
		}
		f, fds := promrule.Load(sf)
		lr := LoadedRules{File: f}
		for _, fd := range fds {
			if fd.Severity >= diag.Error {
				lr.Errors = append(lr.Errors, fd)
			}
		}
		if f == nil {
			if len(lr.Errors) == 0 {
				return nil, fmt.Errorf("%s is not a rule file", display)
			}
			f = &promrule.File{File: sf}
			lr.File = f
		}
		out = append(out, lr)
	}
	return out, nil
}

// readRegular reads a regular file of at most source.MaxFileSize bytes;
// nil for a folder.
func readRegular(name string) ([]byte, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, nil
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, source.MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > source.MaxFileSize {
		return nil, fmt.Errorf("%s: %w", name, source.ErrTooLarge)
	}
	return data, nil
}
