package report

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
)

// The SARIF version and the schema URI that GitHub code scanning documents.
const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
)

// sarifDescriptionLimit is GitHub's limit, in characters, on a rule's short
// and full descriptions.
const sarifDescriptionLimit = 1024

// The SARIF subset obsctl writes: what GitHub code scanning reads, plus
// columnKind. Struct field order is the key order of the output.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool    sarifTool     `json:"tool"`
		Results []sarifResult `json:"results"`
		// ColumnKind says columns count code points, as diag.Pos does.
		ColumnKind string `json:"columnKind"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri,omitempty"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string       `json:"id"`
		ShortDescription     sarifText    `json:"shortDescription"`
		FullDescription      sarifText    `json:"fullDescription"`
		Help                 sarifText    `json:"help"`
		DefaultConfiguration *sarifConfig `json:"defaultConfiguration,omitempty"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifConfig struct {
		Level string `json:"level"`
	}
	sarifResult struct {
		RuleID              string            `json:"ruleId"`
		RuleIndex           int               `json:"ruleIndex"`
		Level               string            `json:"level"`
		Message             sarifText         `json:"message"`
		Locations           []sarifLocation   `json:"locations,omitempty"`
		PartialFingerprints sarifFingerprints `json:"partialFingerprints"`
	}
	sarifLocation struct {
		PhysicalLocation sarifPhysicalLocation `json:"physicalLocation"`
	}
	sarifPhysicalLocation struct {
		ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
		Region           sarifRegion           `json:"region"`
	}
	sarifArtifactLocation struct {
		URI       string `json:"uri"`
		URIBaseID string `json:"uriBaseId"`
	}
	sarifRegion struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn,omitempty"`
		EndLine     int `json:"endLine,omitempty"`
		EndColumn   int `json:"endColumn,omitempty"`
	}
	// sarifFingerprints holds the one fingerprint GitHub reads.
	sarifFingerprints struct {
		PrimaryLocationLineHash string `json:"primaryLocationLineHash"`
	}
)

// writeSARIF writes a SARIF 2.1.0 log with one run: every check as a rule,
// every finding as a result.
func writeSARIF(w *bufio.Writer, in Input, _ Options) error {
	rules := make([]sarifRule, 0, len(in.Checks))
	index := map[string]int{}
	addRule := func(name, summary, doc string, sev diag.Severity) {
		index[name] = len(rules)
		r := sarifRule{
			ID:               name,
			ShortDescription: sarifText{truncate(cmp.Or(summary, name), sarifDescriptionLimit)},
			FullDescription:  sarifText{truncate(cmp.Or(doc, summary, name), sarifDescriptionLimit)},
			Help:             sarifText{cmp.Or(doc, summary, name)},
		}
		if sev.Valid() {
			r.DefaultConfiguration = &sarifConfig{Level: sarifLevel(sev)}
		}
		rules = append(rules, r)
	}
	for _, c := range in.Checks {
		if _, dup := index[c.Name]; !dup {
			addRule(c.Name, c.Summary, c.Doc, c.Severity)
		}
	}
	// A finding from a check the caller did not list still needs a rule
	// for GitHub to show it; describe it by its name.
	for _, f := range in.Findings {
		if _, ok := index[f.Check]; !ok {
			addRule(f.Check, "", "", f.Severity)
		}
	}

	seen := map[string]int{}
	result := func(i int) any {
		f := in.Findings[i]
		r := sarifResult{
			RuleID:    f.Check,
			RuleIndex: index[f.Check],
			Level:     sarifLevel(f.Severity),
			// GitHub rejects an empty message.
			Message:             sarifText{cmp.Or(withHint(f), f.Check)},
			PartialFingerprints: sarifFingerprints{fingerprint(f, seen)},
		}
		if f.File != "" {
			r.Locations = []sarifLocation{{PhysicalLocation: sarifPhysicalLocation{
				ArtifactLocation: sarifArtifactLocation{URI: sarifURI(f.File), URIBaseID: "%SRCROOT%"},
				Region:           sarifRegionOf(f),
			}}}
		}
		return r
	}

	log := sarifLog{
		Schema:  sarifSchema,
		Version: sarifVersion,
		Runs: []sarifRun{{
			Tool: sarifTool{Driver: sarifDriver{
				Name:           in.toolName(),
				Version:        in.Tool.Version,
				InformationURI: in.Tool.InformationURI,
				Rules:          rules,
			}},
			Results:    []sarifResult{}, // streamed in below
			ColumnKind: "unicodeCodePoints",
		}},
	}
	// The results are streamed into the document rather than held: a
	// result is some 900 bytes, and a hostile repo can have millions.
	var doc bytes.Buffer
	enc := json.NewEncoder(&doc)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(log); err != nil {
		return err
	}
	return newJSONStream(w).array(doc.Bytes(), "results", len(in.Findings), result)
}

// sarifRegionOf returns f's region. A file-level finding is placed on line
// 1, since GitHub needs a start line; an unknown end is left out, which
// SARIF reads as the rest of the start line.
func sarifRegionOf(f diag.Finding) sarifRegion {
	if f.Start.IsZero() {
		return sarifRegion{StartLine: 1}
	}
	r := sarifRegion{StartLine: f.Start.Line, StartColumn: max(f.Start.Col, 0)}
	if e, ok := spanEnd(f); ok {
		r.EndLine = e.Line
		if f.Start.Col >= 1 && e.Col >= 1 {
			r.EndColumn = e.Col
		}
	}
	return r
}

// sarifLevel maps a severity to a SARIF level; SARIF has nothing above error.
func sarifLevel(s diag.Severity) string {
	switch {
	case s >= diag.Error:
		return "error"
	case s == diag.Warning:
		return "warning"
	}
	return "note"
}

// fingerprint returns the partial fingerprint GitHub uses to follow an
// alert across commits. It hashes the check, file and message but not the
// position, so an alert survives edits that move it; the count after the
// colon tells apart findings that share all three, as CodeQL's does.
func fingerprint(f diag.Finding, seen map[string]int) string {
	sum := sha256.Sum256([]byte(f.Check + "\x00" + f.File + "\x00" + f.Message))
	h := hex.EncodeToString(sum[:8])
	seen[h]++
	return fmt.Sprintf("%s:%d", h, seen[h])
}

// sarifURI turns a slash-separated relative path into a relative URI
// reference: every byte but unreserved characters and '/' is
// percent-encoded, so that a ':' cannot read as a scheme and '%', '#', '?'
// and spaces survive.
func sarifURI(path string) string {
	path = filepath.ToSlash(path)
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// truncate shortens s to at most n characters, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
