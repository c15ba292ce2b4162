package fluentd

import "slices"

// UnmatchedName is the name of the catch-all obsctl adds after a repo's
// pipelines when none of them takes every log, and UnmatchedIndex the
// index its records land in: the logs of a namespace nobody wrote a
// pipeline for yet are kept, not dropped.
const (
	UnmatchedName  = "obsctl-unmatched"
	UnmatchedIndex = "logs-unmatched"
)

// Unmatched returns the catch-all obsctl adds: the records no pipeline of
// the repo takes, decorated with the pod's app label and its namespace,
// their lines kept as they are, in logs-unmatched-YYYY.MM.DD.
func Unmatched() *Pipeline {
	return &Pipeline{
		APIVersion:  "obsctl/v1",
		Kind:        "Pipeline",
		Name:        UnmatchedName,
		Description: "obsctl's catch-all: the logs no pipeline of the repo takes",
		Decorate: Decorate{
			PodLabels:       Pairs{{Key: "app.kubernetes.io/name", Value: "app"}},
			NamespaceFields: []Str{{Value: "name"}},
		},
		Output: Output{Index: UnmatchedIndex},
	}
}

// Routed returns the pipelines that take the logs, in the repo's order:
// ps, and when catchAll is on and none of them takes every log, obsctl's
// catch-all after them (Unmatched). A repo without pipelines is left as
// it is (its logs go to the fallback configuration's logs-default).
func Routed(ps []*Pipeline, catchAll bool) []*Pipeline {
	if !catchAll || len(ps) == 0 || slices.ContainsFunc(ps, (*Pipeline).CatchAll) {
		return ps
	}
	return append(slices.Clip(ps), Unmatched())
}

// TakesAll reports whether the pipeline takes every log of namespace ns,
// whatever the pod and container.
func (p *Pipeline) TakesAll(ns string) bool {
	m := p.Match
	if len(m.PodLabels) > 0 || len(m.Containers) > 0 {
		return false
	}
	has := func(list []Str) bool {
		return slices.ContainsFunc(list, func(s Str) bool { return s.Value == ns })
	}
	return (len(m.Namespaces) == 0 || has(m.Namespaces)) && !has(m.ExcludeNamespaces)
}
