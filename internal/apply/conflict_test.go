package apply

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// conflictOn is an onPatch acting as the API server does when "team-blue"
// owns data.mode and "manual" data.level of every ConfigMap: an apply
// without force that sets either to another value is a conflict naming
// them.
func conflictOn(c fakeCall, live *unstructured.Unstructured) error {
	if live == nil || c.Force {
		return nil
	}
	var causes []metav1.StatusCause
	for _, f := range []struct{ field, manager string }{{"mode", `"team-blue"`}, {"level", `"manual" using v1`}} {
		want, _, _ := unstructured.NestedString(c.Body, "data", f.field)
		got, _, _ := unstructured.NestedString(live.Object, "data", f.field)
		if want != got {
			causes = append(causes, metav1.StatusCause{Type: metav1.CauseTypeFieldManagerConflict, Message: "conflict with " + f.manager, Field: ".data." + f.field})
		}
	}
	if len(causes) == 0 {
		return nil
	}
	return apierrors.NewApplyConflict(causes, "Apply failed")
}

// TestConflictPolicy: with ConflictsTake (the default) the engine asks
// first and, on a conflict, applies again with force and reports what it
// took back; with ConflictsFail it fails; ForceConflicts forces at once.
// A server dry run sends the same requests, as dry runs.
func TestConflictPolicy(t *testing.T) {
	const drifted = `{apiVersion: v1, kind: ConfigMap, metadata: {name: cm, namespace: a, labels: {app.kubernetes.io/managed-by: obsctl, obsctl.dev/stack: s}},
	                 data: {mode: slow, level: info, other: x}}`
	desired := func(level string) string {
		return `{apiVersion: v1, kind: ConfigMap, metadata: {name: cm, namespace: a}, data: {mode: fast, level: ` + level + `}}`
	}
	took := []FieldConflict{{Manager: "team-blue", Field: ".data.mode"}}
	tests := []struct {
		name     string
		desired  string
		opts     Options
		onPatch  func(fakeCall, *unstructured.Unstructured) error
		want     Action
		forces   []bool // one per patch sent
		tookBack []FieldConflict
		note     string
		wantErr  func(error) bool
		mode     string // data.mode afterwards
	}{
		{
			name: "take", desired: desired("info"), onPatch: conflictOn,
			want: Configured, forces: []bool{false, true}, tookBack: took, note: `took back .data.mode from "team-blue"`, mode: "fast",
		},
		{
			name: "take from two managers", desired: desired("debug"), onPatch: conflictOn,
			want: Configured, forces: []bool{false, true},
			tookBack: []FieldConflict{{Manager: "manual", Field: ".data.level"}, {Manager: "team-blue", Field: ".data.mode"}},
			note:     `took back .data.level from "manual", .data.mode from "team-blue"`, mode: "fast",
		},
		{
			name: "take in a server dry run", desired: desired("info"), onPatch: conflictOn, opts: Options{DryRun: DryRunServer},
			want: Configured, forces: []bool{false, true}, tookBack: took, note: `took back .data.mode from "team-blue"`, mode: "slow",
		},
		{
			name: "fail", desired: desired("info"), onPatch: conflictOn, opts: Options{Conflicts: ConflictsFail},
			want: Failed, forces: []bool{false}, mode: "slow",
			wantErr: func(err error) bool {
				var ce *ConflictError
				return errors.As(err, &ce) && reflect.DeepEqual(ce.Conflicts, took)
			},
		},
		{
			name: "force", desired: desired("info"), onPatch: conflictOn, opts: Options{ForceConflicts: true, Conflicts: ConflictsFail},
			want: Configured, forces: []bool{true}, mode: "fast",
		},
		{
			name: "the forced apply fails", desired: desired("info"),
			onPatch: func(c fakeCall, live *unstructured.Unstructured) error {
				if c.Force {
					return apierrors.NewForbidden(schemaGR("", "configmaps"), "cm", errors.New("no"))
				}
				return conflictOn(c, live)
			},
			want: Failed, forces: []bool{false, true}, mode: "slow",
			wantErr: func(err error) bool { return apierrors.IsForbidden(err) },
		},
		{
			name: "a conflict that names no field is not taken", desired: desired("info"),
			onPatch: func(c fakeCall, _ *unstructured.Unstructured) error {
				return apierrors.NewConflict(schemaGR("", "configmaps"), "cm", errors.New("try again"))
			},
			want: Failed, forces: []bool{false}, mode: "slow",
			wantErr: func(err error) bool {
				var ce *ConflictError
				return errors.As(err, &ce) && len(ce.Conflicts) == 0
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(obj(t, drifted))
			f.onPatch = tt.onPatch
			ev := &events{}
			opts := tt.opts
			opts.Stack, opts.Observer, opts.Timeout = "s", ev, 10*time.Second
			res, err := f.applier().Apply(context.Background(), objs(t, tt.desired), opts)
			if res == nil {
				t.Fatalf("no result: %v", err)
			}
			o := res.Objects[0]
			if o.Action != tt.want {
				t.Errorf("action %s (%v), want %s", o.Action, o.Err, tt.want)
			}
			if tt.wantErr != nil {
				if !tt.wantErr(err) || !tt.wantErr(o.Err) {
					t.Errorf("err = %v", err)
				}
			} else if err != nil {
				t.Errorf("err = %v", err)
			}
			var forces []bool
			for _, c := range f.sent("patch") {
				forces = append(forces, c.Force)
				if c.DryRun != (opts.DryRun == DryRunServer) {
					t.Errorf("patch (force %v) dry run %v in a dry run %q", c.Force, c.DryRun, opts.DryRun)
				}
			}
			if !reflect.DeepEqual(forces, tt.forces) {
				t.Errorf("patches with force %v, want %v", forces, tt.forces)
			}
			if !reflect.DeepEqual(o.TookBack, tt.tookBack) || o.Note != tt.note {
				t.Errorf("took back %v (%q), want %v (%q)", o.TookBack, o.Note, tt.tookBack, tt.note)
			}
			if evs := ev.of("cm"); len(evs) != 1 || !reflect.DeepEqual(evs[0].TookBack, tt.tookBack) || evs[0].Note != tt.note {
				t.Errorf("events %+v", evs)
			}
			if mode, _, _ := unstructured.NestedString(f.get("configmaps", "a", "cm").Object, "data", "mode"); mode != tt.mode {
				t.Errorf("data.mode %q afterwards, want %q", mode, tt.mode)
			}
			if res.Patches != len(tt.forces) {
				t.Errorf("Result.Patches %d, want %d", res.Patches, len(tt.forces))
			}
		})
	}
}

func TestConflictPolicyString(t *testing.T) {
	for p, want := range map[ConflictPolicy]string{ConflictsTake: "take", ConflictsFail: "fail", 7: "ConflictPolicy(7)"} {
		if got := p.String(); got != want {
			t.Errorf("%d: %q, want %q", int(p), got, want)
		}
	}
	if _, err := (&Applier{Dynamic: newFake(), Mapper: fakeMapper()}).Apply(context.Background(), nil, Options{Stack: "s", Conflicts: 7}); err == nil {
		t.Error("Apply took an unknown conflict policy")
	}
}
