// Package esfake is a local HTTP server that answers as Elasticsearch 7.17
// does, for the calls obsctl makes: the cluster's root (GET /), the
// search API (GET or POST /<indices>/_search) over documents it holds,
// composable index templates (/_index_template) and ILM policies
// (/_ilm/policy, with in_use_by and the refusal to delete one in use),
// with the shapes of Elasticsearch's documentation, errors included.
//
// It really filters what it holds: bool (filter, must, must_not, should
// and minimum_should_match), term, terms, exists, range (dates with now
// and its arithmetic, and RFC 3339 times), wildcard and prefix (on any
// field, _index included) and match_all, sorted by fields (dates as epoch
// milliseconds) and _doc, with size, from and search_after. Anything else
// gets Elasticsearch's parsing_exception, a route it does not serve its
// 400 "no handler found", a concrete index it does not hold
// index_not_found_exception (404), a request without the credentials it
// was given security_exception (401), and the searches it is told to
// refuse es_rejected_execution_exception (429).
//
// Field names follow the dynamic mapping: a string field f is also f.keyword.
package esfake

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/obsctl/obsctl/test/loopback"
)

// Doc is a document of an index.
type Doc struct {
	Index  string         `json:"_index"`
	ID     string         `json:"_id"`
	Source map[string]any `json:"_source"`
}

// Server is a running fake Elasticsearch.
type Server struct {
	*httptest.Server
	mu   sync.Mutex
	docs []Doc
	// User and Password, when User is set, are required of every request
	// (basic authentication), as with security on.
	User, Password string
	// Now is the time date math's "now" means; time.Now when nil.
	Now func() time.Time
	// reject is how many searches to refuse with 429 next.
	reject int
	// requests counts the requests served, by "METHOD path".
	requests map[string]int
	// templates and policies are the composable index templates and ILM
	// policies put, as put.
	templates map[string]map[string]any
	policies  map[string]policy
	// streams are the data streams made, by name: made by a write to a
	// new index whose template says data_stream, even a write refused.
	streams map[string]bool
	// lifecycle is each index's index.lifecycle.name, "" for none: set
	// when the index is made, from the template that matches it then, and
	// by PUT _settings.
	lifecycle map[string]string
}

type policy struct {
	body     map[string]any
	version  int
	modified time.Time
}

// Start serves docs on addr (127.0.0.1:0 when empty).
func Start(addr string, docs []Doc) (*Server, error) {
	s := &Server{requests: map[string]int{}, templates: map[string]map[string]any{}, policies: map[string]policy{}, streams: map[string]bool{}, lifecycle: map[string]string{}}
	// Elasticsearch 7.9 and later install a built-in template that makes
	// every new logs-*-* index a data stream.
	s.templates["logs"] = map[string]any{
		"index_patterns": []any{"logs-*-*"}, "priority": json.Number("100"), "data_stream": map[string]any{},
		"composed_of": []any{"logs-mappings", "data-streams-mappings", "logs-settings"},
		"_meta":       map[string]any{"description": "default logs template installed by x-pack", "managed": true},
	}
	s.Add(docs...)
	var err error
	if s.Server, err = loopback.Serve(addr, http.HandlerFunc(s.serve)); err != nil {
		return nil, err
	}
	return s, nil
}

// Add adds documents, as Fluentd's bulk requests would.
func (s *Server) Add(docs ...Doc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range docs {
		s.made(d.Index)
	}
	s.docs = append(s.docs, docs...)
}

// made records a new index's settings from the template that matches it.
func (s *Server) made(index string) {
	if _, ok := s.lifecycle[index]; !ok {
		s.lifecycle[index] = lifecyclePolicy(s.templateFor(index))
	}
}

// Lifecycle returns the index.lifecycle.name of an index, "" for none.
func (s *Server) Lifecycle(index string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lifecycle[index]
}

// Reject makes the next n searches fail with 429, as a busy cluster's
// search thread pool does.
func (s *Server) Reject(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = n
}

