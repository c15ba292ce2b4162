package promrule

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
	"github.com/obsctl/obsctl/internal/spell"
)

// Names of the findings the loader reports.
const (
	CheckSyntax = "yaml/syntax"
	CheckSchema = "rules/schema"
)

// Load parses one rules file. It always returns a File holding what could
// be read, with a finding for each problem met; it never stops at the
// first problem of a file, only at a YAML syntax error.
func Load(sf *source.File) (*File, []diag.Finding) {
	l := &loader{f: &File{File: sf}}
	l.f.Disabled = fileDisables(sf.Src)
	docs, fd := sf.ParseYAML(CheckSyntax)
	if fd != nil {
		l.findings = append(l.findings, *fd)
	}
	plain := 0
	for i, doc := range docs {
		root := doc
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue // an empty document, as between two ---
		}
		if root.Kind != yaml.MappingNode {
			l.errorf(root, "a rules file holds `groups:` or PrometheusRule objects", "document %d must be a mapping, not %s", i+1, source.KindName(root))
			continue
		}
		if get(root, "kind") != nil || get(root, "apiVersion") != nil {
			l.object(root)
			continue
		}
		plain++
		if plain == 2 {
			l.errorf(root, "Prometheus reads only the first document of a rule file; move the groups into one document or use PrometheusRule objects", "a plain rule file must hold one YAML document")
		}
		l.groups(root, nil, map[string]bool{"groups": true})
	}
	return l.f, l.findings
}

type loader struct {
	f        *File
	findings []diag.Finding
	// alias is the alias whose anchored value is being read, or nil: what
	// is found in the value is reported where the alias uses it, not at
	// the anchor.
	alias *yaml.Node
}

func (l *loader) errorf(n *yaml.Node, hint, format string, args ...any) {
	l.findings = append(l.findings, diag.Finding{
		Check: CheckSchema, Severity: diag.Error, Span: l.span(n),
		Message: fmt.Sprintf(format, args...), Hint: hint,
	})
}

// span returns the span of n, or of the alias being read.
func (l *loader) span(n *yaml.Node) diag.Span {
	if l.alias != nil {
		return l.f.Span(l.alias)
	}
	return l.f.Span(n)
}

// through reads n with fn, n resolved; when n is an alias, what fn
// reports is placed at the alias.
func (l *loader) through(n *yaml.Node, fn func(*yaml.Node)) {
	if n != nil && n.Kind == yaml.AliasNode && l.alias == nil {
		l.alias = n
		defer func() { l.alias = nil }()
	}
	fn(source.Resolve(n))
}

// get returns the value of key in mapping n, or nil (also when n is nil).
// It reads keys as fields does, through aliases, so that a key fields
// accepted is always found here.
func get(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if source.Resolve(n.Content[i]).Value == key {
			return source.Resolve(n.Content[i+1])
		}
	}
	return nil
}

// fields calls fn for each key of mapping n, reporting unknown and repeated
// keys. known maps the accepted keys; fn is called for those only.
func (l *loader) fields(n *yaml.Node, what string, known map[string]bool, fn func(key string, k, v *yaml.Node)) {
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, raw := source.Resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			l.errorf(k, "", "%s: keys must be strings", what)
			continue
		}
		if !known[k.Value] {
			l.errorf(k, hintFor(k.Value, known), "unknown key %q in %s", k.Value, what)
			continue
		}
		if seen[k.Value] {
			l.errorf(k, "remove one of the two", "%s: key %q is written twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		l.through(raw, func(v *yaml.Node) { fn(k.Value, k, v) })
	}
}

func hintFor(key string, known map[string]bool) string {
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	slices.Sort(names)
	if s := spell.Closest(key, names); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return ""
}

func (l *loader) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		l.errorf(n, "", "%s must be a string, not %s", what, source.KindName(n))
		return "", false
	}
	return n.Value, true
}

func (l *loader) duration(n *yaml.Node, what string) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode {
		l.errorf(n, "", "%s must be a duration, not %s", what, source.KindName(n))
		return 0, false
	}
	d, err := model.ParseDuration(n.Value)
	if err != nil {
		l.errorf(n, "use a number and a unit: ms, s, m, h, d, w or y (for example 5m or 1h30m)", "%s: invalid duration %q", what, n.Value)
		return 0, false
	}
	return time.Duration(d), true
}

