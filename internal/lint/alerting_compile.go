package lint

import (
	"strconv"
	"strings"

	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/amroute"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

// alertingState is what the alerting checks share on one run: the
// Alertmanager configuration compiled once, and obsctl.yaml's node tree to
// point findings at single list items, which config.Fields does not record.
type alertingState struct {
	// empty is set when obsctl.yaml declares no receivers, routes or
	// defaultReceiver: there is no routing to compile or check, and
	// alerting/no-severities speaks for the empty section.
	empty bool
	res   *amroute.Result
	err   error
	route *dispatch.Route

	file   *source.File
	root   *yaml.Node // the root mapping of obsctl.yaml, or nil
	parsed bool       // root was looked for
}

// alerting returns the run's compiled routing, compiling on first use.
// Repo checks of one run share one Pass, so the state lives there.
func (p *Pass) alerting() *alertingState {
	if p.alertingSt == nil {
		p.alertingSt = newAlertingState(p)
	}
	return p.alertingSt
}

func newAlertingState(p *Pass) *alertingState {
	st := &alertingState{}
	if p.Repo != nil && p.Repo.ConfigFile != nil {
		st.file = p.Repo.ConfigFile
	}
	if !p.Config.Alerting.Routing() {
		st.empty = true
		return st
	}
	if p.compiled != nil && p.compiled.Alertmanager != nil {
		st.res = p.compiled.Alertmanager // compiled once, by the compile stage
	} else {
		st.res, st.err = amroute.Compile(p.Config)
	}
	if st.res != nil {
		st.route = dispatch.NewRoute(st.res.Config.Route, nil)
	}
	return st
}

// misread reports whether obsctl.yaml's alerting section has a
// config/schema error among findings: a misspelt key, a value of the
// wrong shape, a receiver declared twice. The routing compiled is then not
// what the file says, and what the alerting checks would find in it (a
// receiver without integration, an unknown receiver) are consequences of
// the mistake reported already.
func (st *alertingState) misread(findings []diag.Finding) bool {
	key, v := st.find("alerting")
	if key == nil || v == nil || st.file == nil {
		return false
	}
	first, last := key.Line, lastLine(v, 0)
	for _, f := range findings {
		if f.Check == config.CheckSchema && f.Severity >= diag.Error && f.File == st.file.Path && f.Start.Line >= first && f.Start.Line <= last {
			return true
		}
	}
	return false
}

// lastLine returns the last line a node of the tree under n starts on.
func lastLine(n *yaml.Node, depth int) int {
	last := n.Line
	if depth > 64 {
		return last
	}
	for _, c := range n.Content {
		last = max(last, lastLine(c, depth+1))
	}
	return last
}

// fileStart returns a span at the start of obsctl.yaml.
func (st *alertingState) fileStart() diag.Span {
	if st.file != nil {
		return st.file.Whole()
	}
	return diag.At(config.FileName, 1, 1)
}

// find walks obsctl.yaml's tree along path (mapping keys and list
// indexes) and returns the last mapping key passed, if the path ends at
// one, and the node reached; nil when the path is not in the file.
func (st *alertingState) find(path ...any) (key, val *yaml.Node) {
	n := st.rootNode()
	for _, step := range path {
		for n != nil && n.Kind == yaml.AliasNode {
			n = n.Alias
		}
		if n == nil {
			return nil, nil
		}
		key = nil
		switch s := step.(type) {
		case string:
			var next *yaml.Node
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == s {
						key, next = n.Content[i], n.Content[i+1]
					}
				}
			}
			n = next
		case int:
			if n.Kind != yaml.SequenceNode || s < 0 || s >= len(n.Content) {
				return nil, nil
			}
			n = n.Content[s]
		}
	}
	return key, n
}

// rootNode returns the root mapping of obsctl.yaml, parsed on first use:
// only a finding needs a position, and the tree of a large obsctl.yaml
// costs many times the file.
func (st *alertingState) rootNode() *yaml.Node {
	if st.parsed || st.file == nil {
		return st.root
	}
	st.parsed = true
	if docs, fd := st.file.ParseYAML("yaml/syntax"); fd == nil && len(docs) > 0 {
		n := docs[0]
		if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
			n = n.Content[0]
		}
		if n.Kind == yaml.MappingNode {
			st.root = n
		}
	}
	return st.root
}

// span returns the span of the value at path, or fallback when the file
// does not have it.
func (st *alertingState) span(fallback diag.Span, path ...any) diag.Span {
	if _, v := st.find(path...); v != nil && st.file != nil {
		return st.file.Span(v)
	}
	return fallback
}

// keySpan returns the span of the key that ends path (such as the
// `alerting:` of path "alerting"), or fallback.
func (st *alertingState) keySpan(fallback diag.Span, path ...any) diag.Span {
	if k, _ := st.find(path...); k != nil && st.file != nil {
		return st.file.Span(k)
	}
	return fallback
}

// alertingKey returns the span of obsctl.yaml's `alerting:` key, or the
// start of the file when there is none.
func (st *alertingState) alertingKey() diag.Span {
	return st.keySpan(st.fileStart(), "alerting")
}

// fieldPath turns a field name as amroute's errors give it, such as
// alerting.receivers[0].email.smarthost, into a path for find.
func fieldPath(field string) []any {
	var path []any
	for _, part := range strings.Split(field, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			path = append(path, name)
		}
		for rest != "" {
			idx, after, ok := strings.Cut(rest, "]")
			i, err := strconv.Atoi(idx)
			if !ok || err != nil {
				return path
			}
			path = append(path, i)
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return path
}

// externalLabels returns the labels Prometheus adds to every alert.
func externalLabels(cfg *config.Config) model.LabelSet {
	ls := model.LabelSet{}
	for k, v := range cfg.Prometheus.ExternalLabels {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

// receivers returns the receivers an alert with labels ls is sent to, in
// routing order, and whether any of them has an integration.
func (st *alertingState) receivers(cfg *config.Config, ls model.LabelSet) (names []string, delivered bool) {
	for _, r := range st.route.Match(ls) {
		names = append(names, r.RouteOpts.Receiver)
		if rc := cfg.Receiver(r.RouteOpts.Receiver); rc != nil && rc.Integrations() > 0 {
			delivered = true
		}
	}
	return names, delivered
}

// walkErrors calls fn for err and every error it wraps, through
// errors.Join trees.
func walkErrors(err error, fn func(error)) {
	if err == nil {
		return
	}
	fn(err)
	switch u := err.(type) {
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walkErrors(e, fn)
		}
	case interface{ Unwrap() error }:
		walkErrors(u.Unwrap(), fn)
	}
}
