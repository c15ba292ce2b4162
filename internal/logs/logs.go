// Package logs finds a service's log records in Elasticsearch by the
// labels of its pods, as `kubectl logs -l` finds its pods: the selector's
// label keys are mapped, through the repo's pipelines, to the record
// fields the pipelines lift those labels into, and the records are
// searched with the olivere client, page by page (search_after), or
// followed by polling with an overlap window.
package logs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/olivere/elastic/v7"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"

	"github.com/obsctl/obsctl/internal/fluentd"
)

// The record fields every record has: Fluentd's Elasticsearch output sets
// the time, the kubernetes_metadata filter the pod's place.
const (
	TimeField      = "@timestamp"
	NamespaceField = "kubernetes.namespace_name"
	PodField       = "kubernetes.pod_name"
	ContainerField = "kubernetes.container_name"
)

// Query is what to search for.
type Query struct {
	// Selector is a Kubernetes label selector of the pods, as kubectl's -l.
	Selector string
	// Namespace, when set, is the only namespace searched.
	Namespace string
	// Pipeline, when set, is the only pipeline searched.
	Pipeline string
	// Since bounds how far back records are searched (0: no bound).
	Since time.Duration
	// Tail, when positive, is how many of the newest records to return.
	Tail int
}

// Target is a pipeline a query searches, with the record field each
// selector key is lifted into.
type Target struct {
	Pipeline *fluentd.Pipeline
	Fields   map[string]string
}

// Plan is a query resolved against the pipelines: which indices to search
// and the Elasticsearch query.
type Plan struct {
	Targets []Target
	Indices []string
	query   *elastic.BoolQuery
	since   time.Duration
	tail    int
}

// Error is a query the pipelines cannot answer: a usage error.
type Error struct{ msg string }

func (e *Error) Error() string { return e.msg }

func usage(format string, args ...any) error { return &Error{fmt.Sprintf(format, args...)} }

// Resolve maps q's selector keys to record fields through the pipelines.
// A pipeline that does not lift every key of the selector is not
// searched; when none does, the error names the keys each lifts.
func Resolve(q Query, pipelines []*fluentd.Pipeline) (*Plan, error) {
	sel, err := labels.Parse(q.Selector)
	if err != nil {
		return nil, usage("invalid selector %q: %v", q.Selector, err)
	}
	reqs, _ := sel.Requirements()
	if len(reqs) == 0 {
		return nil, usage("give a label selector with -l, such as -l app.kubernetes.io/name=checkout")
	}
	ps := pipelines
	if q.Pipeline != "" {
		ps = nil
		var names []string
		for _, p := range pipelines {
			names = append(names, p.Name)
			if p.Name == q.Pipeline {
				ps = append(ps, p)
			}
		}
		if len(ps) == 0 {
			slices.Sort(names)
			return nil, usage("no pipeline %q (the repo's pipelines: %s)", q.Pipeline, strings.Join(names, ", "))
		}
	}
	if len(ps) == 0 {
		return nil, usage("the repo has no pipelines: no log records are decorated with pod labels")
	}
	plan := &Plan{since: q.Since, tail: q.Tail}
	var perPipeline []elastic.Query
	var missing []string
	for _, p := range ps {
		fields := map[string]string{}
		for _, kv := range p.Decorate.PodLabels {
			fields[kv.Key] = kv.Value
		}
		clause := elastic.NewBoolQuery().Filter(elastic.NewWildcardQuery("_index", p.Output.IndexPattern()))
		ok := true
		for _, r := range reqs {
			f, lifted := fields[r.Key()]
			if !lifted {
				missing = append(missing, fmt.Sprintf("pipeline %s does not lift label %q (it lifts %s)", p.Name, r.Key(), liftedKeys(p)))
				ok = false
				break
			}
			requirement(clause, r, f)
		}
		if !ok {
			continue
		}
		plan.Targets = append(plan.Targets, Target{Pipeline: p, Fields: fields})
		plan.Indices = append(plan.Indices, p.Output.IndexPattern())
		perPipeline = append(perPipeline, clause)
	}
	if len(plan.Targets) == 0 {
		return nil, usage("no pipeline lifts the selector's labels into its records, so no record can be found by them:\n  %s\nadd the label under decorate.podLabels of the pipeline that takes these logs", strings.Join(missing, "\n  "))
	}
	plan.query = elastic.NewBoolQuery().Filter(elastic.NewBoolQuery().Should(perPipeline...).MinimumNumberShouldMatch(1))
	if q.Namespace != "" {
		plan.query.Filter(exact(NamespaceField, q.Namespace))
	}
	if q.Since > 0 {
		plan.query.Filter(elastic.NewRangeQuery(TimeField).Gte(fmt.Sprintf("now-%ds", int(q.Since.Seconds()))))
	}
	slices.Sort(plan.Indices)
	plan.Indices = slices.Compact(plan.Indices)
	return plan, nil
}

