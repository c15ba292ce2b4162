package routetest

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/alertmanager/matcher/compat"
	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/ruletest"
	"github.com/obsctl/obsctl/internal/source"
)

// Key is the top-level key that makes a *_test.yaml file a routing test.
const Key = "route_tests"

// File is one parsed routing test file.
type File struct {
	Source *source.File
	// Span is where the route_tests key is.
	Span  diag.Span
	Cases []*Case
}

// Case is one routing test case: an alert's labels and what Alertmanager
// should do with it.
type Case struct {
	// Name is the case's name; the alert's labels when the file gives none.
	Name   string
	Span   diag.Span
	Labels model.LabelSet
	// Receivers are the receivers expected, in routing order; nil when
	// the case does not say (it is about inhibition only).
	Receivers []string
	// Firing are the other alerts firing beside this one.
	Firing []model.LabelSet
	// Inhibited says whether the firing alerts inhibit this one.
	Inhibited bool
}

// IsRouteTest reports whether src, the content of a *_test.yaml file, is
// a routing test: it has a top-level route_tests key. It looks at lines,
// without parsing, so that a file with a mistake is still told apart.
func IsRouteTest(src []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(nil, len(src)+1)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, Key); ok {
			rest = strings.TrimLeft(rest, " \t")
			if strings.HasPrefix(rest, ":") {
				return true
			}
		}
		for _, q := range []string{`"`, `'`} {
			if strings.HasPrefix(line, q+Key+q) {
				return true
			}
		}
	}
	return false
}

// Parse reads a routing test file. Every problem is a finding at its
// position; a file with findings of severity error cannot be run.
func Parse(sf *source.File) (*File, []diag.Finding) {
	p := &parser{f: &File{Source: sf}, Walker: ruletest.Walker{Src: sf}}
	docs, fd := sf.ParseYAML("yaml/syntax")
	if fd != nil {
		return p.f, []diag.Finding{*fd}
	}
	switch {
	case len(docs) == 0 || len(docs[0].Content) == 0:
		p.Errorf(sf.Whole(), "the file is empty: a routing test has route_tests")
		return p.f, p.Findings
	case len(docs) > 1:
		p.Errorf(sf.Span(docs[1]), "a routing test is one YAML document")
	}
	p.top(docs[0].Content[0])
	return p.f, diag.Sort(p.Findings)
}

type parser struct {
	ruletest.Walker
	f *File
}

// mapping calls fn for each key of the mapping n, refusing unknown keys
// and keys written twice.
func (p *parser) mapping(n *yaml.Node, what string, known []string, fn func(key string, k, v *yaml.Node)) bool {
	n = ruletest.Deref(n)
	if n.Kind != yaml.MappingNode {
		p.Errorf(p.Span(n), "%s must be a mapping", what)
		return false
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], ruletest.Deref(n.Content[i+1])
		switch {
		case !slices.Contains(known, k.Value):
			p.Errorf(p.Span(k), "unknown field %q in %s (known: %s)", k.Value, what, strings.Join(known, ", "))
		case seen[k.Value]:
			p.Errorf(p.Span(k), "%s has %s twice", what, k.Value)
		default:
			seen[k.Value] = true
			fn(k.Value, k, v)
		}
	}
	return true
}

func (p *parser) labels(n *yaml.Node, what string) model.LabelSet {
	ls := model.LabelSet{}
	if ruletest.IsNull(n) {
		return ls
	}
	if n.Kind != yaml.MappingNode {
		p.Errorf(p.Span(n), "%s must be a mapping of label names to values", what)
		return ls
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], ruletest.Deref(n.Content[i+1])
		name := model.LabelName(k.Value)
		if _, dup := ls[name]; dup {
			p.Errorf(p.Span(k), "%s has %s twice", what, k.Value)
			continue
		}
		if k.Value == "" || !utf8Valid(k.Value) {
			p.Errorf(p.Span(k), "%s: %q is not a label name", what, k.Value)
			continue
		}
		ls[name] = model.LabelValue(p.Str(v, what+"."+k.Value))
	}
	return ls
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func (p *parser) top(n *yaml.Node) {
	found := false
	p.mapping(n, "a routing test file", []string{Key}, func(_ string, k, v *yaml.Node) {
		found = true
		p.f.Span = p.Span(k)
		p.Seq(v, Key, func(i int, item *yaml.Node) {
			if c := p.testCase(i, item); c != nil {
				p.f.Cases = append(p.f.Cases, c)
			}
		})
	})
	if !found && ruletest.Deref(n).Kind == yaml.MappingNode {
		p.Errorf(p.Span(n), "a routing test file has route_tests")
	}
}

func (p *parser) testCase(i int, n *yaml.Node) *Case {
	c := &Case{Span: p.Span(n)}
	what := fmt.Sprintf("route_tests[%d]", i)
	var hasLabels, hasInhibited bool
	ok := p.mapping(n, what, []string{"name", "labels", "receivers", "firing", "inhibited"}, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			c.Name = p.Str(v, what+".name")
		case "labels":
			hasLabels = true
			c.Labels = p.labels(v, what+".labels")
		case "receivers":
			c.Receivers = []string{}
			p.Seq(v, what+".receivers", func(_ int, item *yaml.Node) {
				if r := p.Str(item, "a receiver"); r != "" {
					c.Receivers = append(c.Receivers, r)
				} else if item.Kind == yaml.ScalarNode {
					p.Errorf(p.Span(item), "%s: a receiver name is empty", what)
				}
			})
		case "firing":
			p.Seq(v, what+".firing", func(j int, item *yaml.Node) {
				c.Firing = append(c.Firing, p.labels(item, fmt.Sprintf("%s.firing[%d]", what, j)))
			})
		case "inhibited":
			hasInhibited = true
			if v.Kind != yaml.ScalarNode || (v.Value != "true" && v.Value != "false") {
				p.Errorf(p.Span(v), "%s.inhibited must be true or false", what)
				return
			}
			c.Inhibited = v.Value == "true"
		}
	})
	if !ok {
		return nil
	}
	if !hasLabels {
		p.Errorf(c.Span, "%s has no labels: a case is an alert's labels and the receivers it reaches", what)
	}
	if c.Receivers == nil && !hasInhibited {
		p.Errorf(c.Span, "%s expects nothing: give receivers, inhibited or both", what)
	}
	if c.Name == "" {
		c.Name = c.Labels.String()
	}
	return c
}

// ParseLabels reads an alert's labels given as label=value words, as amtool
// config routes test reads them (value may be quoted: name="a b"). Any
// other matcher (!=, =~, !~) is refused: an alert has values, not patterns.
func ParseLabels(args []string) (model.LabelSet, error) {
	ls := model.LabelSet{}
	for _, a := range args {
		m, err := compat.Matcher(a, "cli")
		if err != nil {
			return nil, fmt.Errorf("label %q: %w", a, err)
		}
		if m.Type != labels.MatchEqual {
			return nil, fmt.Errorf("label %q: labels are given as name=value", a)
		}
		if _, dup := ls[model.LabelName(m.Name)]; dup {
			return nil, fmt.Errorf("label %s given twice", m.Name)
		}
		ls[model.LabelName(m.Name)] = model.LabelValue(m.Value)
	}
	return ls, nil
}
