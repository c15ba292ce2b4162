package release

import (
	"fmt"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/inventory"
)

// TestNoteDefaults: before it applies, a release says which items of the
// default content changed since the stack's last revision (another
// obsctl's defaults), and says nothing when none did or the revision
// recorded none.
func TestNoteDefaults(t *testing.T) {
	old := map[string]string{"alert node.alerts/NodeCPUBusy": "aaa", "alert node.alerts/NodeDiskBusy": "bbb", "dashboard obsctl-nodes": "ccc"}
	now := map[string]string{"alert node.alerts/NodeCPUBusy": "aaa", "alert node.alerts/NodeDiskBusy": "b2b", "dashboard obsctl-tracing": "ddd"}
	for _, tc := range []struct {
		name      string
		prev, cur map[string]string
		want      []string
	}{
		{"upgrade", old, now, []string{
			"the default content changed since revision 1 (obsctl v0.4.0, now ",
			"1 added, 1 removed, 1 changed",
			"  + dashboard obsctl-tracing", "  - dashboard obsctl-nodes", "  ~ alert node.alerts/NodeDiskBusy"}},
		{"same", old, old, nil},
		{"no record", nil, now, []string{"the repo now builds on obsctl's default content (3 alerts, recording rules, dashboards and pipelines), which revision 1 did not: obsctl.yaml's defaults: false keeps the stack to the repo's own"}},
		{"no defaults now", old, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := inventory.New("monitoring", "s")
			inv.Append(inventory.Revision{ObsctlVersion: "v0.4.0", Defaults: tc.prev})
			var notes []string
			r := &run{inv: inv, src: Source{Defaults: tc.cur}, o: Options{Observer: ObserverFunc(func(e Event) {
				if e.Type == EventNote {
					notes = append(notes, e.Text)
				}
			})}}
			r.noteDefaults()
			all := strings.Join(notes, "\n")
			if tc.want == nil && len(notes) > 0 {
				t.Fatalf("noted %q, want nothing", all)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("notes %q lack %q", all, w)
				}
			}
		})
	}
	// At most 20 items are listed.
	many := map[string]string{}
	for i := range 30 {
		many[fmt.Sprintf("alert g/A%02d", i)] = "x"
	}
	inv := inventory.New("monitoring", "s")
	inv.Append(inventory.Revision{Defaults: map[string]string{"alert g/Z": "x"}})
	var notes []string
	r := &run{inv: inv, src: Source{Defaults: many}, o: Options{Observer: ObserverFunc(func(e Event) { notes = append(notes, e.Text) })}}
	r.noteDefaults()
	if len(notes) != 22 || !strings.HasSuffix(notes[21], "... and 11 more") || !strings.Contains(notes[0], "obsctl an unknown version") {
		t.Errorf("notes %q", notes)
	}
}
