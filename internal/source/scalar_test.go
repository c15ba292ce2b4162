package source

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/diag"
)

// exprNode returns the value node of the first "expr" key in src.
func exprNode(t *testing.T, f *File) *yaml.Node {
	t.Helper()
	docs, fd := f.ParseYAML("yaml/syntax")
	if fd != nil {
		t.Fatalf("parse: %v", fd)
	}
	var find func(n *yaml.Node) *yaml.Node
	find = func(n *yaml.Node) *yaml.Node {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "expr" {
					return n.Content[i+1]
				}
			}
		}
		for _, c := range n.Content {
			if r := find(c); r != nil {
				return r
			}
		}
		return nil
	}
	n := find(docs[0])
	if n == nil {
		t.Fatal("no expr")
	}
	return n
}

func TestScalarPos(t *testing.T) {
	tests := []struct {
		name string
		src  string
		// needle is a substring of the decoded value; want is where its
		// first byte sits in the file.
		needle string
		want   diag.Pos
	}{
		{"plain", "expr: up == 0\n", "==", diag.Pos{Line: 1, Col: 10}},
		{"double", `expr: "up{job=\"a\"} > 1"` + "\n", ">", diag.Pos{Line: 1, Col: 22}},
		{"single", "expr: 'up{job=''a''} > 1'\n", ">", diag.Pos{Line: 1, Col: 22}},
		{"literal", "x:\n  expr: |\n    sum(rate(a[5m]))\n      / on() b\n", "/", diag.Pos{Line: 4, Col: 7}},
		{"folded", "expr: >\n  sum(a)\n  > 3\n", "3", diag.Pos{Line: 3, Col: 5}},
		{"plain multiline", "expr: sum(a)\n  > 3\n", "3", diag.Pos{Line: 2, Col: 5}},
		{"double multiline", "expr: \"sum(a)\n  > 3\"\n", "3", diag.Pos{Line: 2, Col: 5}},
		{"unicode before", "expr: é + x\n", "x", diag.Pos{Line: 1, Col: 11}},
		{"literal blank line", "expr: |\n  a\n\n  or b\n", "b", diag.Pos{Line: 4, Col: 6}},
		// Found by FuzzScalarPos: a folded scalar drops the break before
		// blank lines, a block may give its indentation, a value may carry
		// an anchor or a tag, and a lone CR is a line break.
		{"folded blank line", "expr: >-\n  sum(a)\n\n  > 3\n", "3", diag.Pos{Line: 4, Col: 5}},
		{"indentation indicator", "expr: |2\n    indented(a)\n", "indented", diag.Pos{Line: 2, Col: 5}},
		{"anchor", "expr: &e sum(a) > 3\n", "3", diag.Pos{Line: 1, Col: 19}},
		{"anchor ending at an indicator", "expr: &a:b\n", ":b", diag.Pos{Line: 1, Col: 9}},
		{"byte order mark", "\ufeffexpr: up > 3\n", "3", diag.Pos{Line: 1, Col: 12}},
		{"tag and quotes", "expr: !!str \"sum(a) > 3\"\n", "3", diag.Pos{Line: 1, Col: 23}},
		{"lone CR", "x: 1\rexpr: up > 3\r", "3", diag.Pos{Line: 2, Col: 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFile("x.yaml", []byte(tt.src))
			n := exprNode(t, f)
			off := strings.Index(n.Value, tt.needle)
			if off < 0 {
				t.Fatalf("needle %q not in %q", tt.needle, n.Value)
			}
			if got := f.ScalarPos(n, off); got != tt.want {
				t.Errorf("ScalarPos(%q) = %+v, want %+v (line %q)", tt.needle, got, tt.want, f.Line(tt.want.Line))
			}
		})
	}
}

func TestSpanOfScalar(t *testing.T) {
	f := NewFile("x.yaml", []byte("expr: \"up\"\n"))
	n := exprNode(t, f)
	got := f.Span(n)
	want := diag.Span{File: "x.yaml", Start: diag.Pos{Line: 1, Col: 7}, End: diag.Pos{Line: 1, Col: 11}}
	if got != want {
		t.Errorf("Span = %+v, want %+v", got, want)
	}
}

func TestParseYAMLErrors(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		wantLine int
		wantMsg  string
	}{
		{"bad indent", "a: 1\n b: 2\n", 2, "YAML syntax"},
		{"tab", "a:\n\t- b\n", 2, "YAML syntax"},
		{"nul", "a: 1\x00\n", 1, "not UTF-8"},
		{"invalid utf8", "a: 1\nb: \xff\n", 2, "not UTF-8"},
		{"unclosed quote", "a: 'x\n", 1, "quote opened here is never closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFile("x.yaml", []byte(tt.src))
			_, fd := f.ParseYAML("yaml/syntax")
			if fd == nil {
				t.Fatal("want a finding")
			}
			if fd.Start.Line != tt.wantLine || !strings.Contains(fd.Message, tt.wantMsg) {
				t.Errorf("got %v, want line %d containing %q", fd, tt.wantLine, tt.wantMsg)
			}
		})
	}
}

