// Package grafanafake is a local server that answers as Grafana's HTTP API
// does for the calls obsctl makes through grafana-tools/sdk: GET and
// DELETE /api/dashboards/uid/:uid, POST /api/dashboards/db, GET
// /api/search, GET and POST /api/folders, GET and POST /api/datasources
// and PUT /api/datasources/:id, with Grafana's error answers (401 without
// the right credentials, 403 for a token that may only read, 404 for what
// it does not know, 409 for a folder or datasource whose name or uid is
// taken, 412 when a save is based on an older version, 400 for a folder
// that does not exist). As Grafana does, it keeps a dashboard as a JSON
// object (its keys in no order of the file's), gives it a numeric id, a
// version that each save raises and an iteration, migrates it to its own
// schemaVersion, and keeps the folder it was saved in; it never gives a
// datasource's secureJsonData back, only which of its keys are set
// (secureJsonFields).
package grafanafake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
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
	// ReadOnly makes every write answer 403, as Grafana does for a
	// Viewer's token.
	ReadOnly bool

	mu          sync.Mutex
	boards      map[string]map[string]any
	boardFolder map[string]int // uid -> folder id, 0 for General
	folders     []Folder
	datasources []map[string]any
	nextID      int
	// Requests counts the requests by method and path (without the
	// query), such as "POST /api/dashboards/db".
	Requests map[string]int
	// BeforeSave, when set, runs before each dashboard save is looked at,
	// with the dashboard's uid: a test makes a concurrent edit there.
	BeforeSave func(uid string)
	// ProxyError, when set, is the status a proxy in front of Grafana
	// answers every dashboard save with, a JSON error without Grafana's
	// message field.
	ProxyError int
}

// Folder is one of the stand-in's folders.
type Folder struct {
	ID         int
	UID, Title string
}

// Start serves on addr (127.0.0.1:0 when empty).
func Start(addr string) (*Server, error) {
	s := &Server{boards: map[string]map[string]any{}, boardFolder: map[string]int{}, nextID: 1, Requests: map[string]int{}}
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

// AddBoard stores a dashboard as one made in Grafana's UI would be, in
// the folder of uid folderUID ("" for General).
func (s *Server) AddBoard(b map[string]any, folderUID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	uid, _ := b["uid"].(string)
	b["id"], b["version"] = s.nextID, 1
	s.nextID++
	s.boards[uid] = b
	for _, f := range s.folders {
		if f.UID == folderUID {
			s.boardFolder[uid] = f.ID
		}
	}
}

// AddFolder makes a folder as one made in Grafana's UI would be.
func (s *Server) AddFolder(uid, title string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.folders = append(s.folders, Folder{ID: s.nextID, UID: uid, Title: title})
	s.nextID++
}

// FolderOf returns the title of the folder dashboard uid is in, "" for
// General.
func (s *Server) FolderOf(uid string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.folderTitle(s.boardFolder[uid])
}

func (s *Server) folderTitle(id int) string {
	for _, f := range s.folders {
		if f.ID == id {
			return f.Title
		}
	}
	return ""
}

// Folders returns the folders' titles.
func (s *Server) Folders() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, f := range s.folders {
		out = append(out, f.Title)
	}
	return out
}

// Datasource returns the stored datasource of uid, with its secureJsonData
// (which the API never gives back), or nil.
func (s *Server) Datasource(uid string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.datasources {
		if d["uid"] == uid {
			return d
		}
	}
	return nil
}

