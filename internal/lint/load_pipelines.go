package lint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/fluentd"
	"github.com/obsctl/obsctl/internal/logs"
)

// The checks below report through the pipeline loader (internal/fluentd),
// which reads pipelines/*.yaml. They are registered so that they can be
// explained, listed and disabled like any other check (pipelines/read and
// pipelines/schema excepted: they cannot be disabled); their names are
// the loader's Check constants (a test keeps them equal).

// pipelineRead reports a pipelines folder or file that cannot be read (a
// permission problem, a broken symbolic link). The other pipelines are
// still checked; Fluentd's configuration cannot be compiled until it is
// fixed.
//
// It cannot be disabled: lint.disable, --disable (by name, pipelines/* or
// all) leave it on.
type pipelineRead struct{}

func (pipelineRead) Name() string { return "pipelines/read" }

func (pipelineRead) Meta() Meta {
	return Meta{Severity: diag.Fatal, Scope: ScopeLoad, Required: true, Summary: "A pipelines folder or file cannot be read."}
}

func (pipelineRead) Check(*Pass) {}

// pipelineSchema reports a pipeline file whose shape is wrong: an unknown
// or misspelt key (with the closest valid key as a hint), a wrong type, a
// missing required key (apiVersion, kind, name, output.index), an
// unsupported apiVersion or kind, a namespace both matched and excluded, a
// value listed twice, an unknown parse format or namespace field, or time
// options with a format that has no fields. keepOriginal with the plain
// format, which keeps the line anyway, is a warning. Pipelines are decoded
// strictly so that a typo never silently drops a decoration.
//
// It cannot be disabled: lint.disable, --disable (by name, pipelines/* or
// all) leave it on.
type pipelineSchema struct{}

func (pipelineSchema) Name() string { return "pipelines/schema" }

func (pipelineSchema) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Required: true, Summary: "A pipeline file has an unknown key, a wrong type or an invalid value."}
}

func (pipelineSchema) Check(*Pass) {}

// pipelineKubernetesName reports namespaces, container names, pod and
// namespace label keys, and label values in a pipeline that Kubernetes
// does not allow: such a selector can never match, and such a decoration
// can never find its label.
type pipelineKubernetesName struct{}

func (pipelineKubernetesName) Name() string { return "pipelines/kubernetes-name" }

func (pipelineKubernetesName) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Summary: "A pipeline names a namespace, container or label Kubernetes does not allow."}
}

func (pipelineKubernetesName) Check(*Pass) {}

// pipelineFieldName reports record fields a pipeline's decoration would
// set that collide: with the fields every record already has (log,
// stream, time, @timestamp, kubernetes, docker, logtag), with another
// decoration of the same pipeline, or that are not simple identifiers
// (letters, digits and underscores, at most 128 characters). A collision
// silently overwrites data in every record.
type pipelineFieldName struct{}

func (pipelineFieldName) Name() string { return "pipelines/field-name" }

func (pipelineFieldName) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Summary: "A pipeline's decoration sets a reserved, duplicate or malformed record field."}
}

func (pipelineFieldName) Check(*Pass) {}

// pipelineIndexName reports an output index Elasticsearch would refuse:
// upper-case letters; . or ..; a leading -, _ or + (or . , which makes a
// hidden index); any of \ / * ? " < > | space , # : ; control characters;
// ${ or %, which the Elasticsearch plugin reads as placeholders; or more
// than 255 bytes once the date suffix (-YYYY.MM.DD) is added. Fluentd would
// retry such writes forever and fill its buffer.
type pipelineIndexName struct{}

func (pipelineIndexName) Name() string { return "pipelines/index-name" }

func (pipelineIndexName) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Summary: "A pipeline's index name is invalid for Elasticsearch."}
}

func (pipelineIndexName) Check(*Pass) {}

// pipelineIndexPrefix reports an index outside logs-*: Grafana's logs
// datasource and Kibana's index pattern read logs-*, so records written
// elsewhere are stored but never shown.
type pipelineIndexPrefix struct{}

func (pipelineIndexPrefix) Name() string { return "pipelines/index-prefix" }

func (pipelineIndexPrefix) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeLoad, Summary: "A pipeline writes to an index the stack's log views do not read."}
}

func (pipelineIndexPrefix) Check(*Pass) {}

// pipelineRegexp reports a parse regexp that is missing (format regexp
// without one), given without format regexp, does not compile, has no
// named group (nothing would be extracted), uses Go's (?P<name>) syntax
// that Fluentd's Ruby does not read, names a group starting with a digit,
// or does not capture the timeKey. Regexps are checked with Go's engine,
// so Ruby-only features (lookaround, backreferences) are refused too.
type pipelineRegexp struct{}

