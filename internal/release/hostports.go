package release

import (
	"context"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/obsctl/obsctl/internal/kube"
)

var daemonSets = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}

// hostPorts returns the host ports a DaemonSet's pods take on every node.
func hostPorts(ds *unstructured.Unstructured) []int64 {
	var out []int64
	for _, field := range []string{"containers", "initContainers"} {
		cs, _, _ := unstructured.NestedSlice(ds.Object, "spec", "template", "spec", field)
		for _, c := range cs {
			cm, _ := c.(map[string]any)
			ports, _, _ := unstructured.NestedSlice(cm, "ports")
			for _, p := range ports {
				pm, _ := p.(map[string]any)
				switch n := pm["hostPort"].(type) {
				case int64:
					out = append(out, n)
				case float64:
					out = append(out, int64(n))
				case int:
					out = append(out, int64(n))
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// hostPortConflicts finds the desired DaemonSets that would take a host
// port another stack's DaemonSet takes already: on every node one of the
// two would never start (the second stack's node-exporter, typically).
// It returns why, by DaemonSet. Reading other stacks' DaemonSets needs list
// on daemonsets in every namespace, which obsctl holds; a failure to read
// them is not a reason to stop, so it returns nothing then.
func (c *Cluster) hostPortConflicts(ctx context.Context, stack string, desired []*unstructured.Unstructured) map[kube.Ref]string {
	want := map[int64][]kube.Ref{}
	for _, o := range desired {
		if o.GroupVersionKind().GroupKind() == kube.GKDaemonSet {
			for _, p := range hostPorts(o) {
				want[p] = append(want[p], kube.RefOf(o))
			}
		}
	}
	if len(want) == 0 {
		return nil
	}
	var l *unstructured.UnstructuredList
	err := RetryRequest(ctx, func(ctx context.Context) error {
		var err error
		l, err = c.Dynamic.Resource(daemonSets).List(ctx, metav1.ListOptions{LabelSelector: kube.LabelManagedBy + "=" + kube.ManagedBy})
		return err
	})
	if err != nil {
		return nil
	}
	out := map[kube.Ref]string{}
	for i := range l.Items {
		ds := &l.Items[i]
		other := ds.GetLabels()[kube.LabelStack]
		if other == stack || other == "" {
			continue
		}
		for _, p := range hostPorts(ds) {
			for _, ref := range want[p] {
				out[ref.ID()] = fmt.Sprintf("host port %d is taken on every node by stack %s's DaemonSet %s/%s: give this stack's another (stack.components.nodeExporter.port)",
					p, other, ds.GetNamespace(), ds.GetName())
			}
		}
	}
	return out
}

// portConflicts turns the plan's DaemonSets that would collide on a host
// port into conflicts: left alone, named, exit 1.
func (r *run) portConflicts(ctx context.Context) {
	conflicts := r.c.hostPortConflicts(ctx, r.o.Stack, r.desired)
	for i, ch := range r.plan.Changes {
		if why, ok := conflicts[ch.Ref.ID()]; ok && ch.Applies() {
			r.plan.Changes[i].Action, r.plan.Changes[i].Reason = Conflict, why
		}
	}
}
