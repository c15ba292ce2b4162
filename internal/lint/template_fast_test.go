package lint

import (
	"slices"
	"testing"

	"github.com/obsctl/obsctl/internal/promrule"
)

// fullParse parses v with the real parser, as parseTemplate does for
// labels.
func fullParse(v string) *Template {
	return parseTemplate("A", promrule.KV{Key: "k", Value: v}, true)
}

func TestScanSimpleAgreesWithParser(t *testing.T) {
	tests := []struct {
		v      string
		simple bool
	}{
		{"plain text", true},
		{"{{ $labels.pod }} in {{ $labels.namespace }}", true},
		{"{{ $value | humanize }} and {{ $value | humanizePercentage }}", true},
		{"{{- $labels.job -}} x", true},
		{`{{ printf "%.2f" $value }}`, true},
		{`{{ index $labels "le" }} {{ index .Labels "x" }}`, true},
		{"{{ .Labels.instance }} {{ .Value }} {{ . }}", true},
		{"{{ $externalLabels.cluster }} {{ $externalURL }}", true},
		{"{{ $value | humanize | toUpper }}", true},
		{"{{ 1.5 }} {{ 42 }}", true},
		{"}} stray close {{ $labels.a }}", true},
		{"{{ $labels.pod", false},
		{"{{ $nope }}", false},
		{"{{ if $labels.a }}x{{ end }}", false},
		{"{{ humanise $value }}", false},
		{"{{ }}", false},
		{"{{ $value | 3 }}", false},
		{`{{ "a\"b" }}`, false},
		{"{{/* c */}}", false},
		{"{{ $x := 1 }}", false},
		{"{{ (humanize $value) }}", false},
		{"{{ $value|humanize }}", true},
		{"{{ 1.2.3 }}", false},
		{"{{ $labels. }}", false},
		{"{{-3}}", false},
	}
	fm := templateFuncs()
	if fm == nil || fm["humanize"] == nil {
		t.Fatal("Prometheus template function names could not be read")
	}
	for _, tt := range tests {
		t.Run(tt.v, func(t *testing.T) {
			refs, uses, ok := scanSimple(tt.v, fm)
			if ok != tt.simple {
				t.Fatalf("scanSimple ok = %v, want %v", ok, tt.simple)
			}
			if !ok {
				return
			}
			full := fullParse(tt.v)
			if full.Err != nil {
				t.Fatalf("fast path accepted what the parser refuses: %v", full.Err)
			}
			if !slices.Equal(refs, full.Refs) || uses != full.UsesValue {
				t.Fatalf("fast path refs %v value %v; parser %v %v", refs, uses, full.Refs, full.UsesValue)
			}
		})
	}
}

// FuzzTemplateFastPath holds the fast path to the real parser: whatever it
// accepts, the parser accepts with the same references.
func FuzzTemplateFastPath(f *testing.F) {
	for _, s := range []string{"{{ $labels.a }}", "{{ $value | humanize }}", `{{ index $labels "x" }}`, "{{- .Labels.b -}}", `{{ printf "%d" 1 }}`} {
		f.Add(s)
	}
	fm := templateFuncs()
	f.Fuzz(func(t *testing.T, v string) {
		refs, uses, ok := scanSimple(v, fm)
		if !ok {
			return
		}
		full := fullParse(v)
		if full.Err != nil {
			t.Fatalf("fast path accepted %q, parser says %v", v, full.Err)
		}
		if !slices.Equal(refs, full.Refs) || uses != full.UsesValue {
			t.Fatalf("%q: fast %v %v, parser %v %v", v, refs, uses, full.Refs, full.UsesValue)
		}
	})
}