func (l *loader) kvs(n *yaml.Node, what string) []KV {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(n, "", "%s must be a mapping, not %s", what, source.KindName(n))
		return nil
	}
	out := make([]KV, 0, len(n.Content)/2)
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := source.Resolve(n.Content[i]), source.Resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			l.errorf(k, "", "%s: keys must be strings", what)
			continue
		}
		if seen[k.Value] {
			l.errorf(k, "remove one of the two", "%s: key %q is written twice", what, k.Value)
			continue
		}
		seen[k.Value] = true
		if v.Kind != yaml.ScalarNode {
			l.errorf(v, "quote the value if it is meant as text", "%s %q must be a string, not %s", what, k.Value, source.KindName(v))
			continue
		}
		out = append(out, KV{Key: k.Value, Value: v.Value, KeyLoc: source.ScalarOf(k), ValueLoc: source.ScalarOf(v), File: l.f.File})
	}
	return out
}

var (
	groupKeys = map[string]bool{"name": true, "interval": true, "query_offset": true, "limit": true, "rules": true, "labels": true}
	// PrometheusRule groups may also carry the Thanos Ruler field.
	objectGroupKeys = map[string]bool{"name": true, "interval": true, "query_offset": true, "limit": true, "rules": true, "labels": true, "partial_response_strategy": true}
	ruleKeys        = map[string]bool{"alert": true, "record": true, "expr": true, "for": true, "keep_firing_for": true, "labels": true, "annotations": true}
	objectKeys      = map[string]bool{"apiVersion": true, "kind": true, "metadata": true, "spec": true}
	metadataKeys    = map[string]bool{"name": true, "namespace": true, "labels": true, "annotations": true}
	specKeys        = map[string]bool{"groups": true}
)

// groups reads the `groups:` key of n (a plain file root or a spec).
func (l *loader) groups(n *yaml.Node, obj *Object, known map[string]bool) {
	gk := groupKeys
	what := "rule file"
	if obj != nil {
		gk = objectGroupKeys
		what = "spec"
	}
	var list *yaml.Node
	l.fields(n, what, known, func(key string, k, v *yaml.Node) {
		if key == "groups" {
			list = v
		}
	})
	if list == nil && obj == nil && n.Kind == yaml.MappingNode && len(n.Content) == 0 {
		// `{}`: a file of no groups, as the mixins' generators write one
		// with no recording rules; promtool accepts it, and so does
		// Prometheus. rules/empty-file judges whether that matters.
		return
	}
	if list == nil {
		l.errorf(n, "a rule file starts with `groups:`", "%s: missing key \"groups\"", what)
		return
	}
	if list.Kind == yaml.ScalarNode && list.Tag == "!!null" {
		return
	}
	if list.Kind != yaml.SequenceNode {
		l.errorf(list, "", "groups must be a list, not %s", source.KindName(list))
		return
	}
	for _, raw := range list.Content {
		l.through(raw, func(gn *yaml.Node) { l.group(gn, obj, gk) })
	}
}

// group reads one group of a groups list.
func (l *loader) group(gn *yaml.Node, obj *Object, gk map[string]bool) {
	if gn.Kind != yaml.MappingNode {
		l.errorf(gn, "", "a group must be a mapping, not %s", source.KindName(gn))
		return
	}
	g := &Group{File: l.f, Object: obj, Span: l.span(gn)}
	var rules *yaml.Node
	hasName := false
	l.fields(gn, "group", gk, func(key string, k, v *yaml.Node) {
		defer l.refuse(&g.refused, key, len(l.findings))
		switch key {
		case "name":
			g.Name, hasName = l.str(v, "group name")
			g.NameSpan = l.span(v)
		case "interval":
			g.Interval, _ = l.duration(v, "interval")
		case "query_offset":
			if d, ok := l.duration(v, "query_offset"); ok {
				g.QueryOffset = &d
			}
		case "limit":
			i, err := strconv.Atoi(v.Value)
			if v.Kind != yaml.ScalarNode || err != nil || i < 0 {
				l.errorf(v, "", "limit must be a whole number >= 0, not %s", source.KindName(v))
			}
			g.Limit = i
		case "labels":
			g.Labels = l.kvs(v, "group label")
		case "rules":
			rules = v
		}
	})
	if !hasName || g.Name == "" {
		l.errorf(gn, "", "group has no name")
	}
	if rules != nil && !(rules.Kind == yaml.ScalarNode && rules.Tag == "!!null") {
		if rules.Kind != yaml.SequenceNode {
			l.errorf(rules, "", "rules must be a list, not %s", source.KindName(rules))
		} else {
			g.Rules = make([]*Rule, 0, len(rules.Content))
			for _, rn := range rules.Content {
				l.through(rn, func(rn *yaml.Node) {
					if r := l.rule(rn, g); r != nil {
						g.Rules = append(g.Rules, r)
					}
				})
			}
		}
	}
	l.f.Groups = append(l.f.Groups, g)
}