func liftedKeys(p *fluentd.Pipeline) string {
	if len(p.Decorate.PodLabels) == 0 {
		return "no pod label"
	}
	var keys []string
	for _, kv := range p.Decorate.PodLabels {
		keys = append(keys, fmt.Sprintf("%q", kv.Key))
	}
	return strings.Join(keys, ", ")
}

// exact matches field equal to one of values: as a keyword field (the
// templates obsctl installs) or as text with a .keyword sub-field
// (Elasticsearch's dynamic mapping).
func exact(field string, values ...string) elastic.Query {
	vs := make([]any, len(values))
	for i, v := range values {
		vs[i] = v
	}
	return elastic.NewBoolQuery().Should(elastic.NewTermsQuery(field, vs...), elastic.NewTermsQuery(field+".keyword", vs...)).MinimumNumberShouldMatch(1)
}

// requirement adds a selector requirement on field to q, with kubectl's
// meaning: != and notin also take pods without the label.
func requirement(q *elastic.BoolQuery, r labels.Requirement, field string) {
	values := r.Values().List()
	switch r.Operator() {
	case selection.Equals, selection.DoubleEquals, selection.In:
		q.Filter(exact(field, values...))
	case selection.NotEquals, selection.NotIn:
		q.MustNot(exact(field, values...))
	case selection.Exists:
		q.Filter(elastic.NewExistsQuery(field))
	case selection.DoesNotExist:
		q.MustNot(elastic.NewExistsQuery(field))
	case selection.GreaterThan:
		q.Filter(elastic.NewRangeQuery(field).Gt(values[0]))
	case selection.LessThan:
		q.Filter(elastic.NewRangeQuery(field).Lt(values[0]))
	}
}

// Record is one log record found.
type Record struct {
	Time                      time.Time
	Index, ID                 string
	Namespace, Pod, Container string
	// Line is the log line: the record's log field, or the message a
	// parsed JSON line carries.
	Line   string
	Source map[string]any
}

// Client opens an olivere client for an Elasticsearch at url, with basic
// authentication when user is set. It neither sniffs (the cluster's nodes
// are behind a Service or a proxy) nor health-checks; 429 answers are
// retried with backoff.
func Client(url, user, password string, hc *http.Client) (*elastic.Client, error) {
	opts := []elastic.ClientOptionFunc{
		elastic.SetURL(url), elastic.SetSniff(false), elastic.SetHealthcheck(false),
		elastic.SetRetryStatusCodes(http.StatusTooManyRequests),
		// Three retries, 1.7 s in all: a busy cluster gets room, an
		// unreachable one an answer soon.
		elastic.SetRetrier(elastic.NewBackoffRetrier(elastic.NewSimpleBackoff(200, 500, 1000))),
	}
	if hc != nil {
		opts = append(opts, elastic.SetHttpClient(hc))
	}
	if user != "" {
		opts = append(opts, elastic.SetBasicAuth(user, password))
	}
	return elastic.NewClient(opts...)
}

// pageSize is how many records a search request returns (a variable for
// the tests, which page through a few records).
var pageSize = 500

// Search calls emit with the plan's records, oldest first: the newest
// Tail of them, or all of them page by page. It returns what it emitted,
// for Follow to go on from.
func Search(ctx context.Context, c *elastic.Client, p *Plan, emit func(Record) error) (Seen, error) {
	seen := Seen{}
	emit0 := emit
	emit = func(r Record) error { seen.Add(r); return emit0(r) }
	if p.tail > 0 {
		res, err := p.search(c, p.query, false, p.tail, nil).Do(ctx)
		if err != nil {
			return seen, explain(err)
		}
		recs := records(res)
		slices.Reverse(recs)
		for _, r := range recs {
			if err := emit(r); err != nil {
				return seen, err
			}
		}
		return seen, nil
	}
	var after []any
	for {
		res, err := p.search(c, p.query, true, pageSize, after).Do(ctx)
		if err != nil {
			return seen, explain(err)
		}
		recs := records(res)
		for _, r := range recs {
			if err := emit(r); err != nil {
				return seen, err
			}
		}
		if len(res.Hits.Hits) < pageSize {
			return seen, nil
		}
		after = res.Hits.Hits[len(res.Hits.Hits)-1].Sort
	}
}

// Seen is the records emitted, by index and id, with their times.
type Seen map[string]time.Time

// Add records r as emitted, and reports whether it was already.
func (s Seen) Add(r Record) bool {
	k := r.Index + "/" + r.ID
	_, dup := s[k]
	s[k] = r.Time
	return dup
}

// Newest is the time of the newest record emitted (zero when none).
func (s Seen) Newest() time.Time {
	var n time.Time
	for _, t := range s {
		if t.After(n) {
			n = t
		}
	}
	return n
}

