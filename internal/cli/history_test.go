package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/inventory"
)

func historyObject(apiVersion, kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	meta := map[string]any{"name": name}
	if ns != "" {
		meta["namespace"] = ns
	}
	o := map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": meta}
	if spec != nil {
		o["spec"] = spec
	}
	return &unstructured.Unstructured{Object: o}
}

// historyFixture is an inventory that keeps four revisions of six applied:
// revision 2's predecessor is gone, revision 4 lost its manifests, revision
// 5 changes and removes objects, and revision 6 rolls back to 3 with a
// failure.
func historyFixture(t *testing.T) *inventory.Inventory {
	t.Helper()
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	base := func(replicas int64) []*unstructured.Unstructured {
		return []*unstructured.Unstructured{
			historyObject("v1", "Namespace", "", "monitoring", nil),
			historyObject("apps/v1", "Deployment", "monitoring", "grafana", map[string]any{"replicas": replicas}),
			historyObject("monitoring.coreos.com/v1", "PrometheusRule", "monitoring", "node", map[string]any{"groups": []any{}}),
		}
	}
	inv := inventory.New("monitoring", "prod")
	inv.Keep = 5
	add := func(objs []*unstructured.Unstructured, s inventory.Summary, change func(*inventory.Revision)) {
		t.Helper()
		r := inventory.Revision{User: "alice", Host: "ci-7", ObsctlVersion: "v0.4.0", Summary: s}
		if err := r.SetObjects(objs); err != nil {
			t.Fatal(err)
		}
		r.Time = t0.Add(time.Duration(len(inv.Revisions())) * time.Hour)
		if change != nil {
			change(&r)
		}
		inv.Append(r)
	}
	add(base(1), inventory.Summary{Created: 3}, nil)                                        // 1, trimmed
	add(base(2), inventory.Summary{Configured: 1, Unchanged: 2}, nil)                       // 2
	add(append(base(2), historyObject("v1", "ConfigMap", "monitoring", "dashboards", nil)), // 3
		inventory.Summary{Created: 1, Unchanged: 3}, func(r *inventory.Revision) { r.User = "bob"; r.Host = "" })
	// 4: without manifests or digests, as a format 1 inventory left a
	// revision it dropped the manifests from.
	noManifests := inventory.Revision{
		User: "alice", Host: "ci-7", ObsctlVersion: "v0.4.1",
		Summary: inventory.Summary{Created: 1, Unchanged: 4}, ManifestsDropped: inventory.DroppedForSize,
	}
	noManifests.Carry(append(inv.Latest().Refs(), inventory.ObjectRef{Version: "v1", Kind: "Service", Namespace: "monitoring", Name: "grafana"})...)
	noManifests.Time = t0.Add(3 * time.Hour)
	inv.Append(noManifests)
	add(base(3)[1:], inventory.Summary{Configured: 1, Unchanged: 1, Pruned: 3}, func(r *inventory.Revision) { r.ObsctlVersion = "" }) // 5
	add(append(base(2), historyObject("v1", "ConfigMap", "monitoring", "dashboards", nil)),                                           // 6
		inventory.Summary{Created: 2, Configured: 1, Unchanged: 1, Failed: 1}, func(r *inventory.Revision) { r.RollbackOf = 3 })
	if got := len(inv.Revisions()); got != 5 || inv.Revisions()[0].Number != 2 {
		t.Fatalf("fixture keeps %d revisions from %d", got, inv.Revisions()[0].Number)
	}
	return inv
}

func historyGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "history", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update to accept):\n%s", path, got)
	}
}

func TestHistoryRender(t *testing.T) {
	inv := historyFixture(t)
	for _, tc := range []struct {
		golden string
		write  func(*bytes.Buffer) error
	}{
		{"table.golden", func(b *bytes.Buffer) error { return writeHistoryTable(b, inv) }},
		{"history.golden.json", func(b *bytes.Buffer) error { return writeHistoryJSON(b, inv) }},
		{"revision-5.golden", func(b *bytes.Buffer) error { return writeRevision(b, inv, 5, "text") }},
		{"revision-4.golden", func(b *bytes.Buffer) error { return writeRevision(b, inv, 4, "text") }},
		{"revision-2.golden", func(b *bytes.Buffer) error { return writeRevision(b, inv, 2, "text") }},
		{"revision-6.golden.json", func(b *bytes.Buffer) error { return writeRevision(b, inv, 6, "json") }},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.write(&buf); err != nil {
				t.Fatal(err)
			}
			historyGolden(t, tc.golden, buf.Bytes())
		})
	}
}

// TestHistoryTableColumns checks the table's content beyond the golden
// file: newest first, and the change counts of each kind of revision.
func TestHistoryTableColumns(t *testing.T) {
	var buf bytes.Buffer
	if err := writeHistoryTable(&buf, historyFixture(t)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "REVISION") {
		t.Fatalf("table:\n%s", buf.String())
	}
	for i, want := range []struct{ rev, changes, note string }{
		{"6", "+2 -0 ~1", "rollback of 3; 1 failed"},
		{"5", "+0 -3 ~?", ""},
		{"4", "+1 -0 ~?", "manifests dropped"},
		{"3", "+1 -0 ~0", ""},
		{"2", "+0 -0 ~1", "changes as applied (previous revision not kept)"},
	} {
		f := strings.Fields(lines[i+1])
		changes := strings.Join(f[5:8], " ")
		_, tail, _ := strings.Cut(lines[i+1], want.changes)
		tail = strings.TrimSpace(tail)
		if f[0] != want.rev || changes != want.changes || tail != want.note {
			t.Errorf("row %d: %q, want revision %s, changes %q, note %q", i+1, lines[i+1], want.rev, want.changes, want.note)
		}
	}
}

func TestHistoryJSONShape(t *testing.T) {
	var buf bytes.Buffer
	if err := writeHistoryJSON(&buf, historyFixture(t)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Stack, Namespace string
		Revisions        []struct {
			Revision     int
			Objects      int
			Rollbackable bool
			Changes      *struct {
				Added, Removed []inventory.ObjectRef
				Changed        *[]inventory.ObjectRef
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Stack != "prod" || got.Namespace != "monitoring" || len(got.Revisions) != 5 || got.Revisions[0].Revision != 6 {
		t.Fatalf("%+v", got)
	}
	r5, r4, r2 := got.Revisions[1], got.Revisions[2], got.Revisions[4]
	if r5.Changes == nil || len(r5.Changes.Removed) != 3 || r5.Changes.Changed != nil {
		t.Errorf("revision 5 changes %+v: want 3 removed, changed unknown (null) against manifests dropped", r5.Changes)
	}
	if r4.Rollbackable || r4.Objects != 5 {
		t.Errorf("revision 4: %+v", r4)
	}
	if r2.Changes != nil {
		t.Errorf("revision 2 changes %+v, want null: revision 1 is not kept", r2.Changes)
	}
}

func TestHistoryRevisionMissing(t *testing.T) {
	err := writeRevision(&bytes.Buffer{}, historyFixture(t), 1, "text")
	if err == nil || !strings.Contains(err.Error(), "has no revision 1 (it keeps revisions 2 to 6)") {
		t.Errorf("error %v", err)
	}
}
