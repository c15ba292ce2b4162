package cli

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/lint"
	"github.com/obsctl/obsctl/internal/render"
)

var update = flag.Bool("update", false, "rewrite generated and golden files")

const (
	readmePath    = "../../README.md"
	referencePath = "../../docs/reference.md"
)

// TestREADME keeps the generated sections of the README (the pinned
// versions) and of docs/reference.md (command reference, checks,
// obsctl.yaml reference) in step with the code; `make generate` rewrites
// them.
func TestREADME(t *testing.T) {
	for _, doc := range []struct {
		path     string
		sections []struct{ name, body string }
	}{
		{readmePath, []struct{ name, body string }{{"versions", versionsReference()}}},
		{referencePath, []struct{ name, body string }{
			{"commands", commandReference()},
			{"checks", checksReference()},
			{"config", configReference(t)},
		}},
	} {
		src, err := os.ReadFile(doc.path)
		if err != nil {
			t.Fatal(err)
		}
		got := string(src)
		for _, sec := range doc.sections {
			got = replaceSection(t, got, sec.name, sec.body)
		}
		if *update {
			if err := os.WriteFile(doc.path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got != string(src) {
			t.Errorf("%s is out of date with the code: run make generate", filepath.Base(doc.path))
		}
	}
}

func replaceSection(t *testing.T, doc, name, body string) string {
	t.Helper()
	start, end := "<!-- "+name+":start -->\n", "<!-- "+name+":end -->"
	i, j := strings.Index(doc, start), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("the document lacks the %q markers", name)
	}
	return doc[:i+len(start)] + body + doc[j:]
}

func commandReference() string {
	var b bytes.Buffer
	root := newRoot(&Deps{})
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		if c != root {
			fmt.Fprintf(&b, "### `%s`\n\n%s.\n\n", c.CommandPath(), c.Short)
			if c.Long != "" {
				fmt.Fprintf(&b, "```\n%s\n```\n\n", strings.TrimSpace(c.Long))
			}
			fmt.Fprintf(&b, "Usage: `%s`\n\n", c.UseLine())
			if c.Example != "" {
				fmt.Fprintf(&b, "Examples:\n\n```sh\n%s\n```\n\n", c.Example)
			}
			if fs := c.NonInheritedFlags(); fs.HasAvailableFlags() {
				b.WriteString("| flag | default | meaning |\n|---|---|---|\n")
				fs.VisitAll(func(f *pflag.Flag) {
					if f.Hidden || f.Name == "help" {
						return
					}
					name := "--" + f.Name
					if f.Shorthand != "" {
						name = "-" + f.Shorthand + ", " + name
					}
					fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, defaultOf(f), escapeCell(f.Usage))
				})
				b.WriteString("\n")
			}
		} else {
			b.WriteString("Global flags:\n\n| flag | meaning |\n|---|---|\n")
			c.PersistentFlags().VisitAll(func(f *pflag.Flag) {
				fmt.Fprintf(&b, "| `--%s` | %s |\n", f.Name, escapeCell(f.Usage))
			})
			b.WriteString("\n")
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return b.String()
}

func defaultOf(f *pflag.Flag) string {
	switch f.DefValue {
	case "", "[]":
		return ""
	}
	return "`" + f.DefValue + "`"
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func checksReference() string {
	var b bytes.Buffer
	b.WriteString("| check | severity | what it reports |\n|---|---|---|\n")
	for _, c := range lint.Checks() {
		m := c.Meta()
		sev := m.Severity.String()
		if m.Optional {
			sev += " (off by default)"
		}
		if m.Required {
			sev += " (always on)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", c.Name(), sev, escapeCell(m.Summary))
	}
	b.WriteString("\n`obsctl lint --explain CHECK` prints the full documentation of a check.\n")
	return b.String()
}

// configReference documents obsctl.yaml key by key from the config
// structs: the YAML names from their tags, the text from their doc
// comments.
func configReference(t *testing.T) string {
	t.Helper()
	fset := token.NewFileSet()
	srcs, err := filepath.Glob("../config/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var decls []ast.Decl
	for _, src := range srcs {
		if strings.HasSuffix(src, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, src, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		decls = append(decls, f.Decls...)
	}
	docs := map[string]string{} // "Type.Field" -> doc
	for _, d := range decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, s := range gd.Specs {
			ts, ok := s.(*ast.TypeSpec)
			if !ok {
				continue
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, fld := range st.Fields.List {
				for _, n := range fld.Names {
					docs[ts.Name.Name+"."+n.Name] = strings.Join(strings.Fields(fld.Doc.Text()), " ")
				}
			}
		}
	}
	var b bytes.Buffer
	b.WriteString("| key | type | meaning |\n|---|---|---|\n")
	// A struct type met again (every stack component has the same fields)
	// is described once, where it first appears.
	seen := map[reflect.Type]string{}
	var walk func(typ reflect.Type, prefix string)
	walk = func(typ reflect.Type, prefix string) {
		for i := range typ.NumField() {
			sf := typ.Field(i)
			if sf.Type == reflect.TypeFor[config.Fields]() {
				continue
			}
			tag := strings.Split(sf.Tag.Get("yaml"), ",")[0]
			if sf.Anonymous && (tag == "" || strings.Contains(sf.Tag.Get("yaml"), "inline")) {
				walk(sf.Type, prefix)
				continue
			}
			if tag == "" || tag == "-" {
				continue
			}
			key := prefix + tag
			ft := sf.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			kind := typeName(ft)
			req := ""
			if strings.Contains(sf.Tag.Get("obsctl"), "required") {
				req = " (required)"
			}
			doc := docs[typ.Name()+"."+sf.Name]
			if doc == "" {
				t.Errorf("config field %s.%s has no doc comment", typ.Name(), sf.Name)
			}
			elem, sub := ft, key+"."
			switch ft.Kind() {
			case reflect.Slice:
				elem, sub = ft.Elem(), key+"[]."
			case reflect.Map:
				elem, sub = ft.Elem(), key+".NAME."
				for elem.Kind() == reflect.Pointer {
					elem = elem.Elem()
				}
			}
			recurse := elem.Kind() == reflect.Struct && elem != reflect.TypeFor[config.Duration]() && elem != reflect.TypeFor[config.SecretRef]()
			if first, ok := seen[elem]; ok && recurse {
				doc += fmt.Sprintf(" Its keys are those of `%s`.", strings.TrimSuffix(first, "."))
				recurse = false
			}
			fmt.Fprintf(&b, "| `%s` | %s%s | %s |\n", key, kind, req, escapeCell(doc))
			if recurse {
				seen[elem] = sub
				walk(elem, sub)
			}
		}
	}
	walk(reflect.TypeFor[config.Config](), "")
	b.WriteString("\nA secret reference is `{secret: {name: NAME, key: KEY}}` (a key of a Kubernetes Secret in the stack's namespace) or `{env: VARIABLE}` (read from the environment at apply time). Durations are Prometheus durations: `30s`, `5m`, `1h30m`.\n")
	return b.String()
}

func typeName(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[config.Duration]():
		return "duration"
	case t == reflect.TypeFor[config.SecretRef]():
		return "secret reference"
	case t == reflect.TypeFor[config.JSONData]():
		return "mapping of any values"
	case t.Kind() == reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "list of mappings"
		}
		return "list of " + t.Elem().Kind().String() + "s"
	case t.Kind() == reflect.Map && (t.Elem().Kind() == reflect.Struct || t.Elem().Kind() == reflect.Pointer && t.Elem().Elem().Kind() == reflect.Struct) && t.Elem() != reflect.TypeFor[config.Duration]():
		return "map of mappings"
	case t.Kind() == reflect.Map:
		return "map of " + strings.TrimPrefix(typeName(t.Elem()), "a ") + "s"
	case t.Kind() == reflect.Struct:
		return "mapping"
	}
	return t.Kind().String()
}

// versionsReference is the table of pinned component versions.
func versionsReference() string {
	var b strings.Builder
	b.WriteString("| component | image | version |\n|---|---|---|\n")
	for _, v := range render.Versions() {
		fmt.Fprintf(&b, "| %s | `%s` | `%s` |\n", v.Component, v.Image, v.Version)
	}
	return b.String()
}

// TestQuickStart runs the README's quick start as written, in a folder of
// its own, with the install line replaced by this build of obsctl (the
// test binary, which TestMain puts on $PATH as obsctl): the README cannot
// promise what obsctl does not do.
func TestQuickStart(t *testing.T) {
	src, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(src), "<!-- quickstart:start -->\n```sh\n")
	block, _, ok2 := strings.Cut(rest, "```\n<!-- quickstart:end -->")
	if !ok || !ok2 {
		t.Fatal("README.md lacks the quick start's sh block between its quickstart markers")
	}
	var script []string
	installed := false
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		if strings.HasPrefix(line, "go install github.com/obsctl/obsctl/cmd/obsctl@") {
			installed = true
			continue // this build is on $PATH already
		}
		script = append(script, line)
	}
	if !installed {
		t.Fatal("the quick start does not install obsctl with go install first")
	}
	dir := t.TempDir()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", strings.Join(script, "\n"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "KUBECONFIG="+filepath.Join(dir, "no-kubeconfig"), "NO_COLOR=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the quick start failed: %v\n%s", err, out)
	}
	for _, want := range []string{"observability/obsctl.yaml", "observability/out"} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("after the quick start: %v", err)
		}
	}
	t.Logf("the quick start's output:\n%s", out)
}
