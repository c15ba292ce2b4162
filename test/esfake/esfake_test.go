package esfake

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The answers Elasticsearch 7.17 gives to what it cannot serve.
func TestErrorAnswers(t *testing.T) {
	s, err := Start("", []Doc{{Index: "logs-a-2026.12.05", ID: "1", Source: map[string]any{"x": "y"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		path, body string
		status     int
		want       string
	}{
		{"/logs-a-2026.12.05/_search", `{"query":{"term":{"x":"y"}}}`, 200, `"total":{"relation":"eq","value":1}`},
		{"/logs-a-2026.12.05/_search", `{"query":{"term":{"x.keyword":"y"}}}`, 200, `"value":1`},
		{"/nope/_search", `{}`, 404, `"reason":"no such index [nope]"`},
		{"/nope/_search?ignore_unavailable=true", `{}`, 200, `"value":0`},
		{"/logs-*/_search", `{"query":{"fuzzy":{"x":"y"}}}`, 400, `"reason":"unknown query [fuzzy]","root_cause"`},
		{"/logs-*/_doc/1/_explain", `{}`, 400, `no handler found for uri [/logs-*/_doc/1/_explain] and method [POST]`},
		{"/logs-*/_search", `{"sort":["_doc"],"search_after":[1,2]}`, 400, `search_after has 2 value(s) but sort has 1.`},
	} {
		status, body := post(t, s.URL+c.path, c.body)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("POST %s %s: %d %s; want %d with %s", c.path, c.body, status, body, c.status, c.want)
		}
	}
	s.Reject(1)
	if status, body := post(t, s.URL+"/logs-*/_search", `{}`); status != 429 || !strings.Contains(body, "es_rejected_execution_exception") {
		t.Errorf("rejected search: %d %s", status, body)
	}
	s.User, s.Password = "elastic", "secret"
	if status, body := post(t, s.URL+"/logs-*/_search", `{}`); status != 401 || !strings.Contains(body, "missing authentication credentials") {
		t.Errorf("no credentials: %d %s", status, body)
	}
}
