package report

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"

	"github.com/obsctl/obsctl/internal/diag"
)

// gitlabIssue is one entry of a GitLab code quality report: the fields
// GitLab requires (description, check_name, fingerprint, severity,
// location.path, location.lines.begin), in a fixed order.
type gitlabIssue struct {
	Description string         `json:"description"`
	CheckName   string         `json:"check_name"`
	Fingerprint string         `json:"fingerprint"`
	Severity    string         `json:"severity"`
	Location    gitlabLocation `json:"location"`
}

type gitlabLocation struct {
	Path  string      `json:"path"`
	Lines gitlabLines `json:"lines"`
}

type gitlabLines struct {
	Begin int `json:"begin"`
}

// writeGitLab writes a GitLab code quality report (artifacts:reports:
// codequality), a JSON array of issues. GitLab tells new issues from
// fixed ones by fingerprint, so a fingerprint hashes what the finding is
// (check, file, message), not where: a rule moved down by a line added
// above it keeps its finding's fingerprint. Findings alike in all three
// are told apart by their order in the file.
func writeGitLab(w *bufio.Writer, in Input, _ Options) error {
	enc := newJSONStream(w)
	seen := map[[sha256.Size]byte]int{}
	w.WriteByte('[')
	for i, f := range in.Findings {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString("\n  ")
		file := f.File
		if file == "" {
			file = "."
		}
		key := sha256.Sum256([]byte(f.Check + "\x00" + file + "\x00" + f.Message))
		n := seen[key]
		seen[key] = n + 1
		fp := key
		if n > 0 {
			fp = sha256.Sum256(append(key[:], byte(n), byte(n>>8), byte(n>>16), byte(n>>24)))
		}
		if err := enc.value("  ", gitlabIssue{
			Description: withHint(f),
			CheckName:   f.Check,
			Fingerprint: hex.EncodeToString(fp[:16]),
			Severity:    gitlabSeverity(f.Severity),
			Location:    gitlabLocation{Path: file, Lines: gitlabLines{Begin: max(f.Start.Line, 1)}},
		}); err != nil {
			return err
		}
	}
	if len(in.Findings) > 0 {
		w.WriteByte('\n')
	}
	w.WriteString("]\n")
	return nil
}

// gitlabSeverity maps a severity to GitLab's info, minor, major, critical
// or blocker: a file obsctl could not read at all (fatal) is critical,
// an error major, a warning minor.
func gitlabSeverity(s diag.Severity) string {
	switch {
	case s >= diag.Fatal:
		return "critical"
	case s == diag.Error:
		return "major"
	case s == diag.Warning:
		return "minor"
	}
	return "info"
}
