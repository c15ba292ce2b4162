package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/obsctl/obsctl/internal/source"
)

// Stdin is the path that names standard input.
const Stdin = "-"

// stdinName is how positions name standard input.
const stdinName = "<stdin>"

// Pos is where a manifest, or a mistake in it, is: a file as the user named
// it, a line and a column, both counted from 1. Line 0 means the whole file.
type Pos struct {
	File string
	Line int
	Col  int
}

// String returns "file:line:col", or "file" for a position without a line.
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Manifest is one object and where it was read.
type Manifest struct {
	Object *unstructured.Unstructured
	Pos    Pos
}

// Error is a mistake in a manifest, at its position.
type Error struct {
	Pos     Pos
	Message string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Message }

// Options say where Read finds what it is not given as a path.
type Options struct {
	// Stdin is read for the path "-"; nil means no input.
	Stdin io.Reader
	// WorkDir is the folder relative paths start from; "" means the
	// process's working directory.
	WorkDir string
}

// Extensions are the file name endings Read takes from a folder. A file
// named on its own is read whatever its name.
var Extensions = []string{".yaml", ".yml", ".json"}

// Read reads the manifests at paths, in the order given: files, folders
// (every file with one of Extensions below it, in sorted order, leaving out
// names starting with a dot) and "-" for standard input. The error lists
// every mistake found in every file, each with its position; objects that
// appear twice are among them.
func Read(paths []string, opts Options) ([]Manifest, error) {
	var (
		out       []Manifest
		errs      []error
		readStdin bool
	)
	for _, p := range paths {
		if p == Stdin {
			if readStdin {
				errs = append(errs, errors.New("standard input (-) is given twice"))
				continue
			}
			readStdin = true
			var src []byte
			if opts.Stdin != nil {
				var err error
				if src, err = readAll(opts.Stdin); err != nil {
					errs = append(errs, fmt.Errorf("read standard input: %w", err))
					continue
				}
			}
			ms, err := parse(stdinName, src)
			out = append(out, ms...)
			errs = appendErr(errs, err)
			continue
		}
		files, err := collect(p, opts.WorkDir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			src, err := readFile(f.path)
			if err != nil {
				errs = append(errs, fmt.Errorf("read %s: %w", f.display, err))
				continue
			}
			ms, err := parse(f.display, src)
			out = append(out, ms...)
			errs = appendErr(errs, err)
		}
	}
	errs = appendErr(errs, duplicates(out))
	if len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	return out, nil
}

// Parse reads the manifests of one file, named file in positions.
func Parse(file string, src []byte) ([]Manifest, error) {
	ms, err := parse(file, src)
	if derr := duplicates(ms); derr != nil {
		err = errors.Join(err, derr)
	}
	return ms, err
}

// Objects returns the objects of ms, in order.
func Objects(ms []Manifest) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(ms))
	for i, m := range ms {
		out[i] = m.Object
	}
	return out
}

// appendErr adds err to errs, flattening a joined error so that the final
// list stays one level deep.
func appendErr(errs []error, err error) []error {
	if err == nil {
		return errs
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return append(errs, j.Unwrap()...)
	}
	return append(errs, err)
}

type file struct{ path, display string }

// collect returns the files path names: itself, or the manifests in the
// folder below it, sorted.
func collect(path, workDir string) ([]file, error) {
	full := path
	if !filepath.IsAbs(full) && workDir != "" {
		full = filepath.Join(workDir, full)
	}
	st, err := os.Stat(full)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file or folder", path)
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !st.IsDir() {
		return []file{{full, path}}, nil
	}
	var out []file
	// WalkDir visits entries in lexical order, so the result is sorted.
	err = filepath.WalkDir(full, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != full && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !slices.Contains(Extensions, strings.ToLower(filepath.Ext(p))) {
			return nil
		}
		rel, err := filepath.Rel(full, p)
		if err != nil {
			return err
		}
		out = append(out, file{p, filepath.Join(path, rel)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f)
}

// readAll reads r up to one byte past source.MaxFileSize, so that the parser
// reports an oversized input instead of obsctl reading it all.
func readAll(r io.Reader) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, source.MaxFileSize+1))
}

// parse reads every document of one file.
func parse(name string, src []byte) ([]Manifest, error) {
	f := source.NewFile(name, src)
	docs, fd := f.ParseYAML("manifest/syntax")
	var (
		out  []Manifest
		errs []error
	)
	for _, d := range docs {
		ms, err := fromDocument(name, len(src), d)
		out = append(out, ms...)
		errs = appendErr(errs, err)
	}
	if fd != nil {
		errs = append(errs, &Error{Pos: Pos{File: name, Line: fd.Start.Line, Col: fd.Start.Col}, Message: fd.Message})
	}
	return out, errors.Join(errs...)
}

// aliasBudget bounds how many more values than its file has bytes one
// document may expand to through aliases, so that a "billion laughs" input
// fails instead of exhausting memory. Without aliases a document never
// has more values than bytes.
const aliasBudget = 1 << 20

