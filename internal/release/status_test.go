package release

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestOperatorAvailable(t *testing.T) {
	cond := func(typ, status string, gen int64) any {
		return map[string]any{"type": typ, "status": status, "observedGeneration": gen, "reason": "R", "message": "m"}
	}
	for _, tc := range []struct {
		name  string
		conds []any
		ok    bool
		why   string
	}{
		{"no conditions", nil, false, "has not reported on it"},
		{"available, reconciled", []any{cond("Available", "True", 3), cond("Reconciled", "True", 3)}, true, ""},
		{"degraded counts", []any{cond("Available", "Degraded", 3)}, true, ""},
		{"unavailable", []any{cond("Available", "False", 3), cond("Reconciled", "True", 3)}, false, "Available=False (R: m)"},
		{"not reconciled", []any{cond("Available", "True", 3), cond("Reconciled", "False", 3)}, false, "Reconciled=False (R: m)"},
		{"an older generation", []any{cond("Available", "True", 2)}, false, "generation 3, it reported on 2"},
	} {
		o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "monitoring.coreos.com/v1", "kind": "Prometheus",
			"metadata": map[string]any{"name": "k8s", "generation": int64(3)}}}
		if tc.conds != nil {
			_ = unstructured.SetNestedSlice(o.Object, tc.conds, "status", "conditions")
		}
		ok, why := operatorAvailable(o)
		if ok != tc.ok || !strings.Contains(why, tc.why) {
			t.Errorf("%s: (%v, %q), want (%v, ...%q...)", tc.name, ok, why, tc.ok, tc.why)
		}
	}
}

func TestOperatorOwned(t *testing.T) {
	yes := true
	sts := &unstructured.Unstructured{Object: map[string]any{}}
	if operatorOwned(sts) {
		t.Error("a StatefulSet of no owner is the operator's")
	}
	sts.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "monitoring.coreos.com/v1", Kind: "Prometheus", Name: "k8s", Controller: &yes}})
	if !operatorOwned(sts) {
		t.Error("a Prometheus' StatefulSet is not the operator's")
	}
	sts.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "x", Controller: &yes}})
	if operatorOwned(sts) {
		t.Error("a Deployment's child is the operator's")
	}
}
