package lint

import (
	"strings"
	"sync"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/parser/posrange"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
)

// promql parses with Prometheus' default options: an experimental function
// is an error here exactly when the server would refuse it.
var promql = parser.NewParser(parser.Options{})

// ruleState is what the rule checks share about one rule: its expression,
// parsed once, and its templates, parsed on first use.
type ruleState struct {
	rule      *promrule.Rule
	ref       *RuleRef // what the repo checks keep of the rule
	expr      parser.Expr
	exprErr   error
	tmpl      []*Template
	tmplReady bool
}

func newRuleState(r *promrule.Rule) *ruleState {
	rs := &ruleState{rule: r}
	if !r.ExprLoc.IsZero() || r.Compiled {
		rs.expr, rs.exprErr = promql.ParseExpr(r.Expr)
		if rs.exprErr != nil {
			rs.expr = nil
		}
	}
	return rs
}

func (rs *ruleState) templates(r *promrule.Rule) []*Template {
	if !rs.tmplReady && r != nil {
		rs.tmplReady = true
		if r.IsAlert() {
			for _, kv := range r.Labels {
				rs.tmpl = append(rs.tmpl, parseTemplate(r.Alert, kv, true))
			}
			for _, kv := range r.Annotations {
				rs.tmpl = append(rs.tmpl, parseTemplate(r.Alert, kv, false))
			}
		}
	}
	return rs.tmpl
}

// uses appends to out the recorded series (names with a colon) that the
// rule's expression selects, and to unknown the selectors mc judges wrong
// (mc nil: none are judged), in one walk of the expression. names interns
// the recorded names: a file's rules select a few names many times.
func (rs *ruleState) uses(out []Use, unknown []unknownUse, names map[string]string, mc *metricCheck) ([]Use, []unknownUse) {
	if rs.expr == nil {
		return out, unknown
	}
	eachNodePath(rs.expr, func(n parser.Node, path []parser.Node) bool {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return true
		}
		if strings.Contains(vs.Name, ":") {
			// The name is a piece of the expression: a copy lets the
			// expression go.
			name, ok := names[vs.Name]
			if !ok {
				name = strings.Clone(vs.Name)
				names[name] = name
			}
			out = append(out, Use{Name: name, Rule: rs.ref, at: compact(ExprSpan(rs.rule, vs.PosRange))})
			return true
		}
		if mc == nil {
			return true
		}
		if msg, hint, bad := mc.judge(vs, path); bad {
			pr := vs.PosRange
			pr.End = pr.Start + posrange.Pos(len(vs.Name))
			unknown = append(unknown, unknownUse{Use: Use{Name: strings.Clone(vs.Name), Rule: rs.ref, at: compact(ExprSpan(rs.rule, pr))}, msg: msg, hint: hint})
		}
		return true
	})
	return out, unknown
}

// ExprSpan maps a position range inside rule r's expression to the file.
func ExprSpan(r *promrule.Rule, pr posrange.PositionRange) diag.Span {
	if r.ExprLoc.IsZero() {
		return r.ExprSpan
	}
	f := r.Group.File
	start := f.ScalarAt(r.ExprLoc, r.Expr, int(pr.Start))
	end := start
	if pr.End > pr.Start {
		end = f.ScalarAt(r.ExprLoc, r.Expr, int(pr.End))
	}
	return diag.Span{File: f.Path, Start: start, End: end}
}

// Use is a place where a rule selects a series.
type Use struct {
	Name string
	Rule *RuleRef
	// at is where, in the rule's file: a big repo has a Use for most
	// rules, and the file's path is the rule's.
	at spanAt
}

// Span returns where the rule selects the series.
func (u *Use) Span() diag.Span { return u.at.in(u.Rule.path) }

// spanAt is a diag.Span without its file, in a quarter of the bytes: a
// file has at most source.MaxFileSize bytes, so its lines and columns fit
// in an int32.
type spanAt struct{ line, col, endLine, endCol int32 }

func compact(s diag.Span) spanAt {
	return spanAt{int32(s.Start.Line), int32(s.Start.Col), int32(s.End.Line), int32(s.End.Col)}
}

func (a spanAt) in(file string) diag.Span {
	return diag.Span{File: file, Start: diag.Pos{Line: int(a.line), Col: int(a.col)}, End: diag.Pos{Line: int(a.endLine), Col: int(a.endCol)}}
}

// RuleRef is what the repo checks keep of a rule once its file has been
// checked and let go: its name, where the name is written, its static
// labels and its disable comments. Lint holds a few files at a time, and
// a RuleRef of every rule.
type RuleRef struct {
	// Alert or Record holds the rule's name.
	Alert, Record string
	// path is the rule's file, and name where its name is written in it
	// (NameSpan).
	path string
	name spanAt
	// file and ord locate the rule: the index of its file in the run,
	// and its place among the file's rules. What few checks ask of a rule
	// (Pass.RuleExpr, its disable comments) is kept by file (refTables),
	// not in every RuleRef.
	file, ord int32
	// labelsRefused is set when the rule's or its group's labels could
	// not be read as written (rules/schema says why).
	labelsRefused bool
	// Labels are the static labels of the rule's group, then the rule's
	// own, as written (a rule's label overrides its group's).
	Labels []Label
}

// Label is a static label of a rule or group.
type Label struct{ Key, Value string }

// NameSpan returns where the rule's name is written.
func (r *RuleRef) NameSpan() diag.Span { return r.name.in(r.path) }

// IsAlert reports whether r is an alerting rule.
func (r *RuleRef) IsAlert() bool { return r.Alert != "" }

