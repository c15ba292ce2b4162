package lint

import (
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/promrule"
)

// TestTemplateErrorOffset places a template error on the token it names:
// the parser gives only a line, and a folded or one-line value holds the
// whole template on its first.
func TestTemplateErrorOffset(t *testing.T) {
	for _, tc := range []struct{ value, at string }{
		{"Job {{ $labels.job }} on {{ $labels.instance is down", "is down"},
		{"a {{ .Labels.team | nosuchfunc }} b", "nosuchfunc"},
		{"line one\nline {{ $undefined }} two", "$undefined"},
		{"ok {{ $labels.x }} then {{ $labels.y", "{{ $labels.y"},
		{"this {{ if true }}x{{ end }} and {{ is }}", "is }}"},
	} {
		tpl := parseTemplate("A", promrule.KV{Key: "summary", Value: tc.value}, false)
		if tpl.Err == nil {
			t.Errorf("%q: no error", tc.value)
			continue
		}
		if want := strings.Index(tc.value, tc.at); tpl.ErrOffset != want {
			t.Errorf("%q: %v at offset %d, want %d", tc.value, tpl.Err, tpl.ErrOffset, want)
		}
	}
}