func (l *loader) rule(n *yaml.Node, g *Group) *Rule {
	if n.Kind != yaml.MappingNode {
		l.errorf(n, "", "a rule must be a mapping, not %s", source.KindName(n))
		return nil
	}
	r := &Rule{Group: g, Span: l.span(n)}
	r.Disabled = ruleDisables(n, r.Disabled)
	r.Params = ruleParams(n, r.Params)
	hasExpr := false
	l.fields(n, "rule", ruleKeys, func(key string, k, v *yaml.Node) {
		r.Disabled = ruleDisables(k, r.Disabled)
		r.Disabled = ruleDisables(v, r.Disabled)
		r.Params = ruleParams(k, r.Params)
		defer l.refuse(&r.refused, key, len(l.findings))
		switch key {
		case "alert":
			r.Alert, _ = l.str(v, "alert")
			r.NameSpan = l.span(v)
		case "record":
			r.Record, _ = l.str(v, "record")
			r.NameSpan = l.span(v)
		case "expr":
			if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
				// An expression such as `1` or `true` decodes as a
				// number or bool; PromQL takes the text as written.
				r.Expr, r.ExprLoc, hasExpr = v.Value, source.ScalarOf(v), true
			} else {
				l.errorf(v, "", "expr must be a string, not %s", source.KindName(v))
			}
			r.ExprSpan = l.span(v)
		case "for":
			r.For, r.ForSet = l.duration(v, "for")
			r.ForSpan = l.span(v)
		case "keep_firing_for":
			r.KeepFiringFor, _ = l.duration(v, "keep_firing_for")
		case "labels":
			r.Labels = l.kvs(v, "label")
		case "annotations":
			r.Annotations = l.kvs(v, "annotation")
		}
	})
	switch {
	case r.Alert == "" && r.Record == "" && !r.Refused("alert") && !r.Refused("record"):
		l.errorf(n, "add `alert: Name` or `record: level:metric:operations`", "rule has neither alert nor record")
	case r.Alert != "" && r.Record != "":
		l.errorf(laterKey(n, "alert", "record"), "split it into an alerting and a recording rule", "rule has both alert and record")
	}
	if !hasExpr && r.ExprSpan.File == "" {
		l.errorf(n, "", "rule %q has no expr", r.Name())
	}
	if r.Record != "" {
		if r.ForSet {
			l.errorf(get(n, "for"), "`for` applies to alerting rules only", "recording rule %q has `for`", r.Record)
		}
		if len(r.Annotations) > 0 {
			l.errorf(get(n, "annotations"), "annotations apply to alerting rules only", "recording rule %q has annotations", r.Record)
		}
	}
	if r.NameSpan.File == "" {
		r.NameSpan = r.Span
	}
	if r.ExprSpan.File == "" {
		r.ExprSpan = r.Span
	}
	return r
}

// refuse records key in refused when findings were reported since the
// loader had before of them: the key's value was refused.
func (l *loader) refuse(refused *[]string, key string, before int) {
	if len(l.findings) > before {
		*refused = append(*refused, key)
	}
}

// laterKey returns whichever of keys a and b comes second in mapping n.
func laterKey(n *yaml.Node, a, b string) *yaml.Node {
	var last *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value == a || k.Value == b {
			last = k
		}
	}
	if last == nil {
		return n
	}
	return last
}

