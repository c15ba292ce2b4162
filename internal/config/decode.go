package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
	"github.com/obsctl/obsctl/internal/spell"
)

// CheckSchema names findings about obsctl.yaml's shape.
const CheckSchema = "config/schema"

// Fields records where each decoded key of a mapping was written. Structs
// embed it so that checks can point at the exact field they complain about.
type Fields struct {
	// At is the span of the mapping itself.
	At diag.Span `yaml:"-"`
	// Keys maps each YAML key present to the span of its value.
	Keys map[string]diag.Span `yaml:"-"`
	// items maps the key of a list to the spans of its items, and entries
	// the key of a mapping decoded into a Go map to the spans of its keys,
	// so that a finding about one item points at it.
	items   map[string][]diag.Span
	entries map[string]map[string]diag.Span
}

// Span returns the span of key's value, or of the mapping when the key was
// not written.
func (f Fields) Span(key string) diag.Span {
	if s, ok := f.Keys[key]; ok {
		return s
	}
	return f.At
}

// Item returns the span of item i of key's list, or Span(key) when the
// file does not have it.
func (f Fields) Item(key string, i int) diag.Span {
	if items := f.items[key]; i >= 0 && i < len(items) {
		return items[i]
	}
	return f.Span(key)
}

// Entry returns the span of the key k in key's mapping (a map such as
// externalLabels), or Span(key) when the file does not have it.
func (f Fields) Entry(key, k string) diag.Span {
	if s, ok := f.entries[key][k]; ok {
		return s
	}
	return f.Span(key)
}

// Has reports whether key was written.
func (f Fields) Has(key string) bool {
	_, ok := f.Keys[key]
	return ok
}

// nodeDecoder is implemented by types that decode themselves from a node.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node)
}

// decoder walks a yaml.Node tree into Go values by reflection, reporting
// every problem it meets instead of stopping at the first.
type decoder struct {
	file     *source.File
	findings []diag.Finding
	depth    int
	// alias is the alias whose anchored value is being decoded, or nil:
	// what is found in the value is reported where the alias uses it,
	// not at the anchor, which may be far away and right where it is.
	alias *yaml.Node
}

// span returns the span of n, or of the alias being decoded.
func (d *decoder) span(n *yaml.Node) diag.Span {
	if d.alias != nil {
		return d.file.Span(d.alias)
	}
	return d.file.Span(n)
}

func (d *decoder) errorf(n *yaml.Node, hint, format string, args ...any) {
	d.findings = append(d.findings, diag.Finding{
		Check: CheckSchema, Severity: diag.Error, Span: d.span(n),
		Message: fmt.Sprintf(format, args...), Hint: hint,
	})
}

var (
	fieldsType  = reflect.TypeFor[Fields]()
	decoderType = reflect.TypeFor[nodeDecoder]()
)

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an alias"
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	return n
}