// maxDepth bounds how deeply values nest.
const maxDepth = 10000

// converter turns the nodes of one document into JSON-like values.
type converter struct {
	file     string
	nodes    int
	maxNodes int
}

func (c *converter) pos(n *yaml.Node) Pos { return Pos{File: c.file, Line: n.Line, Col: n.Column} }

func (c *converter) errorf(n *yaml.Node, format string, args ...any) error {
	return &Error{Pos: c.pos(n), Message: fmt.Sprintf(format, args...)}
}

// fromDocument returns the objects of one document: none for an empty
// one, the items of a List, or the one object it holds.
func fromDocument(name string, size int, doc *yaml.Node) ([]Manifest, error) {
	n := doc
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil, nil
		}
		n = n.Content[0]
	}
	c := &converter{file: name, maxNodes: size + aliasBudget}
	n = resolveAlias(n)
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil, nil // an empty document, or one holding only comments
	}
	return c.objects(n, 0)
}

// objects converts n, which must be a mapping, to objects: itself, or its
// items when it is a List.
func (c *converter) objects(n *yaml.Node, depth int) ([]Manifest, error) {
	if depth > 8 {
		return nil, c.errorf(n, "lists nested more than 8 deep")
	}
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		return nil, c.errorf(n, "want a Kubernetes object (a mapping with apiVersion, kind and metadata), got %s", describeNode(n))
	}
	v, err := c.value(n, 0)
	if err != nil {
		return nil, err
	}
	obj := v.(map[string]any)
	kind, kindOK := obj["kind"].(string)
	if kindOK && kind == "List" {
		items := lookup(n, "items")
		if items == nil {
			if _, ok := obj["items"]; !ok {
				return nil, c.errorf(n, "List has no items")
			}
			items = n // the items came from a merge key; no better position
		}
		list, ok := obj["items"].([]any)
		if !ok && obj["items"] != nil {
			return nil, c.errorf(items, "List items: want a sequence, got %s", describeNode(items))
		}
		var (
			out  []Manifest
			errs []error
		)
		itemNodes := resolveAlias(items)
		for i := range list {
			in := n
			if itemNodes.Kind == yaml.SequenceNode && i < len(itemNodes.Content) {
				in = itemNodes.Content[i]
			}
			ms, err := c.objects(in, depth+1)
			out = append(out, ms...)
			errs = appendErr(errs, err)
		}
		return out, errors.Join(errs...)
	}
	if err := c.check(n, obj); err != nil {
		return nil, err
	}
	return []Manifest{{Object: &unstructured.Unstructured{Object: obj}, Pos: c.pos(n)}}, nil
}

// check requires apiVersion, kind and metadata.name, each a non-empty
// string, and metadata.namespace, when present, a string.
func (c *converter) check(n *yaml.Node, obj map[string]any) error {
	var errs []error
	for _, k := range []string{"apiVersion", "kind"} {
		at := lookup(n, k)
		if at == nil {
			at = n
		}
		switch v, ok := obj[k]; {
		case !ok || v == nil:
			errs = append(errs, c.errorf(at, "object has no %s", k))
		case !isString(v):
			errs = append(errs, c.errorf(at, "%s: want a string, got %s", k, describeNode(at)))
		case v == "":
			errs = append(errs, c.errorf(at, "%s is empty", k))
		}
	}
	if gv, ok := obj["apiVersion"].(string); ok && gv != "" {
		if _, err := schema.ParseGroupVersion(gv); err != nil {
			errs = append(errs, c.errorf(atOr(lookup(n, "apiVersion"), n), "apiVersion %q: want VERSION or GROUP/VERSION", gv))
		}
	}
	mn := lookup(n, "metadata")
	meta, isMap := obj["metadata"].(map[string]any)
	switch v, ok := obj["metadata"]; {
	case !ok || v == nil:
		errs = append(errs, c.errorf(atOr(mn, n), "object has no metadata.name"))
	case !isMap:
		errs = append(errs, c.errorf(atOr(mn, n), "metadata: want a mapping, got %s", describeNode(atOr(mn, n))))
	default:
		at := atOr(mn, n)
		name := lookup(resolveAlias(at), "name")
		switch v, ok := meta["name"]; {
		case !ok || v == nil:
			msg := "object has no metadata.name"
			if _, gen := meta["generateName"]; gen {
				msg += " (generateName is not enough: obsctl applies objects by name)"
			}
			errs = append(errs, c.errorf(at, "%s", msg))
		case !isString(v):
			errs = append(errs, c.errorf(atOr(name, at), "metadata.name: want a string, got %s", describeNode(atOr(name, at))))
		case v == "":
			errs = append(errs, c.errorf(atOr(name, at), "metadata.name is empty"))
		}
		if v, ok := meta["namespace"]; ok && v != nil && !isString(v) {
			ns := atOr(lookup(resolveAlias(at), "namespace"), at)
			errs = append(errs, c.errorf(ns, "metadata.namespace: want a string, got %s", describeNode(ns)))
		}
	}
	return errors.Join(errs...)
}

