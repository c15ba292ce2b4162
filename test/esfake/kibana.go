package esfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/obsctl/obsctl/test/loopback"
)

// Kibana is a local HTTP server that answers as Kibana 7.17's saved
// objects API does for index patterns (GET, POST with overwrite, DELETE
// /api/saved_objects/index-pattern/<id> and GET /api/saved_objects/_find),
// with its errors: 400 without the kbn-xsrf header on a write, 409 when an
// object exists and overwrite is not set, 404 for one that does not, 401
// without the credentials it was given.
type Kibana struct {
	*httptest.Server
	mu       sync.Mutex
	User     string
	Password string
	patterns map[string]map[string]any // id -> attributes
	writes   int
}

// StartKibana serves on addr (127.0.0.1:0 when empty).
func StartKibana(addr string) (*Kibana, error) {
	k := &Kibana{patterns: map[string]map[string]any{}}
	var err error
	if k.Server, err = loopback.Serve(addr, http.HandlerFunc(k.serve)); err != nil {
		return nil, err
	}
	return k, nil
}

// Pattern returns an index pattern's attributes, or nil.
func (k *Kibana) Pattern(id string) map[string]any {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.patterns[id]
}

// Writes counts the writes (creates, overwrites, deletes) served.
func (k *Kibana) Writes() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.writes
}

func kbError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"statusCode": status, "error": http.StatusText(status), "message": msg})
}

func (k *Kibana) serve(w http.ResponseWriter, r *http.Request) {
	if k.User != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != k.User || p != k.Password {
			kbError(w, http.StatusUnauthorized, "[security_exception]: unable to authenticate user for REST request")
			return
		}
	}
	if r.Method != http.MethodGet && r.Header.Get("kbn-xsrf") == "" {
		kbError(w, http.StatusBadRequest, "Request must contain a kbn-xsrf header.")
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	const prefix = "/api/saved_objects/index-pattern/"
	switch {
	case r.URL.Path == "/api/saved_objects/_find" && r.Method == http.MethodGet:
		if r.URL.Query().Get("type") != "index-pattern" {
			kbError(w, http.StatusBadRequest, "[request query.type]: expected value of type [string] but got [undefined]")
			return
		}
		perPage, err := strconv.Atoi(r.URL.Query().Get("per_page"))
		if err != nil || perPage <= 0 {
			perPage = 20
		}
		page, err := strconv.Atoi(r.URL.Query().Get("page"))
		if err != nil || page <= 0 {
			page = 1
		}
		ids := slices.Sorted(func(yield func(string) bool) {
			for id := range k.patterns {
				if !yield(id) {
					return
				}
			}
		})
		from, to := min((page-1)*perPage, len(ids)), min(page*perPage, len(ids))
		objs := []any{}
		for _, id := range ids[from:to] {
			objs = append(objs, k.object(id))
		}
		writeJSON(w, http.StatusOK, map[string]any{"page": page, "per_page": perPage, "total": len(ids), "saved_objects": objs})
	case strings.HasPrefix(r.URL.Path, prefix) && len(r.URL.Path) > len(prefix):
		id := strings.TrimPrefix(r.URL.Path, prefix)
		_, exists := k.patterns[id]
		switch r.Method {
		case http.MethodGet:
			if !exists {
				kbError(w, http.StatusNotFound, "Saved object [index-pattern/"+id+"] not found")
				return
			}
			writeJSON(w, http.StatusOK, k.object(id))
		case http.MethodPost:
			if exists && r.URL.Query().Get("overwrite") != "true" {
				kbError(w, http.StatusConflict, "Saved object [index-pattern/"+id+"] conflict")
				return
			}
			var body struct {
				Attributes map[string]any `json:"attributes"`
			}
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Attributes["title"] == nil {
				kbError(w, http.StatusBadRequest, "[request body.attributes.title]: expected value of type [string] but got [undefined]")
				return
			}
			k.patterns[id] = body.Attributes
			k.writes++
			writeJSON(w, http.StatusOK, k.object(id))
		case http.MethodDelete:
			if !exists {
				kbError(w, http.StatusNotFound, "Saved object [index-pattern/"+id+"] not found")
				return
			}
			delete(k.patterns, id)
			k.writes++
			writeJSON(w, http.StatusOK, map[string]any{})
		default:
			kbError(w, http.StatusNotFound, "Not Found")
		}
	default:
		kbError(w, http.StatusNotFound, "Not Found")
	}
}

func (k *Kibana) object(id string) map[string]any {
	return map[string]any{
		"id": id, "type": "index-pattern", "namespaces": []string{"default"},
		"updated_at": time.Now().UTC().Format(time.RFC3339Nano), "version": "WzEsMV0=",
		"attributes": k.patterns[id], "references": []any{},
		"migrationVersion": map[string]any{"index-pattern": "7.11.0"}, "coreMigrationVersion": "7.17.29",
	}
}
