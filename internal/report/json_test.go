package report

import (
	"encoding/json"
	"testing"

	"github.com/obsctl/obsctl/internal/diag"
)

func TestJSON(t *testing.T) {
	in := fixture()
	var doc struct {
		Findings []struct {
			Check    string   `json:"check"`
			Severity string   `json:"severity"`
			File     string   `json:"file"`
			Start    diag.Pos `json:"start"`
			End      diag.Pos `json:"end"`
			Message  string   `json:"message"`
			Hint     *string  `json:"hint"`
			Secret   bool     `json:"secret"`
		} `json:"findings"`
		Summary map[string]int `json:"summary"`
	}
	if err := json.Unmarshal(render(t, "json", in, Options{}), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Findings) != len(in.Findings) {
		t.Fatalf("%d findings, want %d", len(doc.Findings), len(in.Findings))
	}
	for i, got := range doc.Findings {
		f := in.Findings[i]
		if got.Check != f.Check || got.Severity != f.Severity.String() || got.File != f.File ||
			got.Start != f.Start || got.End != f.End || got.Message != f.Message || got.Secret != f.Secret {
			t.Errorf("finding %d = %+v, want %v", i, got, f)
		}
		switch {
		case f.Secret && got.Hint != nil:
			t.Errorf("secret finding %d has a hint", i)
		case !f.Secret && f.Hint != "" && (got.Hint == nil || *got.Hint != f.Hint):
			t.Errorf("finding %d: hint %v, want %q", i, got.Hint, f.Hint)
		}
	}
	want := map[string]int{"files": 4, "fatal": 1, "error": 3, "warning": 1, "info": 2}
	for k, v := range want {
		if doc.Summary[k] != v {
			t.Errorf("summary %s = %d, want %d", k, doc.Summary[k], v)
		}
	}
	if len(doc.Summary) != len(want) {
		t.Errorf("summary keys %v", doc.Summary)
	}
}

func TestJSONEmpty(t *testing.T) {
	got := string(render(t, "json", Input{}, Options{}))
	want := "{\n  \"findings\": [],\n  \"summary\": {\n    \"files\": 0,\n    \"fatal\": 0,\n    \"error\": 0,\n    \"warning\": 0,\n    \"info\": 0\n  }\n}\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
