package apply

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestGivenLive: with Options.Live the engine lists nothing and takes the
// caller's word for what exists, so an object without the stack's labels
// is configured, not created, and one absent from the map is created.
func TestGivenLive(t *testing.T) {
	const (
		foreign = `{apiVersion: v1, kind: ConfigMap, metadata: {name: theirs, namespace: a}, data: {k: old}}`
		ours    = `{apiVersion: v1, kind: ConfigMap, metadata: {name: ours, namespace: a}, data: {k: v}}`
		fresh   = `{apiVersion: v1, kind: ConfigMap, metadata: {name: fresh, namespace: a}, data: {k: v}}`
		widget  = `{apiVersion: example.com/v1, kind: Widget, metadata: {name: w, namespace: a}}`
	)
	opts := Options{Stack: "s", Namespace: "a", Timeout: 10 * time.Second}
	ref := func(name string) ObjectRef {
		return ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "a", Name: name}
	}
	tests := []struct {
		name   string
		live   []string // names of the objects the caller says are live
		dryRun bool
		want   map[string]Action
	}{
		{
			name: "as listed by the caller", live: []string{"theirs", "ours"},
			want: map[string]Action{"ConfigMap theirs": Configured, "ConfigMap ours": Unchanged, "ConfigMap fresh": Created,
				"CustomResourceDefinition widgets.example.com": Created, "Widget w": Created},
		},
		{
			name: "as a server dry run", live: []string{"theirs", "ours"}, dryRun: true,
			want: map[string]Action{"ConfigMap theirs": Configured, "ConfigMap ours": Unchanged, "ConfigMap fresh": Created,
				"CustomResourceDefinition widgets.example.com": Created, "Widget w": Created},
		},
		{
			// The caller's word goes: an object it did not find is
			// reported created, and one it says is there is compared.
			name: "an empty map", live: []string{},
			want: map[string]Action{"ConfigMap theirs": Created, "ConfigMap ours": Created, "ConfigMap fresh": Created,
				"CustomResourceDefinition widgets.example.com": Created, "Widget w": Created},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(obj(t, foreign))
			if _, err := f.applier().Apply(context.Background(), objs(t, ours), opts); err != nil {
				t.Fatal(err)
			}
			live := map[ObjectRef]*unstructured.Unstructured{}
			for _, n := range tt.live {
				live[ref(n)] = f.get("configmaps", "a", n) // keyed with a version: the engine takes the ID
			}
			// A stale entry for a kind whose CRD this run creates is
			// ignored.
			live[ObjectRef{Group: "example.com", Kind: "Widget", Namespace: "a", Name: "w"}] = obj(t, widget)
			f.calls = nil
			o := opts
			o.Live = live
			if tt.dryRun {
				o.DryRun = DryRunServer
			}
			res, err := f.applier().Apply(context.Background(), objs(t, foreign, ours, fresh, crd, widget), o)
			if err != nil {
				t.Fatal(err)
			}
			wantActions(t, res, tt.want)
			if lists := f.sent("list"); len(lists) != 0 {
				t.Errorf("%d lists sent, want none", len(lists))
			}
			for _, r := range res.Objects {
				if r.Object.Kind == "ConfigMap" && (r.Live != nil) != contains(tt.live, r.Object.Name) {
					t.Errorf("%s: Live %v", r.Object, r.Live != nil)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
