// Package dashboard reads Grafana dashboards as the repo holds them and
// turns them into what Grafana's file provisioning loads.
//
// A dashboard exported for sharing ("Export for sharing externally", or
// downloaded from grafana.com) names its datasources by placeholders,
// ${DS_PROMETHEUS}, that its __inputs list; Grafana's import dialog fills
// them in, but file provisioning does not (grafana/grafana#10786), so
// such a dashboard provisioned as it is shows "datasource not found" on
// every panel. Provision resolves them to the datasources the stack
// provisions.
package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/obsctl/obsctl/internal/config"
)

// Datasource is one datasource the stack provisions for Grafana.
type Datasource struct {
	// UID is the uid dashboards refer to it by.
	UID string
	// Type is Grafana's plugin id: what an export's __inputs call its
	// pluginId.
	Type string
	// Component is the stack component that must be on for it.
	Component string
}

// Provisioned are the stack's datasources, one per component that serves
// one (render provisions them; a test holds the two together).
var Provisioned = []Datasource{
	{UID: "prometheus", Type: "prometheus", Component: "prometheus"},
	{UID: "alertmanager", Type: "alertmanager", Component: "alertmanager"},
	{UID: "logs", Type: "elasticsearch", Component: "elasticsearch"},
	{UID: "jaeger", Type: "jaeger", Component: "jaeger"},
}

// Input is one entry of an exported dashboard's __inputs.
type Input struct {
	// Name is what the placeholders say: ${Name}.
	Name string
	// Type is datasource or constant.
	Type string
	// PluginID is a datasource input's plugin, such as prometheus.
	PluginID string
	// Value is a constant input's value.
	Value string
	// Offset is where the input's object starts in the file.
	Offset int
}

// Inputs returns the __inputs of a dashboard, none when it has no
// __inputs. Its error is the JSON's.
func Inputs(src []byte) ([]Input, error) {
	if !bytes.Contains(src, []byte(`"__inputs"`)) {
		return nil, nil
	}
	root, err := decode(src)
	if err != nil {
		return nil, err
	}
	obj, ok := root.(*object)
	if !ok {
		return nil, nil
	}
	return inputsOf(src, obj), nil
}

// inputsOf returns the __inputs of the decoded dashboard obj of src.
func inputsOf(src []byte, obj *object) []Input {
	list, ok := obj.get("__inputs").(*array)
	if !ok {
		return nil
	}
	var out []Input
	for _, v := range list.items {
		o, ok := v.(*object)
		if !ok {
			continue
		}
		off := o.offset
		for off < len(src) && strings.IndexByte(" \t\r\n:,", src[off]) >= 0 {
			off++ // InputOffset is where the previous token ended
		}
		out = append(out, Input{
			Name: o.str("name"), Type: o.str("type"), PluginID: o.str("pluginId"),
			Value: o.str("value"), Offset: off,
		})
	}
	return out
}

// Problem says why an input cannot be resolved.
func (in Input) Problem(uidOf func(pluginID string) (string, bool)) string {
	switch {
	case in.Name == "":
		return "an input without a name"
	case in.Type == "datasource":
		if _, ok := uidOf(in.PluginID); !ok {
			return fmt.Sprintf("input %s is a %q datasource, which the stack does not provision", in.Name, in.PluginID)
		}
	case in.Type == "constant":
	default:
		return fmt.Sprintf("input %s is of type %q: provisioning resolves datasource and constant inputs", in.Name, in.Type)
	}
	return ""
}

// Provision returns src as Grafana's file provisioning needs it. A
// dashboard without __inputs is returned as it is. An exported one has
// its ${NAME} and $NAME placeholders resolved: a datasource input to the
// uid of the provisioned datasource of its plugin (uidOf says which, and
// a "datasource" that is the placeholder alone becomes {"type", "uid"}),
// a constant input to its value; and its __inputs, __requires and id
// dropped (an id would be another Grafana's). Every other field is kept,
// in its order. It fails on an input it cannot resolve, as Problem says.
func Provision(src []byte, uidOf func(pluginID string) (string, bool)) ([]byte, error) {
	if !bytes.Contains(src, []byte(`"__inputs"`)) {
		return src, nil
	}
	root, err := decode(src)
	if err != nil {
		return nil, err
	}
	obj, ok := root.(*object)
	if !ok || obj.get("__inputs") == nil {
		return src, nil
	}
	r, problems := newResolver(inputsOf(src, obj), uidOf)
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	obj.del("__inputs", "__requires", "id")
	out := r.walk("", obj)
	var b bytes.Buffer
	if err := encode(&b, out, ""); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// placeholderRE matches ${NAME} and $NAME. Grafana's exporter makes an
// input's name from the datasource's (DS_ and its name in capitals, its
// first space an underscore), so ${...} takes any name.
var placeholderRE = regexp.MustCompile(`\$\{([^}]+)\}|\$([A-Za-z0-9_]+)`)

// resolver knows what an export's placeholders stand for once
// provisioned: values by input name (a datasource's uid, a constant's
// value), and types, a datasource input's plugin.
type resolver struct {
	values, types map[string]string
}

// newResolver resolves inputs with uidOf, and says why each it cannot
// resolve (Problem) cannot be.
func newResolver(inputs []Input, uidOf func(pluginID string) (string, bool)) (*resolver, []string) {
	r := &resolver{values: map[string]string{}, types: map[string]string{}}
	var problems []string
	for _, in := range inputs {
		if p := in.Problem(uidOf); p != "" {
			problems = append(problems, p)
		}
		if in.Type == "datasource" {
			r.values[in.Name], _ = uidOf(in.PluginID)
			r.types[in.Name] = in.PluginID
		} else {
			r.values[in.Name] = in.Value
		}
	}
	return r, problems
}

// expand resolves the placeholders in s; others stay as written.
func (r *resolver) expand(s string) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		sub := placeholderRE.FindStringSubmatch(m)
		if val, ok := r.values[sub[1]+sub[2]]; ok {
			return val
		}
		return m
	})
}

