package release

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/render"
)

// ComponentStatus is one component of the stack as it runs.
type ComponentStatus struct {
	Component string           `json:"component"`
	Ready     bool             `json:"ready"`
	Desired   int64            `json:"desired"`
	Available int64            `json:"readyReplicas"`
	Version   string           `json:"version,omitempty"`
	Endpoints []string         `json:"endpoints"`
	Workloads []WorkloadStatus `json:"workloads"`
}

type WorkloadStatus struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Desired   int64  `json:"desired"`
	Ready     int64  `json:"ready"`
}

// StatusReport is the stack as it runs: its components and what a user
// should know about them.
type StatusReport struct {
	Stack      string            `json:"stack"`
	Ready      bool              `json:"ready"`
	Components []ComponentStatus `json:"components"`
	// Warnings are sentences about the stack that do not make it not
	// ready: a workload scaled below what its profile wants.
	Warnings []string `json:"warnings,omitempty"`
	// NotReady says why each Prometheus and Alertmanager that is not ready
	// is not, as the Prometheus Operator reports it.
	NotReady []string `json:"notReady,omitempty"`
}

// The kinds status reads, with where their desired and ready counts are.
var statusKinds = []struct {
	gvr            schema.GroupVersionResource
	kind           string
	desired, ready []string
}{
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "Deployment", []string{"spec", "replicas"}, []string{"status", "availableReplicas"}},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, "StatefulSet", []string{"spec", "replicas"}, []string{"status", "readyReplicas"}},
	{schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, "DaemonSet", []string{"status", "desiredNumberScheduled"}, []string{"status", "numberReady"}},
	{schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "prometheuses"}, "Prometheus", []string{"spec", "replicas"}, []string{"status", "availableReplicas"}},
	{schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "alertmanagers"}, "Alertmanager", []string{"spec", "replicas"}, []string{"status", "availableReplicas"}},
}

// uiPorts are the Service ports status shows as endpoints.
var uiPorts = map[string]bool{"http": true, "web": true, "query": true, "otlp-grpc": true, "otlp-http": true}

// Status reads the stack's components from the cluster: each one's ready
// and wanted replicas (over its Deployments, StatefulSets, DaemonSets and
// the Prometheus and Alertmanager the operator runs), its version and the
// endpoints to open. A workload another manager scaled below the replicas
// the stack wants is a warning: the release leaves replicas to an
// autoscaler or kubectl scale, and says when that goes below the profile.
func Status(ctx context.Context, c *Cluster, stackName string) (*StatusReport, error) {
	sel := LabelStack + "=" + stackName + "," + render.LabelPartOf + "=obsctl"
	list := func(gvr schema.GroupVersionResource) ([]unstructured.Unstructured, error) {
		var l *unstructured.UnstructuredList
		err := kube.Retry(ctx, "list "+gvr.Resource, func(ctx context.Context) error {
			var err error
			l, err = c.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: sel})
			return err
		})
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return nil, nil // the kind is not served: its CRD is not installed
		}
		if err != nil {
			return nil, err
		}
		return l.Items, nil
	}
	byComponent := map[string]*ComponentStatus{}
	var warnings, notReady []string
	get := func(o *unstructured.Unstructured) *ComponentStatus {
		name := cmp.Or(o.GetLabels()[render.LabelComponent], o.GetLabels()[render.LabelName], o.GetKind()+" "+o.GetName())
		c, ok := byComponent[name]
		if !ok {
			c = &ComponentStatus{Component: name, Endpoints: []string{}}
			byComponent[name] = c
		}
		return c
	}
	for _, k := range statusKinds {
		items, err := list(k.gvr)
		if err != nil {
			return nil, err
		}
		for i := range items {
			o := &items[i]
			if operatorOwned(o) {
				continue // counted through its Prometheus or Alertmanager
			}
			desired, found, _ := unstructured.NestedInt64(o.Object, k.desired...)
			if !found && k.kind != "DaemonSet" {
				desired = 1 // replicas left out means one
			}
			ready, _, _ := unstructured.NestedInt64(o.Object, k.ready...)
			if o.GetAPIVersion() == "monitoring.coreos.com/v1" {
				if ok, why := operatorAvailable(o); !ok {
					ready = 0
					notReady = append(notReady, fmt.Sprintf("%s %s/%s: %s", k.kind, o.GetNamespace(), o.GetName(), why))
				}
			}
			if w := belowWanted(o, k.kind, desired); w != "" {
				warnings = append(warnings, w)
			}
			c := get(o)
			c.Workloads = append(c.Workloads, WorkloadStatus{Kind: k.kind, Namespace: o.GetNamespace(), Name: o.GetName(), Desired: desired, Ready: ready})
			c.Desired += desired
			c.Available += min(ready, desired)
			if v := o.GetLabels()[render.LabelVersion]; v != "" && c.Version == "" {
				c.Version = v
			}
		}
	}
	services, err := list(schema.GroupVersionResource{Version: "v1", Resource: "services"})
	if err != nil {
		return nil, err
	}
	for i := range services {
		s := &services[i]
		c, ok := byComponent[s.GetLabels()[render.LabelComponent]]
		if ip, _, _ := unstructured.NestedString(s.Object, "spec", "clusterIP"); !ok || ip == "None" {
			continue // headless Services are for the pods themselves
		}
		ports, _, _ := unstructured.NestedSlice(s.Object, "spec", "ports")
		for _, p := range ports {
			pm, _ := p.(map[string]any)
			name, _ := pm["name"].(string)
			n, _ := pm["port"].(int64)
			if uiPorts[name] {
				c.Endpoints = append(c.Endpoints, fmt.Sprintf("http://%s.%s.svc:%d", s.GetName(), s.GetNamespace(), n))
			}
		}
	}
	ingresses, err := list(schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"})
	if err != nil {
		return nil, err
	}
	for i := range ingresses {
		in := &ingresses[i]
		c, ok := byComponent[in.GetLabels()[render.LabelComponent]]
		if !ok {
			continue
		}
		tls, _, _ := unstructured.NestedSlice(in.Object, "spec", "tls")
		scheme := "http"
		if len(tls) > 0 {
			scheme = "https"
		}
		rules, _, _ := unstructured.NestedSlice(in.Object, "spec", "rules")
		for _, r := range rules {
			rm, _ := r.(map[string]any)
			if h, _ := rm["host"].(string); h != "" {
				c.Endpoints = append(c.Endpoints, scheme+"://"+h)
			}
		}
	}
	slices.Sort(warnings)
	rep := &StatusReport{Stack: stackName, Ready: true, Components: []ComponentStatus{}, Warnings: warnings, NotReady: notReady}
	for _, c := range byComponent {
		c.Ready = c.Available >= c.Desired
		slices.Sort(c.Endpoints)
		c.Endpoints = slices.Compact(c.Endpoints)
		slices.SortFunc(c.Workloads, func(a, b WorkloadStatus) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
		})
		rep.Ready = rep.Ready && c.Ready
		rep.Components = append(rep.Components, *c)
	}
	slices.SortFunc(rep.Components, func(a, b ComponentStatus) int { return cmp.Compare(a.Component, b.Component) })
	rep.Ready = rep.Ready && len(rep.Components) > 0
	return rep, nil
}

