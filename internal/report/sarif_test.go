package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	gosarif "github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/obsctl/obsctl/internal/diag"
)

// The official SARIF 2.1.0 JSON schema (OASIS errata01, JSON Schema
// draft-04) comes from a pinned module rather than the network or a copy
// in testdata: go-sarif ships it as the Go string constant "schema" in
// pkg/report/v210/sarif/schema.go. The version in go.mod pins the schema.
const (
	schemaModule = "github.com/owenrumney/go-sarif/v3"
	schemaFile   = "pkg/report/v210/sarif/schema.go"
	schemaConst  = "schema"
)

var sarifSchemaOnce = sync.OnceValues(loadSARIFSchema)

// loadSARIFSchema finds go-sarif in the module cache (go list -m resolves
// the version go.mod requires; the test binary's import of the module
// guarantees it is downloaded) and compiles the schema constant.
func loadSARIFSchema() (*jsonschema.Schema, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(goTool, "list", "-m", "-f", "{{.Dir}}", schemaModule).Output()
	if err != nil {
		return nil, fmt.Errorf("go list -m %s: %w", schemaModule, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return nil, fmt.Errorf("go list -m %s: module not in the module cache", schemaModule)
	}
	text, err := goStringConst(filepath.Join(dir, filepath.FromSlash(schemaFile)), schemaConst)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat() // uri-reference matters: artifact URIs must be valid
	const url = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	return c.Compile(url)
}

// goStringConst returns the value of a string constant declared in a Go
// source file.
func goStringConst(path, name string) (string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		return "", err
	}
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, s := range gd.Specs {
			vs := s.(*ast.ValueSpec)
			for i, id := range vs.Names {
				if id.Name != name || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					return strconv.Unquote(lit.Value)
				}
			}
		}
	}
	return "", fmt.Errorf("%s: no string constant %s", path, name)
}

func compiledSARIFSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	sch, err := sarifSchemaOnce()
	if err != nil {
		t.Fatalf("load the SARIF 2.1.0 schema from %s: %v", schemaModule, err)
	}
	return sch
}

func validateSARIF(t *testing.T, out []byte) error {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("SARIF output is not JSON: %v", err)
	}
	return compiledSARIFSchema(t).Validate(doc)
}

func TestSARIFSchema(t *testing.T) {
	inputs := map[string]Input{
		"fixture": fixture(),
		"empty":   {},
		"unlisted check": {Findings: []diag.Finding{{Check: "x/y", Severity: diag.Info, Message: "m",
			Span: diag.Span{File: "a b/ü.yaml", Start: diag.Pos{Line: 2}}}}},
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			if err := validateSARIF(t, render(t, "sarif", in, Options{})); err != nil {
				t.Errorf("output does not validate as SARIF 2.1.0: %v", err)
			}
		})
	}
}

func TestSARIFSchemaRejects(t *testing.T) {
	// The validator is live: documents that break the schema fail.
	out := string(render(t, "sarif", fixture(), Options{}))
	for name, bad := range map[string]string{
		"level":   strings.Replace(out, `"level": "error"`, `"level": "fatal"`, 1),
		"line":    strings.Replace(out, `"startLine": 1`, `"startLine": 0`, 1),
		"uri":     strings.Replace(out, `"uri": "rules/node.yaml"`, `"uri": "a b:c"`, 1),
		"version": strings.Replace(out, `"version": "2.1.0"`, `"version": "2.2"`, 1),
		"unknown": strings.Replace(out, `"columnKind"`, `"columnKnd"`, 1),
		"raw uri": strings.Replace(out, `"odd%20dir/100%25%2Ca%3Ab.yaml"`, `"odd dir/100%,a:b.yaml"`, 1),
	} {
		if bad == out {
			t.Fatalf("%s: the replacement did not apply", name)
		}
		if validateSARIF(t, []byte(bad)) == nil {
			t.Errorf("%s: a document that breaks the schema validated", name)
		}
	}
}

