package apply

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const (
	nsA  = "{apiVersion: v1, kind: Namespace, metadata: {name: a}}"
	nsB  = "{apiVersion: v1, kind: Namespace, metadata: {name: b}}"
	cmAX = "{apiVersion: v1, kind: ConfigMap, metadata: {name: x, namespace: a}, data: {k: v}}"
	cmBY = "{apiVersion: v1, kind: ConfigMap, metadata: {name: cm-b, namespace: b}, data: {k: v}}"
	cmNS = "{apiVersion: v1, kind: ConfigMap, metadata: {name: unnamed}, data: {k: v}}" // in Options.Namespace
	svcB = "{apiVersion: v1, kind: Service, metadata: {name: svc, namespace: b}, spec: {ports: [{port: 80}]}}"
	depA = "{apiVersion: apps/v1, kind: Deployment, metadata: {name: dep, namespace: a}, spec: {replicas: 1}}"
	crd  = `{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: widgets.example.com},
	         spec: {group: example.com, scope: Namespaced, names: {kind: Widget, plural: widgets}}}`
	widgetB   = "{apiVersion: example.com/v1, kind: Widget, metadata: {name: w, namespace: b}}"
	gadgetCRD = `{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: gadgets.example.com},
	         spec: {group: example.com, scope: Cluster, names: {kind: Gadget, plural: gadgets}}}`
	gadget = "{apiVersion: example.com/v1, kind: Gadget, metadata: {name: g}}" // a kind the mapper does not know
	roleA  = "{apiVersion: rbac.authorization.k8s.io/v1, kind: Role, metadata: {name: r, namespace: a}, rules: []}"
	roleB  = "{apiVersion: rbac.authorization.k8s.io/v1, kind: Role, metadata: {name: rb-role, namespace: b}, rules: []}"
	crole  = "{apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: cr}, rules: []}"
	bindB  = `{apiVersion: rbac.authorization.k8s.io/v1, kind: RoleBinding, metadata: {name: bind-role, namespace: b},
	          roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: rb-role}, subjects: []}`
	bindBC = `{apiVersion: rbac.authorization.k8s.io/v1, kind: RoleBinding, metadata: {name: bind-cr, namespace: b},
	          roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cr}, subjects: []}`
	bindView = `{apiVersion: rbac.authorization.k8s.io/v1, kind: RoleBinding, metadata: {name: bind-view, namespace: b},
	          roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}, subjects: []}`
	cbind = `{apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRoleBinding, metadata: {name: cbind},
	          roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cr}, subjects: []}`
)

