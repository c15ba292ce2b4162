package source

import (
	"strings"
	"testing"
)

// TestOpenQuote places the findings of a quote left open at the quote,
// however far the value runs on, and leaves alone the quotes and
// multi-line values that are fine.
func TestOpenQuote(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		line, col int // 0: no finding
		msg       string
		docs      int // documents returned with the finding
	}{
		{"closed by the next line's quote", "a:\n  - name: \"pager\n    url: \"http://x\"\n", 2, 11, "runs on to line 3", 0},
		{"closed lines below", "a: 1\nb: 'x\nc: d\ne: f\ng: 'h'\n", 2, 4, "runs on to line 5", 0},
		{"in a flow mapping", "a: {b: \"x, c: d}\nd: \"e\"\n", 1, 8, "runs on to line 2", 0},
		{"never closed", "a: 1\nb: \"x\nc: d\n", 2, 4, "never closed", 0},
		{"on the first line", "a: 'x\nb: c\n", 1, 4, "never closed", 0},
		{"swallows an item", "r:\n  - name: \"pager\n  - name: other\"\n    url: x\n", 2, 11, "runs on to line 3", 0},
		{"swallows a key", "a:\n  b: \"x\n  c: y\"\n", 2, 6, "runs on to line 3", 0},
		{"in a later document", "a: 1\n---\nb:\n  c: \"x\n  d: e\"\n", 4, 6, "runs on to line 5", 1},
		{"multi-line value, indented", "a:\n  b: \"one\n    two\"\n", 0, 0, "", 1},
		{"multi-line value with a colon, indented", "a:\n  b: \"note:\n    two\"\n", 0, 0, "", 1},
		{"blank line inside", "a:\n  b: 'one\n\n    two'\n", 0, 0, "", 1},
		{"quotes inside a plain value", "a: it's \"fine\n", 0, 0, "", 1},
		{"escaped quotes", "a: \"say \\\"hi\\\"\"\nb: 'it''s'\n", 0, 0, "", 1},
		{"flow sequence over lines", "a: [\"x\n  y\", z]\n", 0, 0, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFile("x.yaml", []byte(tt.src))
			docs, fd := f.ParseYAML("yaml/syntax")
			if tt.line == 0 {
				if fd != nil {
					t.Fatalf("unexpected finding %v", fd)
				}
				return
			}
			if fd == nil {
				t.Fatalf("no finding; want one at %d:%d", tt.line, tt.col)
			}
			if fd.Start.Line != tt.line || fd.Start.Col != tt.col || !strings.Contains(fd.Message, tt.msg) {
				t.Errorf("got %v, want %d:%d containing %q", fd, tt.line, tt.col, tt.msg)
			}
			if len(docs) != tt.docs {
				t.Errorf("%d documents returned with the finding, want %d", len(docs), tt.docs)
			}
		})
	}
}