// Requests returns how many requests of "METHOD /path" were served.
func (s *Server) Requests(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[key]
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// esError writes Elasticsearch's error body.
func esError(w http.ResponseWriter, status int, typ, reason string, extra map[string]any) {
	cause := map[string]any{"type": typ, "reason": reason}
	for k, v := range extra {
		cause[k] = v
	}
	body := map[string]any{"error": map[string]any{"root_cause": []any{cause}, "type": typ, "reason": reason}, "status": status}
	for k, v := range extra {
		body["error"].(map[string]any)[k] = v
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.Method+" "+r.URL.Path]++
	s.mu.Unlock()
	if s.User != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != s.User || p != s.Password {
			w.Header().Set("WWW-Authenticate", `Basic realm="security" charset="UTF-8"`)
			reason := "missing authentication credentials for REST request [" + r.URL.RequestURI() + "]"
			if ok {
				reason = "unable to authenticate user [" + u + "] for REST request [" + r.URL.RequestURI() + "]"
			}
			esError(w, http.StatusUnauthorized, "security_exception", reason, map[string]any{
				"header": map[string]any{"WWW-Authenticate": []string{`Basic realm="security" charset="UTF-8"`}},
			})
			return
		}
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		writeJSON(w, http.StatusOK, map[string]any{
			"name": "esfake-0", "cluster_name": "obsctl-test", "cluster_uuid": "esfake-cluster-uuid",
			"version": map[string]any{
				"number": "7.17.29", "build_flavor": "default", "build_type": "docker",
				"lucene_version": "8.11.3", "minimum_wire_compatibility_version": "6.8.0",
				"minimum_index_compatibility_version": "6.0.0-beta1",
			},
			"tagline": "You Know, for Search",
		})
	case len(parts) == 2 && parts[1] == "_search" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		s.search(w, r, parts[0])
	case len(parts) == 1 && parts[0] == "_search" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		s.search(w, r, "_all")
	case (r.URL.Path == "/_bulk" || (len(parts) == 2 && parts[1] == "_bulk")) && r.Method == http.MethodPost:
		target := ""
		if len(parts) == 2 {
			target = parts[0]
		}
		s.bulk(w, r, target)
	case parts[0] == "_data_stream" && len(parts) <= 2:
		s.dataStream(w, r, strings.Join(parts[1:], ""))
	case len(parts) >= 2 && len(parts) <= 3 && parts[1] == "_settings" && !strings.HasPrefix(parts[0], "_"):
		s.settings(w, r, parts[0], strings.Join(parts[2:], ""))
	case len(parts) == 2 && parts[1] == "_count" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		s.count(w, parts[0])
	case parts[0] == "_index_template" && len(parts) <= 2:
		s.indexTemplate(w, r, strings.Join(parts[1:], ""))
	case len(parts) >= 2 && len(parts) <= 3 && parts[0] == "_ilm" && parts[1] == "policy":
		s.ilmPolicy(w, r, strings.Join(parts[2:], ""))
	default:
		writeJSON(w, http.StatusBadRequest, map[string]any{
			"error":  "no handler found for uri [" + r.URL.RequestURI() + "] and method [" + r.Method + "]",
			"status": http.StatusBadRequest,
		})
	}
}

type searchBody struct {
	Query       map[string]any `json:"query"`
	Sort        []any          `json:"sort"`
	Size        *int           `json:"size"`
	From        int            `json:"from"`
	SearchAfter []any          `json:"search_after"`
}