func isString(v any) bool { _, ok := v.(string); return ok }

func atOr(n, fallback *yaml.Node) *yaml.Node {
	if n == nil {
		return fallback
	}
	return n
}

// value converts n to the values JSON has: map[string]any, []any, string,
// int64, float64, bool and nil.
func (c *converter) value(n *yaml.Node, depth int) (any, error) {
	c.nodes++
	if c.nodes > c.maxNodes {
		return nil, c.errorf(n, "document expands to more than %d values (aliases repeated too often?)", c.maxNodes)
	}
	if depth > maxDepth {
		return nil, c.errorf(n, "values nested more than %d deep", maxDepth)
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, c.errorf(n, "alias *%s has no anchor", n.Value)
		}
		return c.value(n.Alias, depth+1)
	case yaml.ScalarNode:
		return c.scalar(n)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			v, err := c.value(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		return c.mapping(n, depth)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0], depth+1)
	}
	return nil, c.errorf(n, "unexpected YAML node")
}

// mapping converts a mapping. Keys set in the mapping itself win over
// those of merge keys (<<), and the first of several merged mappings wins
// over the later ones, as YAML's merge key says.
func (c *converter) mapping(n *yaml.Node, depth int) (map[string]any, error) {
	out := make(map[string]any, len(n.Content)/2)
	where := map[string]*yaml.Node{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		k := resolveAlias(kn)
		if k.Kind != yaml.ScalarNode {
			return nil, c.errorf(kn, "mapping key: want a scalar, got %s", describeNode(k))
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, vn)
			continue
		}
		key := k.Value
		if prev, dup := where[key]; dup {
			return nil, c.errorf(kn, "key %q is given twice (first at line %d)", key, prev.Line)
		}
		where[key] = kn
		v, err := c.value(vn, depth+1)
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	for _, m := range merges {
		m = resolveAlias(m)
		var srcs []*yaml.Node
		switch m.Kind {
		case yaml.MappingNode:
			srcs = []*yaml.Node{m}
		case yaml.SequenceNode:
			srcs = m.Content
		default:
			return nil, c.errorf(m, "merge key (<<): want a mapping or a sequence of mappings, got %s", describeNode(m))
		}
		for _, s := range srcs {
			s = resolveAlias(s)
			if s.Kind != yaml.MappingNode {
				return nil, c.errorf(s, "merge key (<<): want a mapping, got %s", describeNode(s))
			}
			v, err := c.value(s, depth+1)
			if err != nil {
				return nil, err
			}
			for k, mv := range v.(map[string]any) {
				if _, set := out[k]; !set {
					out[k] = mv
				}
			}
		}
	}
	return out, nil
}

// scalar resolves a scalar by its tag, as YAML 1.2's core schema does.
func (c *converter) scalar(n *yaml.Node) (any, error) {
	switch tag := n.ShortTag(); tag {
	case "!!str", "!!binary", "!!timestamp":
		// A timestamp stays the text it is, as in JSON; binary stays
		// base64, which is what a Secret's data holds.
		return n.Value, nil
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, c.errorf(n, "%q is not a boolean", n.Value)
		}
		return b, nil
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			return i, nil
		}
		// Beyond int64: JSON numbers are floats.
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, c.errorf(n, "%q is not a number", n.Value)
		}
		return f, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, c.errorf(n, "%q is not a number", n.Value)
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, c.errorf(n, "%s cannot be represented in JSON; quote it for a string", n.Value)
		}
		return f, nil
	default:
		return nil, c.errorf(n, "unsupported YAML tag %s", tag)
	}
}

// resolveAlias follows aliases to the node they stand for.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// lookup returns the value node of key in mapping n, or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolveAlias(n.Content[i]); k.Kind == yaml.ScalarNode && k.Value == key && k.ShortTag() != "!!merge" {
			return n.Content[i+1]
		}
	}
	return nil
}

// describeNode names what n is, for messages.
func describeNode(n *yaml.Node) string {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!str":
			return "a string"
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		}
		return "a scalar"
	}
	return "something else"
}

// key identifies an object: the version does not matter, so the same
// object under two versions is still given twice.
type key struct{ group, kind, namespace, name string }

// duplicates reports every object given more than once, at each later
// place, naming the first.
func duplicates(ms []Manifest) error {
	first := make(map[key]Manifest, len(ms))
	var errs []error
	for _, m := range ms {
		gvk := m.Object.GroupVersionKind()
		k := key{gvk.Group, gvk.Kind, m.Object.GetNamespace(), m.Object.GetName()}
		if prev, dup := first[k]; dup {
			errs = append(errs, &Error{Pos: m.Pos, Message: fmt.Sprintf("%s is given twice: also at %s", describe(m.Object), prev.Pos)})
			continue
		}
		first[k] = m
	}
	return errors.Join(errs...)
}

// describe names an object in messages: "Kind namespace/name", or
// "Kind name" without a namespace.
func describe(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return obj.GetKind() + " " + ns + "/" + obj.GetName()
	}
	return obj.GetKind() + " " + obj.GetName()
}
