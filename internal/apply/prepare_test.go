package apply

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPrepare(t *testing.T) {
	src := obj(t, `
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  labels: {app: web}
  annotations: {obsctl.dev/applied-hash: stale, note: kept}
  resourceVersion: "42"
  uid: 0000-1111
  creationTimestamp: null
  managedFields: [{manager: kubectl}]
data: {a: "1"}
`)
	before, _ := json.Marshal(src.Object)
	p, err := prepare(src, "main", true, "monitoring")
	if err != nil {
		t.Fatal(err)
	}
	after, _ := json.Marshal(src.Object)
	if string(before) != string(after) {
		t.Errorf("prepare modified its input:\n%s\n%s", before, after)
	}
	o := p.obj
	if o.GetNamespace() != "monitoring" {
		t.Errorf("namespace %q, want the default", o.GetNamespace())
	}
	wantLabels := map[string]string{"app": "web", LabelManagedBy: "obsctl", LabelStack: "main"}
	for k, v := range wantLabels {
		if o.GetLabels()[k] != v {
			t.Errorf("label %s = %q, want %q", k, o.GetLabels()[k], v)
		}
	}
	if o.GetAnnotations()[AnnotationHash] != p.hash || len(p.hash) != 32 {
		t.Errorf("hash annotation %q, hash %q", o.GetAnnotations()[AnnotationHash], p.hash)
	}
	if o.GetAnnotations()["note"] != "kept" {
		t.Error("the caller's annotation is lost")
	}
	for _, f := range []string{"resourceVersion", "uid", "creationTimestamp", "managedFields"} {
		if _, ok := o.Object["metadata"].(map[string]any)[f]; ok {
			t.Errorf("metadata.%s is still in the body", f)
		}
	}
	if !strings.Contains(string(p.body), `"obsctl.dev/applied-hash":"`+p.hash+`"`) {
		t.Errorf("body lacks the hash: %s", p.body)
	}

	// The hash depends on the content only, not on a stale hash the input
	// carries, nor on the source's number types.
	src2 := obj(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: cfg, labels: {app: web}, annotations: {note: kept}}, data: {a: "1"}}`)
	p2, err := prepare(src2, "main", true, "monitoring")
	if err != nil {
		t.Fatal(err)
	}
	if p2.hash != p.hash {
		t.Errorf("same content, different hashes %s and %s", p.hash, p2.hash)
	}
	for _, tt := range []struct {
		name, stack, namespace, value string
	}{
		{"data", "main", "", "2"},
		{"stack", "other", "", "1"},
		{"namespace", "main", "other", "1"},
	} {
		c := src2.DeepCopy()
		c.Object["data"] = map[string]any{"a": tt.value}
		c.SetNamespace(tt.namespace)
		p3, err := prepare(c, tt.stack, true, "monitoring")
		if err != nil {
			t.Fatal(err)
		}
		if p3.hash == p.hash {
			t.Errorf("changed %s, same hash", tt.name)
		}
	}
}

func TestPrepareClusterScoped(t *testing.T) {
	src := obj(t, `{apiVersion: v1, kind: Namespace, metadata: {name: monitoring, namespace: stray}}`)
	p, err := prepare(src, "main", false, "default")
	if err != nil {
		t.Fatal(err)
	}
	if ns := p.obj.GetNamespace(); ns != "" {
		t.Errorf("cluster-scoped object keeps namespace %q", ns)
	}
}

func TestPrepareCopiesGoValues(t *testing.T) {
	// Objects built in Go may hold int rather than int64; the copy must
	// still be a valid unstructured object.
	src := obj(t, `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web}}`)
	src.Object["spec"] = map[string]any{"replicas": 3}
	p, err := prepare(src, "main", true, "default")
	if err != nil {
		t.Fatal(err)
	}
	if r := p.obj.Object["spec"].(map[string]any)["replicas"]; r != int64(3) {
		t.Errorf("replicas = %#v, want int64(3)", r)
	}
	p.obj.Object["spec"].(map[string]any)["replicas"] = int64(5)
	if src.Object["spec"].(map[string]any)["replicas"] != 3 {
		t.Error("the copy shares its maps with the input")
	}
}
