package fluentd

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
	"github.com/obsctl/obsctl/internal/spell"
)

// decoder walks a yaml.Node tree into a Pipeline by reflection, reporting
// every problem it meets instead of stopping at the first. It follows
// internal/config's decoder (whose machinery is unexported) and fills the
// same config.Fields spans; it adds the positioned Str and Pairs types.
type decoder struct {
	file     *source.File
	findings []diag.Finding
	depth    int
	// alias is the alias whose anchored value is being decoded, or nil:
	// what is found in the value is reported where the alias uses it.
	alias *yaml.Node
}

// span returns the span of n, or of the alias being decoded.
func (d *decoder) span(n *yaml.Node) diag.Span {
	if d.alias != nil {
		return d.file.Span(d.alias)
	}
	return d.file.Span(n)
}

// nodeDecoder is implemented by types that decode themselves from a node.
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, what string)
}

var (
	fieldsType  = reflect.TypeFor[config.Fields]()
	decoderType = reflect.TypeFor[nodeDecoder]()
)

func (d *decoder) report(check string, sev diag.Severity, span diag.Span, hint, format string, args ...any) {
	d.findings = append(d.findings, diag.Finding{
		Check: check, Severity: sev, Span: span,
		Message: fmt.Sprintf(format, args...), Hint: hint,
	})
}

func (d *decoder) errorf(n *yaml.Node, hint, format string, args ...any) {
	d.report(CheckSchema, diag.Error, d.span(n), hint, format, args...)
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// decode fills v (addressable) from n.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, what string) {
	if n != nil && n.Kind == yaml.AliasNode && d.alias == nil {
		d.alias = n
		defer func() { d.alias = nil }()
	}
	n = source.Resolve(n)
	if n == nil || n.Kind == yaml.AliasNode {
		return
	}
	if d.depth > 16 {
		d.errorf(n, "", "%s: nesting too deep", what)
		return
	}
	d.depth++
	defer func() { d.depth-- }()

	if v.CanAddr() && v.Addr().Type().Implements(decoderType) {
		v.Addr().Interface().(nodeDecoder).decodeNode(d, n, what)
		return
	}
	if isNull(n) {
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
			d.errorf(n, "", "%s must be a list, not %s", what, source.KindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", what, i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, "", "%s must be a string, not %s", what, source.KindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			d.errorf(n, "use true or false", "%s must be true or false, not %s", what, source.KindName(n))
			return
		}
		v.SetBool(b)
	default:
		panic(fmt.Sprintf("pipeline: cannot decode into %s", v.Type())) // a defect in the model
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, what string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "", "%s must be a mapping, not %s", what, source.KindName(n))
		return
	}
	t := v.Type()
	byKey := map[string]int{}
	var names []string
	required := map[string]bool{}
	var fields *config.Fields
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Type == fieldsType {
			fields = v.Field(i).Addr().Interface().(*config.Fields)
			continue
		}
		tag := strings.Split(sf.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		byKey[tag] = i
		names = append(names, tag)
		if strings.Contains(sf.Tag.Get("obsctl"), "required") {
			required[tag] = true
		}
	}
	if fields != nil {
		fields.At = d.span(n)
		fields.Keys = map[string]diag.Span{}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := source.Resolve(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" {
			d.errorf(k, "write the keys out; merge keys hide what the file says", "%s: YAML merge keys are not supported", what)
			continue
		}
		idx, ok := byKey[k.Value]
		if !ok || k.Kind != yaml.ScalarNode {
			hint := "valid keys: " + strings.Join(names, ", ")
			if s := spell.Closest(k.Value, names); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			d.errorf(k, hint, "unknown key %s in %s", source.KindName(k), what)
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "remove one of the two", "%s: key %q is written twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		if fields != nil {
			fields.Keys[k.Value] = d.span(val) // an alias where it is used
		}
		d.decode(val, v.Field(idx), what+"."+k.Value)
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

// scalar returns the text of a scalar node, reporting anything else. Numbers
// and booleans are taken as written: label values and constants are text.
func (d *decoder) scalar(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, "quote the value if it is meant as text", "%s must be a string, not %s", what, source.KindName(n))
		return "", false
	}
	return n.Value, true
}

func (s *Str) decodeNode(d *decoder, n *yaml.Node, what string) {
	if v, ok := d.scalar(n, what); ok {
		*s = Str{Value: v, Span: d.span(n)}
	}
}

func (ps *Pairs) decodeNode(d *decoder, n *yaml.Node, what string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "", "%s must be a mapping, not %s", what, source.KindName(n))
		return
	}
	out := make(Pairs, 0, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := source.Resolve(n.Content[i]), source.Resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode || isNull(k) {
			d.errorf(k, "", "%s: keys must be strings, not %s", what, source.KindName(k))
			continue
		}
		if k.Value == "<<" {
			d.errorf(k, "write the keys out; merge keys hide what the file says", "%s: YAML merge keys are not supported", what)
			continue
		}
		if seen[k.Value] {
			d.errorf(k, "remove one of the two", "%s: key %q is written twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		val, ok := d.scalar(v, fmt.Sprintf("%s %q", what, k.Value))
		if !ok {
			continue
		}
		out = append(out, Pair{Key: k.Value, Value: val, KeySpan: d.span(n.Content[i]), ValueSpan: d.span(n.Content[i+1])})
	}
	*ps = out
}
