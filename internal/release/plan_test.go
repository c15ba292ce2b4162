package release

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/kube"
)

const stack = "blue"

// obj builds an object; labels and annotations are "k=v" pairs.
func obj(apiVersion, kind, ns, name string, labels, annotations []string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	u.SetNamespace(ns)
	u.SetName(name)
	pairs := func(kv []string) map[string]string {
		if len(kv) == 0 {
			return nil
		}
		m := map[string]string{}
		for _, p := range kv {
			k, v, _ := strings.Cut(p, "=")
			m[k] = v
		}
		return m
	}
	u.SetLabels(pairs(labels))
	u.SetAnnotations(pairs(annotations))
	return u
}

var (
	ours   = []string{LabelManagedBy + "=obsctl", LabelStack + "=" + stack}
	theirs = []string{LabelManagedBy + "=obsctl", LabelStack + "=green"}
)

func with(labels []string, more ...string) []string {
	return append(append([]string{}, labels...), more...)
}

func cm(name string, labels ...string) *unstructured.Unstructured {
	return obj("v1", "ConfigMap", "mon", name, labels, nil)
}

func deleting(u *unstructured.Unstructured) *unstructured.Unstructured {
	now := metav1.Now()
	u.SetDeletionTimestamp(&now)
	return u
}

// world is a plan input under construction.
type world struct{ in PlanInput }

func newWorld() *world {
	return &world{in: PlanInput{Stack: stack, Namespace: "mon", Live: map[kube.Ref]*unstructured.Unstructured{}, Prune: true}}
}

func (w *world) want(objs ...*unstructured.Unstructured) *world {
	w.in.Desired = append(w.in.Desired, objs...)
	return w
}

func (w *world) live(objs ...*unstructured.Unstructured) *world {
	for _, o := range objs {
		w.in.Live[kube.RefOf(o).ID()] = o
	}
	return w
}

func (w *world) previous(objs ...*unstructured.Unstructured) *world {
	for _, o := range objs {
		w.in.Previous = append(w.in.Previous, kube.RefOf(o))
	}
	return w
}