func (s *Server) search(w http.ResponseWriter, r *http.Request, target string) {
	s.mu.Lock()
	if s.reject > 0 {
		s.reject--
		s.mu.Unlock()
		esError(w, http.StatusTooManyRequests, "es_rejected_execution_exception",
			"rejected execution of coordinating operation [search_coordinating] on EsThreadPoolExecutor[name = esfake-0/search, queue capacity = 1000]", nil)
		return
	}
	docs := slices.Clone(s.docs)
	s.mu.Unlock()

	var body searchBody
	data, err := io.ReadAll(r.Body)
	if err != nil {
		esError(w, http.StatusBadRequest, "parse_exception", err.Error(), nil)
		return
	}
	if len(bytes.TrimSpace(data)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil {
			esError(w, http.StatusBadRequest, "parsing_exception", "request body is not a search request: "+err.Error(), nil)
			return
		}
	}
	ignoreUnavailable := r.URL.Query().Get("ignore_unavailable") == "true"
	in, missing := s.indices(docs, target)
	if missing != "" && !ignoreUnavailable {
		esError(w, http.StatusNotFound, "index_not_found_exception", "no such index ["+missing+"]", map[string]any{
			"resource.type": "index_or_alias", "resource.id": missing, "index_uuid": "_na_", "index": missing,
		})
		return
	}
	var hits []hit
	for i, d := range docs {
		if !in[d.Index] {
			continue
		}
		ok := true
		if body.Query != nil {
			if ok, err = s.matches(body.Query, d); err != nil {
				esError(w, http.StatusBadRequest, "parsing_exception", err.Error(), nil)
				return
			}
		}
		if ok {
			hits = append(hits, hit{doc: d, ord: i})
		}
	}
	sorts, err := parseSort(body.Sort)
	if err != nil {
		esError(w, http.StatusBadRequest, "parsing_exception", err.Error(), nil)
		return
	}
	for i := range hits {
		hits[i].sort = make([]any, len(sorts))
		for j, so := range sorts {
			hits[i].sort[j] = sortValue(hits[i], so.field)
		}
	}
	slices.SortStableFunc(hits, func(a, b hit) int {
		for j, so := range sorts {
			if c := compareValues(a.sort[j], b.sort[j]); c != 0 {
				if so.desc {
					return -c
				}
				return c
			}
		}
		return 0
	})
	total := len(hits)
	if len(body.SearchAfter) > 0 {
		if len(body.SearchAfter) != len(sorts) {
			esError(w, http.StatusBadRequest, "illegal_argument_exception",
				fmt.Sprintf("search_after has %d value(s) but sort has %d.", len(body.SearchAfter), len(sorts)), nil)
			return
		}
		after := make([]any, len(body.SearchAfter))
		for j, v := range body.SearchAfter {
			after[j] = normalize(v)
		}
		k := 0
		for k < len(hits) && !isAfter(hits[k].sort, after, sorts) {
			k++
		}
		hits = hits[k:]
	}
	size := 10
	if body.Size != nil {
		size = *body.Size
	}
	from := min(body.From, len(hits))
	hits = hits[from:]
	if len(hits) > size {
		hits = hits[:size]
	}
	out := make([]any, 0, len(hits))
	for _, h := range hits {
		o := map[string]any{"_index": h.doc.Index, "_type": "_doc", "_id": h.doc.ID, "_score": nil, "_source": h.doc.Source}
		if len(sorts) > 0 {
			o["sort"] = h.sort
		}
		out = append(out, o)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"took": 1, "timed_out": false,
		"_shards": map[string]any{"total": 1, "successful": 1, "skipped": 0, "failed": 0},
		"hits":    map[string]any{"total": map[string]any{"value": total, "relation": "eq"}, "max_score": nil, "hits": out},
	})
}

type hit struct {
	doc  Doc
	ord  int
	sort []any
}

// indices resolves a comma-separated target of names and wildcards to
// the indices held, and returns the first concrete name not held.
func (s *Server) indices(docs []Doc, target string) (map[string]bool, string) {
	held := map[string]bool{}
	for _, d := range docs {
		held[d.Index] = true
	}
	in := map[string]bool{}
	missing := ""
	for _, t := range strings.Split(target, ",") {
		switch {
		case t == "_all" || t == "*":
			for n := range held {
				in[n] = true
			}
		case strings.ContainsAny(t, "*?"):
			for n := range held {
				if ok, _ := path.Match(t, n); ok {
					in[n] = true
				}
			}
		case held[t]:
			in[t] = true
		case missing == "":
			missing = t
		}
	}
	return in, missing
}

// fieldValues returns the values of a field of d: _index and _id, or a path in
// the source (nested objects, or a key with dots); f.keyword is f.
func fieldValues(d Doc, name string) []any {
	switch name {
	case "_index":
		return []any{d.Index}
	case "_id":
		return []any{d.ID}
	}
	if v, ok := lookup(d.Source, name); ok {
		return flatten(v)
	}
	if base, ok := strings.CutSuffix(name, ".keyword"); ok {
		if v, ok := lookup(d.Source, base); ok {
			if _, isString := v.(string); isString {
				return flatten(v)
			}
		}
	}
	return nil
}

func lookup(m map[string]any, name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for i := 0; i < len(name); i++ {
		if name[i] != '.' {
			continue
		}
		if sub, ok := m[name[:i]].(map[string]any); ok {
			if v, ok := lookup(sub, name[i+1:]); ok {
				return v, true
			}
		}
	}
	return nil, false
}

