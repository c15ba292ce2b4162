package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"testing"

	"github.com/obsctl/obsctl/internal/diag"
)

// wellFormed reads every token of an XML document.
func wellFormed(t *testing.T, doc []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, doc)
		}
	}
}

type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Suites   []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Cases    []struct {
			Classname string `xml:"classname,attr"`
			Name      string `xml:"name,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Body    string `xml:",chardata"`
			} `xml:"failure"`
			SystemOut *string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

type checkstyleDoc struct {
	XMLName xml.Name `xml:"checkstyle"`
	Version string   `xml:"version,attr"`
	Files   []struct {
		Name   string `xml:"name,attr"`
		Errors []struct {
			Line     int    `xml:"line,attr"`
			Column   int    `xml:"column,attr"`
			Severity string `xml:"severity,attr"`
			Message  string `xml:"message,attr"`
			Source   string `xml:"source,attr"`
		} `xml:"error"`
	} `xml:"file"`
}

func TestJUnit(t *testing.T) {
	for name, in := range map[string]Input{"fixture": fixture(), "empty": {}} {
		t.Run(name, func(t *testing.T) {
			out := render(t, "junit", in, Options{})
			wellFormed(t, out)
			var doc junitDoc
			if err := xml.Unmarshal(out, &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Suites) != 1 || doc.Suites[0].Name != "obsctl lint" {
				t.Fatalf("want one suite named %q, got %+v", "obsctl lint", doc.Suites)
			}
			suite := doc.Suites[0]
			failures := 0
			for _, c := range suite.Cases {
				if c.Failure != nil {
					failures++
				}
			}
			if doc.Tests != len(suite.Cases) || suite.Tests != len(suite.Cases) || doc.Failures != failures || suite.Failures != failures || doc.Errors != 0 {
				t.Errorf("counts tests=%d/%d failures=%d/%d errors=%d; there are %d cases and %d failures",
					doc.Tests, suite.Tests, doc.Failures, suite.Failures, doc.Errors, len(suite.Cases), failures)
			}

			// Clean files pass as "lint"; each finding is a case whose
			// failure message decodes to the finding's message.
			byFile := in.byFile()
			i := 0
			for _, file := range in.files() {
				fs := byFile[file]
				if len(fs) == 0 {
					if c := suite.Cases[i]; c.Classname != file || c.Name != "lint" || c.Failure != nil {
						t.Errorf("clean file %s: case %+v", file, c)
					}
					i++
					continue
				}
				for _, f := range fs {
					c := suite.Cases[i]
					i++
					if c.Classname != file || c.Name != junitName(f) {
						t.Errorf("%v: case %s / %s", f, c.Classname, c.Name)
					}
					if f.Severity == diag.Info {
						if c.Failure != nil || c.SystemOut == nil || *c.SystemOut != junitBody(f) {
							t.Errorf("info %v: want a passing case with the finding in system-out, got %+v", f, c)
						}
						continue
					}
					if c.Failure == nil || c.Failure.Message != f.Message || c.Failure.Type != f.Severity.String() || c.Failure.Body != junitBody(f) {
						t.Errorf("%v: failure %+v", f, c.Failure)
					}
				}
			}
			if i != len(suite.Cases) {
				t.Errorf("%d cases, want %d", len(suite.Cases), i)
			}
		})
	}
}

func TestCheckstyle(t *testing.T) {
	for name, in := range map[string]Input{"fixture": fixture(), "empty": {}} {
		t.Run(name, func(t *testing.T) {
			out := render(t, "checkstyle", in, Options{})
			wellFormed(t, out)
			if !bytes.HasPrefix(out, []byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<checkstyle version="8.0">`)) {
				t.Errorf("header: %.80s", out)
			}
			var doc checkstyleDoc
			if err := xml.Unmarshal(out, &doc); err != nil {
				t.Fatal(err)
			}
			files := in.files()
			if len(doc.Files) != len(files) {
				t.Fatalf("%d <file> elements for %d files", len(doc.Files), len(files))
			}
			byFile := in.byFile()
			for i, file := range files {
				got, fs := doc.Files[i], byFile[file]
				if got.Name != file || len(got.Errors) != len(fs) {
					t.Errorf("file %d: %s with %d errors, want %s with %d", i, got.Name, len(got.Errors), file, len(fs))
					continue
				}
				for j, f := range fs {
					e := got.Errors[j]
					if e.Line != max(f.Start.Line, 1) || e.Column != f.Start.Col || e.Severity != checkstyleSeverity(f.Severity) ||
						e.Message != withHint(f) || e.Source != "obsctl."+f.Check {
						t.Errorf("%v: error %+v", f, e)
					}
				}
			}
		})
	}
}

func TestXMLNoFile(t *testing.T) {
	// A finding that names no file is not dropped.
	in := Input{Findings: []diag.Finding{{Check: "a/b", Severity: diag.Error, Message: "m"}}, Files: []string{"x"}}
	for _, format := range []string{"junit", "checkstyle"} {
		out := render(t, format, in, Options{})
		wellFormed(t, out)
		if !bytes.Contains(out, []byte(`"a/b`)) && !bytes.Contains(out, []byte(`.a/b"`)) {
			t.Errorf("%s dropped a finding with no file:\n%s", format, out)
		}
	}
}

func TestXMLEscape(t *testing.T) {
	tests := []struct{ in, attr, text string }{
		{`a<b>&"c'`, "a&lt;b&gt;&amp;&quot;c&apos;", `a&lt;b&gt;&amp;"c'`},
		{"l1\nl2\tx\r", "l1&#xA;l2&#x9;x&#xD;", "l1\nl2\tx&#xD;"},
		{"nul\x00 esc\x1b", "nul\uFFFD esc\uFFFD", "nul\uFFFD esc\uFFFD"},
		{"bad\xffutf8", "bad\uFFFDutf8", "bad\uFFFDutf8"},
		{"Größe ✓ 😀", "Größe ✓ 😀", "Größe ✓ 😀"},
	}
	for _, tt := range tests {
		if got := xmlAttr(tt.in); got != tt.attr {
			t.Errorf("xmlAttr(%q) = %q, want %q", tt.in, got, tt.attr)
		}
		if got := xmlText(tt.in); got != tt.text {
			t.Errorf("xmlText(%q) = %q, want %q", tt.in, got, tt.text)
		}
		// Both decode back, attribute normalisation included, to the input
		// less what XML cannot carry.
		doc := []byte(`<e a="` + xmlAttr(tt.in) + `">` + xmlText(tt.in) + `</e>`)
		var e struct {
			A    string `xml:"a,attr"`
			Text string `xml:",chardata"`
		}
		if err := xml.Unmarshal(doc, &e); err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if e.A != e.Text {
			t.Errorf("%q: attribute decodes to %q, content to %q", tt.in, e.A, e.Text)
		}
	}
}
