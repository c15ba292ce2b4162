package logs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/olivere/elastic/v7"

	"github.com/obsctl/obsctl/internal/fluentd"
)

// Plain daily indices, not data streams: the pinned Fluentd's
// elasticsearch output writes with the index operation and names an index
// a day (logstash_format), and a data stream takes only create. So each
// pipeline gets a composable index template of its own, at a priority
// above Elasticsearch's built-in logs-*-* data-stream template (100), so
// that its logs-<pipeline>-YYYY.MM.DD indices are plain indices with
// obsctl's mappings; and an ILM policy that deletes an index once the
// retention has passed since it was created: a day's index, a day after
// its day. An undated index (output.dateSuffix false) is one index for
// good: no policy deletes it, which would delete all of it at once.
const (
	// TemplatePriority is above the built-in templates' 100.
	TemplatePriority = 200
	// FieldsLimit bounds the fields an index maps: apps' parsed JSON
	// fields land next to the decorated ones, and a mapping that grows
	// without bound slows the cluster; past it, Elasticsearch refuses the
	// record (Fluentd logs the 400) rather than the cluster suffering.
	FieldsLimit = 2000
	// managedBy marks what obsctl created, in _meta.
	managedBy = "obsctl"
)

// Object is an Elasticsearch object obsctl keeps: an index template or an
// ILM policy.
type Object struct {
	// Kind is IndexTemplate or LifecyclePolicy.
	Kind, Name string
	// Body is what obsctl puts.
	Body map[string]any
}

// Ref names the object, for progress.
func (o Object) Ref() string { return o.Kind + " " + o.Name }

// Kinds of objects.
const (
	KindTemplate   = "IndexTemplate"
	KindPolicy     = "LifecyclePolicy"
	KindDataStream = "DataStream"
	// KindIndices is a pipeline's day indices, by pattern.
	KindIndices = "Indices"
)

// Desired returns the templates and policies of the stack's pipelines.
func Desired(stack string, pipelines []*fluentd.Pipeline, retention time.Duration) []Object {
	var out []Object
	days := max(1, int((retention+23*time.Hour)/(24*time.Hour)))
	for _, p := range pipelines {
		name := "obsctl-" + stack + "-" + p.Name
		meta := map[string]any{"managed_by": managedBy, "stack": stack, "pipeline": p.Name}
		index := map[string]any{"mapping": map[string]any{"total_fields": map[string]any{"limit": fmt.Sprint(FieldsLimit)}}}
		if p.Output.Dated() {
			index["lifecycle"] = map[string]any{"name": name}
			out = append(out, Object{Kind: KindPolicy, Name: name, Body: map[string]any{"policy": map[string]any{
				"_meta": meta,
				"phases": map[string]any{"delete": map[string]any{
					"min_age": fmt.Sprintf("%dd", days),
					"actions": map[string]any{"delete": map[string]any{}},
				}},
			}}})
		}
		out = append(out, Object{Kind: KindTemplate, Name: name, Body: map[string]any{
			"index_patterns": []any{p.Output.IndexPattern()},
			"priority":       TemplatePriority,
			"_meta":          meta,
			"template": map[string]any{
				"settings": map[string]any{"index": index},
				"mappings": map[string]any{"properties": properties(p)},
			},
		}})
	}
	return out
}

// policyOf returns the ILM policy a template gives its indices, or "".
func policyOf(o Object) string {
	t, _ := o.Body["template"].(map[string]any)
	set, _ := t["settings"].(map[string]any)
	idx, _ := set["index"].(map[string]any)
	lc, _ := idx["lifecycle"].(map[string]any)
	name, _ := lc["name"].(string)
	return name
}

