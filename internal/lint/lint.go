package lint

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/obsctl/obsctl/internal/compile"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/parallel"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/source"
	"github.com/obsctl/obsctl/internal/spell"
)

// Scope says what a check looks at each time it runs.
type Scope int

// The scopes.
const (
	ScopeRule Scope = iota + 1
	ScopeFile
	ScopeRepo
	// ScopeLoad checks report through the loaders (a file that does not
	// parse cannot be checked further); they are listed so that they can
	// be explained, documented and disabled like any other.
	ScopeLoad
)

// Meta describes a check.
type Meta struct {
	// Severity of every finding the check reports.
	Severity diag.Severity
	Scope    Scope
	// Summary is one line for listings and SARIF rule descriptions.
	Summary string
	// Optional checks run only when enabled by name.
	Optional bool
	// Required checks always run: lint.disable, --disable (by name, area or
	// all) and obsctl:disable comments leave them on. They are the checks
	// without which obsctl cannot read what a file says (syntax, schema)
	// or would build and render what the cluster refuses: with one of them
	// off, lint would pass and build, render and apply would ship the
	// problem.
	Required bool
}

// Check is one lint check.
type Check interface {
	Name() string
	Meta() Meta
	Check(p *Pass)
}

// Pass is what a check sees on one run: the repo, and at rule and file
// scope the file and rule in hand.
type Pass struct {
	Config *config.Config
	Repo   *load.Repo
	// File is set at rule and file scope.
	File *promrule.File
	// Rule is set at rule scope.
	Rule *promrule.Rule
	// Index is set at repo scope.
	Index *Index

	rs         *ruleState
	refs       *refTables             // repo scope: what is kept of the Index's rules by file
	compiled   *compile.Compiled      // the compile stage's result, when the caller has it
	alertingSt *alertingState         // repo scope: compiled routing, on first use
	dashSt     []*dashboardScan       // repo scope: the dashboards walked, on first use
	planSt     []promrule.PlannedRule // repo scope: the PrometheusRules planned, on first use
	run        *runState              // what the run's passes share
	check      string
	sev        diag.Severity
	required   bool // the running check cannot be disabled, by comments either
	out        *[]diag.Finding
}

// Expr returns the rule's parsed expression, or nil when it does not parse
// (the promql-syntax check reports that).
func (p *Pass) Expr() parser.Expr { return p.rs.expr }

// RuleExpr returns the expression of rule r of the Index as written: kept
// in r, or read again from r's file (once per file, for every rule of it,
// since a check asking for one rule's asks for its peers'). It returns ""
// when the file can no longer be read or no longer has the rule: a file
// changed while it was linted.
func (p *Pass) RuleExpr(r *RuleRef) string {
	if p.refs == nil {
		return ""
	}
	return p.refs.expr(r)
}

// ExprErr returns the expression's parse error, if any.
func (p *Pass) ExprErr() error { return p.rs.exprErr }

// Templates returns the rule's parsed label and annotation templates.
func (p *Pass) Templates() []*Template { return p.rs.templates(p.Rule) }

// Report records a finding of the running check at span, unless an
// obsctl:disable comment on the rule or file in hand turns it off.
func (p *Pass) Report(span diag.Span, hint, format string, args ...any) {
	p.ReportRule(p.File, p.Rule, span, hint, format, args...)
}

// ReportRef records a finding about the rule r of the repo's Index,
// honouring its disable comments.
func (p *Pass) ReportRef(r *RuleRef, span diag.Span, hint, format string, args ...any) {
	if r != nil && !p.required && p.refs != nil && promrule.MatchesAny(p.refs.disabled(r), p.check) {
		return
	}
	p.ReportRule(nil, nil, span, hint, format, args...)
}

// ReportRule records a finding about rule r of file f (either may be nil),
// honouring their disable comments. Repo checks use it.
func (p *Pass) ReportRule(f *promrule.File, r *promrule.Rule, span diag.Span, hint, format string, args ...any) {
	if f == nil && r != nil {
		f = r.Group.File
	}
	if f != nil && !p.required && f.DisabledFor(r, p.check) {
		return
	}
	if span.File == "" && p.Repo != nil && p.Repo.ConfigFile != nil {
		// A span from a section of obsctl.yaml the file does not have:
		// every finding says where, here the file's start.
		span = p.Repo.ConfigFile.Whole()
	}
	*p.out = append(*p.out, diag.Finding{
		Check: p.check, Severity: p.sev, Span: span,
		Message: fmt.Sprintf(format, args...), Hint: hint,
	})
}