func TestPosAndOffsetRoundTrip(t *testing.T) {
	f := NewFile("x", []byte("ab\nçd\n\nx"))
	for off := 0; off <= len(f.Src); off++ {
		if f.Src[min(off, len(f.Src)-1)]&0xC0 == 0x80 {
			continue // inside a multi-byte rune
		}
		p := f.Pos(off)
		if back := f.Offset(p); back != off {
			t.Errorf("offset %d -> %+v -> %d", off, p, back)
		}
	}
	if f.Line(2) != "çd" || f.Line(9) != "" {
		t.Errorf("Line: %q %q", f.Line(2), f.Line(9))
	}
}

// TestLineBreaks checks that the file counts lines as the YAML parser
// does, so that a finding the parser places on line N is on line N here.
func TestLineBreaks(t *testing.T) {
	f := NewFile("x", []byte("a\rb\r\nc\u2028d\u0085e\nf"))
	if f.NumLines() != 6 {
		t.Fatalf("NumLines = %d, want 6", f.NumLines())
	}
	for i, want := range []string{"a", "b", "c", "d", "e", "f"} {
		if got := f.Line(i + 1); got != want {
			t.Errorf("Line(%d) = %q, want %q", i+1, got, want)
		}
		if p := f.Pos(strings.Index(string(f.Src), want)); p != (diag.Pos{Line: i + 1, Col: 1}) {
			t.Errorf("Pos(%q) = %+v", want, p)
		}
	}
	_, fd := NewFile("x", []byte("a: 1\rb: [\r")).ParseYAML("yaml/syntax")
	if fd == nil || fd.Start.Line != 2 {
		t.Errorf("syntax error in a CR file: got %v, want line 2", fd)
	}
}

// TestSpanAtEndOfFile checks that a node the parser places past the last
// line (the null of a bare "---" without a final line break) is spanned
// inside the file.
func TestSpanAtEndOfFile(t *testing.T) {
	f := NewFile("x", []byte("---"))
	docs, fd := f.ParseYAML("yaml/syntax")
	if fd != nil || len(docs) != 1 {
		t.Fatalf("parse: %v %v", docs, fd)
	}
	if sp := f.Span(docs[0].Content[0]); sp.Start.Line != 1 || sp.End.Before(sp.Start) {
		t.Errorf("Span = %+v, want a span on line 1", sp)
	}
}

// TestPosInsideCharacter checks that an offset inside a multi-byte
// character is placed on that character.
func TestPosInsideCharacter(t *testing.T) {
	f := NewFile("x", []byte("a\u27dfb"))
	for off, col := range []int{1, 2, 2, 2, 3} {
		if p := f.Pos(off); p.Col != col {
			t.Errorf("Pos(%d) = %+v, want column %d", off, p, col)
		}
	}
}

// TestVerbatimEndMatchesWalk holds the fast path of Span to the full
// decoding walk for every scalar of a file with many styles.
func TestVerbatimEndMatchesWalk(t *testing.T) {
	src := "a: plain value\nb: 'single ''q'' x'\nc: \"double \\\" e\"\nd: \"plain double\"\ne: 'plain single'\nf: é ü\ng: &x anchored\nh: !!str tagged\ni: |\n  block\nj: \"é\"\nk: 42\n"
	f := NewFile("x.yaml", []byte(src))
	docs, fd := f.ParseYAML("yaml/syntax")
	if fd != nil {
		t.Fatal(fd)
	}
	checked := 0
	for _, n := range docs[0].Content[0].Content {
		if n.Kind != yaml.ScalarNode {
			continue
		}
		slow := n.Style &^ yaml.TaggedStyle
		var want diag.Pos
		switch slow {
		case yaml.LiteralStyle, yaml.FoldedStyle:
			continue
		case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
			want = f.Pos(min(f.Offset(f.ScalarPos(n, len(n.Value)))+1, len(f.Src)))
		default:
			want = f.ScalarPos(n, len(n.Value))
		}
		if got, ok := f.verbatimEnd(n); ok {
			checked++
			if got != want {
				t.Errorf("%q: fast end %+v, walk %+v", n.Value, got, want)
			}
		}
	}
	if checked < 10 {
		t.Errorf("fast path taken for only %d scalars", checked)
	}
}