func flatten(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// matches evaluates a query on d.
func (s *Server) matches(q map[string]any, d Doc) (bool, error) {
	if len(q) != 1 {
		return false, fmt.Errorf("[_na] query malformed, must start with start_object")
	}
	for kind, body := range q {
		switch kind {
		case "match_all":
			return true, nil
		case "match_none":
			return false, nil
		case "bool":
			return s.boolQuery(body, d)
		case "term", "terms", "range", "wildcard", "prefix", "exists":
			return s.leaf(kind, body, d)
		default:
			return false, fmt.Errorf("unknown query [%s]", kind)
		}
	}
	return false, nil
}

func clauses(v any) []map[string]any {
	switch v := v.(type) {
	case map[string]any:
		return []map[string]any{v}
	case []any:
		var out []map[string]any
		for _, c := range v {
			if m, ok := c.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

func (s *Server) boolQuery(body any, d Doc) (bool, error) {
	b, ok := body.(map[string]any)
	if !ok {
		return false, fmt.Errorf("[bool] query malformed")
	}
	for k := range b {
		switch k {
		case "filter", "must", "must_not", "should", "minimum_should_match", "boost", "_name", "adjust_pure_negative":
		default:
			return false, fmt.Errorf("[bool] query does not support [%s]", k)
		}
	}
	for _, key := range []string{"filter", "must"} {
		for _, c := range clauses(b[key]) {
			if ok, err := s.matches(c, d); err != nil || !ok {
				return false, err
			}
		}
	}
	for _, c := range clauses(b["must_not"]) {
		if ok, err := s.matches(c, d); err != nil || ok {
			return false, err
		}
	}
	should := clauses(b["should"])
	need := 0
	if len(should) > 0 && len(clauses(b["filter"])) == 0 && len(clauses(b["must"])) == 0 {
		need = 1
	}
	if m, ok := b["minimum_should_match"]; ok {
		n, err := strconv.Atoi(str(m))
		if err != nil {
			return false, fmt.Errorf("[bool] minimum_should_match [%v] is not a number", m)
		}
		need = n
	}
	got := 0
	for _, c := range should {
		ok, err := s.matches(c, d)
		if err != nil {
			return false, err
		}
		if ok {
			got++
		}
	}
	return got >= need, nil
}

// leaf evaluates term, terms, range, wildcard, prefix and exists.
func (s *Server) leaf(kind string, body any, d Doc) (bool, error) {
	m, ok := body.(map[string]any)
	if !ok {
		return false, fmt.Errorf("[%s] query malformed", kind)
	}
	if kind == "exists" {
		return len(fieldValues(d, str(m["field"]))) > 0, nil
	}
	var name string
	var arg any
	for k, v := range m {
		if k == "boost" || k == "_name" {
			continue
		}
		if name != "" {
			return false, fmt.Errorf("[%s] query doesn't support multiple fields, found [%s] and [%s]", kind, name, k)
		}
		name, arg = k, v
	}
	values := fieldValues(d, name)
	switch kind {
	case "term", "wildcard", "prefix":
		want := arg
		if o, ok := arg.(map[string]any); ok {
			want = o["value"]
			if kind == "wildcard" && want == nil {
				want = o["wildcard"]
			}
		}
		for _, v := range values {
			switch kind {
			case "term":
				if str(v) == str(want) {
					return true, nil
				}
			case "prefix":
				if strings.HasPrefix(str(v), str(want)) {
					return true, nil
				}
			case "wildcard":
				if wildcard(str(want)).MatchString(str(v)) {
					return true, nil
				}
			}
		}
		return false, nil
	case "terms":
		list, ok := arg.([]any)
		if !ok {
			return false, fmt.Errorf("[terms] query does not support [%s]", name)
		}
		for _, v := range values {
			for _, w := range list {
				if str(v) == str(w) {
					return true, nil
				}
			}
		}
		return false, nil
	case "range":
		o, ok := arg.(map[string]any)
		if !ok {
			return false, fmt.Errorf("[range] query malformed, no start_object after query name")
		}
		for _, v := range values {
			ok, err := s.inRange(v, o)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	return false, nil
}

func wildcard(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for _, r := range p {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func (s *Server) inRange(v any, o map[string]any) (bool, error) {
	x, isTime := s.timeOf(v)
	// from and to, with include_lower and include_upper (true unless
	// false), are the older form of gte and lte that clients still send.
	bounds := map[string]any{}
	for op, bound := range o {
		switch op {
		case "format", "time_zone", "boost", "include_lower", "include_upper":
		case "from", "to":
			if bound == nil {
				continue
			}
			incl := o["include_lower"]
			op2 := "gte"
			if op == "to" {
				incl, op2 = o["include_upper"], "lte"
			}
			if b, ok := incl.(bool); ok && !b {
				op2 = op2[:2]
			}
			bounds[op2] = bound
		default:
			bounds[op] = bound
		}
	}
	for op, bound := range bounds {
		var c int
		if isTime {
			b, ok := s.timeOf(bound)
			if !ok {
				return false, fmt.Errorf("failed to parse date field [%v]", bound)
			}
			c = x.Compare(b)
		} else {
			c = compareValues(normalize(v), normalize(bound))
		}
		switch op {
		case "gte":
			if c < 0 {
				return false, nil
			}
		case "gt":
			if c <= 0 {
				return false, nil
			}
		case "lte":
			if c > 0 {
				return false, nil
			}
		case "lt":
			if c >= 0 {
				return false, nil
			}
		default:
			return false, fmt.Errorf("[range] query does not support [%s]", op)
		}
	}
	return true, nil
}

var dateMath = regexp.MustCompile(`^now(?:([+-])(\d+)([smhdw]))?(?:/[smhdwMy])?$`)

// timeOf reads a date: now with date math (now-1h), RFC 3339, or epoch
// milliseconds.
func (s *Server) timeOf(v any) (time.Time, bool) {
	t := str(v)
	if m := dateMath.FindStringSubmatch(t); m != nil {
		now := s.now()
		if m[1] != "" {
			n, _ := strconv.Atoi(m[2])
			unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[3]]
			d := time.Duration(n) * unit
			if m[1] == "-" {
				d = -d
			}
			now = now.Add(d)
		}
		return now, true
	}
	if tt, err := time.Parse(time.RFC3339Nano, t); err == nil {
		return tt, true
	}
	if ms, err := strconv.ParseInt(t, 10, 64); err == nil {
		return time.UnixMilli(ms), true
	}
	return time.Time{}, false
}

type sortKey struct {
	field string
	desc  bool
}

func parseSort(raw []any) ([]sortKey, error) {
	var out []sortKey
	for _, s := range raw {
		switch s := s.(type) {
		case string:
			out = append(out, sortKey{field: s})
		case map[string]any:
			for f, o := range s {
				k := sortKey{field: f}
				switch o := o.(type) {
				case string:
					k.desc = o == "desc"
				case map[string]any:
					k.desc = str(o["order"]) == "desc"
				}
				out = append(out, k)
			}
		default:
			return nil, fmt.Errorf("[sort] malformed")
		}
	}
	return out, nil
}

// sortValue is a hit's value for a sort field: _doc its place, a date
// epoch milliseconds, a number a float, else a string; missing sorts last.
func sortValue(h hit, field string) any {
	if field == "_doc" {
		return int64(h.ord)
	}
	vals := fieldValues(h.doc, field)
	if len(vals) == 0 {
		return nil
	}
	v := vals[0]
	if s, ok := v.(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t.UnixMilli()
		}
		return s
	}
	return normalize(v)
}

// normalize makes JSON numbers int64 or float64, for comparing.
func normalize(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case float64:
		if v == float64(int64(v)) {
			return int64(v)
		}
	case int:
		return int64(v)
	}
	return v
}

func compareValues(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	switch a := a.(type) {
	case int64:
		switch b := b.(type) {
		case int64:
			return cmp.Compare(a, b)
		case float64:
			return cmp.Compare(float64(a), b)
		}
	case float64:
		switch b := b.(type) {
		case int64:
			return cmp.Compare(a, float64(b))
		case float64:
			return cmp.Compare(a, b)
		}
	}
	return strings.Compare(str(a), str(b))
}

// isAfter reports whether values come after the search_after values in
// the sort's order.
func isAfter(values, after []any, sorts []sortKey) bool {
	for j := range sorts {
		c := compareValues(values[j], after[j])
		if sorts[j].desc {
			c = -c
		}
		if c != 0 {
			return c > 0
		}
	}
	return false
}

func readBody(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	var body map[string]any
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		esError(w, http.StatusBadRequest, "parse_exception", "request body is required: "+err.Error(), nil)
		return nil, false
	}
	return body, true
}

// indexTemplate serves /_index_template[/name] (composable templates).
func (s *Server) indexTemplate(w http.ResponseWriter, r *http.Request, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.Method {
	case http.MethodPut, http.MethodPost:
		if name == "" {
			writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "Incorrect HTTP method for uri [/_index_template] and method [PUT], allowed: [GET]", "status": 405})
			return
		}
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		patterns, _ := body["index_patterns"].([]any)
		if len(patterns) == 0 {
			esError(w, http.StatusBadRequest, "action_request_validation_exception", "Validation Failed: 1: index patterns are missing;", nil)
			return
		}
		for k := range body {
			switch k {
			case "index_patterns", "priority", "_meta", "template", "composed_of", "version", "data_stream", "allow_auto_create":
			default:
				esError(w, http.StatusBadRequest, "x_content_parse_exception", "[1:2] [index_template] unknown field ["+k+"]", nil)
				return
			}
		}
		for other, t := range s.templates {
			if other == name || str(t["priority"]) != str(body["priority"]) {
				continue
			}
			for _, p := range patterns {
				for _, q := range t["index_patterns"].([]any) {
					if globsIntersect(fmt.Sprint(p), fmt.Sprint(q)) {
						esError(w, http.StatusBadRequest, "illegal_argument_exception", fmt.Sprintf(
							"index template [%s] has index patterns %v matching patterns from existing templates [%s] with patterns (%s => %v) that have the same priority [%v], multiple index templates may not match during index creation, please use a different priority",
							name, patterns, other, other, t["index_patterns"], str(body["priority"])), nil)
						return
					}
				}
			}
		}
		s.templates[name] = body
		writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true})
	case http.MethodGet, http.MethodHead:
		var out []any
		for _, n := range slices.Sorted(maps.Keys(s.templates)) {
			if name == "" || n == name || (strings.Contains(name, "*") && wildcard(name).MatchString(n)) {
				out = append(out, map[string]any{"name": n, "index_template": s.templates[n]})
			}
		}
		if len(out) == 0 && name != "" && !strings.Contains(name, "*") {
			esError(w, http.StatusNotFound, "resource_not_found_exception", "index template matching ["+name+"] not found", nil)
			return
		}
		if out == nil {
			out = []any{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"index_templates": out})
	case http.MethodDelete:
		if _, ok := s.templates[name]; !ok {
			esError(w, http.StatusNotFound, "resource_not_found_exception", "index_template ["+name+"] missing", nil)
			return
		}
		delete(s.templates, name)
		writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true})
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "Incorrect HTTP method for uri [" + r.URL.Path + "] and method [" + r.Method + "]", "status": 405})
	}
}

