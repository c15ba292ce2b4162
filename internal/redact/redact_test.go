package redact

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
		u.SetAnnotations(map[string]string{LastApplied: lastApplied})
	}
	return u
}

func TestRedactSecrets(t *testing.T) {
	before := secret(map[string]any{"same": "c2FtZQ==", "changed": "b2xk", "gone": "eA=="}, nil, `{"data":{"changed":"b2xk"}}`)
	after := secret(map[string]any{"same": "c2FtZQ==", "changed": "bmV3", "new": "eXk="}, nil, `{"data":{"changed":"bmV3"}}`)
	b, a := ForDiff(before, after)
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
		{b, []string{"metadata", "annotations", LastApplied}, "(redacted)"},
		{a, []string{"metadata", "annotations", LastApplied}, "(redacted, changed)"},
	} {
		got, _, _ := unstructured.NestedString(tc.obj.Object, tc.path...)
		if got != tc.want {
			t.Errorf("%v = %q, want %q", tc.path, got, tc.want)
		}
	}

	// Created from a manifest: stringData too, and no "changed".
	_, a = ForDiff(nil, secret(nil, map[string]any{"password": "hunter2"}, ""))
	if got, _, _ := unstructured.NestedString(a.Object, "stringData", "password"); got != "(redacted, 7 bytes)" {
		t.Errorf("stringData.password = %q", got)
	}

	// Other kinds are left alone.
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"a": "b"}}}
	if _, a := ForDiff(nil, cm); a.Object["data"].(map[string]any)["a"] != "b" {
		t.Errorf("a ConfigMap was redacted")
	}
}