// Options selects checks by name. A name may be a check ("rules/for"), an
// area ("rules/*") or "all". Disabling a required check (Meta.Required)
// leaves it on.
type Options struct {
	Enable  []string
	Disable []string
}

// Linter runs a fixed set of checks.
type Linter struct {
	rule, file, repo []Check
	enabled          map[string]bool
}

// Checks returns the checks this linter runs, in registry order.
func (l *Linter) Checks() []Check {
	var out []Check
	for _, c := range Checks() {
		if l.enabled[c.Name()] {
			out = append(out, c)
		}
	}
	return out
}

// knownNames are the names New accepts: every check's, its area's
// pattern (rules/*) and all.
func knownNames() map[string]bool {
	known := map[string]bool{"all": true}
	for _, c := range Checks() {
		known[c.Name()] = true
		known[area(c.Name())+"/*"] = true
	}
	return known
}

// ConfigSelection returns obsctl.yaml's lint.enable and lint.disable
// without the names no check has, and a config/schema finding at each of
// those: a mistake in the file is a finding at its line, where a mistake
// in a flag is a usage error.
func ConfigSelection(cfg *config.Config) (enable, disable []string, findings []diag.Finding) {
	known := knownNames()
	keep := func(key string, names []string) []string {
		var out []string
		for i, n := range names {
			if known[n] {
				out = append(out, n)
				continue
			}
			hint := "`obsctl lint --list` shows them all"
			if s := Suggest(n); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			findings = append(findings, diag.Finding{Check: config.CheckSchema, Severity: diag.Error,
				Span: cfg.Lint.Item(key, i), Message: fmt.Sprintf("lint.%s: unknown check %q", key, n), Hint: hint})
		}
		return out
	}
	return keep("enable", cfg.Lint.Enable), keep("disable", cfg.Lint.Disable), findings
}

// New returns a Linter running the default checks adjusted by opts, or an
// error naming an unknown check.
func New(opts Options) (*Linter, error) {
	known := knownNames()
	for _, n := range append(slices.Clone(opts.Enable), opts.Disable...) {
		if !known[n] {
			return nil, &UnknownCheckError{Name: n}
		}
	}
	l := &Linter{enabled: map[string]bool{}}
	for _, c := range Checks() {
		on := !c.Meta().Optional
		if matches(opts.Enable, c.Name()) {
			on = true
		}
		if matches(opts.Disable, c.Name()) && !c.Meta().Required {
			on = false
		}
		if !on {
			continue
		}
		l.enabled[c.Name()] = true
		switch c.Meta().Scope {
		case ScopeLoad:
		case ScopeRule:
			l.rule = append(l.rule, c)
		case ScopeFile:
			l.file = append(l.file, c)
		default:
			l.repo = append(l.repo, c)
		}
	}
	return l, nil
}

// UnknownCheckError reports a check name that no check has.
type UnknownCheckError struct{ Name string }

func (e *UnknownCheckError) Error() string {
	msg := fmt.Sprintf("unknown check %q", e.Name)
	if s := Suggest(e.Name); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + "; `obsctl lint --list` shows them all"
}

func area(name string) string {
	a, _, _ := strings.Cut(name, "/")
	return a
}

func matches(patterns []string, name string) bool {
	for _, p := range patterns {
		if p == name || p == "all" || p == area(name)+"/*" {
			return true
		}
	}
	return false
}

// Lookup returns the check called name.
func Lookup(name string) (Check, bool) {
	for _, c := range Checks() {
		if c.Name() == name {
			return c, true
		}
	}
	return nil, false
}

// Suggest returns the check name closest to name, if close enough.
func Suggest(name string) string {
	names := make([]string, 0, len(Checks()))
	for _, c := range Checks() {
		names = append(names, c.Name())
	}
	return spell.Closest(name, names)
}

// Run checks the repo and returns every finding, load findings included,
// sorted.
func (l *Linter) Run(r *load.Repo) []diag.Finding { return l.RunCompiled(r, nil) }

