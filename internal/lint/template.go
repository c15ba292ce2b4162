package lint

import (
	"context"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"text/template/parse"

	"github.com/prometheus/prometheus/template"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
)

// templateDefs is what Prometheus prepends to every alert template.
const templateDefs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

// Template is one parsed label or annotation value of an alerting rule.
type Template struct {
	KV      promrule.KV
	IsLabel bool
	// Tree is nil when the value has no template action or fails to parse.
	Tree *parse.Tree
	// Err is the parse error, if any, and ErrOffset its byte offset in the
	// value.
	Err       error
	ErrOffset int
	// Refs are the alert labels the template reads ($labels.x, .Labels.x,
	// index $labels "x").
	Refs []LabelRef
	// UsesValue reports whether the template reads $value or .Value.
	UsesValue bool
}

// LabelRef is one label read by a template, at byte Off of the value.
type LabelRef struct {
	Name string
	Off  int
}

// Span maps byte offset off of the template's value to the file.
func (t *Template) Span(r *promrule.Rule, off int) diag.Span {
	if t.KV.ValueLoc.IsZero() {
		return t.KV.ValueSpan()
	}
	f := r.Group.File
	p := f.ScalarAt(t.KV.ValueLoc, t.KV.Value, off)
	return diag.Span{File: f.Path, Start: p, End: p}
}

// builtins are text/template's predefined functions, which parse.Parse
// must be told about.
var builtins = map[string]any{
	"and": true, "call": true, "html": true, "index": true, "slice": true, "js": true, "len": true,
	"not": true, "or": true, "print": true, "printf": true, "println": true, "urlquery": true,
	"eq": true, "ge": true, "gt": true, "le": true, "lt": true, "ne": true,
}

var (
	funcsOnce sync.Once
	funcs     map[string]any
)

// templateFuncs returns the names of Prometheus' template functions. They
// are read once from a real Expander so that the set always matches the
// Prometheus version obsctl is built with; parsing needs only the names.
// When they cannot be read, it returns nil and parseTemplate falls back to
// Prometheus' own ParseTest.
func templateFuncs() map[string]any {
	funcsOnce.Do(func() {
		e := template.NewTemplateExpander(context.Background(), "", "", nil, 0, nil, nil, nil)
		v := reflect.ValueOf(e).Elem().FieldByName("funcMap")
		if !v.IsValid() || v.Kind() != reflect.Map {
			return
		}
		funcs = map[string]any{}
		for _, k := range v.MapKeys() {
			funcs[k.String()] = struct{}{}
		}
	})
	return funcs
}

var errLineRE = regexp.MustCompile(`^template: [^:]*:(\d+):`)

func parseTemplate(alert string, kv promrule.KV, isLabel bool) *Template {
	t := &Template{KV: kv, IsLabel: isLabel}
	if !strings.Contains(kv.Value, "{{") {
		return t
	}
	fm := templateFuncs()
	if !isLabel && fm != nil {
		if refs, usesValue, ok := scanSimple(kv.Value, fm); ok {
			t.Refs, t.UsesValue = refs, usesValue
			return t
		}
	}
	text := templateDefs + kv.Value
	var trees map[string]*parse.Tree
	var err error
	if fm != nil {
		trees, err = parse.Parse("__alert_"+alert, text, "{{", "}}", fm, builtins)
	} else {
		err = template.NewTemplateExpander(context.Background(), text, "__alert_"+alert, nil, 0, nil, nil, nil).ParseTest()
	}
	if err != nil {
		t.Err = err
		t.ErrOffset = errorOffset(kv.Value, err)
		return t
	}
	if fm == nil {
		return t
	}
	t.Tree = trees["__alert_"+alert]
	if t.Tree != nil {
		t.walk(t.Tree.Root, len(templateDefs))
	}
	return t
}

// errorOffset turns the line a template error names into an offset.
func errorOffset(value string, err error) int {
	m := errLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	line, _ := strconv.Atoi(m[1])
	// An error at the end names the empty line after a final line break.
	line = min(line, strings.Count(strings.TrimRight(value, "\n"), "\n")+1)
	off := 0
	for l := 1; l < line; l++ {
		i := strings.IndexByte(value[off:], '\n')
		if i < 0 {
			break
		}
		off += i + 1
	}
	// The parser names a line, not a column: a folded or one-line value
	// holds the whole template on its first line. The token the error
	// quotes (function "x" not defined, undefined variable "$x",
	// unexpected "}") is found in an action from there on, and an action
	// left open is found at its {{.
	msg := err.Error()
	if m := errTokenRE.FindStringSubmatch(msg); m != nil {
		if i := inAction(value, off, m[1]); i >= 0 {
			return i
		}
	}
	if strings.Contains(msg, "unclosed action") {
		if i := strings.LastIndex(value[off:], "{{"); i >= 0 && !strings.Contains(value[off+i:], "}}") {
			return off + i
		}
	}
	return off
}

// errTokenRE finds the token a template error quotes.
var errTokenRE = regexp.MustCompile(`(?:function|variable|unexpected) "([^"]+)"`)