// policyUsers returns the indices and the templates that name the policy:
// an index uses the policy its settings name.
func (s *Server) policyUsers(name string) (indices, templates []string) {
	for _, t := range slices.Sorted(maps.Keys(s.templates)) {
		if lifecyclePolicy(s.templates[t]) == name {
			templates = append(templates, t)
		}
	}
	for index, p := range s.lifecycle {
		if p == name {
			indices = append(indices, index)
		}
	}
	slices.Sort(indices)
	return indices, templates
}

func lifecyclePolicy(t map[string]any) string {
	tpl, _ := t["template"].(map[string]any)
	set, _ := tpl["settings"].(map[string]any)
	if v, ok := set["index.lifecycle.name"]; ok {
		return str(v)
	}
	idx, _ := set["index"].(map[string]any)
	lc, _ := idx["lifecycle"].(map[string]any)
	if v, ok := lc["name"]; ok {
		return str(v)
	}
	return ""
}

// ilmPolicy serves /_ilm/policy[/name].
func (s *Server) ilmPolicy(w http.ResponseWriter, r *http.Request, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.Method {
	case http.MethodPut:
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		pol, ok := body["policy"].(map[string]any)
		if !ok || name == "" {
			esError(w, http.StatusBadRequest, "parse_exception", "request body or source parameter is required", nil)
			return
		}
		prev := s.policies[name]
		s.policies[name] = policy{body: pol, version: prev.version + 1, modified: s.now()}
		writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true})
	case http.MethodGet:
		out := map[string]any{}
		for n, p := range s.policies {
			if name != "" && n != name {
				continue
			}
			indices, templates := s.policyUsers(n)
			out[n] = map[string]any{
				"version": p.version, "modified_date": p.modified.UTC().Format(time.RFC3339Nano), "policy": p.body,
				"in_use_by": map[string]any{"indices": nonNil(indices), "data_streams": []string{}, "composable_templates": nonNil(templates)},
			}
		}
		if name != "" && len(out) == 0 {
			esError(w, http.StatusNotFound, "resource_not_found_exception", "Lifecycle policy not found: "+name, nil)
			return
		}
		writeJSON(w, http.StatusOK, out)
	case http.MethodDelete:
		if _, ok := s.policies[name]; !ok {
			esError(w, http.StatusNotFound, "resource_not_found_exception", "Lifecycle policy not found: "+name, nil)
			return
		}
		if indices, _ := s.policyUsers(name); len(indices) > 0 {
			esError(w, http.StatusBadRequest, "illegal_argument_exception",
				fmt.Sprintf("Cannot delete policy [%s]. It is in use by one or more indices: %v", name, indices), nil)
			return
		}
		delete(s.policies, name)
		writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true})
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "Incorrect HTTP method for uri [" + r.URL.Path + "] and method [" + r.Method + "]", "status": 405})
	}
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// Template returns an index template put, or nil.
func (s *Server) Template(name string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.templates[name]
}