// decode fills v (addressable) from n.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, what string) {
	if n != nil && n.Kind == yaml.AliasNode && d.alias == nil {
		d.alias = n
		defer func() { d.alias = nil }()
	}
	n = resolve(n)
	if n == nil || n.Kind == yaml.AliasNode {
		return
	}
	if d.depth > 32 {
		d.errorf(n, "", "%s: nesting too deep", what)
		return
	}
	d.depth++
	defer func() { d.depth-- }()

	if v.CanAddr() && v.Addr().Type().Implements(decoderType) {
		v.Addr().Interface().(nodeDecoder).decodeNode(d, n)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" && v.Kind() != reflect.String {
		return // an empty value leaves the default
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), what)
	case reflect.Struct:
		d.decodeStruct(n, v, what)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, "", "%s must be a list, not %s", what, kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", what, i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errorf(n, "", "%s must be a mapping, not %s", what, kindName(n))
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := resolve(n.Content[i]), n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				d.errorf(k, "", "%s: keys must be strings", what)
				continue
			}
			if seen[k.Value] {
				d.errorf(k, "remove one of the two", "%s: key %q is written twice", what, k.Value)
				continue
			}
			seen[k.Value] = true
			e := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, e, what+"."+k.Value)
			m.SetMapIndex(reflect.ValueOf(k.Value), e)
		}
		v.Set(m)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, "", "%s must be a string, not %s", what, kindName(n))
			return
		}
		if n.Tag == "!!null" {
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			d.errorf(n, "use true or false", "%s must be true or false, not %s", what, kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.errorf(n, "", "%s must be a whole number, not %s", what, kindName(n))
			return
		}
		v.SetInt(i)
	default:
		panic(fmt.Sprintf("config: cannot decode into %s", v.Type()))
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, what string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "", "%s must be a mapping, not %s", what, kindName(n))
		return
	}
	byKey := map[string][]int{}
	var names []string
	required := map[string]bool{}
	// Every Fields of the mapping records its keys: the struct's own and
	// those of structs inlined into it (NodeExporter inlines Component,
	// whose checks point at its keys through its Fields).
	var fields []*Fields
	var collect func(t reflect.Type, prefix []int)
	collect = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			idx := append(append([]int{}, prefix...), i)
			if sf.Type == fieldsType {
				fields = append(fields, v.FieldByIndex(idx).Addr().Interface().(*Fields))
				continue
			}
			tag := strings.Split(sf.Tag.Get("yaml"), ",")[0]
			if sf.Anonymous && sf.Type.Kind() == reflect.Struct && (tag == "" || strings.Contains(sf.Tag.Get("yaml"), "inline")) {
				collect(sf.Type, idx)
				continue
			}
			if tag == "" || tag == "-" {
				continue
			}
			byKey[tag] = idx
			names = append(names, tag)
			if strings.Contains(sf.Tag.Get("obsctl"), "required") {
				required[tag] = true
			}
		}
	}
	collect(v.Type(), nil)
	keys := map[string]diag.Span{}
	items := map[string][]diag.Span{}
	entries := map[string]map[string]diag.Span{}
	for _, f := range fields {
		f.At, f.Keys, f.items, f.entries = d.span(n), keys, items, entries
	}
	seen := map[string]bool{}
	var validKeys string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" {
			d.errorf(k, "write the keys out; merge keys hide what the file says", "%s: YAML merge keys are not supported", what)
			continue
		}
		idx, ok := byKey[k.Value]
		if !ok || k.Kind != yaml.ScalarNode {
			// One hint string for every unknown key of the mapping: a
			// hostile file can have millions.
			if validKeys == "" {
				validKeys = "valid keys: " + strings.Join(names, ", ")
			}
			hint := validKeys
			if s := spell.Closest(k.Value, names); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			d.errorf(k, hint, "unknown key %q in %s", k.Value, what)
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "remove one of the two", "%s: key %q is written twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		if len(fields) > 0 {
			rv := resolve(val)
			keys[k.Value] = d.span(val) // an alias where it is used
			switch {
			case rv == nil:
			case rv.Kind == yaml.SequenceNode:
				spans := make([]diag.Span, len(rv.Content))
				for i, c := range rv.Content {
					spans[i] = d.span(c)
				}
				items[k.Value] = spans
			case rv.Kind == yaml.MappingNode && v.FieldByIndex(idx).Kind() == reflect.Map:
				m := make(map[string]diag.Span, len(rv.Content)/2)
				for i := 0; i+1 < len(rv.Content); i += 2 {
					if mk := resolve(rv.Content[i]); mk != nil {
						m[mk.Value] = d.span(rv.Content[i])
					}
				}
				entries[k.Value] = m
			}
		}
		d.decode(val, v.FieldByIndex(idx), what+"."+k.Value)
	}
	missing := make([]string, 0, len(required))
	for k := range required {
		if !seen[k] {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	for _, k := range missing {
		d.errorf(n, "", "%s: missing required key %q", what, k)
	}
}
