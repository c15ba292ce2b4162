// Package grafanafake is a local server that answers as Grafana's HTTP API
// does for the calls obsctl makes through grafana-tools/sdk: GET
// /api/dashboards/uid/:uid and POST /api/dashboards/db, with Grafana's
// error answers (401 without the right credentials, 404 for a dashboard
// or route it does not know, 412 when a save is based on an older
// version). As Grafana does, it keeps a dashboard as a JSON object (its
// keys in no order of the file's), gives it a numeric id, a version that
// each save raises and an iteration, and migrates it to its own
// schemaVersion.
package grafanafake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/obsctl/obsctl/test/loopback"
)

// SchemaVersion is the dashboard schema the stand-in migrates to.
const SchemaVersion = 41

// Server is a running stand-in.
type Server struct {
	*httptest.Server
	// Token is the API token (a service account's) it takes as a Bearer;
	// User and Password the basic-auth pair. Neither set: no auth.
	Token, User, Password string

	mu     sync.Mutex
	boards map[string]map[string]any
	nextID int
}

// Start serves on addr (127.0.0.1:0 when empty).
func Start(addr string) (*Server, error) {
	s := &Server{boards: map[string]map[string]any{}, nextID: 1}
	var err error
	if s.Server, err = loopback.Serve(addr, http.HandlerFunc(s.serve)); err != nil {
		return nil, err
	}
	return s, nil
}

// Board returns the stored dashboard of uid, or nil.
func (s *Server) Board(uid string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.boards[uid]
}

// Edit changes a stored dashboard as a user saving it in the UI would:
// its version goes up.
func (s *Server) Edit(uid string, edit func(map[string]any)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.boards[uid]; b != nil {
		edit(b)
		b["version"] = number(b["version"]) + 1
	}
}

func number(v any) int {
	switch v := v.(type) {
	case float64:
		return int(v)
	case int:
		return v
	case json.Number:
		n, _ := v.Int64()
		return int(n)
	}
	return 0
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) authorized(r *http.Request) bool {
	switch {
	case s.Token != "":
		return r.Header.Get("Authorization") == "Bearer "+s.Token
	case s.User != "":
		u, p, ok := r.BasicAuth()
		return ok && u == s.User && p == s.Password
	}
	return true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		reply(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized", "messageId": "auth.unauthorized", "statusCode": 401})
		return
	}
	switch uid, ok := strings.CutPrefix(r.URL.Path, "/api/dashboards/uid/"); {
	case ok && r.Method == http.MethodGet:
		s.mu.Lock()
		b := s.boards[uid]
		s.mu.Unlock()
		if b == nil {
			reply(w, http.StatusNotFound, map[string]any{"message": "Dashboard not found", "messageId": "dashboards.notFound", "statusCode": 404})
			return
		}
		reply(w, http.StatusOK, map[string]any{"dashboard": b, "meta": map[string]any{
			"type": "db", "canSave": true, "slug": strings.ToLower(strings.ReplaceAll(b["title"].(string), " ", "-")),
			"url": "/d/" + uid, "version": b["version"], "provisioned": false, "created": time.Unix(0, 0).UTC().Format(time.RFC3339),
		}})
	case r.URL.Path == "/api/dashboards/db" && r.Method == http.MethodPost:
		var req struct {
			Dashboard map[string]any `json:"dashboard"`
			Overwrite bool           `json:"overwrite"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Dashboard == nil {
			reply(w, http.StatusBadRequest, map[string]any{"message": "bad request data"})
			return
		}
		uid, _ := req.Dashboard["uid"].(string)
		if uid == "" {
			reply(w, http.StatusBadRequest, map[string]any{"message": "Dashboard UID is required here"})
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		cur := s.boards[uid]
		b := req.Dashboard
		switch {
		case cur == nil:
			b["id"], b["version"] = s.nextID, 1
			s.nextID++
		case !req.Overwrite && number(b["version"]) != number(cur["version"]):
			reply(w, http.StatusPreconditionFailed, map[string]any{"status": "version-mismatch", "message": "The dashboard has been changed by someone else"})
			return
		default:
			b["id"], b["version"] = cur["id"], number(cur["version"])+1
		}
		b["iteration"] = time.Now().UnixMilli()
		b["schemaVersion"] = SchemaVersion
		s.boards[uid] = b
		reply(w, http.StatusOK, map[string]any{"id": b["id"], "uid": uid, "url": "/d/" + uid, "status": "success", "version": b["version"], "slug": uid})
	default:
		reply(w, http.StatusNotFound, map[string]any{"message": "Not found"})
	}
}
