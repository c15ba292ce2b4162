package release

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/obsctl/obsctl/internal/kube"
)

func daemonSet(stack, ns, name string, ports ...int64) *unstructured.Unstructured {
	var ps []any
	for _, p := range ports {
		ps = append(ps, map[string]any{"containerPort": p, "hostPort": p})
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "DaemonSet",
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "c", "ports": ps}},
		}}},
	}}
	u.SetNamespace(ns)
	u.SetName(name)
	if stack != "" {
		u.SetLabels(map[string]string{kube.LabelManagedBy: kube.ManagedBy, kube.LabelStack: stack})
	}
	return u
}

// TestHostPortConflicts: a second stack's node-exporter on the port the
// first's takes is a conflict, named with the way out; on another port,
// or against this stack's own DaemonSet, it is not.
func TestHostPortConflicts(t *testing.T) {
	existing := []runtime.Object{
		daemonSet("blue", "blue-agents", "node-exporter", 9100),
		daemonSet("", "kube-system", "not-obsctls", 9200),
	}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{daemonSets: "DaemonSetList"}, existing...)
	c := &Cluster{Dynamic: client}
	for _, tc := range []struct {
		name, stack string
		ports       []int64
		want        string
	}{
		{"same port, another stack", "green", []int64{9100}, "host port 9100 is taken on every node by stack blue's DaemonSet blue-agents/node-exporter"},
		{"another port", "green", []int64{9101}, ""},
		{"its own DaemonSet", "blue", []int64{9100}, ""},
		{"a port of a DaemonSet obsctl did not make", "green", []int64{9200}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := daemonSet("", tc.stack+"-agents", "node-exporter", tc.ports...)
			got := c.hostPortConflicts(context.Background(), tc.stack, []*unstructured.Unstructured{ds})[kube.RefOf(ds).ID()]
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("conflict %q, want %q", got, tc.want)
			}
		})
	}
}