// Name returns the alert or record name.
func (r *RuleRef) Name() string {
	if r.Alert != "" {
		return r.Alert
	}
	return r.Record
}

// labelSets interns rules' static label sets, which few rules do not
// share with another, so that the RuleRefs of a big repo hold each once.
type labelSets struct {
	mu   sync.Mutex
	sets map[string][]Label
}

// ref sets *ref to the RuleRef of rule r, the ord-th of the file-th file.
func (ls *labelSets) ref(ref *RuleRef, r *promrule.Rule, file, ord int) {
	*ref = RuleRef{Alert: r.Alert, Record: r.Record, path: r.NameSpan.File, name: compact(r.NameSpan), file: int32(file), ord: int32(ord),
		labelsRefused: r.Refused("labels") || r.Group.Refused("labels")}
	n := len(r.Labels)
	if r.Group != nil {
		n += len(r.Group.Labels)
	}
	if n == 0 {
		return
	}
	var key strings.Builder
	add := func(kvs []promrule.KV) {
		for _, kv := range kvs {
			key.WriteString(kv.Key)
			key.WriteByte(0)
			key.WriteString(kv.Value)
			key.WriteByte(0)
		}
	}
	if r.Group != nil {
		add(r.Group.Labels)
	}
	add(r.Labels)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if set, ok := ls.sets[key.String()]; ok {
		ref.Labels = set
		return
	}
	set := make([]Label, 0, n)
	if r.Group != nil {
		for _, kv := range r.Group.Labels {
			set = append(set, Label{kv.Key, kv.Value})
		}
	}
	for _, kv := range r.Labels {
		set = append(set, Label{kv.Key, kv.Value})
	}
	if ls.sets == nil {
		ls.sets = map[string][]Label{}
	}
	ls.sets[key.String()] = set
	ref.Labels = set
}

// Index is built once from every rule for the repo checks.
type Index struct {
	// Rules lists every rule in file order.
	Rules []*RuleRef
	// Alerts and Records map names to the rules that define them.
	Alerts, Records map[string][]*RuleRef
	// Uses maps each recorded series name selected by some expression to
	// where it is selected.
	Uses map[string][]Use
	// Unknown maps the names of selected metrics that rules/unknown-metric
	// judged wrong to where they are selected.
	Unknown map[string][]unknownUse
	// StaticLabels holds every label name that some rule or group sets.
	StaticLabels map[string]bool
	// annotationReads holds the recorded series names (names with a
	// colon) that some rule's annotations mention, as in
	// `{{ query "..." }}`.
	annotationReads map[string]bool
	// RuleFiles counts the rule files read.
	RuleFiles int
	// LabelsUnknown, RecordsUnknown and UsesUnknown are set when some
	// labels, recording rule names or selected series could not be read:
	// a rule file that does not parse, labels or a record name the loader
	// refused, an expression that does not parse. The checks that find
	// what no rule does then say nothing: they would report the
	// consequences of a mistake reported already.
	LabelsUnknown, RecordsUnknown, UsesUnknown bool
}

// newIndex indexes what the run kept of each file. It lets go of the
// files' uses, which it copies.
func newIndex(per []fileResult) *Index {
	rules, alerts, uses := 0, 0, map[string]int{}
	for _, fr := range per {
		rules += len(fr.rules)
		for i := range fr.rules {
			if fr.rules[i].IsAlert() {
				alerts++
			}
		}
		for _, u := range fr.uses {
			uses[u.Name]++
		}
	}
	// Sized once: most alert names are one rule's, and a map grown to
	// tens of thousands of names holds twice the room it needs.
	idx := &Index{
		Alerts: make(map[string][]*RuleRef, alerts), Records: map[string][]*RuleRef{},
		StaticLabels: map[string]bool{}, annotationReads: map[string]bool{},
	}
	idx.Rules = make([]*RuleRef, 0, rules)
	// The uses of each name are a piece of one array.
	idx.Uses = make(map[string][]Use, len(uses))
	at := make(map[string]int, len(uses))
	n := 0
	for name, c := range uses {
		at[name] = n
		n += c
	}
	flat := make([]Use, n)
	for _, fr := range per {
		for _, u := range fr.uses {
			flat[at[u.Name]] = u
			at[u.Name]++
		}
	}
	for name, c := range uses {
		end := at[name]
		idx.Uses[name] = flat[end-c : end : end]
	}
	for i := range per {
		fr := &per[i]
		fr.uses = nil
		for _, u := range fr.unknown {
			if idx.Unknown == nil {
				idx.Unknown = map[string][]unknownUse{}
			}
			idx.Unknown[u.Name] = append(idx.Unknown[u.Name], u)
		}
		fr.unknown = nil
		if !fr.read {
			continue
		}
		idx.RuleFiles++
		idx.UsesUnknown = idx.UsesUnknown || fr.unparsed || fr.usesUnknown
		idx.LabelsUnknown = idx.LabelsUnknown || fr.labelsUnknown
		idx.RecordsUnknown = idx.RecordsUnknown || fr.recordsUnknown
		for _, k := range fr.labelKeys {
			idx.StaticLabels[k] = true
		}
		for _, w := range fr.annotationReads {
			idx.annotationReads[w] = true
		}
		for i := range fr.rules {
			rule := &fr.rules[i]
			idx.Rules = append(idx.Rules, rule)
			if rule.IsAlert() {
				idx.Alerts[rule.Alert] = append(idx.Alerts[rule.Alert], rule)
			} else if rule.Record != "" {
				idx.Records[rule.Record] = append(idx.Records[rule.Record], rule)
			}
		}
	}
	return idx
}
