package lint

import (
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/promrule"
)

// objectSize reports a rule group too big for any PrometheusRule: its
// rules alone make a rule file over 512 KiB, the most the Prometheus
// Operator puts in one file (it mounts each PrometheusRule's rules as one
// file of a ConfigMap, and takes at most half of a ConfigMap's 1 MiB for
// one file). The operator refuses such a file, and stops updating the
// rules of the whole Prometheus; over 1.5 MiB, etcd refuses to store the
// object at all, and apply fails.
//
// A rule file whose groups together are too big is not a problem: obsctl
// splits its rules across PrometheusRules (<name>, <name>-2, ...), between
// groups, each under the limit. A group is evaluated as a whole and cannot
// be split; split it into groups yourself (by team, service or severity,
// say). The finding points at the group's name.
//
// It also reports a group that cannot be written as YAML at all, whatever
// its size: a rule holding DEL (\x7f) or a C1 control character, written
// as an escape in the rule file. The API server refuses the server-side
// apply of such a PrometheusRule (its YAML reader refuses the character),
// and the operator could not write its rule file either.
//
// It cannot be disabled: lint.disable, --disable (by name, rules/* or
// all) and obsctl:disable comments leave it on, since build and render
// cannot make an object the cluster takes.
type objectSize struct{}

func (objectSize) Name() string { return "rules/object-size" }

func (objectSize) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Required: true, Summary: "A rule group is too big for one PrometheusRule (over 512 KiB), or holds a character Kubernetes' YAML refuses."}
}

func (objectSize) Check(p *Pass) {
	for i := range p.plan() {
		pl := &p.plan()[i]
		if pl.Unwritable != "" {
			p.ReportRule(pl.File, nil, groupNameSpan(pl.UnwritableGroup), "write the text without the control character", "%s", pl.Unwritable)
		}
		if pl.Bytes > promrule.MaxRuleFileBytes {
			p.ReportRule(pl.File, nil, groupNameSpan(pl.Groups[0]), "split the group into smaller groups: obsctl spreads groups across PrometheusRules, never one group",
				"%s", pl.TooBig())
		}
	}
}

// groupNameSpan points at a group's name, else at the group.
func groupNameSpan(g *promrule.Group) diag.Span {
	if g.NameSpan.Start.IsZero() {
		return g.Span
	}
	return g.NameSpan
}
