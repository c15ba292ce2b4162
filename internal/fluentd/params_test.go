package fluentd

import (
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"testing"
)

//go:embed params.txt
var paramsText string

// declared is params.txt: for each plugin kind and type, the parameters
// of each section ("-" for the top level).
type declared map[string]map[string][]string // "kind type" -> section -> params

func readParams(t *testing.T) (declared, string) {
	t.Helper()
	d := declared{}
	image := ""
	var cur string
	for line := range strings.Lines(paramsText) {
		line = strings.TrimSpace(line)
		f := strings.Fields(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case f[0] == "image":
			image = f[1]
		case f[0] == "file":
			cur = ""
		case cur == "" && len(f) == 2:
			cur = f[0] + " " + f[1]
			if d[cur] == nil {
				d[cur] = map[string][]string{}
			}
		case cur != "":
			d[cur][f[0]] = append(d[cur][f[0]], f[1:]...)
		default:
			t.Fatalf("params.txt: %q", line)
		}
	}
	return d, image
}

// allowed returns the parameters an element may have: those its plugin
// (kind, type) declares in section, and those of the base classes and
// helpers every plugin of its kind has.
func (d declared) allowed(kind, typ, section string) []string {
	var out []string
	add := func(key, sec string) { out = append(out, d[key][sec]...) }
	add(kind+" "+typ, section)
	switch kind {
	case "output":
		add("base output", section)
	case "buffer":
		add("base buffer", "-")
	case "parser":
		add("base parser", "-")
		add("base time", "-")
	}
	return out
}

// element is a <directive> of a Fluentd configuration, with its
// parameters and children.
type element struct {
	name, arg string
	params    []string          // in order
	values    map[string]string // by name
	at        map[string]int    // each parameter's line
	line      int
	children  []*element
}

func (e *element) typ() string { return e.values["@type"] }

// parseConf reads a Fluentd configuration's structure: enough to check
// which parameters each element is given.
func parseConf(t *testing.T, conf string) *element {
	t.Helper()
	root := &element{name: "ROOT", values: map[string]string{}, at: map[string]int{}}
	stack := []*element{root}
	for i, line := range strings.Split(conf, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "</"):
			stack = stack[:len(stack)-1]
		case strings.HasPrefix(line, "<"):
			name, arg, _ := strings.Cut(strings.Trim(line, "<>"), " ")
			e := &element{name: name, arg: arg, line: i + 1, values: map[string]string{}, at: map[string]int{}}
			stack[len(stack)-1].children = append(stack[len(stack)-1].children, e)
			stack = append(stack, e)
		default:
			key, value, _ := strings.Cut(line, " ")
			top := stack[len(stack)-1]
			top.params = append(top.params, key)
			top.values[key] = strings.TrimSpace(value)
			top.at[key] = i + 1
		}
	}
	if len(stack) != 1 {
		t.Fatalf("unbalanced configuration: %d elements open at the end", len(stack)-1)
	}
	return root
}

// src names where an element's parameters may be declared.
type src struct{ kind, typ, section string }

// undeclared returns every parameter of the configuration that no plugin
// it is given to declares, as "line N: what".
func undeclared(d declared, root *element) []string {
	var bad []string
	check := func(e *element, from ...src) {
		var ok []string
		for _, f := range from {
			if _, known := d[f.kind+" "+f.typ]; !known {
				bad = append(bad, fmt.Sprintf("line %d: <%s>: no %s plugin %q in the image", e.line, e.name, f.kind, f.typ))
				return
			}
			ok = append(ok, d.allowed(f.kind, f.typ, f.section)...)
		}
		for _, p := range e.params {
			if strings.HasPrefix(p, "@") || slices.Contains(ok, p) {
				continue
			}
			bad = append(bad, fmt.Sprintf("line %d: <%s> given %s, which %s %s does not declare", e.at[p], e.name, p, from[0].kind, from[0].typ))
		}
	}
	var walk func(e *element, outer src)
	walk = func(e *element, outer src) {
		for _, c := range e.children {
			switch c.name {
			case "label":
				walk(c, src{})
			case "source":
				check(c, src{"input", c.typ(), "-"})
				walk(c, src{"input", c.typ(), "-"})
			case "filter":
				check(c, src{"filter", c.typ(), "-"})
				walk(c, src{"filter", c.typ(), "-"})
			case "match":
				check(c, src{"output", c.typ(), "-"})
				walk(c, src{"output", c.typ(), "-"})
			case "buffer":
				// The output's buffer section, and the buffer plugin's own.
				check(c, src{"output", outer.typ, "buffer"}, src{"buffer", c.typ(), "-"})
			case "parse":
				check(c, src{"parser", c.typ(), "-"})
				walk(c, src{"parser", c.typ(), "-"})
			case "pattern":
				// multi_format's patterns name a parser with format.
				p := *c
				p.params = slices.DeleteFunc(slices.Clone(c.params), func(k string) bool { return k == "format" })
				check(&p, src{"parser", c.values["format"], "-"})
			case "rule":
				check(c, src{outer.kind, outer.typ, "rule"})
			case "record":
				// record_transformer's fields: any names.
			default:
				bad = append(bad, fmt.Sprintf("line %d: <%s> is not an element the test knows", c.line, c.name))
			}
		}
	}
	walk(root, src{})
	return bad
}

// TestCompiledParamsAreDeclared holds every plugin and parameter the
// compiler writes to what the plugins of the pinned image declare
// (params.txt, read from their sources at the Gemfile.lock's versions):
// an option a plugin dropped (kubernetes_metadata's de_dot, gone in
// v3.0.0) is ignored by Fluentd with a warning, and what it was for
// silently does not happen.
func TestCompiledParamsAreDeclared(t *testing.T) {
	d, image := readParams(t)
	if image != Image {
		t.Fatalf("params.txt was read for %s, the compiler writes for %s: run go run ./internal/fluentd/paramsgen", image, Image)
	}
	conf, err := CompileFluentd(starter(t), testOutput)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range undeclared(d, parseConf(t, string(conf))) {
		t.Error(b)
	}
	// And the configuration of a repo without pipelines.
	for _, b := range undeclared(d, parseConf(t, FallbackConf("monitoring-agents", "/var/lib/obsctl-fluentd"))) {
		t.Error("fallback: " + b)
	}
}

// The check finds what it is for: de_dot given to kubernetes_metadata,
// and a plugin the image does not have.
func TestUndeclaredParamsAreFound(t *testing.T) {
	d, _ := readParams(t)
	conf := `<label @x>
  <filter kubernetes.**>
    @type kubernetes_metadata
    de_dot true
  </filter>
  <match **>
    @type kafka2
  </match>
  <match **>
    @type elasticsearch
    host es
    <buffer>
      @type file
      path /b
      flush_interval 5s
      flush_intervall 5s
    </buffer>
  </match>
</label>
`
	got := strings.Join(undeclared(d, parseConf(t, conf)), "\n")
	for _, want := range []string{
		"line 4: <filter> given de_dot, which filter kubernetes_metadata does not declare",
		`line 6: <match>: no output plugin "kafka2" in the image`,
		"line 16: <buffer> given flush_intervall, which output elasticsearch does not declare",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Count(got, "\n") != 2 {
		t.Errorf("more than the three expected:\n%s", got)
	}
}
