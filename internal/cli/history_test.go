package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

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

// historyFixture is an inventory that keeps five revisions of six applied:
// revision 2's predecessor is gone, revision 3 has a message, revision 4
// lost its manifests, revision 5 changes and removes objects and was
// rolled forward, and revision 6 rolls back to 3 with a failure, with
// everything a revision records (Kubernetes identity, repo, git commit,
// message, profile).
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
		r := inventory.Revision{User: "alice", Host: "ci-7", ObsctlVersion: "v0.4.0", Summary: s, RunID: fmt.Sprintf("run-%d", len(inv.Revisions())+1)}
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
		inventory.Summary{Created: 1, Unchanged: 3}, func(r *inventory.Revision) {
			r.User, r.Host = "bob", ""
			r.Message = "Dashboards for the new on-call rotation, and a long first line\n\nThe second paragraph is not in the table."
		})
	// 4: without manifests or digests, as a format 1 inventory left a
	// revision it dropped the manifests from.
	noManifests := inventory.Revision{
		User: "alice", Host: "ci-7", ObsctlVersion: "v0.4.1", RunID: "run-4",
		Summary: inventory.Summary{Created: 1, Unchanged: 4}, ManifestsDropped: inventory.DroppedForSize,
	}
	noManifests.Carry(append(inv.Latest().Refs(), inventory.ObjectRef{Version: "v1", Kind: "Service", Namespace: "monitoring", Name: "grafana"})...)
	noManifests.Time = t0.Add(3 * time.Hour)
	inv.Append(noManifests)
	add(base(3)[1:], inventory.Summary{Configured: 1, Unchanged: 1, Pruned: 3}, func(r *inventory.Revision) { // 5
		r.ObsctlVersion, r.State, r.Profile = "", inventory.StateRolledForward, "minimal"
		r.Git = &inventory.GitInfo{Commit: "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c"}
	})
	add(append(base(2), historyObject("v1", "ConfigMap", "monitoring", "dashboards", nil)), // 6
		inventory.Summary{Created: 2, Configured: 1, Unchanged: 1, Failed: 1}, func(r *inventory.Revision) {
			r.RollbackOf, r.Profile, r.Repo, r.Message = 3, "ha", "/src/observability", "back to the old dashboards"
			r.KubeUser, r.KubeGroups = "system:serviceaccount:ci:deployer", []string{"system:serviceaccounts", "system:authenticated"}
			r.Git = &inventory.GitInfo{Commit: "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", Dirty: true, Author: "Alice <alice@example.com>", Subject: "dashboards: revert the rotation"}
		})
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
		{"revision-6.golden", func(b *bytes.Buffer) error { return writeRevision(b, inv, 6, "text") }},
		{"revision-3.golden", func(b *bytes.Buffer) error { return writeRevision(b, inv, 3, "text") }},
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
	for i, want := range []struct{ rev, who, profile, commit, changes, note string }{
		{"6", "system:serviceaccount:ci:deployer", "ha", "a1b2c3d-dirty", "+2 -0 ~1", `"back to the old dashboards"; rollback of 3; 1 failed`},
		{"5", "alice@ci-7", "minimal", "0f1e2d3", "+0 -3 ~?", "rolled forward (its run was interrupted)"},
		{"4", "alice@ci-7", "-", "-", "+1 -0 ~?", "manifests dropped"},
		{"3", "bob", "-", "-", "+1 -0 ~0", `"Dashboards for the new on-call rotation, and a lo…"`},
		{"2", "alice@ci-7", "-", "-", "+0 -0 ~1", "changes as applied (previous revision not kept)"},
	} {
		f := strings.Fields(lines[i+1])
		changes := strings.Join(f[7:10], " ")
		_, tail, _ := strings.Cut(lines[i+1], want.changes)
		tail = strings.TrimSpace(tail)
		if f[0] != want.rev || f[2] != want.who || f[3] != want.profile || f[4] != want.commit || changes != want.changes || tail != want.note {
			t.Errorf("row %d: %q, want revision %s by %s (%s, %s), changes %q, note %q", i+1, lines[i+1], want.rev, want.who, want.profile, want.commit, want.changes, want.note)
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

// TestHistoryPending: the intent of a run that has not committed is shown
// after the table and in -o json, not as a revision.
func TestHistoryPending(t *testing.T) {
	ctx := context.Background()
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{{Version: "v1", Resource: "secrets"}: "SecretList"})
	inv := inventory.New("monitoring", "prod")
	objs := []*unstructured.Unstructured{historyObject("v1", "Namespace", "", "monitoring", nil)}
	r := inventory.Revision{User: "alice", Host: "ci-7", Time: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	if err := r.SetObjects(objs); err != nil {
		t.Fatal(err)
	}
	if _, err := inv.Commit(ctx, client, r); err != nil {
		t.Fatal(err)
	}
	r.RunID, r.KubeUser, r.Time = "killed-run", "ci-bot", r.Time.Add(time.Hour)
	if _, err := inv.Begin(ctx, client, r); err != nil {
		t.Fatal(err)
	}
	loaded, err := inventory.Load(ctx, client, "monitoring", "prod")
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := writeHistoryTable(&table, loaded); err != nil {
		t.Fatal(err)
	}
	want := "\nPending: run killed-run (would be revision 2) recorded its intent at 2025-03-01T13:00:00Z, by ci-bot, and has not committed:\n" +
		"it is still running, or was interrupted; the next apply rolls it forward.\n"
	if !strings.HasSuffix(table.String(), want) || strings.Count(table.String(), "\n") != 5 {
		t.Errorf("table:\n%s\nwant it to end with:\n%s", table.String(), want)
	}
	var out bytes.Buffer
	if err := writeHistoryJSON(&out, loaded); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Revisions []struct{ Revision int }
		Pending   *struct {
			Revision     int
			RunID, State string
			KubeUser     string
			Objects      int
		}
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Revisions) != 1 || got.Pending == nil || got.Pending.Revision != 2 || got.Pending.RunID != "killed-run" ||
		got.Pending.State != "pending" || got.Pending.KubeUser != "ci-bot" || got.Pending.Objects != 1 {
		t.Errorf("json %+v, pending %+v", got, got.Pending)
	}
}