// RunCompiled is Run with the repo's compile stage result c, when the
// caller compiled it already (build, render, apply): the checks reuse
// what it holds (the Alertmanager routing) rather than compiling it a
// second time. c may be nil; it must come from r. A rule file of a repo
// loaded with load.Options.Defer that cannot be read is a load/file
// finding here; Lint returns it as an error.
func (l *Linter) RunCompiled(r *load.Repo, c *compile.Compiled) []diag.Finding {
	out, err := l.run(r, c)
	if err != nil {
		out = diag.Sort(append(out, diag.Finding{Check: load.CheckFile, Severity: diag.Fatal, Message: err.Error()}))
	}
	return out
}

// Lint is Run for a repo loaded with load.Options.Defer: it reads each
// rule file, checks it and lets it go before it reads more than a few
// others, keeping of each what the repo checks need (see RuleRef), and
// the sources of the files with findings (load.Repo.KeepSource). Its
// error is operational, as load.Load's.
func (l *Linter) Lint(r *load.Repo) ([]diag.Finding, error) { return l.run(r, nil) }

func (l *Linter) run(r *load.Repo, c *compile.Compiled) ([]diag.Finding, error) {
	// A hostile repo can have millions of load findings: size the result
	// once rather than grow it.
	out := make([]diag.Finding, 0, len(r.Findings)+16)
	for _, f := range r.Findings {
		if l.enabled[f.Check] {
			out = append(out, f)
		}
	}
	deferred := r.DeferredRuleFiles()
	n := len(r.RuleFiles) + deferred
	st := &runState{objects: compile.RuleObjectOptions(r.Config)}
	probe := &Pass{Config: r.Config, Repo: r}
	for _, c := range l.repo {
		if er, ok := c.(alertExprReader); ok && er.readsAlertExprs(probe) {
			st.alertExprs = true
		}
	}
	if l.enabled[unknownMetric{}.Name()] {
		st.metrics = newMetricCheck(probe)
	}
	perFile := make([]fileResult, n)
	errs := make([]error, n)
	parallel.Each(n, func(i int) {
		if i < len(r.RuleFiles) {
			perFile[i] = l.runFile(r, st, i, r.RuleFiles[i], nil)
			return
		}
		f, fds, err := r.ReadRuleFile(i - len(r.RuleFiles))
		if err != nil {
			errs[i] = err
			return
		}
		perFile[i] = l.runFile(r, st, i, f, fds)
	})
	if err := errors.Join(errs...); err != nil {
		return out, err
	}

	idx := newIndex(perFile)
	refs := &refTables{repo: r, per: perFile, read: map[int32][]string{}}
	broken := rulesBroken(r)
	var plan []promrule.PlannedRule
	for _, fr := range perFile {
		out = append(out, fr.findings...)
		plan = append(plan, fr.plan...)
		broken = broken || fr.fatal
	}
	if broken {
		idx.LabelsUnknown, idx.RecordsUnknown, idx.UsesUnknown = true, true, true
	}
	p := &Pass{Config: r.Config, Repo: r, Index: idx, rs: &ruleState{}, refs: refs, compiled: c, planSt: plan, run: st, out: &out}
	if p.planSt == nil {
		p.planSt = []promrule.PlannedRule{}
	}
	brokenConfig := configBroken(r) || p.alerting().misread(r.Findings)
	for _, c := range l.repo {
		if brokenConfig && area(c.Name()) == "alerting" {
			continue // the routing was not read as written: checking it would mislead
		}
		if r.Neutral && stackBound(c.Name()) {
			continue // no obsctl.yaml: no stack, no routing to judge against
		}
		p.check, p.sev, p.required = c.Name(), c.Meta().Severity, c.Meta().Required
		c.Check(p)
	}
	out = diag.Sort(out)
	if deferred > 0 {
		// The reporters show the lines of the files with findings: keep
		// those read already, and read again those let go.
		with := map[string]bool{}
		for _, f := range out {
			with[f.File] = true
		}
		for i := range deferred {
			fr := &perFile[len(r.RuleFiles)+i]
			switch {
			case !with[r.DeferredRuleFile(i)]:
			case fr.src != nil:
				r.KeepSource(fr.src)
			default:
				if _, err := r.ReadRuleSource(i); err != nil {
					return out, err
				}
			}
		}
	}
	return out, nil
}

// stackBound reports whether the check judges against the stack or the
// routing that obsctl.yaml declares, or against what obsctl renders from
// the repo (the ConfigMap a dashboard goes into): with no obsctl.yaml
// (Repo.Neutral), there is nothing to judge against and nothing obsctl
// renders, and its findings would be about a default the user never chose.
func stackBound(name string) bool {
	switch area(name) {
	case "alerting", "stack":
		return true
	}
	return name == "dashboards/datasource" || name == "dashboards/configmap"
}

