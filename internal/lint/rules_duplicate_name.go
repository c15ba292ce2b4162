package lint

import (
	"slices"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
)

// duplicateName reports two alerting rules with the same name and the same
// static labels, or two recording rules with the same name and labels,
// anywhere in the repo. Two alerts with one identity overwrite each other's
// state and notifications; two recording rules writing one series produce
// interleaved samples and "duplicate sample" errors. Alerts that share a
// name but differ in a static label (say severity: warning and severity:
// critical at two thresholds) are a common, valid pattern and are left alone.
type duplicateName struct{}

func (duplicateName) Name() string { return "rules/duplicate-name" }

func (duplicateName) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "Two alerts, or two recording rules, share a name and the same static labels."}
}

func (duplicateName) Check(p *Pass) {
	for _, m := range []map[string][]*RuleRef{p.Index.Alerts, p.Index.Records} {
		names := make([]string, 0, len(m))
		for name, rs := range m {
			if len(rs) > 1 {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, name := range names {
			first := map[string]*RuleRef{}
			for _, r := range m[name] {
				key := staticIdentity(r)
				if prev, ok := first[key]; ok {
					kind := "alert"
					if !r.IsAlert() {
						kind = "recording rule"
					}
					p.ReportRef(r, r.NameSpan, "rename one of them or tell them apart with a label",
						"%s %q is already defined with the same labels at %s", kind, name, prev.NameSpan)
					continue
				}
				first[key] = r
			}
		}
	}
}

// staticIdentity renders the rule's static labels (group labels included)
// in a canonical order.
func staticIdentity(r *RuleRef) string {
	kv := map[string]string{}
	for _, l := range r.Labels { // the group's, then the rule's
		kv[l.Key] = l.Value
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(kv[k])
		b.WriteByte(0)
	}
	return b.String()
}