func TestPlanDecisions(t *testing.T) {
	sameHash := func(desired, live *unstructured.Unstructured) bool {
		return desired.GetAnnotations()["h"] == live.GetAnnotations()["h"]
	}
	crd := func(name string, labels []string, ann ...string) *unstructured.Unstructured {
		return obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", name, labels, ann)
	}
	for _, tc := range []struct {
		name   string
		w      *world
		want   string // "Kind ns/name action [reason]" per change, "; "-joined
		needed []string
	}{
		{
			name: "created when missing",
			w:    newWorld().want(cm("a")),
			want: "ConfigMap mon/a created",
		},
		{
			name: "unchanged and configured by the engine's fast path",
			w: newWorld().want(obj("v1", "ConfigMap", "mon", "a", nil, []string{"h=1"}), obj("v1", "ConfigMap", "mon", "b", nil, []string{"h=2"})).
				live(obj("v1", "ConfigMap", "mon", "a", ours, []string{"h=1"}), obj("v1", "ConfigMap", "mon", "b", ours, []string{"h=1"})),
			want: "ConfigMap mon/a unchanged; ConfigMap mon/b configured",
		},
		{
			name: "a foreign object is a conflict",
			w:    newWorld().want(cm("a")).live(cm("a")),
			want: "ConfigMap mon/a conflict [it exists and obsctl did not create it; --adopt takes it over]",
		},
		{
			name: "a foreign object is adopted with --adopt",
			w:    func() *world { w := newWorld().want(cm("a")).live(cm("a")); w.in.Adopt = true; return w }(),
			want: "ConfigMap mon/a configured [adopted (--adopt)]",
		},
		{
			name: "a foreign object is adopted by its annotation",
			w:    newWorld().want(cm("a")).live(obj("v1", "ConfigMap", "mon", "a", nil, []string{AnnotationAdopt + "=true"})),
			want: "ConfigMap mon/a configured [adopted (its obsctl.dev/adopt annotation)]",
		},
		{
			name: "another stack's object is a conflict, even with --adopt",
			w:    func() *world { w := newWorld().want(cm("a")).live(cm("a", theirs...)); w.in.Adopt = true; return w }(),
			want: "ConfigMap mon/a conflict [it belongs to stack green]",
		},
		{
			name: "an object being deleted is a conflict",
			w:    newWorld().want(cm("a")).live(deleting(cm("a", ours...))),
			want: "ConfigMap mon/a conflict [it is being deleted; apply again once it is gone]",
		},
		{
			name: "another stack's CRD is shared, not relabelled",
			w:    newWorld().want(crd("gadgets.x", nil)).live(crd("gadgets.x", theirs)),
			want: "CustomResourceDefinition gadgets.x kept [owned by stack green, used by this one]",
		},
		{
			name: "a create-only namespace is created when missing",
			w:    newWorld().want(obj("v1", "Namespace", "", "team", nil, []string{AnnotationCreateOnly + "=true"})),
			want: "Namespace team created [the stack's objects need it]",
		},
		{
			name: "a create-only namespace that exists is left alone",
			w: newWorld().want(obj("v1", "Namespace", "", "team", nil, []string{AnnotationCreateOnly + "=true"})).
				live(obj("v1", "Namespace", "", "team", []string{"owner=me"}, nil)),
			want: "Namespace team unchanged [exists and is not the stack's: left alone]",
		},
		{
			name: "a StatefulSet whose unchangeable fields changed is replaced, destructively",
			w: func() *world {
				w := newWorld().want(obj("apps/v1", "StatefulSet", "mon", "es", nil, nil)).live(obj("apps/v1", "StatefulSet", "mon", "es", ours, nil))
				w.in.NeedsReplace = map[kube.Ref]string{{Group: "apps", Kind: "StatefulSet", Namespace: "mon", Name: "es"}: "volumeClaimTemplates changed"}
				return w
			}(),
			want:   "StatefulSet mon/es replaced [volumeClaimTemplates changed]",
			needed: []string{"StatefulSet mon/es replaced: deleted and created again; its pods restart"},
		},
		{
			name: "pruned when the set no longer has it",
			w:    newWorld().want(cm("a")).previous(cm("a"), cm("b")).live(cm("a", ours...), cm("b", ours...)),
			want: "ConfigMap mon/a unchanged; ConfigMap mon/b pruned",
		},
		{
			name: "nothing to say about an inventory object that is gone",
			w:    newWorld().previous(cm("gone")),
			want: "",
		},
		{
			name: "kept and forgotten when no longer the stack's",
			w:    newWorld().previous(cm("b"), cm("c")).live(cm("b"), cm("c", theirs...)),
			want: "ConfigMap mon/b kept [it no longer carries the labels app.kubernetes.io/managed-by=obsctl and obsctl.dev/stack=blue]; ConfigMap mon/c kept [it now belongs to stack green]",
		},
		{
			name: "kept with --prune=false",
			w:    func() *world { w := newWorld().previous(cm("b")).live(cm("b", ours...)); w.in.Prune = false; return w }(),
			want: "ConfigMap mon/b kept [--prune=false]",
		},
		{
			name: "protected kinds are kept without the flag",
			w: newWorld().previous(crd("gadgets.x", nil), obj("v1", "Namespace", "", "extra", nil, nil), obj("v1", "PersistentVolumeClaim", "mon", "data", nil, nil), obj("v1", "Secret", "mon", "admin", nil, nil)).
				live(crd("gadgets.x", ours), obj("v1", "Namespace", "", "extra", ours, nil), obj("v1", "PersistentVolumeClaim", "mon", "data", ours, nil), obj("v1", "Secret", "mon", "admin", with(ours, LabelGenerated+"=true"), nil)),
			want: "PersistentVolumeClaim mon/data kept [volumes are pruned only with --prune-protected=volumes: their data is lost]; " +
				"Secret mon/admin kept [generated Secrets are pruned only with --prune-protected=secrets: their values are nowhere else]; " +
				"Namespace extra kept [namespaces are pruned only with --prune-protected=namespaces: deleting one deletes everything in it]; " +
				"CustomResourceDefinition gadgets.x kept [CustomResourceDefinitions are pruned only with --prune-protected=crds: deleting one deletes all its custom resources]",
		},
		{
			name: "the stack's namespace is never pruned",
			w: func() *world {
				w := newWorld().previous(obj("v1", "Namespace", "", "mon", nil, nil)).live(obj("v1", "Namespace", "", "mon", ours, nil))
				w.in.PruneProtected = AllProtected
				return w
			}(),
			want: "Namespace mon kept [it is the stack's namespace, which holds its lock and inventory]",
		},
		{
			name: "protected kinds named are pruned, destructively",
			w: func() *world {
				w := newWorld().previous(obj("v1", "PersistentVolumeClaim", "mon", "data", nil, nil), obj("v1", "Namespace", "", "extra", nil, nil)).
					live(obj("v1", "PersistentVolumeClaim", "mon", "data", ours, nil), obj("v1", "Namespace", "", "extra", ours, nil))
				w.in.PruneProtected = []Protected{ProtectVolumes, ProtectNamespaces}
				w.in.Holders = map[string][]string{"extra": {}}
				return w
			}(),
			want:   "PersistentVolumeClaim mon/data pruned; Namespace extra pruned",
			needed: []string{"PersistentVolumeClaim mon/data pruned: the volume's data is lost", "Namespace extra pruned: everything in the namespace is deleted with it"},
		},
		{
			name: "a namespace holding others' objects is kept",
			w: func() *world {
				w := newWorld().previous(obj("v1", "Namespace", "", "extra", nil, nil)).live(obj("v1", "Namespace", "", "extra", ours, nil))
				w.in.PruneProtected = AllProtected
				w.in.Holders = map[string][]string{"extra": {"ConfigMap extra/theirs"}}
				return w
			}(),
			want: "Namespace extra kept [it holds objects outside the stack, which deleting it would delete: ConfigMap extra/theirs]",
		},
		{
			name: "a namespace whose contents could not be read is kept",
			w: func() *world {
				w := newWorld().previous(obj("v1", "Namespace", "", "extra", nil, nil)).live(obj("v1", "Namespace", "", "extra", ours, nil))
				w.in.PruneProtected = AllProtected
				w.in.Holders = map[string][]string{"extra": nil}
				return w
			}(),
			want: "Namespace extra kept [cannot tell whether it holds objects outside the stack]",
		},
		{
			name: "a CRD with custom resources or other users is kept",
			w: func() *world {
				w := newWorld().previous(crd("a.x", nil), crd("b.x", nil)).
					live(crd("a.x", ours), crd("b.x", ours, AnnotationUsedByPrefix+"green="))
				w.in.PruneProtected = []Protected{ProtectCRDs}
				w.in.CustomResources = map[string][]string{"a.x": {"A mon/one"}, "b.x": {}}
				return w
			}(),
			want: "CustomResourceDefinition a.x kept [custom resources of it exist, which deleting it would delete: A mon/one]; CustomResourceDefinition b.x kept [stack green uses it]",
		},
		{
			name: "a generated Secret is never changed",
			w: newWorld().want(obj("v1", "Secret", "mon", "admin", nil, []string{"h=new"})).
				live(obj("v1", "Secret", "mon", "admin", with(ours, LabelGenerated+"=true"), []string{"h=new"})),
			want: "Secret mon/admin unchanged",
		},
		{
			name: "prunes go in reverse wave order after the set",
			w: func() *world {
				w := newWorld().want(cm("keep")).previous(crd("z.x", nil), cm("b"), obj("apps/v1", "Deployment", "mon", "d", nil, nil), obj("x.io/v1", "Gadget", "mon", "g", nil, nil)).
					live(cm("keep", ours...), crd("z.x", ours), cm("b", ours...), obj("apps/v1", "Deployment", "mon", "d", ours, nil), obj("x.io/v1", "Gadget", "mon", "g", ours, nil))
				w.in.PruneProtected = AllProtected
				w.in.CustomResources = map[string][]string{"z.x": {}}
				return w
			}(),
			want:   "ConfigMap mon/keep unchanged; Gadget mon/g pruned; Deployment mon/d pruned; ConfigMap mon/b pruned; CustomResourceDefinition z.x pruned",
			needed: []string{"CustomResourceDefinition z.x pruned: the kind is gone from the cluster", "4 of the stack's 4 objects would be pruned"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.w.in.Unchanged = sameHash
			p, err := MakePlan(tc.w.in)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range p.Changes {
				s := fmt.Sprintf("%s %s", c.Ref, c.Action)
				if c.Reason != "" {
					s += " [" + c.Reason + "]"
				}
				got = append(got, s)
			}
			if g := strings.Join(got, "; "); g != tc.want {
				t.Errorf("plan\n got: %s\nwant: %s", g, tc.want)
			}
			if g, w := strings.Join(p.Confirm, "\n"), strings.Join(tc.needed, "\n"); g != w {
				t.Errorf("confirm\n got: %q\nwant: %q", g, w)
			}
		})
	}
}