// properties maps what a pipeline's records are known to hold: the
// fields every record has, and the pipeline's decorated and parsed fields.
func properties(p *fluentd.Pipeline) map[string]any {
	props := map[string]any{
		TimeField: map[string]any{"type": "date"},
		"log":     map[string]any{"type": "text"},
		"stream":  map[string]any{"type": "keyword"},
		"kubernetes": map[string]any{"properties": map[string]any{
			"namespace_name": map[string]any{"type": "keyword"},
			"pod_name":       map[string]any{"type": "keyword"},
			"container_name": map[string]any{"type": "keyword"},
			"host":           map[string]any{"type": "keyword"},
			// One field each, whatever labels and annotations pods
			// carry: they would otherwise map a field per key.
			"labels":           map[string]any{"type": "flattened"},
			"namespace_labels": map[string]any{"type": "flattened"},
			"annotations":      map[string]any{"type": "flattened"},
		}},
	}
	// Every field whose name is known is a keyword in every template,
	// decorated or parsed by a regexp: one index pattern over all the
	// pipelines' indices (Kibana's all-logs) then sees no field as text
	// in one index and keyword in another.
	for _, f := range p.ParsedFields() {
		if f != p.Parse.TimeKey {
			props[f] = map[string]any{"type": "keyword"}
		}
	}
	for _, f := range p.RecordFields() {
		props[f.Name] = map[string]any{"type": "keyword"}
	}
	return props
}

// MappedFields counts the fields a pipeline's index template maps, as
// Elasticsearch counts them against index.mapping.total_fields.limit:
// every field, an object and each field inside it.
func MappedFields(p *fluentd.Pipeline) int { return countFields(properties(p)) }

func countFields(props map[string]any) int {
	n := 0
	for _, v := range props {
		n++
		if m, ok := v.(map[string]any); ok {
			if sub, ok := m["properties"].(map[string]any); ok {
				n += countFields(sub)
			}
		}
	}
	return n
}

// Change is what Setup did, or would do, to one object.
type Change struct {
	Object Object
	// Action is created, configured, unchanged, deleted or kept.
	Action string
	// Note says why an object was kept.
	Note string
}

// Setup puts the desired objects whose live copy differs and, with prune,
// deletes the stack's objects no pipeline wants any more (an ILM policy
// that indices still use is kept, and said so). With dryRun it only
// reads, and says what it would do. Log data is never deleted.
func Setup(ctx context.Context, c *elastic.Client, stack string, desired []Object, prune, dryRun bool) ([]Change, error) {
	live, err := liveObjects(ctx, c, stack)
	if err != nil {
		return nil, explain(err)
	}
	var out []Change
	want := map[string]bool{}
	for _, o := range desired {
		want[o.Ref()] = true
		cur, ok := live[o.Ref()]
		ch := Change{Object: o, Action: "created"}
		switch {
		case ok && same(o, cur):
			ch.Action = "unchanged"
		case ok:
			ch.Action = "configured"
		}
		if ch.Action != "unchanged" && !dryRun {
			if err := put(ctx, c, o); err != nil {
				return out, fmt.Errorf("%s: %w", o.Ref(), explain(err))
			}
		}
		out = append(out, ch)
	}
	streams, err := strayStreams(ctx, c, desired, dryRun)
	out = append(out, streams...)
	if err != nil {
		return out, err
	}
	older, err := olderIndices(ctx, c, desired, dryRun)
	out = append(out, older...)
	if err != nil {
		return out, err
	}
	if !prune {
		return out, nil
	}
	// Templates first: a policy goes once no template names it.
	for _, kind := range []string{KindTemplate, KindPolicy} {
		for _, ref := range slices.Sorted(maps.Keys(live)) {
			o := live[ref]
			if o.Kind != kind || want[ref] {
				continue
			}
			ch := Change{Object: o, Action: "deleted"}
			if inUse := usedBy(o); len(inUse) > 0 {
				ch.Action, ch.Note = "kept", "indices still use it: "+strings.Join(inUse, ", ")
			} else if !dryRun {
				if err := del(ctx, c, o); err != nil {
					var e *elastic.Error
					if errors.As(err, &e) && e.Status == http.StatusBadRequest && kind == KindPolicy {
						reason := "in use"
						if e.Details != nil {
							reason = e.Details.Reason
						}
						ch.Action, ch.Note = "kept", "Elasticsearch refuses to delete it: "+reason
					} else {
						return out, fmt.Errorf("%s: %w", ref, explain(err))
					}
				}
			}
			out = append(out, ch)
		}
	}
	return out, nil
}

