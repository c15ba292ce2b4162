package release

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func secret(data map[string]any, stringData map[string]any, lastApplied string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s"}}}
	if data != nil {
		u.Object["data"] = data
	}
	if stringData != nil {
		u.Object["stringData"] = stringData
	}
	if lastApplied != "" {
		u.SetAnnotations(map[string]string{annotationLastApplied: lastApplied})
	}
	return u
}

func TestRedactSecrets(t *testing.T) {
	before := secret(map[string]any{"same": "c2FtZQ==", "changed": "b2xk", "gone": "eA=="}, nil, `{"data":{"changed":"b2xk"}}`)
	after := secret(map[string]any{"same": "c2FtZQ==", "changed": "bmV3", "new": "eXk="}, nil, `{"data":{"changed":"bmV3"}}`)
	b, a := redactSecrets(before, after)
	for _, tc := range []struct {
		obj  *unstructured.Unstructured
		path []string
		want string
	}{
		{b, []string{"data", "same"}, "(redacted, 4 bytes)"},
		{a, []string{"data", "same"}, "(redacted, 4 bytes)"},
		{b, []string{"data", "changed"}, "(redacted, 3 bytes)"},
		{a, []string{"data", "changed"}, "(redacted, 3 bytes, changed)"},
		{b, []string{"data", "gone"}, "(redacted, 1 bytes)"},
		{a, []string{"data", "new"}, "(redacted, 2 bytes)"},
		{b, []string{"metadata", "annotations", annotationLastApplied}, "(redacted)"},
		{a, []string{"metadata", "annotations", annotationLastApplied}, "(redacted, changed)"},
	} {
		got, _, _ := unstructured.NestedString(tc.obj.Object, tc.path...)
		if got != tc.want {
			t.Errorf("%v = %q, want %q", tc.path, got, tc.want)
		}
	}

	// Created from a manifest: stringData too, and no "changed".
	_, a = redactSecrets(nil, secret(nil, map[string]any{"password": "hunter2"}, ""))
	if got, _, _ := unstructured.NestedString(a.Object, "stringData", "password"); got != "(redacted, 7 bytes)" {
		t.Errorf("stringData.password = %q", got)
	}

	// Other kinds are left alone.
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"a": "b"}}}
	if _, a := redactSecrets(nil, cm); a.Object["data"].(map[string]any)["a"] != "b" {
		t.Errorf("a ConfigMap was redacted")
	}
}

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
