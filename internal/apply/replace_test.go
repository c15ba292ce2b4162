package apply

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// immutableServiceName is an onPatch acting as the API server does for a
// StatefulSet: its service name cannot change.
func immutableServiceName(c fakeCall, live *unstructured.Unstructured) error {
	if live == nil || c.Key.resource != "statefulsets" {
		return nil
	}
	want, _, _ := unstructured.NestedString(c.Body, "spec", "serviceName")
	got, _, _ := unstructured.NestedString(live.Object, "spec", "serviceName")
	if want != got {
		return invalid(c, "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "+
			"'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")
	}
	return nil
}

// TestReplace: a StatefulSet the server will not change in place is
// replaced only when Options.Replace allows it; a server dry run deletes
// nothing and says the same.
func TestReplace(t *testing.T) {
	sts := func(service string, replicas int) string {
		return `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: db}, spec: {serviceName: ` + service + `, replicas: ` +
			string(rune('0'+replicas)) + `}}`
	}
	allowed := map[ObjectRef]bool{{Group: "apps", Kind: "StatefulSet", Namespace: "a", Name: "db"}: true}
	tests := []struct {
		name    string
		replace map[ObjectRef]bool
		dryRun  bool
		scaled  bool // kubectl-scale owns the live replicas
		want    string
		deletes []bool // dry run of each delete sent
		service string // live afterwards
		note    string
	}{
		{name: "not allowed", want: "failed", service: "old"},
		{name: "not allowed: another namespace", replace: map[ObjectRef]bool{{Group: "apps", Kind: "StatefulSet", Namespace: "b", Name: "db"}: true},
			want: "failed", service: "old"},
		{name: "not allowed, server dry run", dryRun: true, want: "failed", service: "old"},
		{name: "allowed", replace: allowed, want: "replaced", deletes: []bool{false}, service: "new",
			note: "replaced: a field StatefulSets cannot change did; its pods were recreated, their volumes kept"},
		{name: "allowed, server dry run", replace: allowed, dryRun: true, want: "replaced (server dry run)", deletes: []bool{true}, service: "old",
			note: "would be replaced: a field StatefulSets cannot change did; its pods would be recreated, their volumes kept"},
		{name: "allowed, replicas scaled", replace: allowed, scaled: true, want: "replaced", deletes: []bool{false}, service: "new",
			note: "replaced: a field StatefulSets cannot change did; its pods were recreated, their volumes kept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			opts := Options{Stack: "s", Namespace: "a", Timeout: 10 * time.Second}
			if _, err := f.applier().Apply(context.Background(), objs(t, sts("old", 2)), opts); err != nil {
				t.Fatal(err)
			}
			before := f.get("statefulsets", "a", "db").GetUID()
			if tt.scaled {
				o := f.get("statefulsets", "a", "db")
				o.SetManagedFields(append(o.GetManagedFields(), entry("kubectl-scale", "scale", `{"f:spec":{"f:replicas":{}}}`)))
			}
			f.calls = nil
			f.onPatch = immutableServiceName
			opts.Replace = tt.replace
			if tt.dryRun {
				opts.DryRun = DryRunServer
			}
			ev := &events{}
			opts.Observer = ev
			res, err := f.applier().Apply(context.Background(), objs(t, sts("new", 3)), opts)
			o := res.Objects[0]
			if o.Verb() != tt.want || o.Note != tt.note {
				t.Errorf("%s (%q), want %s (%q)", o.Verb(), o.Note, tt.want, tt.note)
			}
			if evs := ev.of("db"); len(evs) != 1 || evs[0].Action != o.Action || evs[0].Note != o.Note {
				t.Errorf("events %+v", evs)
			}
			var rn *ReplaceNeededError
			if tt.want == "failed" {
				if !errors.As(err, &rn) || !errors.As(o.Err, &rn) || !apierrors.IsInvalid(err) {
					t.Fatalf("err = %v, want a *ReplaceNeededError", err)
				}
				if rn.Object.String() != "StatefulSet a/db" || !strings.Contains(rn.Message, "updates to statefulset spec for fields other than") ||
					!strings.Contains(err.Error(), "StatefulSet a/db: cannot be changed in place, only replaced") {
					t.Errorf("ReplaceNeededError %+v: %v", rn, err)
				}
			} else if err != nil {
				t.Fatalf("err = %v", err)
			}
			var deletes []bool
			for _, c := range f.sent("delete") {
				deletes = append(deletes, c.DryRun)
			}
			if !reflect.DeepEqual(deletes, tt.deletes) {
				t.Errorf("deletes (dry run) %v, want %v", deletes, tt.deletes)
			}
			live := f.get("statefulsets", "a", "db")
			if svc, _, _ := unstructured.NestedString(live.Object, "spec", "serviceName"); svc != tt.service {
				t.Errorf("live service name %q, want %q", svc, tt.service)
			}
			if replaced := live.GetUID() != before; replaced != (tt.want == "replaced") {
				t.Errorf("uid %s before, %s after", before, live.GetUID())
			}
			if tt.want == "replaced" {
				// The new object gets the whole desired object.
				if n, _, _ := unstructured.NestedInt64(live.Object, "spec", "replicas"); n != 3 || o.LeftTo != nil || o.Applied == nil {
					t.Errorf("replaced: %d replicas, left to %v, applied %v", n, o.LeftTo, o.Applied != nil)
				}
			}
			// A dry-run replace returns what the server would create in
			// its place: a dry-run create, under a generated name since
			// the object still exists, given its own name back.
			var creates []string
			for _, c := range f.sent("create") {
				if !c.DryRun || !strings.HasPrefix(c.Key.name, "db-") {
					t.Errorf("create %s (dry run %v), want only a dry run under a name generated from db", c.Key, c.DryRun)
				}
				creates = append(creates, c.Key.name)
			}
			if dryReplace := tt.dryRun && tt.want != "failed"; dryReplace != (len(creates) == 1) {
				t.Errorf("creates %v", creates)
			}
			if tt.dryRun && tt.want != "failed" {
				if o.Applied == nil {
					t.Fatal("a dry-run replace returned no object")
				}
				if svc, _, _ := unstructured.NestedString(o.Applied.Object, "spec", "serviceName"); o.Applied.GetName() != "db" || o.Applied.GetGenerateName() != "" || svc != "new" {
					t.Errorf("dry-run replace: applied %v, want the new StatefulSet db", o.Applied)
				}
			}
		})
	}
}