// liveObjects reads the stack's templates and policies: those whose _meta
// says obsctl made them for the stack.
func liveObjects(ctx context.Context, c *elastic.Client, stack string) (map[string]Object, error) {
	out := map[string]Object{}
	prefix := "obsctl-" + stack + "-"
	res, err := c.IndexGetIndexTemplate(prefix + "*").Do(ctx)
	if err != nil && !elastic.IsNotFound(err) {
		return nil, err
	}
	if res != nil {
		for _, t := range res.IndexTemplates {
			b, err := json.Marshal(t.IndexTemplate)
			if err != nil {
				return nil, err
			}
			var body map[string]any
			if err := json.Unmarshal(b, &body); err != nil {
				return nil, err
			}
			if ours(body["_meta"], stack) {
				out[KindTemplate+" "+t.Name] = Object{Kind: KindTemplate, Name: t.Name, Body: body}
			}
		}
	}
	pols, err := c.XPackIlmGetLifecycle().Do(ctx)
	if err != nil && !elastic.IsNotFound(err) {
		return nil, err
	}
	for name, p := range pols {
		if !strings.HasPrefix(name, prefix) || p == nil {
			continue
		}
		if ours(p.Policy["_meta"], stack) {
			body := map[string]any{"policy": p.Policy}
			if p.InUseBy != nil && len(p.InUseBy.Indices) > 0 {
				body["in_use_by_indices"] = p.InUseBy.Indices
			}
			out[KindPolicy+" "+name] = Object{Kind: KindPolicy, Name: name, Body: body}
		}
	}
	return out, nil
}

func ours(meta any, stack string) bool {
	m, ok := meta.(map[string]any)
	return ok && m["managed_by"] == managedBy && m["stack"] == stack
}

func usedBy(o Object) []string {
	l, _ := o.Body["in_use_by_indices"].([]string)
	return l
}

// same reports whether the live object is what obsctl would put: the
// fields obsctl writes, compared as JSON (Elasticsearch adds its own).
func same(want, live Object) bool {
	norm := func(v any) any {
		b, _ := json.Marshal(v)
		var out any
		_ = json.Unmarshal(b, &out)
		return out
	}
	switch want.Kind {
	case KindPolicy:
		wp, _ := want.Body["policy"].(map[string]any)
		lp, _ := live.Body["policy"].(map[string]any)
		return reflect.DeepEqual(norm(wp["phases"]), norm(lp["phases"])) && reflect.DeepEqual(norm(wp["_meta"]), norm(lp["_meta"]))
	default:
		for _, k := range []string{"index_patterns", "priority", "_meta", "template"} {
			if !reflect.DeepEqual(norm(want.Body[k]), norm(live.Body[k])) {
				return false
			}
		}
		return true
	}
}

func put(ctx context.Context, c *elastic.Client, o Object) error {
	var err error
	switch o.Kind {
	case KindPolicy:
		_, err = c.XPackIlmPutLifecycle().Policy(o.Name).BodyJson(o.Body).Do(ctx)
	default:
		_, err = c.IndexPutIndexTemplate(o.Name).BodyJson(o.Body).Do(ctx)
	}
	return err
}

func del(ctx context.Context, c *elastic.Client, o Object) error {
	var err error
	switch o.Kind {
	case KindPolicy:
		_, err = c.XPackIlmDeleteLifecycle().Policy(o.Name).Do(ctx)
	default:
		_, err = c.IndexDeleteIndexTemplate(o.Name).Do(ctx)
	}
	return err
}

