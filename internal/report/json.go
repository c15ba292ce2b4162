package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"

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

func writeJSON(w *bufio.Writer, in Input, _ Options) error {
	enc := newJSONStream(w)
	w.WriteString("{\n  \"findings\": [")
	for i, f := range in.Findings {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString("\n    ")
		if err := enc.value("    ", jsonFinding{
			Check: f.Check, Severity: f.Severity, File: f.File,
			Start: f.Start, End: f.End,
			Message: f.Message, Hint: hint(f), Secret: f.Secret,
		}); err != nil {
			return err
		}
	}
	if len(in.Findings) > 0 {
		w.WriteString("\n  ")
	}
	w.WriteString("],\n  \"summary\": ")
	n := diag.Count(in.Findings)
	if err := enc.value("  ", jsonSummary{
		Files: len(in.files()),
		Fatal: n[diag.Fatal], Error: n[diag.Error], Warning: n[diag.Warning], Info: n[diag.Info],
	}); err != nil {
		return err
	}
	w.WriteString("\n}\n")
	return nil
}

// jsonStream writes JSON values one at a time, indented as one encoder
// with SetIndent(prefix, "  ") would indent the whole document, so that a
// report of a million findings is streamed, never held.
type jsonStream struct {
	w   *bufio.Writer
	buf bytes.Buffer
	enc *json.Encoder
}

func newJSONStream(w *bufio.Writer) *jsonStream {
	s := &jsonStream{w: w}
	s.enc = json.NewEncoder(&s.buf)
	// Messages quote PromQL and templates; keep <, > and & readable.
	s.enc.SetEscapeHTML(false)
	return s
}

// value writes v, its lines after the first prefixed with prefix.
func (s *jsonStream) value(prefix string, v any) error {
	s.buf.Reset()
	s.enc.SetIndent(prefix, "  ")
	if err := s.enc.Encode(v); err != nil {
		return err
	}
	s.w.Write(bytes.TrimSuffix(s.buf.Bytes(), []byte{'\n'}))
	return nil
}

// array writes doc, an indented JSON document whose array key is empty
// ("key": []), with n elements streamed into that array: elem(i) returns
// element i.
func (s *jsonStream) array(doc []byte, key string, n int, elem func(i int) any) error {
	marker := []byte(`"` + key + `": []`)
	at := bytes.Index(doc, marker)
	if at < 0 {
		return fmt.Errorf("no empty %q in the document", key)
	}
	indent := string(doc[bytes.LastIndexByte(doc[:at], '\n')+1 : at])
	s.w.Write(doc[:at+len(marker)-1])
	for i := range n {
		if i > 0 {
			s.w.WriteByte(',')
		}
		s.w.WriteString("\n" + indent + "  ")
		if err := s.value(indent+"  ", elem(i)); err != nil {
			return err
		}
	}
	if n > 0 {
		s.w.WriteString("\n" + indent)
	}
	s.w.Write(doc[at+len(marker)-1:])
	return nil
}
