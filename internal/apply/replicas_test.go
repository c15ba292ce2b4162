package apply

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// entry is a managedFields entry of manager over the fields in JSON.
func entry(manager, subresource, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, Subresource: subresource,
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
}

func TestReplicasOwners(t *testing.T) {
	const replicas = `{"f:spec":{"f:replicas":{}}}`
	tests := []struct {
		name    string
		entries []metav1.ManagedFieldsEntry
		want    []string
	}{
		{"obsctl alone", []metav1.ManagedFieldsEntry{entry(FieldManager, "", `{"f:spec":{"f:replicas":{},"f:template":{}}}`)}, nil},
		{"kubectl scale", []metav1.ManagedFieldsEntry{entry(FieldManager, "", `{"f:spec":{"f:template":{}}}`), entry("kubectl-scale", "scale", replicas)}, []string{"kubectl-scale"}},
		{"shared with obsctl", []metav1.ManagedFieldsEntry{entry(FieldManager, "", replicas), entry("kubectl-edit", "", replicas)}, []string{"kubectl-edit"}},
		{"an autoscaler and a person", []metav1.ManagedFieldsEntry{entry("kubectl-scale", "scale", replicas), entry("kube-controller-manager", "scale", replicas)},
			[]string{"kube-controller-manager", "kubectl-scale"}},
		{"another field", []metav1.ManagedFieldsEntry{entry("kubectl-edit", "", `{"f:spec":{"f:paused":{}}}`)}, nil},
		{"status", []metav1.ManagedFieldsEntry{entry("kube-controller-manager", "status", `{"f:status":{"f:replicas":{}}}`)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := &unstructured.Unstructured{Object: map[string]any{}}
			live.SetManagedFields(tt.entries)
			if got := replicasOwners(live); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("replicasOwners = %v, want %v", got, tt.want)
			}
		})
	}
	if replicasOwners(nil) != nil {
		t.Error("replicasOwners(nil) is not nil")
	}
}

// TestLeaveReplicas: replicas another manager owns are left out of what
// the engine applies and compares, and the result says to whom they were
// left.
func TestLeaveReplicas(t *testing.T) {
	deployment := func(image string, replicas int) string {
		return `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: a},
		         spec: {replicas: ` + strconv.Itoa(replicas) + `, template: {spec: {containers: [{name: c, image: ` + image + `}]}}}}`
	}
	statefulSet := `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: web, namespace: a},
	                 spec: {replicas: 3, serviceName: web, template: {spec: {containers: [{name: c, image: v2}]}}}}`
	scaled := func(f *fakeCluster, resource string) {
		o := f.get(resource, "a", "web")
		_ = unstructured.SetNestedField(o.Object, int64(5), "spec", "replicas")
		o.SetManagedFields(append(o.GetManagedFields(), entry("kubectl-scale", "scale", `{"f:spec":{"f:replicas":{}}}`)))
	}
	replicasConflictOn := func(c fakeCall, live *unstructured.Unstructured) error {
		if _, ok, _ := unstructured.NestedFieldNoCopy(c.Body, "spec", "replicas"); ok && !c.Force {
			return apierrors.NewApplyConflict([]metav1.StatusCause{{Type: metav1.CauseTypeFieldManagerConflict, Message: `conflict with "kubectl-scale" with subresource "scale"`, Field: ".spec.replicas"}}, "Apply failed")
		}
		return nil
	}
	leftTo := []FieldConflict{{Manager: "kubectl-scale", Field: ".spec.replicas"}}
	tests := []struct {
		name     string
		first    string // applied, then scaled to 5 by kubectl-scale (unless notScaled)
		second   string // applied next
		resource string
		unlabel  bool // the live object lacks the stack's labels: not listed
		noScale  bool
		onPatch  func(fakeCall, *unstructured.Unstructured) error
		dryRun   bool
		want     Action
		patches  []bool // for each patch sent on the second apply: does it set spec.replicas?
		leftTo   []FieldConflict
		note     string
		replicas int64 // live afterwards
	}{
		{
			name: "unchanged stays unchanged", first: deployment("v1", 3), second: deployment("v1", 3), resource: "deployments",
			want: Unchanged, leftTo: leftTo, note: "replicas left to kubectl-scale (5)", replicas: 5,
		},
		{
			name: "another change goes, without replicas", first: deployment("v1", 3), second: deployment("v2", 3), resource: "deployments",
			want: Configured, patches: []bool{false}, leftTo: leftTo, note: "replicas left to kubectl-scale (5)", replicas: 5,
		},
		{
			name: "a new count in the stack is left too", first: deployment("v1", 3), second: deployment("v1", 4), resource: "deployments",
			want: Configured, patches: []bool{false}, leftTo: leftTo, note: "replicas left to kubectl-scale (5)", replicas: 5,
		},
		{
			name: "in a server dry run", first: deployment("v1", 3), second: deployment("v2", 3), resource: "deployments", dryRun: true,
			want: Configured, patches: []bool{false}, leftTo: leftTo, note: "replicas left to kubectl-scale (5)", replicas: 5,
		},
		{
			name: "a StatefulSet", first: statefulSet, second: strings.Replace(statefulSet, "v2", "v3", 1), resource: "statefulsets",
			want: Configured, patches: []bool{false}, leftTo: leftTo, note: "replicas left to kubectl-scale (5)", replicas: 5,
		},
		{
			name: "nobody else scaled: replicas are obsctl's", first: deployment("v1", 3), second: deployment("v1", 4), resource: "deployments", noScale: true,
			want: Configured, patches: []bool{true}, replicas: 4,
		},
		{
			name: "an owner the live object did not show: told by the conflict", first: deployment("v1", 3), second: deployment("v2", 3),
			resource: "deployments", unlabel: true, onPatch: replicasConflictOn,
			want: Configured, patches: []bool{true, false}, leftTo: leftTo, note: "replicas left to kubectl-scale", replicas: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			opts := Options{Stack: "s", Timeout: 10 * time.Second}
			if _, err := f.applier().Apply(context.Background(), objs(t, tt.first), opts); err != nil {
				t.Fatal(err)
			}
			if !tt.noScale {
				scaled(f, tt.resource)
			}
			if tt.unlabel {
				f.get(tt.resource, "a", "web").SetLabels(nil)
			}
			f.calls = nil
			f.onPatch = tt.onPatch
			ev := &events{}
			opts.Observer = ev
			if tt.dryRun {
				opts.DryRun = DryRunServer
			}
			res, err := f.applier().Apply(context.Background(), objs(t, tt.second), opts)
			if err != nil {
				t.Fatal(err)
			}
			o := res.Objects[0]
			if o.Action != tt.want || !reflect.DeepEqual(o.LeftTo, tt.leftTo) || o.Note != tt.note {
				t.Errorf("%s, left to %v (%q); want %s, %v (%q)", o.Action, o.LeftTo, o.Note, tt.want, tt.leftTo, tt.note)
			}
			if evs := ev.of("web"); len(evs) != 1 || !reflect.DeepEqual(evs[0].LeftTo, tt.leftTo) || evs[0].Note != tt.note {
				t.Errorf("events %+v", evs)
			}
			var patches []bool
			for _, c := range f.sent("patch") {
				_, ok, _ := unstructured.NestedFieldNoCopy(c.Body, "spec", "replicas")
				patches = append(patches, ok)
				if c.Force {
					t.Errorf("a forced patch: replicas are never taken")
				}
			}
			if !reflect.DeepEqual(patches, tt.patches) {
				t.Errorf("patches setting replicas: %v, want %v", patches, tt.patches)
			}
			if n, _, _ := unstructured.NestedInt64(f.get(tt.resource, "a", "web").Object, "spec", "replicas"); n != tt.replicas {
				t.Errorf("live replicas %d, want %d", n, tt.replicas)
			}
			// The applied hash stays the desired object's.
			if tt.want == Configured && !tt.dryRun {
				p, err := prepare(objs(t, tt.second)[0], "s", true, "a")
				if err != nil {
					t.Fatal(err)
				}
				if got := f.get(tt.resource, "a", "web").GetAnnotations()[AnnotationHash]; got != p.hash {
					t.Errorf("applied hash %s, want the desired object's %s", got, p.hash)
				}
			}
		})
	}
}

