package cli

import (
	"runtime"
	"runtime/debug"
	"slices"
	"testing"
	"time"
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

// TestLintMemoryFollowsTheLiveHeap checks that the soft memory limit lint
// sets from the input's size is raised above a live heap that outgrows
// it (the collector would otherwise run without end), and that restore
// puts the previous settings back.
func TestLintMemoryFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	prevLimit := debug.SetMemoryLimit(-1)
	restore := lintMemory(0)
	start := debug.SetMemoryLimit(-1)
	live := make([][]byte, 0, 64)
	for range 64 {
		live = append(live, make([]byte, 1<<20)) // 64 MiB kept, over the limit set
	}
	want := int64(64<<20) * 3 / 2
	deadline := time.Now().Add(10 * time.Second)
	for debug.SetMemoryLimit(-1) < want && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if got := debug.SetMemoryLimit(-1); got < want {
		t.Errorf("limit %d after collections with 64 MiB live (set at %d), want at least %d", got, start, want)
	}
	runtime.KeepAlive(live)
	restore()
	if got := debug.SetMemoryLimit(-1); got != prevLimit {
		t.Errorf("limit %d after restore, want %d", got, prevLimit)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC %d after restore, want 100", got)
	}
}