// TestHoldBack: a failed object holds back its dependents, and only them;
// every other object of every later wave is applied.
func TestHoldBack(t *testing.T) {
	tests := []struct {
		name   string
		docs   []string
		fail   []string // names the server refuses
		taken  []string // CRD kinds whose names another CRD holds
		dryRun bool
		want   map[string]Action
		// held maps held-back objects to the note naming their cause.
		held map[string]string
	}{
		{
			name: "a namespace holds back its objects",
			docs: []string{nsA, nsB, cmAX, cmBY, depA, svcB, roleA},
			fail: []string{"a"},
			want: map[string]Action{"Namespace a": Failed, "Namespace b": Created, "ConfigMap x": Skipped, "ConfigMap cm-b": Created,
				"Deployment dep": Skipped, "Service svc": Created, "Role r": Skipped},
			held: map[string]string{"ConfigMap x": "held back: Namespace a failed", "Deployment dep": "held back: Namespace a failed",
				"Role r": "held back: Namespace a failed"},
		},
		{
			name: "the default namespace counts",
			docs: []string{nsA, cmNS, cmBY, nsB},
			fail: []string{"a"},
			want: map[string]Action{"Namespace a": Failed, "Namespace b": Created, "ConfigMap unnamed": Skipped, "ConfigMap cm-b": Created},
			held: map[string]string{"ConfigMap unnamed": "held back: Namespace a failed"},
		},
		{
			name:   "in a server dry run too",
			docs:   []string{nsA, cmAX, nsB, cmBY},
			fail:   []string{"a"},
			dryRun: true,
			want:   map[string]Action{"Namespace a": Failed, "Namespace b": Created, "ConfigMap x": Skipped, "ConfigMap cm-b": Created},
			held:   map[string]string{"ConfigMap x": "held back: Namespace a failed"},
		},
		{
			name: "a namespace holds back its roles and their bindings",
			docs: []string{nsB, roleB, bindB, bindView},
			fail: []string{"b"},
			want: map[string]Action{"Namespace b": Failed, "Role rb-role": Skipped, "RoleBinding bind-role": Skipped, "RoleBinding bind-view": Skipped},
			held: map[string]string{"Role rb-role": "held back: Namespace b failed", "RoleBinding bind-role": "held back: Namespace b failed"},
		},
		{
			name: "a role holds back its bindings",
			docs: []string{nsB, roleB, crole, bindB, bindBC, bindView, cbind, cmBY},
			fail: []string{"rb-role", "cr"},
			want: map[string]Action{"Namespace b": Created, "Role rb-role": Failed, "ClusterRole cr": Failed, "RoleBinding bind-role": Skipped,
				"RoleBinding bind-cr": Skipped, "RoleBinding bind-view": Created, "ClusterRoleBinding cbind": Skipped, "ConfigMap cm-b": Created},
			held: map[string]string{"RoleBinding bind-role": "held back: Role b/rb-role failed", "RoleBinding bind-cr": "held back: ClusterRole cr failed",
				"ClusterRoleBinding cbind": "held back: ClusterRole cr failed"},
		},
		{
			name: "a CRD holds back its custom resources",
			docs: []string{crd, gadgetCRD, nsB, widgetB, gadget, cmBY},
			fail: []string{"widgets.example.com", "gadgets.example.com"},
			want: map[string]Action{"CustomResourceDefinition widgets.example.com": Failed, "CustomResourceDefinition gadgets.example.com": Failed,
				"Namespace b": Created, "Widget w": Skipped, "Gadget g": Skipped, "ConfigMap cm-b": Created},
			held: map[string]string{"Widget w": "held back: CustomResourceDefinition widgets.example.com failed",
				"Gadget g": "held back: CustomResourceDefinition gadgets.example.com failed"},
		},
		{
			name:  "a CRD that is never Established holds back its custom resources",
			docs:  []string{crd, nsB, widgetB, cmBY},
			taken: []string{"Widget"},
			want: map[string]Action{"CustomResourceDefinition widgets.example.com": Failed, "Namespace b": Created,
				"Widget w": Skipped, "ConfigMap cm-b": Created},
			held: map[string]string{"Widget w": "held back: CustomResourceDefinition widgets.example.com failed"},
		},
		{
			name: "other kinds hold back nothing",
			docs: []string{nsB, crd, cmBY, svcB, widgetB, bindView},
			fail: []string{"cm-b", "svc", "bind-view"},
			want: map[string]Action{"Namespace b": Created, "CustomResourceDefinition widgets.example.com": Created, "ConfigMap cm-b": Failed,
				"Service svc": Failed, "Widget w": Created, "RoleBinding bind-view": Failed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			f.onPatch = failNames(tt.fail...)
			f.takenKinds = map[string]bool{}
			for _, k := range tt.taken {
				f.takenKinds[k] = true
			}
			ev := &events{}
			opts := Options{Stack: "s", Namespace: "a", Observer: ev, Timeout: 10 * time.Second}
			if tt.dryRun {
				opts.DryRun = DryRunServer
			}
			res, err := f.applier().Apply(context.Background(), objs(t, tt.docs...), opts)
			if res == nil {
				t.Fatalf("no result: %v", err)
			}
			wantActions(t, res, tt.want)
			var fe *FailedError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FailedError", err)
			}
			nFailed, nSkipped := 0, 0
			for _, a := range tt.want {
				switch a {
				case Failed:
					nFailed++
				case Skipped:
					nSkipped++
				}
			}
			if len(fe.Failed) != nFailed || fe.Skipped != nSkipped {
				t.Errorf("FailedError: %d failed, %d skipped; want %d, %d", len(fe.Failed), fe.Skipped, nFailed, nSkipped)
			}
			for name, o := range byName(res) {
				wantNote, held := tt.held[name]
				if o.Action != Skipped {
					if o.HeldBackBy != nil {
						t.Errorf("%s: %s, held back by %s", name, o.Action, o.HeldBackBy)
					}
					continue
				}
				if o.HeldBackBy == nil || !strings.HasPrefix(o.Note, "held back: "+o.HeldBackBy.String()+" ") {
					t.Errorf("%s: held back by %v, note %q", name, o.HeldBackBy, o.Note)
				}
				if held && o.Note != wantNote {
					t.Errorf("%s: note %q, want %q", name, o.Note, wantNote)
				}
				// The Observer hears it once, with the same note and cause.
				evs := ev.of(o.Object.Name)
				if len(evs) != 1 || evs[0].Action != Skipped || evs[0].Note != o.Note || evs[0].HeldBackBy == nil || *evs[0].HeldBackBy != *o.HeldBackBy {
					t.Errorf("%s: events %+v", name, evs)
				}
				if o.DryRun != tt.dryRun || evs[0].DryRun != tt.dryRun {
					t.Errorf("%s: dry run %v (event %v) in a dry run %v", name, o.DryRun, evs[0].DryRun, tt.dryRun)
				}
				if len(f.patchesOf(o.Object.Name)) != 0 {
					t.Errorf("%s: held back, but sent", name)
				}
			}
		})
	}
}

