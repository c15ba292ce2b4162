package report

import (
	"bytes"
	"encoding/json"

	"github.com/obsctl/obsctl/internal/diag"
)

// jsonReport is the JSON format. Its own types, rather than diag's JSON
// tags, fix the key order and shape that scripts depend on.
type jsonReport struct {
	Findings []jsonFinding `json:"findings"`
	Summary  jsonSummary   `json:"summary"`
}

type jsonFinding struct {
	Check    string        `json:"check"`
	Severity diag.Severity `json:"severity"`
	File     string        `json:"file"`
	// Start and End are zero when unknown, as in diag.
	Start   diag.Pos `json:"start"`
	End     diag.Pos `json:"end"`
	Message string   `json:"message"`
	Hint    string   `json:"hint,omitempty"`
	// Secret tells a consumer why there is no hint.
	Secret bool `json:"secret,omitempty"`
}

type jsonSummary struct {
	Files   int `json:"files"`
	Fatal   int `json:"fatal"`
	Error   int `json:"error"`
	Warning int `json:"warning"`
	Info    int `json:"info"`
}

func writeJSON(b *bytes.Buffer, in Input, _ Options) error {
	r := jsonReport{Findings: make([]jsonFinding, 0, len(in.Findings))}
	for _, f := range in.Findings {
		r.Findings = append(r.Findings, jsonFinding{
			Check: f.Check, Severity: f.Severity, File: f.File,
			Start: f.Start, End: f.End,
			Message: f.Message, Hint: hint(f), Secret: f.Secret,
		})
	}
	n := diag.Count(in.Findings)
	r.Summary = jsonSummary{
		Files: len(in.files()),
		Fatal: n[diag.Fatal], Error: n[diag.Error], Warning: n[diag.Warning], Info: n[diag.Info],
	}
	enc := json.NewEncoder(b)
	enc.SetIndent("", "  ")
	// Messages quote PromQL and templates; keep <, > and & readable.
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
