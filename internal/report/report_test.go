package report

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// fakeSecret is the credential in the fixture's Alertmanager config. No
// report may contain it, nor any other text of the secret finding's span.
const (
	fakeSecret    = "FAKE-SECRET-d00dfeed"
	secretHost    = "hooks.example.com"
	secretHint    = "move the URL into a Kubernetes Secret"
	secretMessage = "webhook URL holds a token in plain text"
)

// fixtureSources are the files the fixture's findings point into.
var fixtureSources = map[string]string{
	"rules/node.yaml": "groups:\n" +
		"  - name: node\n" +
		"    rules:\n" +
		"      - alert: DiskFull\n" +
		"\t\texpr: rate(node_io[1m]) > 0.9\n" +
		"        annotations:\n" +
		"          summary: \"Größe ✓ überschritten\"\n" +
		"          description: |\n" +
		"            multi\n" +
		"            line\n",
	"alerting/alertmanager.yaml": "receivers:\n" +
		"  - name: ops\n" +
		"    webhook_configs:\n" +
		"      - url: https://" + secretHost + "/T000/B000/" + fakeSecret + "\n",
	"odd dir/100%,a:b.yaml": "key: value\r\n" +
		"a: b: c, 100%\r\n",
}

// fixture returns an input that exercises every rendering path: a span over
// tabs, one over multi-byte characters, a multi-line span, a file-level
// finding, a secret, a file with no findings, and text that each format
// must escape.
func fixture() Input {
	files := map[string]*source.File{}
	for path, src := range fixtureSources {
		files[path] = source.NewFile(path, []byte(src))
	}
	findings := []diag.Finding{
		{
			Check: "rules/rate-window", Severity: diag.Warning,
			Span:    diag.Span{File: "rules/node.yaml", Start: diag.Pos{Line: 5, Col: 21}, End: diag.Pos{Line: 5, Col: 25}},
			Message: "rate window [1m] is shorter than 4× the scrape interval",
			Hint:    "use [5m] or more",
		},
		{
			Check: "rules/template-syntax", Severity: diag.Error,
			Span:    diag.Span{File: "rules/node.yaml", Start: diag.Pos{Line: 7, Col: 29}, End: diag.Pos{Line: 7, Col: 42}},
			Message: "summary text is not translated",
		},
		{
			Check: "rules/required-annotations", Severity: diag.Error,
			Span:    diag.Span{File: "rules/node.yaml", Start: diag.Pos{Line: 8, Col: 11}, End: diag.Pos{Line: 10, Col: 17}},
			Message: "description spans several lines",
			Hint:    "keep descriptions to one line",
		},
		{
			Check: "rules/unused-record", Severity: diag.Info,
			Span:    diag.Span{File: "rules/node.yaml"},
			Message: "file defines no recording rules",
		},
		{
			Check: "secrets/plaintext", Severity: diag.Error, Secret: true,
			Span:    diag.Span{File: "alerting/alertmanager.yaml", Start: diag.Pos{Line: 4, Col: 14}, End: diag.Pos{Line: 4, Col: 70}},
			Message: secretMessage,
			Hint:    secretHint + " and reference it with url_file",
		},
		{
			Check: "alerting/unused-receiver", Severity: diag.Info,
			Span:    diag.Span{File: "alerting/alertmanager.yaml", Start: diag.Pos{Line: 2, Col: 11}, End: diag.Pos{Line: 2, Col: 14}},
			Message: `receiver "ops" is not used by any route`,
		},
		{
			Check: "yaml/syntax", Severity: diag.Fatal,
			Span: diag.Span{File: "odd dir/100%,a:b.yaml", Start: diag.Pos{Line: 2, Col: 5}, End: diag.Pos{Line: 2, Col: 5}},
			Message: "YAML syntax: mapping values are not allowed here: \"b: c, 100%\"\n" +
				"then <x> & 'y' :: ,, %0A",
			Hint: "quote the value: 'b: c, 100%'",
		},
	}
	return Input{
		Findings: diag.Sort(findings),
		Files:    []string{"alerting/alertmanager.yaml", "odd dir/100%,a:b.yaml", "rules/clean.yaml", "rules/node.yaml"},
		Source:   func(path string) *source.File { return files[path] },
		Checks: []CheckInfo{
			{Name: "yaml/syntax", Summary: "A file is not valid YAML.", Doc: "Reports files that do not parse as YAML.", Severity: diag.Fatal},
			{Name: "rules/required-annotations", Summary: "An alert lacks summary or description.", Doc: "Alerts need a summary and a description.", Severity: diag.Error},
			{Name: "rules/template-syntax", Summary: "A template does not parse.", Doc: "Templates in annotations must parse.", Severity: diag.Error},
			{Name: "rules/for-missing", Summary: "An alert has no for.", Doc: "Alerts without for fire on one bad scrape.", Severity: diag.Warning},
			{Name: "rules/rate-window", Summary: "A rate() window is too short.",
				Doc: "Flags rate() windows shorter than 4× the scrape interval.\n\nA window <1m> & 'short' gives \"noisy\" results.", Severity: diag.Warning},
			{Name: "rules/unused-record", Summary: "A recording rule is never used.", Doc: "Recording rules cost; unused ones should go.", Severity: diag.Info},
			{Name: "secrets/plaintext", Summary: "A file holds a credential.", Doc: "Credentials belong in Secrets.", Severity: diag.Error},
			{Name: "alerting/unused-receiver", Summary: "A receiver is never routed to.", Doc: "Unused receivers are dead config.", Severity: diag.Info},
		},
		Tool: Tool{Name: "obsctl", Version: "1.2.3", InformationURI: "https://github.com/obsctl/obsctl"},
	}
}

