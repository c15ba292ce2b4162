package diag

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Severity orders findings: Info < Warning < Error < Fatal.
type Severity int

// The severities, lowest first. The zero value is not a valid severity so
// that a forgotten assignment is caught by Valid.
const (
	Info Severity = iota + 1
	Warning
	Error
	Fatal
)

var severityNames = [...]string{Info: "info", Warning: "warning", Error: "error", Fatal: "fatal"}

// String returns the lower-case name used in every output format.
func (s Severity) String() string {
	if s.Valid() {
		return severityNames[s]
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// Valid reports whether s is one of the four defined severities.
func (s Severity) Valid() bool { return s >= Info && s <= Fatal }

// ParseSeverity maps a name such as "warning" to its Severity.
func ParseSeverity(name string) (Severity, error) {
	for s := Info; s <= Fatal; s++ {
		if strings.EqualFold(name, severityNames[s]) {
			return s, nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (want info, warning, error or fatal)", name)
}

// MarshalText lets severities appear by name in JSON.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Pos is a 1-based line and column in a file. Columns count characters
// (Unicode code points), as the YAML parser and editors do.
type Pos struct {
	Line int `json:"line"`
	Col  int `json:"column"`
}

// Before reports whether p comes strictly before q.
func (p Pos) Before(q Pos) bool {
	return p.Line < q.Line || (p.Line == q.Line && p.Col < q.Col)
}

// IsZero reports whether the position is unknown.
func (p Pos) IsZero() bool { return p.Line == 0 }

// Span is a range in one file. End is exclusive and may be zero when only
// the start is known.
type Span struct {
	File  string `json:"file"`
	Start Pos    `json:"start"`
	End   Pos    `json:"end"`
}

// At returns a span that starts and ends at one position.
func At(file string, line, col int) Span {
	return Span{File: file, Start: Pos{line, col}, End: Pos{line, col}}
}

// String renders file:line:col, the prefix of text findings.
func (s Span) String() string {
	switch {
	case s.Start.IsZero():
		return s.File
	default:
		return fmt.Sprintf("%s:%d:%d", s.File, s.Start.Line, s.Start.Col)
	}
}

// Finding is one diagnostic: a check's verdict on a place in a file.
type Finding struct {
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	Span
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// Secret marks a finding whose span holds a secret value: reporters
	// never print the source text under it, and messages never quote it.
	Secret bool `json:"-"`
}

// String renders the finding on one line, without source context.
func (f Finding) String() string {
	return fmt.Sprintf("%s: %s: %s [%s]", f.Span, f.Severity, f.Message, f.Check)
}

// Compare orders findings by file, position, check and message, so that
// every report is deterministic whatever order the checks ran in.
func Compare(a, b Finding) int {
	return cmp.Or(
		cmp.Compare(a.File, b.File),
		cmp.Compare(a.Start.Line, b.Start.Line),
		cmp.Compare(a.Start.Col, b.Start.Col),
		cmp.Compare(a.Check, b.Check),
		cmp.Compare(a.Message, b.Message),
		cmp.Compare(a.End.Line, b.End.Line),
		cmp.Compare(a.End.Col, b.End.Col),
		cmp.Compare(a.Severity, b.Severity),
		cmp.Compare(a.Hint, b.Hint),
		cmpBool(a.Secret, b.Secret),
	)
}

// Sort sorts findings in report order and drops exact duplicates, which
// arise when two loaders see the same broken file.
func Sort(fs []Finding) []Finding {
	slices.SortFunc(fs, Compare)
	return slices.CompactFunc(fs, func(a, b Finding) bool { return Compare(a, b) == 0 })
}

// Max returns the highest severity among fs, or 0 when fs is empty.
func Max(fs []Finding) Severity {
	var m Severity
	for _, f := range fs {
		m = max(m, f.Severity)
	}
	return m
}

// Count returns how many findings are at or above each severity.
func Count(fs []Finding) map[Severity]int {
	n := map[Severity]int{}
	for _, f := range fs {
		n[f.Severity]++
	}
	return n
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}