// Follow polls for new records every interval until ctx ends, emitting
// each once (seen holds those emitted already): every poll reads from
// overlap before the newest record seen, so that records indexed late
// (Fluentd flushes its buffers every few seconds) are not missed, and
// skips the ids emitted. Ids older than twice the overlap are forgotten.
func Follow(ctx context.Context, c *elastic.Client, p *Plan, seen Seen, interval, overlap time.Duration, emit func(Record) error) error {
	newest := seen.Newest()
	for {
		since := newest.Add(-overlap)
		if newest.IsZero() {
			since = time.Now().Add(-overlap)
		}
		q := elastic.NewBoolQuery().Filter(p.query, elastic.NewRangeQuery(TimeField).Gte(since.UTC().Format(time.RFC3339Nano)))
		var after []any
		for {
			res, err := p.search(c, q, true, pageSize, after).Do(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return explain(err)
			}
			for _, r := range records(res) {
				if seen.Add(r) {
					continue
				}
				if r.Time.After(newest) {
					newest = r.Time
				}
				if err := emit(r); err != nil {
					return err
				}
			}
			if len(res.Hits.Hits) < pageSize {
				break
			}
			after = res.Hits.Hits[len(res.Hits.Hits)-1].Sort
		}
		for k, t := range seen {
			if t.Before(newest.Add(-2 * overlap)) {
				delete(seen, k)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

func (p *Plan) search(c *elastic.Client, q elastic.Query, asc bool, size int, after []any) *elastic.SearchService {
	s := c.Search(p.Indices...).Query(q).Size(size).
		SortBy(elastic.NewFieldSort(TimeField).Order(asc), elastic.NewFieldSort("_doc").Order(asc)).
		IgnoreUnavailable(true).AllowNoIndices(true).TrackTotalHits(false)
	if len(after) > 0 {
		s = s.SearchAfter(after...)
	}
	return s
}

func records(res *elastic.SearchResult) []Record {
	if res == nil || res.Hits == nil {
		return nil
	}
	out := make([]Record, 0, len(res.Hits.Hits))
	for _, h := range res.Hits.Hits {
		var src map[string]any
		if err := json.Unmarshal(h.Source, &src); err != nil {
			continue
		}
		r := Record{Index: h.Index, ID: h.Id, Source: src}
		if t, ok := lookup(src, TimeField).(string); ok {
			r.Time, _ = time.Parse(time.RFC3339Nano, t)
		}
		r.Namespace, _ = lookup(src, NamespaceField).(string)
		r.Pod, _ = lookup(src, PodField).(string)
		r.Container, _ = lookup(src, ContainerField).(string)
		r.Line = line(src)
		out = append(out, r)
	}
	return out
}

// line is a record's log line: its log field, else the message field a
// parsed JSON line carries, else the record without its metadata.
func line(src map[string]any) string {
	for _, k := range []string{"log", "message", "msg"} {
		if s, ok := src[k].(string); ok {
			return strings.TrimRight(s, "\n")
		}
	}
	rest := map[string]any{}
	for k, v := range src {
		if k != "kubernetes" && k != TimeField && k != "stream" && k != "docker" {
			rest[k] = v
		}
	}
	b, _ := json.Marshal(rest)
	return string(b)
}

// lookup reads a dotted path in nested objects, or a key with dots.
func lookup(m map[string]any, path string) any {
	if v, ok := m[path]; ok {
		return v
	}
	for i := 0; i < len(path); i++ {
		if path[i] == '.' {
			if sub, ok := m[path[:i]].(map[string]any); ok {
				if v := lookup(sub, path[i+1:]); v != nil {
					return v
				}
			}
		}
	}
	return nil
}

// explain turns an Elasticsearch error into what to do about it.
func explain(err error) error {
	var e *elastic.Error
	if errors.As(err, &e) {
		reason := ""
		if e.Details != nil {
			reason = e.Details.Reason
			if e.Details.Type != "" {
				reason = e.Details.Type + ": " + reason
			}
		}
		switch e.Status {
		case http.StatusUnauthorized:
			return fmt.Errorf("elasticsearch refused the credentials (401 %s): give the user and password of one allowed to read the log indices (OBSCTL_ELASTICSEARCH_USERNAME, OBSCTL_ELASTICSEARCH_PASSWORD)", reason)
		case http.StatusForbidden:
			return fmt.Errorf("elasticsearch does not let this user read the log indices (403 %s)", reason)
		case http.StatusTooManyRequests:
			return fmt.Errorf("elasticsearch is too busy to search (429 %s), after retries: try again, or narrow --since", reason)
		}
		return fmt.Errorf("elasticsearch answered %d: %s", e.Status, reason)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("cannot reach elasticsearch: %v", ue.Err)
	}
	if elastic.IsConnErr(err) || errors.Is(err, elastic.ErrNoClient) {
		return fmt.Errorf("cannot reach elasticsearch: %v", err)
	}
	return err
}