func (pipelineRegexp) Name() string { return "pipelines/regexp" }

func (pipelineRegexp) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Summary: "A pipeline's parse regexp is missing, invalid or captures nothing."}
}

func (pipelineRegexp) Check(*Pass) {}

// pipelineDuplicateName reports a pipeline name used by two files (on the
// second): names label Fluentd's routes and outputs, which must be unique.
type pipelineDuplicateName struct{}

func (pipelineDuplicateName) Name() string { return "pipelines/duplicate-name" }

func (pipelineDuplicateName) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Summary: "Two pipelines have the same name."}
}

func (pipelineDuplicateName) Check(*Pass) {}

// pipelineCatchAll reports a second pipeline without match constraints:
// records go to the first pipeline that matches, so a second catch-all
// would never receive anything.
type pipelineCatchAll struct{}

func (pipelineCatchAll) Name() string { return "pipelines/catch-all" }

func (pipelineCatchAll) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Summary: "More than one pipeline takes every log (no match constraints)."}
}

func (pipelineCatchAll) Check(*Pass) {}

// pipelineUnrouted reports a repo that turned obsctl's catch-all off
// (pipelines.catchAll: false) and whose pipelines all have a match: the
// logs of containers no pipeline selects (a new namespace, a container
// renamed) are dropped, counted only by the null output "unrouted"
// (fluentd_output_status_emit_records{plugin_id="unrouted"}). The finding
// names the namespaces whose records are dropped, in whole or in part,
// among those every cluster has and those the stack runs in. With the
// catch-all on (the default), those logs go to the pipeline
// obsctl-unmatched (index logs-unmatched) instead. Add a pipeline without
// match, or turn the catch-all back on; disable the check when dropping
// those logs is meant.
type pipelineUnrouted struct{}

func (pipelineUnrouted) Name() string { return "pipelines/unrouted" }

func (pipelineUnrouted) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeRepo, Summary: "The catch-all is off and no pipeline takes every log: logs no pipeline selects are dropped."}
}

func (pipelineUnrouted) Check(p *Pass) {
	// Files given outside a repo may not be all its pipelines: the
	// catch-all may be among those not given.
	if p.Repo == nil || p.Repo.Partial || len(p.Repo.Pipelines) == 0 || p.Repo.Config.CatchAllOn() {
		return
	}
	if slices.ContainsFunc(p.Repo.Pipelines, (*fluentd.Pipeline).CatchAll) {
		return
	}
	// The namespaces every cluster has, and the stack's own.
	cfg := p.Repo.Config
	known := []string{"default", "kube-system", "kube-public", "kube-node-lease", cfg.StackNamespace(), cfg.StackAgentNamespace()}
	var dropped []string
	for _, ns := range known {
		if slices.Contains(dropped, ns) || slices.ContainsFunc(p.Repo.Pipelines, func(pl *fluentd.Pipeline) bool { return pl.TakesAll(ns) }) {
			continue
		}
		dropped = append(dropped, ns)
	}
	what := fmt.Sprintf("%d pipelines, each with a match", len(p.Repo.Pipelines))
	if len(p.Repo.Pipelines) == 1 {
		what = "1 pipeline, with a match"
	}
	whose := "the logs of containers none of them selects are dropped"
	if len(dropped) > 0 {
		whose = fmt.Sprintf("the records of %s, and of every namespace and container none of them selects, are dropped", strings.Join(dropped, ", "))
	}
	p.Report(cfg.Pipelines.Span("catchAll"), "add a pipeline without match, routed after the others, or remove pipelines.catchAll: false; disable pipelines/unrouted if dropping them is meant",
		"pipelines.catchAll is false and no pipeline takes every log (%s): %s, counted only by the null output \"unrouted\"", what, whose)
}

// pipelineOverlap reports two pipelines whose selectors can take the same
// logs: their namespaces, containers and pod label equalities all
// intersect (a namespace list minus its exclusions is a finite set; no
// list means every namespace but the exclusions; labels conflict only when
// one key must have two values). Records go to the first pipeline in
// routing order (specific ones by name, the catch-all last), so the later
// one silently loses them. The finding is on the later one; exclude the
// namespaces or containers the other takes.
type pipelineOverlap struct{}

func (pipelineOverlap) Name() string { return "pipelines/overlap" }