// name returns the input a string is the placeholder of, alone.
func (r *resolver) name(s string) (string, bool) {
	m := placeholderRE.FindStringSubmatch(s)
	if m == nil || m[0] != s {
		return "", false
	}
	n := m[1] + m[2]
	_, ok := r.values[n]
	return n, ok
}

func (r *resolver) walk(key string, v any) any {
	switch v := v.(type) {
	case *object:
		for i, kv := range v.fields {
			v.fields[i].value = r.walk(kv.key, kv.value)
		}
		return v
	case *array:
		for i, item := range v.items {
			v.items[i] = r.walk(key, item)
		}
		return v
	case string:
		if n, ok := r.name(v); ok && key == "datasource" && r.types[n] != "" {
			return &object{fields: []field{{"type", r.types[n]}, {"uid", r.values[n]}}}
		}
		return r.expand(v)
	}
	return v
}

// object is a JSON object that keeps its keys in order.
type object struct {
	fields []field
	offset int
}

type field struct {
	key   string
	value any
}

type array struct{ items []any }

func (o *object) get(k string) any {
	for _, f := range o.fields {
		if f.key == k {
			return f.value
		}
	}
	return nil
}

func (o *object) str(k string) string {
	s, _ := o.get(k).(string)
	return s
}

func (o *object) del(keys ...string) {
	o.fields = slices.DeleteFunc(o.fields, func(f field) bool { return slices.Contains(keys, f.key) })
}

// decode reads one JSON value, keeping the order of keys, the text of
// numbers and where each object starts.
func decode(src []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the dashboard's JSON value")
	}
	return v, nil
}

// maxDepth bounds the nesting decode follows, as lint's dashboard walker
// does: deeper is not a dashboard, and would exhaust the stack.
const maxDepth = 200

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errors.New("nested too deeply")
	}
	start := int(dec.InputOffset())
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &object{offset: start}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				o.fields = append(o.fields, field{k.(string), v})
			}
			_, err := dec.Token()
			return o, err
		case '[':
			a := &array{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a.items = append(a.items, v)
			}
			_, err := dec.Token()
			return a, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	default:
		return t, nil
	}
}

// encode writes v indented by two spaces, as Grafana exports.
func encode(b *bytes.Buffer, v any, indent string) error { return encodeIndent(b, v, indent, "  ") }

// encodeIndent writes v, each level indented by unit more than indent.
func encodeIndent(b *bytes.Buffer, v any, indent, unit string) error {
	switch v := v.(type) {
	case *object:
		if len(v.fields) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteString("{\n")
		for i, f := range v.fields {
			b.WriteString(indent + unit)
			writeString(b, f.key)
			b.WriteString(": ")
			if err := encodeIndent(b, f.value, indent+unit, unit); err != nil {
				return err
			}
			if i < len(v.fields)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case *array:
		if len(v.items) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteString("[\n")
		for i, item := range v.items {
			b.WriteString(indent + unit)
			if err := encodeIndent(b, item, indent+unit, unit); err != nil {
				return err
			}
			if i < len(v.items)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	case string:
		writeString(b, v)
	default:
		out, err := json.Marshal(v)
		if err != nil {
			return err
		}
		b.Write(out)
	}
	return nil
}

// writeString writes s as JSON without escaping <, > and &, and with DEL
// and the C1 controls escaped, which JSON takes raw but the API server's
// YAML reader refuses in the ConfigMap that ships the dashboard (an
// escape in the repo's file stays one).
func writeString(b *bytes.Buffer, s string) {
	var e bytes.Buffer
	enc := json.NewEncoder(&e)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	for _, r := range strings.TrimSuffix(e.String(), "\n") {
		if r == 0x7f || r >= 0x80 && r <= 0x9f {
			fmt.Fprintf(b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
}

// UIDOf returns a lookup of the uid of the provisioned datasource of a
// plugin: the stack's, among those whose component on says is on, then
// the repo's (extra), the first of each type.
func UIDOf(on func(component string) bool, extra []Datasource) func(pluginID string) (string, bool) {
	return func(pluginID string) (string, bool) {
		for _, d := range Provisioned {
			if d.Type == pluginID && on(d.Component) {
				return d.UID, true
			}
		}
		for _, d := range extra {
			if d.Type == pluginID {
				return d.UID, true
			}
		}
		return "", false
	}
}

// ConfigUIDOf is UIDOf for the stack obsctl.yaml describes: its
// components on, and its grafana.datasources; c nil is none of them.
func ConfigUIDOf(c *config.Config) func(pluginID string) (string, bool) {
	if c == nil {
		return UIDOf(func(string) bool { return false }, nil)
	}
	on := c.ComponentsOn()
	return UIDOf(func(comp string) bool { return on[comp] }, Repo(c))
}

// Repo returns the repo's datasources (grafana.datasources of
// obsctl.yaml) as Datasources, of no component.
func Repo(c *config.Config) []Datasource {
	var out []Datasource
	for _, d := range c.Grafana.Datasources {
		out = append(out, Datasource{UID: d.UID, Type: d.Type})
	}
	return out
}