// Policy returns an ILM policy put, or nil.
func (s *Server) Policy(name string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policies[name].body
}

// bulk serves the bulk API as Fluentd's elasticsearch output calls it:
// index (or create) actions with their sources. A new index is made as
// the highest-priority composable template matching its name says: a
// data stream, which takes create only (the built-in logs-*-* template),
// or a plain index with the template's mappings, whose keyword fields
// refuse an object.
func (s *Server) bulk(w http.ResponseWriter, r *http.Request, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var items []any
	failed := false
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(nil, 10<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var action map[string]map[string]any
		if err := json.Unmarshal(line, &action); err != nil || len(action) != 1 {
			esError(w, http.StatusBadRequest, "illegal_argument_exception", "Malformed action/metadata line", nil)
			return
		}
		if !sc.Scan() {
			esError(w, http.StatusBadRequest, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]", nil)
			return
		}
		var src map[string]any
		if err := json.Unmarshal(sc.Bytes(), &src); err != nil {
			esError(w, http.StatusBadRequest, "mapper_parsing_exception", "failed to parse", nil)
			return
		}
		for op, meta := range action {
			index := cmpOr(str(meta["_index"]), target)
			id := str(meta["_id"])
			if meta["_id"] == nil {
				id = fmt.Sprintf("esfake-%d", len(s.docs)+1)
			}
			item := map[string]any{"_index": index, "_id": id}
			if errType, reason := s.refuse(op, index, id, src); errType != "" {
				item["status"] = http.StatusBadRequest
				item["error"] = map[string]any{"type": errType, "reason": reason}
				failed = true
			} else {
				item["status"] = http.StatusCreated
				item["result"] = "created"
				s.made(index)
				s.docs = append(s.docs, Doc{Index: index, ID: id, Source: src})
			}
			items = append(items, map[string]any{op: item})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"took": 1, "errors": failed, "items": items})
}