func TestSARIFReadByGoSarif(t *testing.T) {
	// A second, typed reader: go-sarif's model of SARIF 2.1.0 reads back
	// the rule, file and region of every result. (Its Validate method is
	// no use here: it validates its own re-encoding, which writes null for
	// every absent array and so never passes the schema.)
	in := fixture()
	log, err := gosarif.FromBytes(render(t, "sarif", in, Options{}), gosarif.WithStrictValidation())
	if err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) != len(in.Findings) {
		t.Fatalf("go-sarif read version %q, %d runs; want 2.1.0, 1 run with %d results", log.Version, len(log.Runs), len(in.Findings))
	}
	for i, r := range log.Runs[0].Results {
		f := in.Findings[i]
		if r.RuleID == nil || *r.RuleID != f.Check {
			t.Errorf("result %d: ruleId %v, want %s", i, r.RuleID, f.Check)
			continue
		}
		if len(r.Locations) != 1 || r.Locations[0].PhysicalLocation == nil {
			t.Errorf("result %d: no physical location", i)
			continue
		}
		pl := r.Locations[0].PhysicalLocation
		if pl.ArtifactLocation == nil || pl.ArtifactLocation.URI == nil || *pl.ArtifactLocation.URI != sarifURI(f.File) {
			t.Errorf("result %d: artifact location %+v, want %s", i, pl.ArtifactLocation, sarifURI(f.File))
		}
		if pl.Region == nil || pl.Region.StartLine == nil || *pl.Region.StartLine != max(f.Start.Line, 1) {
			t.Errorf("result %d: region %+v, want start line %d", i, pl.Region, max(f.Start.Line, 1))
		}
	}
}

// sarifDoc is the part of the output that GitHub code scanning reads.
type sarifDoc struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []struct {
		ColumnKind string `json:"columnKind"`
		Tool       struct {
			Driver struct {
				Name  string `json:"name"`
				Rules []struct {
					ID               string            `json:"id"`
					ShortDescription map[string]string `json:"shortDescription"`
					FullDescription  map[string]string `json:"fullDescription"`
					Help             map[string]string `json:"help"`
					Default          map[string]string `json:"defaultConfiguration"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Results []struct {
			RuleID    string            `json:"ruleId"`
			RuleIndex int               `json:"ruleIndex"`
			Level     string            `json:"level"`
			Message   map[string]string `json:"message"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct {
						URI       string `json:"uri"`
						URIBaseID string `json:"uriBaseId"`
					} `json:"artifactLocation"`
					Region map[string]int `json:"region"`
				} `json:"physicalLocation"`
			} `json:"locations"`
			PartialFingerprints map[string]string `json:"partialFingerprints"`
		} `json:"results"`
	} `json:"runs"`
}

func decodeSARIF(t *testing.T, in Input) sarifDoc {
	t.Helper()
	var doc sarifDoc
	if err := json.Unmarshal(render(t, "sarif", in, Options{}), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(doc.Runs))
	}
	return doc
}

func TestSARIFGitHubRequirements(t *testing.T) {
	in := fixture()
	doc := decodeSARIF(t, in)
	if doc.Schema != "https://json.schemastore.org/sarif-2.1.0.json" || doc.Version != "2.1.0" {
		t.Errorf("$schema %q version %q", doc.Schema, doc.Version)
	}
	run := doc.Runs[0]
	if run.ColumnKind != "unicodeCodePoints" {
		t.Errorf("columnKind %q, want unicodeCodePoints: columns count runes", run.ColumnKind)
	}
	rules := run.Tool.Driver.Rules
	if len(rules) != len(in.Checks) {
		t.Fatalf("%d rules for %d checks", len(rules), len(in.Checks))
	}
	for i, r := range rules {
		c := in.Checks[i]
		if r.ID != c.Name || r.ShortDescription["text"] != c.Summary || r.FullDescription["text"] != c.Doc || r.Help["text"] != c.Doc {
			t.Errorf("rule %d = %+v, want check %+v", i, r, c)
		}
		if r.Default["level"] != sarifLevel(c.Severity) {
			t.Errorf("rule %s level %q", r.ID, r.Default["level"])
		}
	}
	for i, res := range run.Results {
		f := in.Findings[i]
		if res.RuleID != f.Check || rules[res.RuleIndex].ID != f.Check {
			t.Errorf("result %d: ruleId %s, ruleIndex %d, want %s", i, res.RuleID, res.RuleIndex, f.Check)
		}
		if res.Message["text"] == "" || res.Message["text"] != withHint(f) {
			t.Errorf("result %d: message %q", i, res.Message["text"])
		}
		if len(res.Locations) != 1 {
			t.Fatalf("result %d: %d locations", i, len(res.Locations))
		}
		loc := res.Locations[0].PhysicalLocation
		if loc.ArtifactLocation.URIBaseID != "%SRCROOT%" {
			t.Errorf("result %d: uriBaseId %q", i, loc.ArtifactLocation.URIBaseID)
		}
		if loc.Region["startLine"] < 1 {
			t.Errorf("result %d: startLine %d; GitHub requires 1 or more", i, loc.Region["startLine"])
		}
		if res.PartialFingerprints["primaryLocationLineHash"] == "" {
			t.Errorf("result %d: no primaryLocationLineHash, the one fingerprint GitHub reads", i)
		}
	}
	want := map[string]string{"error": "error", "fatal": "error", "warning": "warning", "info": "note"}
	for i, res := range run.Results {
		if w := want[in.Findings[i].Severity.String()]; res.Level != w {
			t.Errorf("result %d: level %q for %s, want %q", i, res.Level, in.Findings[i].Severity, w)
		}
	}
}

