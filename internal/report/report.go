package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

// Input is everything a reporter needs.
type Input struct {
	// Findings are in diag.Sort order; every format keeps that order.
	Findings []diag.Finding
	// Files is every file that was checked, sorted. Formats that list
	// files (JUnit, checkstyle, the summaries) also take in any file a
	// finding names, so a caller that leaves Files empty loses nothing.
	Files []string
	// Source returns a file's lines for the text format's context. It may
	// be nil, or return nil for a file it does not have.
	Source func(path string) *source.File
	// Checks is every check that ran, in registry order. SARIF lists them
	// as rules.
	Checks []CheckInfo
	// Tool names the program in SARIF and JUnit output.
	Tool Tool

	mask *masker // set by Write
}

// CheckInfo describes one check for the formats that list checks.
type CheckInfo struct {
	Name     string
	Summary  string
	Doc      string
	Severity diag.Severity
}

// Tool identifies the program that produced a report.
type Tool struct {
	Name           string
	Version        string
	InformationURI string
}

// Options change how a report looks without changing what it says.
type Options struct {
	// Color adds ANSI colours to the text format; other formats ignore it.
	Color bool
}

// ErrUnknownFormat is returned, wrapped, by Write for a format that is
// not one of Formats.
var ErrUnknownFormat = errors.New("unknown report format")

// formats is the ordered list of formats: the order of Formats and of
// the --format help.
var formats = []struct {
	name  string
	write func(w *bufio.Writer, in Input, opts Options) error
}{
	{"text", writeText},
	{"json", writeJSON},
	{"github", writeGitHub},
	{"sarif", writeSARIF},
	{"junit", writeJUnit},
	{"checkstyle", writeCheckstyle},
	{"gitlab", writeGitLab},
}

// Formats returns the names Write accepts, in the order help lists them.
func Formats() []string {
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = f.name
	}
	return names
}

// Write renders in as format to w. The report is streamed, a finding at a
// time, so that the memory it takes does not grow with the report: a
// machine format keeps every finding, and a hostile repo can have
// millions. Every format says a finding in a bounded number of bytes (see
// bound), and no format prints a secret value (see masker).
func Write(w io.Writer, format string, in Input, opts Options) error {
	for _, f := range formats {
		if f.name != format {
			continue
		}
		in.mask = newMasker(in)
		in.Findings = bound(in.mask.findings(in.Findings))
		bw := bufio.NewWriterSize(w, 64<<10)
		if err := f.write(bw, in, opts); err != nil {
			return fmt.Errorf("render %s report: %w", format, err)
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write %s report: %w", format, err)
		}
		return nil
	}
	return fmt.Errorf("%w %q (want %s)", ErrUnknownFormat, format, strings.Join(Formats(), ", "))
}

// toolName is the tool's name, "obsctl" when the caller left it out:
// SARIF requires a name, and JUnit and checkstyle build on it.
func (in Input) toolName() string {
	if in.Tool.Name == "" {
		return "obsctl"
	}
	return in.Tool.Name
}

// files returns the sorted union of in.Files and the files that findings
// name.
func (in Input) files() []string {
	fs := slices.Clone(in.Files)
	for i, f := range in.Findings {
		if f.File != "" && (i == 0 || in.Findings[i-1].File != f.File) {
			fs = append(fs, f.File)
		}
	}
	slices.Sort(fs)
	return slices.Compact(fs)
}

// fileGroups returns the files to list, as files does, and the findings
// of each. Findings that name no file are grouped under "", listed first,
// so that formats built per file do not drop them.
func (in Input) fileGroups() ([]string, map[string][]diag.Finding) {
	files, byFile := in.files(), in.byFile()
	if len(byFile[""]) > 0 {
		files = append([]string{""}, files...)
	}
	return files, byFile
}

// byFile groups findings by file, keeping their order within each file.
// Sorted findings come a file at a time, so a group is a part of
// in.Findings rather than a copy.
func (in Input) byFile() map[string][]diag.Finding {
	m := map[string][]diag.Finding{}
	fs := in.Findings
	for i := 0; i < len(fs); {
		j := i + 1
		for j < len(fs) && fs[j].File == fs[i].File {
			j++
		}
		if prev, ok := m[fs[i].File]; ok {
			m[fs[i].File] = append(prev, fs[i:j]...) // unsorted input
		} else {
			m[fs[i].File] = fs[i:j:j]
		}
		i = j
	}
	return m
}

// spanEnd returns where f's span ends when that is known and after its start;
// a zero or empty end (diag.At) reports false.
func spanEnd(f diag.Finding) (diag.Pos, bool) {
	if f.Start.IsZero() || f.End.IsZero() || !f.Start.Before(f.End) {
		return diag.Pos{}, false
	}
	return f.End, true
}

// hint returns the hint a format may show: none for a secret finding.
func hint(f diag.Finding) string {
	if f.Secret {
		return ""
	}
	return f.Hint
}

// withHint returns the message followed, on a new line, by the hint.
func withHint(f diag.Finding) string {
	if h := hint(f); h != "" {
		return f.Message + "\nhint: " + h
	}
	return f.Message
}