func TestPlanMassPrune(t *testing.T) {
	for _, tc := range []struct {
		size, pruned int
		confirm      bool
	}{
		{size: 100, pruned: 10, confirm: false},
		{size: 100, pruned: 11, confirm: true},
		{size: 8, pruned: 2, confirm: false}, // two objects are an edit
		{size: 8, pruned: 3, confirm: true},  // over a quarter
		{size: 40, pruned: 10, confirm: false},
	} {
		t.Run(fmt.Sprintf("%d of %d", tc.pruned, tc.size), func(t *testing.T) {
			w := newWorld()
			for i := range tc.size {
				o := cm(fmt.Sprintf("c%03d", i), ours...)
				w.previous(o).live(o)
				if i >= tc.pruned {
					w.want(cm(o.GetName()))
				}
			}
			p, err := MakePlan(w.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Count(Pruned); got != tc.pruned {
				t.Fatalf("%d pruned", got)
			}
			if got := len(p.Confirm) > 0; got != tc.confirm {
				t.Errorf("confirm %v (%q), want %v", got, p.Confirm, tc.confirm)
			}
		})
	}
}

func TestPlanProfile(t *testing.T) {
	base := func(prev, now string, named bool) PlanInput {
		w := newWorld()
		w.in.PreviousProfile, w.in.Profile, w.in.ProfileNamed = prev, now, named
		return w.in
	}
	var pe *ProfileError
	if _, err := MakePlan(base("ha", "minimal", false)); !errors.As(err, &pe) || !strings.Contains(err.Error(), "--profile ha keeps it") {
		t.Errorf("an unnamed profile change: %v", err)
	}
	p, err := MakePlan(base("ha", "minimal", true))
	if err != nil || p.ProfileChange != "ha -> minimal" || len(p.Confirm) != 1 {
		t.Errorf("a named downgrade: %v %+v", err, p)
	}
	p, err = MakePlan(base("minimal", "ha", true))
	if err != nil || p.ProfileChange != "minimal -> ha" || len(p.Confirm) != 0 {
		t.Errorf("a named upgrade: %v %+v", err, p)
	}
	if p, err := MakePlan(base("", "ha", false)); err != nil || p.ProfileChange != "" {
		t.Errorf("a first release: %v %+v", err, p)
	}
}

func TestCandidates(t *testing.T) {
	w := newWorld().previous(obj("v1", "Namespace", "", "extra", nil, nil), obj("v1", "Namespace", "", "mon", nil, nil), obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "a.x", nil, nil)).
		live(obj("v1", "Namespace", "", "extra", ours, nil), obj("v1", "Namespace", "", "mon", ours, nil), obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "a.x", ours, nil))
	if ns, crds := Candidates(w.in); len(ns) != 0 || len(crds) != 0 {
		t.Errorf("protected kinds not named: %v %v", ns, crds)
	}
	w.in.PruneProtected = AllProtected
	if ns, crds := Candidates(w.in); strings.Join(ns, ",") != "extra" || strings.Join(crds, ",") != "a.x" {
		t.Errorf("candidates %v %v", ns, crds)
	}
}

