package report

import (
	"regexp"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/diag"
)

// commandRE is the workflow command grammar as the runner reads it:
// ::name key=value,key=value::message, on one line, with no unescaped
// ',' or ':' in a value.
var commandRE = regexp.MustCompile(`^::(error|warning|notice)( ([A-Za-z]+=[^,:\r\n]*)(,[A-Za-z]+=[^,:\r\n]*)*)?::([^\r\n]*)$`)

// unescapeCommand reverses escapeProperty and escapeData, as the runner does.
var unescapeCommand = strings.NewReplacer("%0D", "\r", "%0A", "\n", "%3A", ":", "%2C", ",", "%25", "%").Replace

type githubCommandLine struct {
	command string
	props   map[string]string
	message string
}

func parseGitHub(t *testing.T, out string) []githubCommandLine {
	t.Helper()
	var cmds []githubCommandLine
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		m := commandRE.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("line does not match the workflow command grammar: %q", line)
			continue
		}
		c := githubCommandLine{command: m[1], props: map[string]string{}, message: unescapeCommand(m[5])}
		head, _, _ := strings.Cut(strings.TrimPrefix(line, "::"+m[1]+" "), "::")
		for _, kv := range strings.Split(head, ",") {
			k, v, _ := strings.Cut(kv, "=")
			if _, dup := c.props[k]; dup {
				t.Errorf("property %s given twice in %q", k, line)
			}
			c.props[k] = unescapeCommand(v)
		}
		cmds = append(cmds, c)
	}
	return cmds
}

func TestGitHubCommands(t *testing.T) {
	in := fixture()
	cmds := parseGitHub(t, string(render(t, "github", in, Options{})))
	if len(cmds) != len(in.Findings) {
		t.Fatalf("%d commands for %d findings", len(cmds), len(in.Findings))
	}
	for i, f := range in.Findings {
		c := cmds[i]
		if want := githubCommand(f.Severity); c.command != want {
			t.Errorf("%v: command %s, want %s", f, c.command, want)
		}
		// What the runner decodes is exactly what we meant to say.
		if c.props["file"] != f.File || c.props["title"] != f.Check {
			t.Errorf("%v: file=%q title=%q after unescaping", f, c.props["file"], c.props["title"])
		}
		if c.message != withHint(f) {
			t.Errorf("%v: message %q after unescaping, want %q", f, c.message, withHint(f))
		}
		// @actions/core: columns cannot be sent for a span over lines.
		if c.props["endLine"] != "" && c.props["endLine"] != c.props["line"] {
			if _, ok := c.props["col"]; ok {
				t.Errorf("%v: col sent for a multi-line span", f)
			}
			if _, ok := c.props["endColumn"]; ok {
				t.Errorf("%v: endColumn sent for a multi-line span", f)
			}
		}
		if f.Start.IsZero() {
			if _, ok := c.props["line"]; ok {
				t.Errorf("%v: line sent for a file-level finding", f)
			}
		}
	}
}

func TestGitHubPosition(t *testing.T) {
	f := func(line, col, endLine, endCol int) diag.Finding {
		return diag.Finding{Check: "a/b", Severity: diag.Warning, Message: "m",
			Span: diag.Span{File: "f.yaml", Start: diag.Pos{Line: line, Col: col}, End: diag.Pos{Line: endLine, Col: endCol}}}
	}
	tests := []struct {
		name string
		f    diag.Finding
		want string
	}{
		{"one line", f(3, 5, 3, 9), "::warning file=f.yaml,line=3,col=5,endLine=3,endColumn=9,title=a/b::m\n"},
		{"point", f(3, 5, 3, 5), "::warning file=f.yaml,line=3,col=5,title=a/b::m\n"},
		{"no end", f(3, 5, 0, 0), "::warning file=f.yaml,line=3,col=5,title=a/b::m\n"},
		{"lines", f(3, 5, 6, 2), "::warning file=f.yaml,line=3,endLine=6,title=a/b::m\n"},
		{"file", f(0, 0, 0, 0), "::warning file=f.yaml,title=a/b::m\n"},
		{"no file", diag.Finding{Check: "a/b", Severity: diag.Info, Message: "m"}, "::notice title=a/b::m\n"},
		{"fatal is an error", diag.Finding{Check: "a/b", Severity: diag.Fatal, Message: "m"}, "::error title=a/b::m\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(render(t, "github", Input{Findings: []diag.Finding{tt.f}}, Options{}))
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGitHubEscape(t *testing.T) {
	tests := []struct {
		in, data, property string
	}{
		{"plain", "plain", "plain"},
		{"100%", "100%25", "100%25"},
		{"a\r\nb", "a%0D%0Ab", "a%0D%0Ab"},
		{"k: v, w", "k: v, w", "k%3A v%2C w"},
		{"%0A", "%250A", "%250A"},
		{"::error::x", "::error::x", "%3A%3Aerror%3A%3Ax"},
	}
	for _, tt := range tests {
		if got := escapeData(tt.in); got != tt.data {
			t.Errorf("escapeData(%q) = %q, want %q", tt.in, got, tt.data)
		}
		if got := escapeProperty(tt.in); got != tt.property {
			t.Errorf("escapeProperty(%q) = %q, want %q", tt.in, got, tt.property)
		}
		if got := unescapeCommand(tt.property); got != tt.in {
			t.Errorf("unescape(escapeProperty(%q)) = %q", tt.in, got)
		}
	}
}
