package render

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestForGitOps(t *testing.T) {
	obj := func(apiVersion, kind, name string, fields map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind,
			"metadata": map[string]any{"name": name, "namespace": "monitoring"}}}
		for k, v := range fields {
			u.Object[k] = v
		}
		return u
	}
	createOnly := obj("v1", "Namespace", "shop", nil)
	createOnly.SetAnnotations(map[string]string{AnnotationCreateOnly: "true"})
	pod := func(cmd string) map[string]any {
		return map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"name": "c", "command": []any{"sh", "-c", cmd}}}}}}
	}
	for _, tc := range []struct {
		name string
		obj  *unstructured.Unstructured
		tool string
		// want are the annotations ForGitOps sets; substituted says the
		// object is listed as one Flux still substitutes.
		want        map[string]string
		substituted bool
	}{
		{"crd", obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "x.example.com", nil), GitOpsArgoCD,
			map[string]string{AnnotationArgoCDSyncOptions: "ServerSideApply=true"}, false},
		{"large configmap", obj("v1", "ConfigMap", "big", map[string]any{"data": map[string]any{"a": strings.Repeat("x", lastAppliedLimit)}}), GitOpsArgoCD,
			map[string]string{AnnotationArgoCDSyncOptions: "ServerSideApply=true"}, false},
		{"small configmap", obj("v1", "ConfigMap", "small", map[string]any{"data": map[string]any{"a": "b"}}), GitOpsArgoCD,
			nil, false},
		{"create-only namespace, argocd", createOnly.DeepCopy(), GitOpsArgoCD,
			map[string]string{AnnotationArgoCDSyncOptions: "Prune=false,Delete=false"}, false},
		{"create-only namespace, flux", createOnly.DeepCopy(), GitOpsFlux,
			map[string]string{AnnotationFluxSSA: "IfNotPresent", AnnotationFluxPrune: FluxDisabled}, false},
		{"dashboard variable", obj("v1", "ConfigMap", "d", map[string]any{"data": map[string]any{"d.json": `{"expr": "up{job=\"${job}\"}"}`}}), GitOpsFlux,
			map[string]string{AnnotationFluxSubstitute: FluxDisabled}, false},
		{"dashboard without braces", obj("v1", "ConfigMap", "d", map[string]any{"data": map[string]any{"d.json": `{"expr": "up{job=\"$job\"}"}`}}), GitOpsFlux,
			nil, false},
		{"escaped dollar", obj("v1", "ConfigMap", "e", map[string]any{"data": map[string]any{"run.sh": "echo $$(VAR)"}}), GitOpsFlux,
			map[string]string{AnnotationFluxSubstitute: FluxDisabled}, false},
		{"secret data is base64", obj("v1", "Secret", "s", map[string]any{"data": map[string]any{"k": "JHtYfQ=="}}), GitOpsFlux,
			nil, false},
		{"shell in a probe", obj("apps/v1", "StatefulSet", "es", map[string]any{"spec": pod(`curl -u "elastic:${ELASTIC_PASSWORD}"`)}), GitOpsFlux,
			map[string]string{AnnotationFluxSubstitute: FluxDisabled}, false},
		{"flux variable in obsctl.yaml's value", obj("monitoring.coreos.com/v1", "Prometheus", "k8s", map[string]any{"spec": map[string]any{"externalLabels": map[string]any{"cluster": "${cluster_name}"}}}), GitOpsFlux,
			nil, true},
		{"rule templates", obj("monitoring.coreos.com/v1", "PrometheusRule", "r", map[string]any{"spec": map[string]any{"groups": []any{map[string]any{"name": "g", "rules": []any{map[string]any{"alert": "A", "annotations": map[string]any{"summary": "costs $$"}}}}}}}), GitOpsFlux,
			map[string]string{AnnotationFluxSubstitute: FluxDisabled}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ForGitOps([]*unstructured.Unstructured{tc.obj}, tc.tool)
			if err != nil {
				t.Fatal(err)
			}
			got := tc.obj.GetAnnotations()
			delete(got, AnnotationCreateOnly)
			if len(got) != len(tc.want) {
				t.Errorf("annotations %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: %q, want %q", k, got[k], v)
				}
			}
			if (len(m.Substituted) > 0) != tc.substituted {
				t.Errorf("Substituted %v, want %v", m.Substituted, tc.substituted)
			}
		})
	}
	if _, err := ForGitOps(nil, "spinnaker"); err == nil {
		t.Error("an unknown tool is accepted")
	}
}
