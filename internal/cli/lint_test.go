package cli

import (
	"slices"
	"testing"
)

func TestCheckSelectionFlagsWin(t *testing.T) {
	got := checkSelection([]string{"rules/alert-name"}, []string{"rules/for-missing", "rules/unused-record"},
		[]string{"rules/for-missing"}, []string{"rules/alert-name"})
	if !slices.Equal(got.Disable, []string{"rules/unused-record", "rules/alert-name"}) {
		t.Errorf("Disable = %v", got.Disable)
	}
	if !slices.Equal(got.Enable, []string{"rules/alert-name", "rules/for-missing"}) {
		t.Errorf("Enable = %v", got.Enable)
	}
}
