package diag

import (
	"testing"
)

func TestParseSeverity(t *testing.T) {
	tests := []struct {
		in      string
		want    Severity
		wantErr bool
	}{
		{"info", Info, false},
		{"WARNING", Warning, false},
		{"error", Error, false},
		{"fatal", Fatal, false},
		{"critical", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSeverity(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseSeverity(%q) = %v, %v; want %v, err=%v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestSortOrdersAndDedupes(t *testing.T) {
	a := Finding{Check: "x/a", Severity: Error, Span: At("b.yaml", 3, 1), Message: "m"}
	b := Finding{Check: "x/a", Severity: Error, Span: At("a.yaml", 9, 2), Message: "m"}
	c := Finding{Check: "x/b", Severity: Warning, Span: At("a.yaml", 9, 2), Message: "m"}
	got := Sort([]Finding{a, c, b, a})
	want := []Finding{b, c, a}
	if len(got) != len(want) {
		t.Fatalf("got %d findings, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("finding %d = %v, want %v", i, got[i], want[i])
		}
	}
	if Max(got) != Error {
		t.Errorf("Max = %v, want error", Max(got))
	}
}

func TestSpanString(t *testing.T) {
	if got := At("f.yaml", 2, 5).String(); got != "f.yaml:2:5" {
		t.Errorf("got %q", got)
	}
	if got := (Span{File: "f.yaml"}).String(); got != "f.yaml" {
		t.Errorf("got %q", got)
	}
}