// olderIndices gives a pipeline's policy to its day indices that have no
// ILM policy: those made before its template was there (by Fluentd
// running before apply, or before obsctl managed retention with ILM,
// when a CronJob deleted them). Without it they would be kept for good;
// with it they are deleted once the retention has passed since they were
// made, as the day indices after them. Only names the pipeline's output
// writes (<index>-YYYY.MM.DD) are touched, and none that already has a
// policy, another's included.
func olderIndices(ctx context.Context, c *elastic.Client, desired []Object, dryRun bool) ([]Change, error) {
	var out []Change
	for _, o := range desired {
		policy := policyOf(o)
		if o.Kind != KindTemplate || policy == "" {
			continue
		}
		patterns, _ := o.Body["index_patterns"].([]any)
		for _, p := range patterns {
			pattern := fmt.Sprint(p)
			prefix, ok := strings.CutSuffix(pattern, "*")
			if !ok {
				continue
			}
			res, err := c.IndexGetSettings(pattern).Name("index.lifecycle.name").FlatSettings(true).ExpandWildcards("open,closed").Do(ctx)
			if err != nil {
				if elastic.IsNotFound(err) {
					continue
				}
				return out, fmt.Errorf("read the settings of %s: %w", pattern, explain(err))
			}
			var bare []string
			for index, r := range res {
				if r == nil || r.Settings["index.lifecycle.name"] != nil || !isDay(strings.TrimPrefix(index, prefix)) {
					continue
				}
				bare = append(bare, index)
			}
			if len(bare) == 0 {
				continue
			}
			slices.Sort(bare)
			// A few at a time: the indices are named in the URL, whose
			// request line Elasticsearch bounds (4 KB by default).
			for chunk := range slices.Chunk(bare, 20) {
				if dryRun {
					break
				}
				if _, err := c.IndexPutSettings(chunk...).BodyJson(map[string]any{"index.lifecycle.name": policy}).Do(ctx); err != nil {
					return out, fmt.Errorf("give %s the policy %s: %w", strings.Join(chunk, ","), policy, explain(err))
				}
			}
			what := bare[0]
			if len(bare) > 1 {
				what = fmt.Sprintf("%d indices, %s to %s", len(bare), bare[0], bare[len(bare)-1])
			}
			out = append(out, Change{Object: Object{Kind: KindIndices, Name: pattern}, Action: "configured",
				Note: fmt.Sprintf("%s made without a policy now take %s: each is deleted once the retention has passed since it was made", what, policy)})
		}
	}
	return out, nil
}

// isDay reports whether s is a day as Fluentd names an index's: YYYY.MM.DD.
func isDay(s string) bool {
	_, err := time.Parse("2006.01.02", s)
	return err == nil && len(s) == len("2006.01.02")
}

// strayStreams deletes the data streams a pipeline's indices became
// before its template was there: Fluentd writes a day's index as soon as
// it runs, and when that is before obsctl put the template, Elasticsearch's
// built-in logs-*-* template made the index a data stream, which refuses
// every one of Fluentd's writes until the next day's index. Such a data
// stream holds nothing (it took no write), so deleting it loses nothing,
// and the pipeline's next write makes the plain index. One that holds
// records (written with create by something else) is kept, and said so.
func strayStreams(ctx context.Context, c *elastic.Client, desired []Object, dryRun bool) ([]Change, error) {
	var out []Change
	for _, o := range desired {
		if o.Kind != KindTemplate {
			continue
		}
		patterns, _ := o.Body["index_patterns"].([]any)
		for _, p := range patterns {
			res, err := c.PerformRequest(ctx, elastic.PerformRequestOptions{Method: http.MethodGet, Path: "/_data_stream/" + url.PathEscape(fmt.Sprint(p))})
			if err != nil {
				if elastic.IsNotFound(err) {
					continue
				}
				return out, fmt.Errorf("list data streams %s: %w", p, explain(err))
			}
			var list struct {
				DataStreams []struct {
					Name string `json:"name"`
				} `json:"data_streams"`
			}
			if err := json.Unmarshal(res.Body, &list); err != nil {
				return out, err
			}
			for _, ds := range list.DataStreams {
				n, err := c.Count(ds.Name).Do(ctx)
				if err != nil {
					return out, fmt.Errorf("count %s: %w", ds.Name, explain(err))
				}
				obj := Object{Kind: KindDataStream, Name: ds.Name}
				if n > 0 {
					out = append(out, Change{Object: obj, Action: "kept", Note: fmt.Sprintf(
						"it holds %d record(s), and takes none of Fluentd's until the next day's index: delete it (DELETE /_data_stream/%s) once they are not needed", n, ds.Name)})
					continue
				}
				if !dryRun {
					if _, err := c.PerformRequest(ctx, elastic.PerformRequestOptions{Method: http.MethodDelete, Path: "/_data_stream/" + url.PathEscape(ds.Name)}); err != nil {
						return out, fmt.Errorf("delete data stream %s: %w", ds.Name, explain(err))
					}
				}
				out = append(out, Change{Object: obj, Action: "deleted", Note: "empty: Elasticsearch's built-in logs-*-* template made it before obsctl's template was there, and it refused every write; the pipeline's next write makes a plain index"})
			}
		}
	}
	return out, nil
}