func (l *loader) object(n *yaml.Node) {
	obj := &Object{Span: l.span(n)}
	var spec *yaml.Node
	kind, api := "", ""
	l.fields(n, "object", objectKeys, func(key string, k, v *yaml.Node) {
		switch key {
		case "kind":
			kind, _ = l.str(v, "kind")
		case "apiVersion":
			api, _ = l.str(v, "apiVersion")
		case "metadata":
			if v.Kind != yaml.MappingNode {
				l.errorf(v, "", "metadata must be a mapping, not %s", source.KindName(v))
				return
			}
			l.fields(v, "metadata", metadataKeys, func(key string, _, v *yaml.Node) {
				switch key {
				case "name":
					obj.Name, _ = l.str(v, "metadata.name")
					obj.NameSpan = l.span(v)
				case "namespace":
					obj.Namespace, _ = l.str(v, "metadata.namespace")
					obj.NamespaceSpan = l.span(v)
				case "labels":
					obj.Labels = map[string]string{}
					obj.LabelKVs = l.kvs(v, "metadata label")
					for _, kv := range obj.LabelKVs {
						obj.Labels[kv.Key] = kv.Value
					}
				case "annotations":
					l.kvs(v, "metadata annotation")
				}
			})
		case "spec":
			spec = v
		}
	})
	if kind != "PrometheusRule" {
		l.errorf(n, "rule folders hold plain rule files (`groups:`) or PrometheusRule objects", "object of kind %q is not a PrometheusRule", kind)
		return
	}
	if api != "monitoring.coreos.com/v1" {
		l.errorf(get(n, "apiVersion"), "use apiVersion: monitoring.coreos.com/v1", "PrometheusRule has apiVersion %q", api)
	}
	if obj.Name == "" {
		l.errorf(n, "", "PrometheusRule has no metadata.name")
	} else if !dnsSubdomainRE.MatchString(obj.Name) || len(obj.Name) > 253 {
		l.errorf(get(get(n, "metadata"), "name"), "use lower-case letters, digits, '-' and '.'", "invalid PrometheusRule name %q", obj.Name)
	}
	for _, prev := range l.f.Objects {
		if obj.Name != "" && prev.Name == obj.Name {
			// Each object of a file compiles to a file named after it.
			l.errorf(get(get(n, "metadata"), "name"), "give each object of a file its own metadata.name",
				"PrometheusRule %q is defined twice in this file (first at line %d)", obj.Name, prev.Span.Start.Line)
			break
		}
	}
	l.f.Objects = append(l.f.Objects, obj)
	if spec == nil {
		l.errorf(n, "", "PrometheusRule %q has no spec", obj.Name)
		return
	}
	if spec.Kind != yaml.MappingNode {
		l.errorf(spec, "", "spec must be a mapping, not %s", source.KindName(spec))
		return
	}
	l.groups(spec, obj, specKeys)
}

var dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

const (
	disableMark     = "obsctl:disable "
	disableFileMark = "obsctl:disable-file "
)

// ruleDisables appends the checks named by obsctl:disable comments on n.
func ruleDisables(n *yaml.Node, acc []string) []string {
	for _, c := range [...]string{n.HeadComment, n.LineComment, n.FootComment} {
		if c != "" && strings.Contains(c, disableMark) {
			acc = appendNames(acc, c, disableMark)
		}
	}
	return acc
}

const paramMark = "obsctl:parameter "

// ruleParams appends the parameters "# obsctl:parameter NAME=VALUE --
// what it is" comments on n declare: a number of the rule's expression
// that overrides may change by NAME (see internal/layer).
func ruleParams(n *yaml.Node, acc []Param) []Param {
	for _, c := range [...]string{n.HeadComment, n.LineComment} {
		if !strings.Contains(c, paramMark) {
			continue
		}
		for _, line := range strings.Split(c, "\n") {
			i := strings.Index(line, paramMark)
			if i < 0 {
				continue
			}
			rest, doc, _ := strings.Cut(line[i+len(paramMark):], "--")
			name, value, ok := strings.Cut(strings.TrimSpace(rest), "=")
			acc = append(acc, Param{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value), Doc: strings.TrimSpace(doc), Bad: !ok})
		}
	}
	return acc
}

// FileDisables returns the checks a file's "# obsctl:disable-file CHECK"
// comments turn off: for a source compiled into rules (an SLO spec), as
// Load reads them of a rule file.
func FileDisables(src []byte) []string { return fileDisables(src) }

func fileDisables(src []byte) []string {
	if !bytes.Contains(src, []byte(disableFileMark)) {
		return nil
	}
	var acc []string
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(nil, len(src)+1)
	for sc.Scan() {
		if line := sc.Text(); strings.Contains(line, "#") {
			acc = appendNames(acc, line[strings.Index(line, "#"):], disableFileMark)
		}
	}
	return acc
}

// appendNames parses "# obsctl:disable a/b, c/d -- reason" comment lines.
func appendNames(acc []string, comment, mark string) []string {
	for _, line := range strings.Split(comment, "\n") {
		i := strings.Index(line, mark)
		if i < 0 {
			continue
		}
		rest := line[i+len(mark):]
		if j := strings.Index(rest, "--"); j >= 0 {
			rest = rest[:j] // a reason may follow
		}
		for _, name := range strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			acc = append(acc, name)
		}
	}
	return acc
}