func cmpOr(a, b string) string {
	if a != "" && a != "<nil>" {
		return a
	}
	return b
}

// refuse says why a bulk action is refused, or "".
func (s *Server) refuse(op, index, id string, src map[string]any) (string, string) {
	exists := false
	for _, d := range s.docs {
		if d.Index == index {
			exists = true
			break
		}
	}
	tpl := s.templateFor(index)
	if s.streams[index] || (!exists && tpl != nil && tpl["data_stream"] != nil) {
		// The write makes the data stream, whether or not it is taken.
		s.streams[index] = true
		if op != "create" {
			return "illegal_argument_exception", "only write ops with an op_type of create are allowed in data streams"
		}
		return "", ""
	}
	if tpl == nil || exists && tpl["data_stream"] != nil {
		return "", ""
	}
	t, _ := tpl["template"].(map[string]any)
	m, _ := t["mappings"].(map[string]any)
	props, _ := m["properties"].(map[string]any)
	for field, def := range props {
		d, _ := def.(map[string]any)
		if str(d["type"]) != "keyword" {
			continue
		}
		if v, ok := src[field]; ok {
			if _, object := v.(map[string]any); object {
				b, _ := json.Marshal(v)
				return "mapper_parsing_exception", fmt.Sprintf("failed to parse field [%s] of type [keyword] in document with id '%s'. Preview of field's value: '%s'", field, id, b)
			}
		}
	}
	return "", ""
}

// templateFor returns the composable template of the highest priority
// whose patterns match index, or nil.
func (s *Server) templateFor(index string) map[string]any {
	var best map[string]any
	prio := int64(-1)
	for _, t := range s.templates {
		for _, p := range t["index_patterns"].([]any) {
			if wildcard(str(p)).MatchString(index) {
				if pr, _ := normalize(t["priority"]).(int64); pr > prio {
					best, prio = t, pr
				}
			}
		}
	}
	return best
}