// inAction returns the offset, at or after from, of the first tok in value
// that stands alone inside a {{ }} action, or -1.
func inAction(value string, from int, tok string) int {
	for i := from; i <= len(value)-len(tok); {
		j := strings.Index(value[i:], tok)
		if j < 0 {
			return -1
		}
		at := i + j
		open, closed := strings.LastIndex(value[:at], "{{"), strings.LastIndex(value[:at], "}}")
		word := func(k int) bool {
			return k < 0 || k >= len(value) || !(value[k] == '_' || value[k] == '.' || value[k] == '$' ||
				'a' <= value[k] && value[k] <= 'z' || 'A' <= value[k] && value[k] <= 'Z' || '0' <= value[k] && value[k] <= '9')
		}
		if open >= 0 && open > closed && (!isIdent(tok) || word(at-1) && word(at+len(tok))) {
			return at
		}
		i = at + 1
	}
	return -1
}

// isIdent reports whether tok is a name or variable, matched as a whole
// word; other tokens (}, )) are matched as they are.
func isIdent(tok string) bool {
	for _, r := range tok {
		if !(r == '_' || r == '$' || r == '.' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return tok != ""
}

// scope is what the names of a template mean where it is walked: whether
// dot is still the alert (range and with rebind it to what they iterate
// or test, such as a query result) and whether $labels is still the
// alert's labels (a range or with may declare its own $labels).
type scope struct {
	dotAlert, labelsAlert bool
}

// walk collects label references; defs is the length of the prefix.
func (t *Template) walk(n parse.Node, defs int) {
	t.walkIn(n, defs, scope{dotAlert: true, labelsAlert: true})
}

func (t *Template) walkIn(n parse.Node, defs int, sc scope) {
	if n == nil || reflect.ValueOf(n).IsNil() {
		return
	}
	pos := func(p parse.Pos) int { return max(0, int(p)-defs) }
	switch n := n.(type) {
	case *parse.ListNode:
		for _, c := range n.Nodes {
			t.walkIn(c, defs, sc)
		}
	case *parse.ActionNode:
		t.walkIn(n.Pipe, defs, sc)
	case *parse.PipeNode:
		for _, c := range n.Cmds {
			t.walkIn(c, defs, sc)
		}
	case *parse.CommandNode:
		if len(n.Args) >= 3 {
			if id, ok := n.Args[0].(*parse.IdentifierNode); ok && id.Ident == "index" {
				if isLabelsVar(n.Args[1], sc) {
					if s, ok := n.Args[2].(*parse.StringNode); ok {
						t.Refs = append(t.Refs, LabelRef{Name: s.Text, Off: pos(s.Pos)})
					}
				}
			}
		}
		for _, a := range n.Args {
			t.walkIn(a, defs, sc)
		}
	case *parse.VariableNode:
		if int(n.Pos) < defs {
			return // Prometheus' own prefix
		}
		switch {
		case len(n.Ident) >= 2 && n.Ident[0] == "$labels" && sc.labelsAlert:
			// A chain is positioned at its first field; point at the $.
			t.Refs = append(t.Refs, LabelRef{Name: n.Ident[1], Off: pos(n.Pos - parse.Pos(len(n.Ident[0])))})
		case n.Ident[0] == "$value":
			t.UsesValue = true
		}
	case *parse.FieldNode:
		if int(n.Pos) < defs || !sc.dotAlert {
			return // inside range or with, dot is what they rebound it to
		}
		switch {
		case len(n.Ident) >= 2 && n.Ident[0] == "Labels":
			t.Refs = append(t.Refs, LabelRef{Name: n.Ident[1], Off: pos(n.Pos - parse.Pos(1+len(n.Ident[0])))})
		case n.Ident[0] == "Value":
			t.UsesValue = true
		}
	case *parse.IfNode:
		t.walkBranch(&n.BranchNode, defs, sc, false)
	case *parse.RangeNode:
		t.walkBranch(&n.BranchNode, defs, sc, true)
	case *parse.WithNode:
		t.walkBranch(&n.BranchNode, defs, sc, true)
	case *parse.ChainNode:
		t.walkIn(n.Node, defs, sc)
	}
}

// walkBranch walks an if, range or with. The pipeline and the else branch
// see the enclosing dot; the body of a range or with (rebinds) sees the
// value it iterates or tests, and the variables its pipeline declares.
func (t *Template) walkBranch(b *parse.BranchNode, defs int, sc scope, rebinds bool) {
	t.walkIn(b.Pipe, defs, sc)
	body := sc
	if rebinds {
		body.dotAlert = false
	}
	if b.Pipe != nil {
		for _, v := range b.Pipe.Decl {
			if len(v.Ident) > 0 && v.Ident[0] == "$labels" {
				body.labelsAlert = false
			}
		}
	}
	t.walkIn(b.List, defs, body)
	t.walkIn(b.ElseList, defs, sc)
}

func isLabelsVar(n parse.Node, sc scope) bool {
	switch n := n.(type) {
	case *parse.VariableNode:
		return len(n.Ident) == 1 && n.Ident[0] == "$labels" && sc.labelsAlert
	case *parse.FieldNode:
		return len(n.Ident) == 1 && n.Ident[0] == "Labels" && sc.dotAlert
	}
	return false
}