// AddDatasource stores a datasource as one made in Grafana's UI would be.
func (s *Server) AddDatasource(d map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d["id"] = s.nextID
	s.nextID++
	s.datasources = append(s.datasources, d)
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
	s.mu.Lock()
	s.Requests[r.Method+" "+r.URL.Path]++
	s.mu.Unlock()
	if !s.authorized(r) {
		reply(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized", "messageId": "auth.unauthorized", "statusCode": 401})
		return
	}
	if s.ReadOnly && r.Method != http.MethodGet {
		reply(w, http.StatusForbidden, map[string]any{"message": "You'll need additional permissions to perform this action.", "accessErrorId": "ACE0000000001"})
		return
	}
	uid, isBoard := strings.CutPrefix(r.URL.Path, "/api/dashboards/uid/")
	dsID, isDatasource := strings.CutPrefix(r.URL.Path, "/api/datasources/")
	switch {
	case isBoard && r.Method == http.MethodGet:
		s.getBoard(w, uid)
	case isBoard && r.Method == http.MethodDelete:
		s.mu.Lock()
		defer s.mu.Unlock()
		b := s.boards[uid]
		if b == nil {
			reply(w, http.StatusNotFound, map[string]any{"message": "Dashboard not found", "messageId": "dashboards.notFound", "statusCode": 404})
			return
		}
		delete(s.boards, uid)
		delete(s.boardFolder, uid)
		reply(w, http.StatusOK, map[string]any{"title": b["title"], "message": fmt.Sprintf("Dashboard %s deleted", b["title"]), "id": b["id"], "uid": uid})
	case r.URL.Path == "/api/dashboards/db" && r.Method == http.MethodPost:
		s.saveBoard(w, r)
	case r.URL.Path == "/api/search" && r.Method == http.MethodGet:
		s.search(w, r)
	case r.URL.Path == "/api/folders" && r.Method == http.MethodGet:
		s.mu.Lock()
		defer s.mu.Unlock()
		out := []map[string]any{}
		for _, f := range s.folders {
			out = append(out, map[string]any{"id": f.ID, "uid": f.UID, "title": f.Title})
		}
		reply(w, http.StatusOK, out)
	case r.URL.Path == "/api/folders" && r.Method == http.MethodPost:
		s.createFolder(w, r)
	case r.URL.Path == "/api/datasources" && r.Method == http.MethodGet:
		s.mu.Lock()
		defer s.mu.Unlock()
		out := []map[string]any{}
		for _, d := range s.datasources {
			out = append(out, withoutSecrets(d))
		}
		reply(w, http.StatusOK, out)
	case r.URL.Path == "/api/datasources" && r.Method == http.MethodPost:
		s.saveDatasource(w, r, 0)
	case isDatasource && r.Method == http.MethodPut:
		id, err := strconv.Atoi(dsID)
		if err != nil {
			reply(w, http.StatusBadRequest, map[string]any{"message": "id is invalid"})
			return
		}
		s.saveDatasource(w, r, id)
	default:
		reply(w, http.StatusNotFound, map[string]any{"message": "Not found"})
	}
}

func (s *Server) getBoard(w http.ResponseWriter, uid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.boards[uid]
	if b == nil {
		reply(w, http.StatusNotFound, map[string]any{"message": "Dashboard not found", "messageId": "dashboards.notFound", "statusCode": 404})
		return
	}
	title, _ := b["title"].(string)
	folderID := s.boardFolder[uid]
	meta := map[string]any{
		"type": "db", "canSave": true, "slug": strings.ToLower(strings.ReplaceAll(title, " ", "-")),
		"url": "/d/" + uid, "version": b["version"], "provisioned": false, "created": time.Unix(0, 0).UTC().Format(time.RFC3339),
		"folderId": folderID, "folderTitle": "General", "folderUid": "",
	}
	for _, f := range s.folders {
		if f.ID == folderID {
			meta["folderTitle"], meta["folderUid"], meta["folderUrl"] = f.Title, f.UID, "/dashboards/f/"+f.UID
		}
	}
	reply(w, http.StatusOK, map[string]any{"dashboard": b, "meta": meta})
}

func (s *Server) saveBoard(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Dashboard map[string]any `json:"dashboard"`
		Overwrite bool           `json:"overwrite"`
		FolderID  int            `json:"folderId"`
		FolderUID string         `json:"folderUid"`
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
	if s.BeforeSave != nil {
		s.BeforeSave(uid)
	}
	if s.ProxyError != 0 {
		reply(w, s.ProxyError, map[string]any{"error": "upstream unavailable"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	folderID := -1
	for _, f := range s.folders {
		if req.FolderUID != "" && f.UID == req.FolderUID || req.FolderUID == "" && f.ID == req.FolderID {
			folderID = f.ID
		}
	}
	if req.FolderUID == "" && req.FolderID == 0 {
		folderID = 0
	}
	if folderID < 0 {
		reply(w, http.StatusBadRequest, map[string]any{"message": "folder not found", "status": "not-found"})
		return
	}
	cur := s.boards[uid]
	b := req.Dashboard
	for other, ob := range s.boards {
		if other != uid && ob["title"] == b["title"] && s.boardFolder[other] == folderID && !req.Overwrite {
			reply(w, http.StatusPreconditionFailed, map[string]any{"status": "name-exists", "message": "A dashboard with the same name in the folder already exists"})
			return
		}
	}
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
	s.boardFolder[uid] = folderID
	reply(w, http.StatusOK, map[string]any{"id": b["id"], "uid": uid, "url": "/d/" + uid, "status": "success", "version": b["version"], "slug": uid})
}

// search answers GET /api/search for dashboards (type=dash-db), by tag
// (every tag given), a page at a time (limit, page).
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if t := q.Get("type"); t != "" && t != "dash-db" {
		reply(w, http.StatusOK, []any{})
		return
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 1000
	}
	page, _ := strconv.Atoi(q.Get("page"))
	if page <= 0 {
		page = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var uids []string
	for uid, b := range s.boards {
		var tags []string
		list, _ := b["tags"].([]any)
		for _, t := range list {
			if t, ok := t.(string); ok {
				tags = append(tags, t)
			}
		}
		match := true
		for _, want := range q["tag"] {
			match = match && slices.Contains(tags, want)
		}
		if match {
			uids = append(uids, uid)
		}
	}
	slices.Sort(uids)
	out := []map[string]any{}
	for i, uid := range uids {
		if i < (page-1)*limit || i >= page*limit {
			continue
		}
		b := s.boards[uid]
		e := map[string]any{"id": b["id"], "uid": uid, "title": b["title"], "type": "dash-db", "url": "/d/" + uid, "tags": b["tags"]}
		if id := s.boardFolder[uid]; id != 0 {
			e["folderId"], e["folderTitle"] = id, s.folderTitle(id)
		}
		out = append(out, e)
	}
	reply(w, http.StatusOK, out)
}

func (s *Server) createFolder(w http.ResponseWriter, r *http.Request) {
	var req struct{ UID, Title string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Title == "" {
		reply(w, http.StatusBadRequest, map[string]any{"message": "bad request data"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.folders {
		if f.Title == req.Title || req.UID != "" && f.UID == req.UID {
			reply(w, http.StatusConflict, map[string]any{"message": "a folder with the same name already exists"})
			return
		}
	}
	if req.UID == "" {
		req.UID = fmt.Sprintf("f%d", s.nextID)
	}
	f := Folder{ID: s.nextID, UID: req.UID, Title: req.Title}
	s.nextID++
	s.folders = append(s.folders, f)
	reply(w, http.StatusOK, map[string]any{"id": f.ID, "uid": f.UID, "title": f.Title, "url": "/dashboards/f/" + f.UID, "version": 1})
}

// saveDatasource creates a datasource (id 0) or updates the one of id. As
// Grafana does, an update without secureJsonData keeps the secrets set.
func (s *Server) saveDatasource(w http.ResponseWriter, r *http.Request, id int) {
	var d map[string]any
	if err := json.NewDecoder(r.Body).Decode(&d); err != nil || d == nil {
		reply(w, http.StatusBadRequest, map[string]any{"message": "bad request data"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	at := -1
	for i, cur := range s.datasources {
		switch {
		case id != 0 && number(cur["id"]) == id:
			at = i
		case cur["name"] == d["name"] || d["uid"] != "" && cur["uid"] == d["uid"]:
			reply(w, http.StatusConflict, map[string]any{"message": "data source with the same name already exists"})
			return
		}
	}
	if id != 0 && at < 0 {
		reply(w, http.StatusNotFound, map[string]any{"message": "Data source not found"})
		return
	}
	if at >= 0 {
		if d["secureJsonData"] == nil {
			d["secureJsonData"] = s.datasources[at]["secureJsonData"]
		}
		d["id"] = id
		s.datasources[at] = d
		reply(w, http.StatusOK, map[string]any{"id": id, "name": d["name"], "message": "Datasource updated", "datasource": withoutSecrets(d)})
		return
	}
	d["id"] = s.nextID
	s.nextID++
	s.datasources = append(s.datasources, d)
	reply(w, http.StatusOK, map[string]any{"id": d["id"], "name": d["name"], "message": "Datasource added", "datasource": withoutSecrets(d)})
}

// withoutSecrets is a datasource as the API gives it: its secureJsonData
// left out, and which of its keys are set in secureJsonFields.
func withoutSecrets(d map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range d {
		if k != "secureJsonData" {
			out[k] = v
		}
	}
	fields := map[string]any{}
	if sec, ok := d["secureJsonData"].(map[string]any); ok {
		for k := range sec {
			fields[k] = true
		}
	}
	out["secureJsonFields"] = fields
	return out
}