// operatorAvailable reads the readiness of a Prometheus or Alertmanager
// from the status conditions the Prometheus Operator sets: available when
// its Available condition is True (or Degraded: some replicas are up) and
// its Reconciled condition is not False, both written for the resource's
// current generation. Otherwise it says why not, in the operator's words
// where it has any.
func operatorAvailable(o *unstructured.Unstructured) (bool, string) {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	byType := map[string]map[string]any{}
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok {
			if t, _ := m["type"].(string); t != "" {
				byType[t] = m
			}
		}
	}
	avail, ok := byType["Available"]
	if !ok {
		return false, "the Prometheus Operator has not reported on it (is it running?)"
	}
	if g, _ := avail["observedGeneration"].(int64); g != 0 && g < o.GetGeneration() {
		return false, fmt.Sprintf("the Prometheus Operator has not reconciled its latest change yet (generation %d, it reported on %d)", o.GetGeneration(), g)
	}
	describe := func(m map[string]any) string {
		out := fmt.Sprintf("%v=%v", m["type"], m["status"])
		if r, _ := m["reason"].(string); r != "" {
			out += " (" + r
			if msg, _ := m["message"].(string); msg != "" {
				out += ": " + msg
			}
			out += ")"
		}
		return out
	}
	if st, _ := avail["status"].(string); st != "True" && st != "Degraded" {
		return false, describe(avail)
	}
	if rec, ok := byType["Reconciled"]; ok && rec["status"] == "False" {
		return false, describe(rec)
	}
	return true, ""
}

// operatorOwned reports whether the Prometheus Operator made the workload
// for a resource of its own (a Prometheus' or Alertmanager's StatefulSet),
// which status counts through that resource. The operator copies the
// resource's labels onto it, the stack's included.
func operatorOwned(o *unstructured.Unstructured) bool {
	for _, ref := range o.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller && strings.HasPrefix(ref.APIVersion, "monitoring.coreos.com/") {
			return true
		}
	}
	return false
}

// belowWanted says when a workload runs fewer replicas than the stack
// wants (AnnotationReplicas, which render writes): another manager scaled
// it, and the release left it so.
func belowWanted(o *unstructured.Unstructured, kind string, desired int64) string {
	want, err := strconv.ParseInt(o.GetAnnotations()[AnnotationReplicas], 10, 64)
	if err != nil || desired >= want {
		return ""
	}
	return fmt.Sprintf("%s %s/%s runs %d replica(s), fewer than the %d the stack's profile wants: another manager scaled it (obsctl leaves replicas to autoscalers and kubectl scale)",
		kind, o.GetNamespace(), o.GetName(), desired, want)
}

// AnnotationReplicas, on a Deployment or StatefulSet, holds the replicas
// the stack's profile wants, so that status and diff can tell when another
// manager scaled it below them.
const AnnotationReplicas = render.AnnotationReplicas