// TestNotEstablishedCRD: a CRD whose names are taken is failed once the
// wait sees it, with the reason, and the Observer hears it fail after it
// was applied.
func TestNotEstablishedCRD(t *testing.T) {
	f := newFake()
	f.takenKinds = map[string]bool{"Widget": true}
	ev := &events{}
	res, err := f.applier().Apply(context.Background(), objs(t, crd, nsB, widgetB), Options{Stack: "s", Observer: ev, Timeout: 10 * time.Second})
	if err == nil || !strings.Contains(err.Error(), `CustomResourceDefinition widgets.example.com: not Established: names not accepted: "Widget" is already in use`) {
		t.Errorf("err = %v, want the CRD's names named", err)
	}
	if o := byName(res)["CustomResourceDefinition widgets.example.com"]; o.Applied == nil {
		t.Error("the failed CRD lost the object the server returned")
	}
	var got []Action
	for _, e := range ev.of("widgets.example.com") {
		got = append(got, e.Action)
	}
	if len(got) != 2 || got[0] != Created || got[1] != Failed {
		t.Errorf("CRD events %v, want created then failed", got)
	}
}

// TestContextEndSkipsTheRest: when the run's time is up, the waves left
// are skipped whatever they depend on, and the result says why.
func TestContextEndSkipsTheRest(t *testing.T) {
	f := newFake()
	ctx, cancel := context.WithCancel(context.Background())
	f.onPatch = func(c fakeCall, _ *unstructured.Unstructured) error {
		if c.Key.name == "b" {
			cancel() // the run ends while the namespace wave goes
		}
		return nil
	}
	res, err := f.applier().Apply(ctx, objs(t, nsB, cmBY, svcB), Options{Stack: "s"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want the context's", err)
	}
	wantActions(t, res, map[string]Action{"Namespace b": Created, "ConfigMap cm-b": Skipped, "Service svc": Skipped})
	for _, o := range res.Objects {
		if o.Action == Skipped && (o.HeldBackBy != nil || o.Note != "not applied: the run ended first") {
			t.Errorf("%s: held back by %v, note %q", o.Object, o.HeldBackBy, o.Note)
		}
	}
}
