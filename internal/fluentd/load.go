package fluentd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

// Load reads every *.yaml and *.yml file directly in dir of fsys, in name
// order, and loads them as LoadFiles does. It never fails: a folder or
// file that cannot be read is a finding too, and a folder that does not
// exist holds no pipelines. It is for trees obsctl trusts (the embedded
// pipelines, tests): a user's repo is read by package load, which reads
// only regular files inside the repo, and passes them to LoadFiles.
func Load(fsys fs.FS, dir string) ([]*Pipeline, []diag.Finding) {
	entries, err := fs.ReadDir(fsys, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	var findings []diag.Finding
	if err != nil {
		findings = append(findings, diag.Finding{Check: CheckRead, Severity: diag.Fatal,
			Span: diag.At(dir, 1, 1), Message: fmt.Sprintf("read %s: %v", dir, err)})
		// ReadDir returns the entries it read before the error.
	}
	var files []*source.File
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		p := path.Join(dir, name)
		src, err := readLimited(fsys, p)
		if err != nil {
			findings = append(findings, diag.Finding{Check: CheckRead, Severity: diag.Fatal,
				Span: diag.At(p, 1, 1), Message: fmt.Sprintf("read %s: %v", p, err)})
			continue
		}
		files = append(files, source.NewFile(p, src))
	}
	ps, fds := LoadFiles(files)
	return ps, diag.Sort(append(findings, fds...))
}

// LoadFiles loads the pipeline files, one pipeline per file, and runs
// every check. It returns the pipelines it could decode, also those with
// findings, in routing order (see Sort), and the findings sorted. Compile
// only when no finding is an error.
func LoadFiles(files []*source.File) ([]*Pipeline, []diag.Finding) {
	var ps []*Pipeline
	var findings []diag.Finding
	for _, f := range files {
		pl, fds := LoadFile(f)
		findings = append(findings, fds...)
		if pl != nil {
			ps = append(ps, pl)
		}
	}
	findings = append(findings, CheckSet(ps)...)
	Sort(ps)
	return ps, diag.Sort(findings)
}

// readLimited reads a file, but no more than one byte over the source
// limit, so that the parser reports an oversized file instead of it
// exhausting memory.
func readLimited(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, source.MaxFileSize+1))
}

// LoadFile decodes one pipeline file and runs its own checks (Validate).
// It returns nil when the file holds no pipeline it could start decoding:
// a YAML syntax error, an empty file, a root that is not a mapping.
func LoadFile(f *source.File) (*Pipeline, []diag.Finding) {
	docs, fd := f.ParseYAML(CheckSyntax)
	if fd != nil {
		return nil, []diag.Finding{*fd}
	}
	d := &decoder{file: f}
	var roots []*yaml.Node
	for _, doc := range docs {
		root := doc
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		if isNull(root) {
			continue // an empty document, as between two ---
		}
		roots = append(roots, root)
	}
	switch {
	case len(roots) == 0:
		d.report(CheckSchema, diag.Error, f.Whole(), "start with: apiVersion: "+APIVersion+", kind: "+Kind,
			"pipeline file is empty")
		return nil, d.findings
	case len(roots) > 1:
		d.errorf(roots[1], "split the pipelines into one file each", "a pipeline file holds one pipeline, found %d YAML documents", len(roots))
	}
	root := source.Resolve(roots[0])
	if root == nil || root.Kind != yaml.MappingNode {
		d.errorf(roots[0], "a pipeline file is a mapping that starts with apiVersion: "+APIVersion, "a pipeline must be a mapping, not %s", source.KindName(roots[0]))
		return nil, d.findings
	}
	p := &Pipeline{File: f}
	d.decode(root, reflect.ValueOf(p).Elem(), "pipeline")
	return p, append(d.findings, Validate(p)...)
}

// CheckSet runs the checks across pipelines: duplicate names, more than
// one catch-all, and selectors that overlap. ps is taken in file order, so
// that the second of two duplicates is the one reported.
func CheckSet(ps []*Pipeline) []diag.Finding {
	var out []diag.Finding
	byName := map[string]*Pipeline{}
	var catchAll *Pipeline
	for _, p := range ps {
		if p.Name == "" {
			continue
		}
		if prev, ok := byName[p.Name]; ok {
			out = append(out, diag.Finding{Check: CheckDuplicateName, Severity: diag.Error, Span: p.NameSpan(),
				Message: fmt.Sprintf("pipeline name %q is already used by %s", p.Name, where(prev)),
				Hint:    "pipeline names must be unique: they name Fluentd labels, plugin ids and buffer folders"})
			continue
		}
		byName[p.Name] = p
		if p.CatchAll() {
			if catchAll != nil {
				sp := p.Span("match")
				if !p.Has("match") {
					sp = p.NameSpan()
				}
				out = append(out, diag.Finding{Check: CheckCatchAll, Severity: diag.Error, Span: sp,
					Message: fmt.Sprintf("pipeline %q has no match constraints, like %q (%s): only one pipeline can be the catch-all", p.Name, catchAll.Name, where(catchAll)),
					Hint:    "give one of them namespaces, podLabels or containers to match"})
				continue
			}
			catchAll = p
		}
	}
	return append(out, overlaps(ps)...)
}

// where names the place a pipeline was declared, for messages.
func where(p *Pipeline) string {
	sp := p.NameSpan()
	if sp.File == "" {
		return "pipeline " + quote(p.Name)
	}
	return sp.String()
}