// TestPlanOtherTarget: the plan decides for objects of any target; one
// whose objects carry their owner elsewhere than in labels (an
// Elasticsearch index template's _meta) gives its Owner and gets the same
// decisions.
func TestPlanOtherTarget(t *testing.T) {
	tmpl := func(name, stack string) *unstructured.Unstructured {
		u := obj("elasticsearch.obsctl.dev/v1", "IndexTemplate", "", name, nil, nil)
		if stack != "" {
			u.Object["_meta"] = map[string]any{"managed_by": "obsctl", "stack": stack}
		}
		return u
	}
	w := newWorld().want(tmpl("logs-app", ""), tmpl("logs-theirs", "")).
		previous(tmpl("logs-old", "")).
		live(tmpl("logs-app", stack), tmpl("logs-theirs", ""), tmpl("logs-old", stack))
	w.in.Owner = func(live *unstructured.Unstructured) (bool, string) {
		m, _ := live.Object["_meta"].(map[string]any)
		s, _ := m["stack"].(string)
		return m["managed_by"] == "obsctl", s
	}
	p, err := MakePlan(w.in)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range p.Changes {
		got = append(got, fmt.Sprintf("%s %s", c.Ref, c.Action))
	}
	if want := "IndexTemplate logs-app configured; IndexTemplate logs-theirs conflict; IndexTemplate logs-old pruned"; strings.Join(got, "; ") != want {
		t.Errorf("plan %q, want %q", strings.Join(got, "; "), want)
	}
}
