// Package scaffold holds the repo obsctl init writes: an obsctl.yaml with
// comments, one example each of a rule file with its tests, a
// PrometheusRule, a routing test, a dashboard and a log pipeline, CI jobs
// that lint and test (GitHub Actions, GitLab CI) and a .gitignore. It lints,
// tests and renders clean as written.
package scaffold

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

//go:embed all:template
var template embed.FS

// Options say what to fill the files with.
type Options struct {
	// Name is the stack's name (obsctl.yaml's name): a DNS label.
	Name string
	// Namespace is where the examples' objects and alerts live.
	Namespace string
	// Version is the obsctl the CI jobs install (a module version, or
	// latest).
	Version string
}

// nameRE is what a stack name must be: a DNS label, as the labels and
// object names it goes into take it.
var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// CheckName says what is wrong with a stack name, or "".
func CheckName(name string) string {
	if !nameRE.MatchString(name) {
		return fmt.Sprintf("%q is not a stack name: lower-case letters, digits and -, at most 63, starting and ending with a letter or digit", name)
	}
	return ""
}

// NameOf makes a stack name of a folder's name: lower case, other
// characters as -, or "" when nothing is left.
func NameOf(folder string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(folder) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteRune('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 63 {
		s = strings.Trim(s[:63], "-")
	}
	if CheckName(s) != "" {
		return ""
	}
	return s
}

// Files returns the repo's files, by slash-separated path, filled in.
func Files(o Options) (map[string][]byte, error) {
	out := map[string][]byte{}
	r := strings.NewReplacer("__NAME__", o.Name, "__NAMESPACE__", o.Namespace, "__VERSION__", o.Version)
	err := fs.WalkDir(template, "template", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := template.ReadFile(p)
		if err != nil {
			return err
		}
		out[strings.TrimPrefix(p, "template/")] = []byte(r.Replace(string(data)))
		return nil
	})
	return out, err
}

// ExistsError says which of the files init would write are already
// there: it writes none then.
type ExistsError struct {
	Dir   string
	Paths []string
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("%s already has %s: obsctl init writes a new repo and overwrites nothing", e.Dir, strings.Join(e.Paths, ", "))
}

// Write writes the repo's files into dir (made when missing) and returns
// their paths, sorted. When any of them exists, it writes none and
// returns an *ExistsError.
func Write(dir string, o Options) ([]string, error) {
	files, err := Files(o)
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var exist []string
	for _, p := range paths {
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(p))); err == nil {
			exist = append(exist, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if len(exist) > 0 {
		return nil, &ExistsError{Dir: dir, Paths: exist}
	}
	for _, p := range paths {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return nil, err
		}
		// O_EXCL: a file made since the check above is not overwritten.
		f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return nil, err
		}
		_, werr := f.Write(files[p])
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, fmt.Errorf("%s: %w", path.Join(dir, p), werr)
		}
	}
	return paths, nil
}