func (pipelineOverlap) Meta() Meta {
	return Meta{Severity: diag.Warning, Scope: ScopeLoad, Summary: "Two pipelines can take the same logs; the later one loses them."}
}

func (pipelineOverlap) Check(*Pass) {}

// pipelineSharedIndex reports two pipelines whose indices can be the same
// index: the same index, or an index one writes that the other's pattern
// also matches (logs-app and logs-app-web: logs-app-web-2024.05.31 matches
// logs-app-*). Each pipeline gets an index template of its own at the
// same priority, and Elasticsearch refuses a template whose patterns
// overlap another's at that priority, so obsctl apply fails; were both
// accepted, the shared indices would take one pipeline's mappings and
// retention, and searching one pipeline (obsctl logs --pipeline, its
// Kibana index pattern) would show the other's records too. The finding is
// on the later pipeline's index, in file order.
type pipelineSharedIndex struct{}

func (pipelineSharedIndex) Name() string { return "pipelines/shared-index" }

func (pipelineSharedIndex) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "Two pipelines write indices that can be the same index; apply cannot give both a template."}
}

func (pipelineSharedIndex) Check(p *Pass) {
	if p.Repo == nil {
		return
	}
	ps := slices.Clone(p.Repo.Pipelines)
	slices.SortStableFunc(ps, func(a, b *fluentd.Pipeline) int { return strings.Compare(a.Path(), b.Path()) })
	// obsctl's own catch-all, when it is added, is one more pipeline
	// whose index the repo's must not share, nor its name.
	if routed := fluentd.Routed(p.Repo.Pipelines, p.Repo.Config.CatchAllOn()); len(routed) > len(p.Repo.Pipelines) && !p.Repo.Partial {
		un := routed[len(routed)-1]
		for _, pl := range ps {
			switch {
			case pl.Name == un.Name:
				p.Report(pl.NameSpan(), "rename the pipeline", "pipeline name %q is obsctl's own catch-all's, which is added after the repo's pipelines when none of them takes every log", un.Name)
			case pl.Output.Overlaps(&un.Output):
				sp := pl.Output.Span("index")
				if sp.File == "" {
					sp = pl.NameSpan()
				}
				p.Report(sp, "choose another index, or give the repo a catch-all of its own (a pipeline without match)",
					"the indices of pipeline %q (%s) can be those of obsctl's catch-all (%s), which is added when no pipeline of the repo takes every log: Elasticsearch refuses a second index template for them, so apply fails",
					pl.Name, pl.Output.IndexPattern(), un.Output.IndexPattern())
			}
		}
	}
	for i, pl := range ps {
		for _, prev := range ps[:i] {
			if !pl.Output.Overlaps(&prev.Output) {
				continue
			}
			sp := pl.Output.Span("index")
			if sp.File == "" {
				sp = pl.NameSpan()
			}
			p.Report(sp, `give each pipeline an index that no other's begins with followed by "-": logs-app and logs-web, not logs-app and logs-app-web`,
				"the indices of pipeline %q (%s) and of pipeline %q (%s, at %s) can be the same index: Elasticsearch refuses a second index template for it, so apply fails",
				pl.Name, pl.Output.IndexPattern(), prev.Name, prev.Output.IndexPattern(), prev.NameSpan())
			break
		}
	}
}

// pipelineFieldLimit reports a pipeline whose index template maps more
// fields than the limit obsctl sets on its indices
// (index.mapping.total_fields.limit): every record has a few (the time,
// log, stream and the kubernetes object), and each decorated field and
// regexp group adds one. Elasticsearch refuses such a template (and,
// were it stored, the index made from it), so none of the pipeline's
// records would be stored. The limit is there so that apps' parsed JSON fields,
// mapped as they come, cannot grow the mapping without bound; they count
// against it too, so a pipeline near the limit refuses records with new
// fields early.
type pipelineFieldLimit struct{}

func (pipelineFieldLimit) Name() string { return "pipelines/field-limit" }

func (pipelineFieldLimit) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "A pipeline maps more fields than its indices' field limit."}
}

func (pipelineFieldLimit) Check(p *Pass) {
	if p.Repo == nil {
		return
	}
	for _, pl := range p.Repo.Pipelines {
		if n := logs.MappedFields(pl); n > logs.FieldsLimit {
			p.Report(pl.NameSpan(), "decorate fewer fields, or split the pipeline",
				"pipeline %q maps %d fields (its decorations and regexp groups, and what every record has), over the limit of %d its indices take: Elasticsearch refuses such a mapping, so none of its records would be stored",
				pl.Name, n, logs.FieldsLimit)
		}
	}
}