// TestLeaveReplicasTakeTheRest: a conflict on replicas and on another
// field, with a live object that did not show them: the replicas are left,
// the other field taken back, and only the last request forces.
func TestLeaveReplicasTakeTheRest(t *testing.T) {
	const dep = `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: a},
	              spec: {replicas: 3, paused: false, template: {spec: {containers: [{name: c, image: v1}]}}}}`
	f := newFake()
	opts := Options{Stack: "s", Timeout: 10 * time.Second}
	if _, err := f.applier().Apply(context.Background(), objs(t, dep), opts); err != nil {
		t.Fatal(err)
	}
	live := f.get("deployments", "a", "web")
	live.SetLabels(nil) // not listed: the live object is not known
	live.SetManagedFields(append(live.GetManagedFields(), entry("hpa", "scale", `{"f:spec":{"f:replicas":{}}}`),
		entry("kubectl-edit", "", `{"f:spec":{"f:paused":{}}}`)))
	f.calls = nil
	f.onPatch = func(c fakeCall, _ *unstructured.Unstructured) error {
		if c.Force {
			return nil
		}
		var causes []metav1.StatusCause
		if _, ok, _ := unstructured.NestedFieldNoCopy(c.Body, "spec", "replicas"); ok {
			causes = append(causes, metav1.StatusCause{Type: metav1.CauseTypeFieldManagerConflict, Message: `conflict with "hpa"`, Field: ".spec.replicas"})
		}
		causes = append(causes, metav1.StatusCause{Type: metav1.CauseTypeFieldManagerConflict, Message: `conflict with "kubectl-edit"`, Field: ".spec.paused"})
		return apierrors.NewApplyConflict(causes, "Apply failed")
	}
	res, err := f.applier().Apply(context.Background(), objs(t, dep), opts)
	if err != nil {
		t.Fatal(err)
	}
	o := res.Objects[0]
	if o.Action != Configured || o.Note != `replicas left to hpa; took back .spec.paused from "kubectl-edit"` ||
		!reflect.DeepEqual(o.LeftTo, []FieldConflict{{Manager: "hpa", Field: ".spec.replicas"}}) ||
		!reflect.DeepEqual(o.TookBack, []FieldConflict{{Manager: "kubectl-edit", Field: ".spec.paused"}}) {
		t.Errorf("%s (%q), left to %v, took back %v", o.Action, o.Note, o.LeftTo, o.TookBack)
	}
	type sent struct{ replicas, force bool }
	var got []sent
	for _, c := range f.sent("patch") {
		_, ok, _ := unstructured.NestedFieldNoCopy(c.Body, "spec", "replicas")
		got = append(got, sent{ok, c.Force})
	}
	if want := []sent{{true, false}, {false, false}, {false, true}}; !reflect.DeepEqual(got, want) {
		t.Errorf("patches (replicas, force) %v, want %v", got, want)
	}
}