func render(t *testing.T, format string, in Input, opts Options) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, format, in, opts); err != nil {
		t.Fatalf("Write(%s): %v", format, err)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	for _, format := range Formats() {
		t.Run(format, func(t *testing.T) {
			got := render(t, format, fixture(), Options{})
			path := filepath.Join("testdata", format+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/report -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s output differs from %s (run go test ./internal/report -update and review the diff)\ngot:\n%s", format, path, got)
			}
			// Rendering twice gives the same bytes: nothing depends on
			// map order or the clock.
			if again := render(t, format, fixture(), Options{}); !bytes.Equal(got, again) {
				t.Errorf("%s output is not deterministic", format)
			}
		})
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	// Whatever the format, only the location and message of a secret
	// finding may appear: never the value, the rest of its line, or the
	// hint (which, unlike the message, is not promised to leave the
	// value out).
	forbidden := []string{fakeSecret, secretHost, "url: https", secretHint}
	for _, format := range Formats() {
		for _, color := range []bool{false, true} {
			out := string(render(t, format, fixture(), Options{Color: color}))
			for _, s := range forbidden {
				if strings.Contains(out, s) {
					t.Errorf("%s (color %t) output contains %q from a secret finding", format, color, s)
				}
			}
			if !strings.Contains(out, secretMessage) {
				t.Errorf("%s (color %t) output lacks the secret finding's message %q", format, color, secretMessage)
			}
		}
	}
}

func TestWriteEmpty(t *testing.T) {
	// Every format renders a clean run; the structured ones are checked
	// for validity in their own tests.
	in := Input{Files: []string{"rules/a.yaml"}}
	want := map[string]string{
		"text":   "no findings in 1 file\n",
		"github": "",
	}
	for _, format := range Formats() {
		got := string(render(t, format, in, Options{}))
		if w, ok := want[format]; ok && got != w {
			t.Errorf("%s: got %q, want %q", format, got, w)
		}
	}
}

func TestWriteUnknownFormat(t *testing.T) {
	var b bytes.Buffer
	err := Write(&b, "xml", fixture(), Options{})
	if !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("Write(xml) = %v, want an error wrapping ErrUnknownFormat", err)
	}
	if !strings.Contains(err.Error(), `"xml"`) || !strings.Contains(err.Error(), "sarif") {
		t.Errorf("error %q should name the format and the known ones", err)
	}
	if b.Len() != 0 {
		t.Errorf("wrote %q for an unknown format", b.String())
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestWriteError(t *testing.T) {
	sentinel := errors.New("disk full")
	for _, format := range Formats() {
		if err := Write(failWriter{sentinel}, format, fixture(), Options{}); !errors.Is(err, sentinel) {
			t.Errorf("Write(%s) to a failing writer = %v, want it wrapped", format, err)
		}
	}
}

func TestFormats(t *testing.T) {
	want := []string{"text", "json", "github", "sarif", "junit", "checkstyle", "gitlab"}
	got := Formats()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Formats() = %v, want %v", got, want)
	}
	got[0] = "changed"
	if Formats()[0] != "text" {
		t.Error("Formats returns a slice that aliases the package's list")
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestTextColor(t *testing.T) {
	plain := string(render(t, "text", fixture(), Options{}))
	color := string(render(t, "text", fixture(), Options{Color: true}))
	if !ansi.MatchString(color) {
		t.Fatal("Color: true wrote no ANSI sequences")
	}
	if ansi.MatchString(plain) {
		t.Error("Color: false wrote ANSI sequences")
	}
	if stripped := ansi.ReplaceAllString(color, ""); stripped != plain {
		t.Errorf("colour output differs from plain output in more than colour:\n%s\nvs\n%s", stripped, plain)
	}
	for _, format := range Formats()[1:] {
		if out := render(t, format, fixture(), Options{Color: true}); ansi.Match(out) {
			t.Errorf("%s output has ANSI colours", format)
		}
	}
}
