package release

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestCleanForDiff(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{
			"name": "a", "uid": "u", "resourceVersion": "1", "generation": int64(2), "creationTimestamp": "t",
			"managedFields": []any{map[string]any{"manager": "obsctl"}},
			"annotations":   map[string]any{"obsctl.dev/applied-hash": "h"},
		},
		"status": map[string]any{"x": "y"},
	}}
	got := cleanForDiff(u).Object
	want := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "a"}}
	if s, w := stringify(got), stringify(want); s != w {
		t.Errorf("cleaned\n got %s\nwant %s", s, w)
	}
	if u.GetUID() != "u" {
		t.Errorf("cleanForDiff changed its argument")
	}
}

func stringify(v any) string {
	u := &unstructured.Unstructured{Object: v.(map[string]any)}
	b, _ := u.MarshalJSON()
	return string(b)
}