// dataStream serves /_data_stream[/name]: GET (names and wildcards) and
// DELETE of the data streams writes made.
func (s *Server) dataStream(w http.ResponseWriter, r *http.Request, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	match := func(n string) bool {
		return name == "" || name == "*" || n == name || (strings.Contains(name, "*") && wildcard(name).MatchString(n))
	}
	switch r.Method {
	case http.MethodGet:
		out := []any{}
		for _, n := range slices.Sorted(maps.Keys(s.streams)) {
			if match(n) {
				out = append(out, map[string]any{
					"name": n, "timestamp_field": map[string]any{"name": "@timestamp"},
					"indices":    []any{map[string]any{"index_name": ".ds-" + n + "-000001", "index_uuid": "esfake"}},
					"generation": 1, "status": "GREEN", "template": "logs", "ilm_policy": "logs", "hidden": false, "system": false,
				})
			}
		}
		if len(out) == 0 && name != "" && !strings.Contains(name, "*") {
			esError(w, http.StatusNotFound, "index_not_found_exception", "no such index ["+name+"]", map[string]any{"resource.type": "index_or_alias", "resource.id": name, "index": name})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data_streams": out})
	case http.MethodDelete:
		var gone []string
		for n := range s.streams {
			if match(n) {
				gone = append(gone, n)
			}
		}
		if len(gone) == 0 && !strings.Contains(name, "*") {
			esError(w, http.StatusNotFound, "index_not_found_exception", "no such index ["+name+"]", map[string]any{"resource.type": "index_or_alias", "resource.id": name, "index": name})
			return
		}
		for _, n := range gone {
			delete(s.streams, n)
			s.docs = slices.DeleteFunc(s.docs, func(d Doc) bool { return d.Index == n })
		}
		writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true})
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "Incorrect HTTP method for uri [" + r.URL.Path + "] and method [" + r.Method + "]", "status": 405})
	}
}

// count serves /<indices>/_count.
func (s *Server) count(w http.ResponseWriter, target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range strings.Split(target, ",") {
		for _, d := range s.docs {
			if d.Index == t || (strings.Contains(t, "*") && wildcard(t).MatchString(d.Index)) {
				n++
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": n, "_shards": map[string]any{"total": 1, "successful": 1, "skipped": 0, "failed": 0}})
}

// globsIntersect reports whether some name matches both index patterns
// (* matches any run of characters), as Elasticsearch finds two
// templates' patterns overlapping by intersecting their automatons.
func globsIntersect(p, q string) bool {
	type pos struct{ i, j int }
	seen := map[pos]bool{}
	var walk func(i, j int) bool
	walk = func(i, j int) bool {
		if seen[pos{i, j}] {
			return false
		}
		seen[pos{i, j}] = true
		switch {
		case i == len(p) && j == len(q):
			return true
		case i < len(p) && p[i] == '*':
			// The star matches nothing more, or what q has next.
			return walk(i+1, j) || j < len(q) && walk(i, j+1)
		case j < len(q) && q[j] == '*':
			return walk(i, j+1) || i < len(p) && walk(i+1, j)
		case i < len(p) && j < len(q) && p[i] == q[j]:
			return walk(i+1, j+1)
		}
		return false
	}
	return walk(0, 0)
}

// settings serves GET /{target}/_settings[/{name}] and PUT
// /{target}/_settings, for the one setting obsctl reads and writes,
// index.lifecycle.name.
func (s *Server) settings(w http.ResponseWriter, r *http.Request, target, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, missing := s.indices(s.docs, target)
	if missing != "" {
		esError(w, http.StatusNotFound, "index_not_found_exception", "no such index ["+missing+"]", map[string]any{
			"resource.type": "index_or_alias", "resource.id": missing, "index_uuid": "_na_", "index": missing,
		})
		return
	}
	flat := r.URL.Query().Get("flat_settings") == "true"
	switch r.Method {
	case http.MethodGet:
		out := map[string]any{}
		for index := range in {
			set := map[string]any{}
			p := s.lifecycle[index]
			if p != "" && (name == "" || wildcard(name).MatchString("index.lifecycle.name")) {
				if flat {
					set["index.lifecycle.name"] = p
				} else {
					set["index"] = map[string]any{"lifecycle": map[string]any{"name": p}}
				}
			}
			out[index] = map[string]any{"settings": set}
		}
		writeJSON(w, http.StatusOK, out)
	case http.MethodPut:
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		p, set := "", false
		if v, ok := body["index.lifecycle.name"]; ok {
			p, set = str(v), true
		} else if idx, ok := body["index"].(map[string]any); ok {
			if lc, ok := idx["lifecycle"].(map[string]any); ok {
				if v, ok := lc["name"]; ok {
					p, set = str(v), true
				}
			}
		}
		if !set {
			esError(w, http.StatusBadRequest, "illegal_argument_exception", "esfake: only index.lifecycle.name can be set", nil)
			return
		}
		for index := range in {
			s.lifecycle[index] = p
		}
		writeJSON(w, http.StatusOK, map[string]any{"acknowledged": true})
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "Incorrect HTTP method for uri [" + r.URL.Path + "] and method [" + r.Method + "]", "status": 405})
	}
}