// runState is what the checks of every file of one run share.
type runState struct {
	labels  labelSets
	objects promrule.ObjectOptions
	// alertExprs is set when a repo check reads every alert's
	// expression: lint keeps them rather than read every file again.
	alertExprs bool
	// metrics judges selectors for rules/unknown-metric; nil when the
	// check is off.
	metrics *metricCheck
	linkState
}

// alertExprReader is a repo check that reads the expression of every
// alerting rule (Pass.RuleExpr) when readsAlertExprs says so.
type alertExprReader interface {
	readsAlertExprs(p *Pass) bool
}

// refTables are what lint keeps of the Index's rules by file, beside
// their RuleRefs: what few checks ask for.
type refTables struct {
	repo *load.Repo
	per  []fileResult
	// read holds the expressions of the files read again, by file.
	read map[int32][]string
}

// expr returns the expression of r: kept, held by the repo, or read again
// from its file (once per file, for every rule of it, since a check
// asking for one rule's asks for its peers').
func (t *refTables) expr(r *RuleRef) string {
	if fr := &t.per[r.file]; int(r.ord) < len(fr.exprs) && fr.exprs[r.ord] != "" {
		return fr.exprs[r.ord]
	}
	exprs, ok := t.read[r.file]
	if !ok {
		var f *promrule.File
		if i := int(r.file); i < len(t.repo.RuleFiles) {
			f = t.repo.RuleFiles[i]
		} else if i -= len(t.repo.RuleFiles); i < t.repo.DeferredRuleFiles() {
			f, _, _ = t.repo.ReadRuleFile(i) // an error is a file changed since: no expression
		}
		if f != nil {
			for _, g := range f.Groups {
				for _, rule := range g.Rules {
					exprs = append(exprs, rule.Expr)
				}
			}
		}
		t.read[r.file] = exprs
	}
	if int(r.ord) < len(exprs) {
		return exprs[r.ord]
	}
	return ""
}

// disabled returns the checks turned off for r, by a comment on the rule
// or on its file.
func (t *refTables) disabled(r *RuleRef) []string {
	fr := &t.per[r.file]
	if d, ok := fr.ruleDisabled[r.ord]; ok {
		return d
	}
	return fr.disabled
}

// fileChecker is a repo check with a part to do on each rule file while
// the file is in hand, so that the repo stage need not keep the files:
// checkFile runs at file scope (p.File set), before Check runs once at
// repo scope.
type fileChecker interface {
	checkFile(p *Pass)
}

// fileResult is what the run keeps of one rule file once it is checked.
type fileResult struct {
	// read is set when the file was read (not refused by the loader).
	read     bool
	findings []diag.Finding
	// rules are the file's rules, in order, and uses the recorded
	// series their expressions select.
	rules []RuleRef
	uses  []Use
	// unknown are the selectors rules/unknown-metric reports unless a
	// recording rule records their names.
	unknown []unknownUse
	// labelKeys are the names of the static labels the file sets.
	labelKeys []string
	// annotationReads are the recorded series names (names with a
	// colon) the annotations of the file's rules mention.
	annotationReads []string
	// exprs are the expressions of the file's alerts, by rule, when a
	// repo check reads them all (runState.alertExprs); nil otherwise.
	exprs []string
	// disabled are the checks the file turns off, and ruleDisabled those
	// turned off for a rule by its own comment too, by rule.
	disabled     []string
	ruleDisabled map[int32][]string
	// plan is the PrometheusRules the file compiles to, detached from it.
	plan []promrule.PlannedRule
	// unparsed is set when an expression of the file does not parse:
	// what it selects is not known. labelsUnknown, recordsUnknown and
	// usesUnknown are set when the loader refused some labels, record
	// name or expression; fatal when the file could not be read whole.
	unparsed, labelsUnknown, recordsUnknown, usesUnknown, fatal bool
	// src is the file's source when it has findings (files read with
	// load.Options.Defer only).
	src *source.File
}