func TestSARIFRegion(t *testing.T) {
	f := func(line, col, endLine, endCol int) diag.Finding {
		return diag.Finding{Span: diag.Span{Start: diag.Pos{Line: line, Col: col}, End: diag.Pos{Line: endLine, Col: endCol}}}
	}
	tests := []struct {
		name string
		f    diag.Finding
		want sarifRegion
	}{
		{"span", f(3, 5, 3, 9), sarifRegion{StartLine: 3, StartColumn: 5, EndLine: 3, EndColumn: 9}},
		{"lines", f(3, 5, 6, 2), sarifRegion{StartLine: 3, StartColumn: 5, EndLine: 6, EndColumn: 2}},
		{"point", f(3, 5, 3, 5), sarifRegion{StartLine: 3, StartColumn: 5}},
		{"no end", f(3, 5, 0, 0), sarifRegion{StartLine: 3, StartColumn: 5}},
		{"no column", f(3, 0, 4, 0), sarifRegion{StartLine: 3, EndLine: 4}},
		{"file-level", f(0, 0, 0, 0), sarifRegion{StartLine: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sarifRegionOf(tt.f); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSARIFFingerprint(t *testing.T) {
	at := func(line int, msg string) diag.Finding {
		return diag.Finding{Check: "rules/x", Severity: diag.Warning, Message: msg, Span: diag.At("r.yaml", line, 3)}
	}
	fps := func(fs ...diag.Finding) []string {
		doc := decodeSARIF(t, Input{Findings: fs})
		var out []string
		for _, r := range doc.Runs[0].Results {
			out = append(out, r.PartialFingerprints["primaryLocationLineHash"])
		}
		return out
	}
	before := fps(at(3, "alert A"), at(9, "alert B"))
	after := fps(at(13, "alert A"), at(19, "alert B"))
	if strings.Join(before, " ") != strings.Join(after, " ") {
		t.Errorf("moving findings changed fingerprints: %v then %v", before, after)
	}
	if before[0] == before[1] {
		t.Errorf("different messages share fingerprint %s", before[0])
	}
	twins := fps(at(3, "same"), at(9, "same"))
	if twins[0] == twins[1] {
		t.Errorf("two findings with the same check, file and message share fingerprint %s", twins[0])
	}
	other := diag.Finding{Check: "rules/y", Severity: diag.Warning, Message: "alert A", Span: diag.At("r.yaml", 3, 3)}
	if fps(other)[0] == before[0] {
		t.Error("fingerprint ignores the check")
	}
}

func TestSARIFUnlistedCheck(t *testing.T) {
	in := Input{
		Checks: []CheckInfo{{Name: "a/listed", Summary: "s", Doc: "d", Severity: diag.Warning}},
		Findings: []diag.Finding{
			{Check: "a/unlisted", Severity: diag.Error, Message: "m", Span: diag.At("f", 1, 1)},
		},
	}
	rules := decodeSARIF(t, in).Runs[0].Tool.Driver.Rules
	if len(rules) != 2 || rules[1].ID != "a/unlisted" || rules[1].ShortDescription["text"] == "" || rules[1].Help["text"] == "" {
		t.Errorf("a finding from an unlisted check needs a rule with non-empty texts, got %+v", rules)
	}
}

func TestSARIFDescriptionLimit(t *testing.T) {
	long := strings.Repeat("ü", 2000)
	in := Input{Checks: []CheckInfo{{Name: "a/b", Summary: long, Doc: long, Severity: diag.Info}}}
	r := decodeSARIF(t, in).Runs[0].Tool.Driver.Rules[0]
	for name, s := range map[string]string{"shortDescription": r.ShortDescription["text"], "fullDescription": r.FullDescription["text"]} {
		if n := utf8.RuneCountInString(s); n > sarifDescriptionLimit {
			t.Errorf("%s has %d characters; GitHub allows %d", name, n, sarifDescriptionLimit)
		}
	}
	if r.Help["text"] != long {
		t.Error("help text was cut; GitHub sets no limit on it")
	}
}

func TestSARIFURI(t *testing.T) {
	tests := []struct{ path, want string }{
		{"rules/node.yaml", "rules/node.yaml"},
		{"odd dir/100%,a:b.yaml", "odd%20dir/100%25%2Ca%3Ab.yaml"},
		{"a:b.yaml", "a%3Ab.yaml"},
		{"ü/#?.yaml", "%C3%BC/%23%3F.yaml"},
		{"x-y_z~.1", "x-y_z~.1"},
	}
	for _, tt := range tests {
		if got := sarifURI(tt.path); got != tt.want {
			t.Errorf("sarifURI(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}