// runFile checks f, the i-th rule file of the run, which was loaded with
// the findings fds (nil when the repo's loader holds them), and keeps what
// the repo checks need. f may be nil: the loader refused the file.
func (l *Linter) runFile(r *load.Repo, st *runState, i int, f *promrule.File, fds []diag.Finding) fileResult {
	var res fileResult
	for _, fd := range fds {
		if l.enabled[fd.Check] {
			res.findings = append(res.findings, fd)
		}
		res.fatal = res.fatal || fd.Severity == diag.Fatal
	}
	if f == nil {
		return res
	}
	res.read = true
	held := i < len(r.RuleFiles) // else read by lint, and let go after
	p := &Pass{Config: r.Config, Repo: r, File: f, run: st, out: &res.findings}
	labelKeys, reads, names := map[string]bool{}, map[string]bool{}, map[string]string{}
	n := 0
	for _, g := range f.Groups {
		n += len(g.Rules)
	}
	res.rules = make([]RuleRef, 0, n) // one allocation: the index points into it
	res.disabled = f.Disabled
	if st.alertExprs {
		res.exprs = make([]string, n)
	}
	for _, g := range f.Groups {
		for _, kv := range g.Labels {
			labelKeys[kv.Key] = true
		}
		res.labelsUnknown = res.labelsUnknown || g.Refused("labels")
		for _, rule := range g.Rules {
			res.labelsUnknown = res.labelsUnknown || rule.Refused("labels")
			res.recordsUnknown = res.recordsUnknown || rule.Refused("record")
			res.usesUnknown = res.usesUnknown || rule.Refused("expr")
			for _, kv := range rule.Labels {
				labelKeys[kv.Key] = true
			}
			for _, kv := range rule.Annotations {
				if strings.IndexByte(kv.Value, ':') >= 0 {
					colonWords([]byte(kv.Value), reads)
				}
			}
			rs := newRuleState(rule)
			res.rules = res.rules[:len(res.rules)+1]
			rs.ref = &res.rules[len(res.rules)-1]
			ord := len(res.rules) - 1
			st.labels.ref(rs.ref, rule, i, ord)
			if st.alertExprs && rule.IsAlert() {
				res.exprs[ord] = rule.Expr
			}
			if len(rule.Disabled) > 0 {
				if res.ruleDisabled == nil {
					res.ruleDisabled = map[int32][]string{}
				}
				res.ruleDisabled[int32(ord)] = append(slices.Clone(rule.Disabled), f.Disabled...)
			}
			p.Rule, p.rs = rule, rs
			for _, c := range l.rule {
				p.check, p.sev, p.required = c.Name(), c.Meta().Severity, c.Meta().Required
				c.Check(p)
			}
			res.uses, res.unknown = rs.uses(res.uses, res.unknown, names, st.metrics)
			res.unparsed = res.unparsed || rs.exprErr != nil
		}
	}
	for k := range labelKeys {
		res.labelKeys = append(res.labelKeys, k)
	}
	for w := range reads {
		res.annotationReads = append(res.annotationReads, w)
	}
	p.Rule, p.rs = nil, &ruleState{}
	for _, c := range l.file {
		p.check, p.sev, p.required = c.Name(), c.Meta().Severity, c.Meta().Required
		c.Check(p)
	}
	for _, c := range l.repo {
		if fc, ok := c.(fileChecker); ok {
			p.check, p.sev, p.required = c.Name(), c.Meta().Severity, c.Meta().Required
			fc.checkFile(p)
		}
	}
	for _, pl := range promrule.PlanPrometheusRules([]*promrule.File{f}, st.objects) {
		res.plan = append(res.plan, pl.Detached())
	}
	if !held && len(res.findings) > 0 {
		res.src = f.File
	}
	return res
}

// rulesBroken reports whether a rule file could not be read whole (a
// fatal finding such as a YAML syntax error): what its rules define and
// use is not known.
func rulesBroken(r *load.Repo) bool {
	files := make(map[string]bool, len(r.RuleFiles))
	for _, f := range r.RuleFiles {
		files[f.Path] = true
	}
	for _, f := range r.Findings {
		if f.Severity == diag.Fatal && files[f.File] {
			return true
		}
	}
	return false
}

// configBroken reports whether obsctl.yaml could not be read at all (not
// read by the loader, or a fatal finding such as a YAML syntax error), so
// that its settings are defaults rather than what the file says.
func configBroken(r *load.Repo) bool {
	if r.ConfigFile == nil {
		return false
	}
	if r.ConfigRefused() {
		return true
	}
	for _, f := range r.Findings {
		if f.File == r.ConfigFile.Path && f.Severity == diag.Fatal {
			return true
		}
	}
	return false
}
