package apply

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/obsctl/obsctl/internal/kube"
)

var (
	gvrPods   = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	gvrEvents = schema.GroupVersionResource{Version: "v1", Resource: "events"}
)

// How much of a timeout explanation is kept per object.
const (
	maxPods   = 5
	maxEvents = 3
)

// watched is an object the engine waits for, as last seen.
type watched struct {
	it  *item
	obj *unstructured.Unstructured
	j   readiness
}

// waitReady waits until every applied object of items is ready, judging
// first the object the apply returned (or left unchanged) and then, every
// interval, the stack's objects listed once per resource and namespace. It
// returns a *NotReadyError explaining the objects that are not ready when
// ctx ends, or when the only ones left will not get ready by themselves.
func (r *run) waitReady(parent, ctx context.Context, items []*item, interval time.Duration) error {
	var ws []*watched
	for _, it := range items {
		switch it.res.Action {
		case Created, Configured, Replaced, Unchanged:
		default:
			continue
		}
		w := &watched{it: it, obj: it.res.Applied, j: judge(it.res.Applied)}
		if w.j.ready {
			r.observe(it, Ready, time.Since(it.done))
		}
		ws = append(ws, w)
	}
	for {
		var keys []listKey
		seen := map[listKey]bool{}
		for _, w := range ws {
			if !w.j.ready && !w.j.failed && !seen[w.it.key] {
				seen[w.it.key] = true
				keys = append(keys, w.it.key)
			}
		}
		if len(keys) == 0 || kube.Sleep(ctx, interval) != nil {
			break
		}
		lists := make([]map[string]*unstructured.Unstructured, len(keys))
		r.parallel(len(keys), func(i int) {
			lists[i], _ = r.list(ctx, keys[i]) // a failed poll is retried at the next one
		})
		byKey := map[listKey]map[string]*unstructured.Unstructured{}
		for i, k := range keys {
			byKey[k] = lists[i]
		}
		for _, w := range ws {
			if w.j.ready || w.j.failed {
				continue
			}
			if obj := byKey[w.it.key][w.obj.GetName()]; obj != nil {
				w.obj, w.j = obj, judge(obj)
				if w.j.ready {
					r.observe(w.it, Ready, time.Since(w.it.done))
				}
			}
		}
	}
	var notReady []*watched
	for _, w := range ws {
		if !w.j.ready {
			notReady = append(notReady, w)
		}
	}
	if len(notReady) == 0 {
		return nil
	}
	if err := parent.Err(); err != nil {
		return fmt.Errorf("apply: wait: %w", err)
	}
	ectx, cancel := context.WithTimeout(parent, explainTimeout)
	defer cancel()
	return &NotReadyError{Timeout: r.opts.Timeout, Waited: time.Since(r.start), Objects: r.explain(ectx, notReady)}
}

// explain says why each object is not ready: its judgement, its bad
// conditions, its pods that are not ready and the newest warning events
// about it and its pods. Warning events are listed once per namespace.
func (r *run) explain(ctx context.Context, ws []*watched) []NotReady {
	events := map[string][]corev1.Event{}
	out := make([]NotReady, 0, len(ws))
	for _, w := range ws {
		ref := w.it.res.Object
		nr := NotReady{Object: ref, Status: w.j.status, Conditions: badConditions(w.obj)}
		pods := r.podsOf(ctx, w.obj)
		names := map[string]bool{}
		var bad []string
		for i := range pods {
			names[pods[i].Name] = true
			if d, ok := describePod(&pods[i]); ok {
				bad = append(bad, d)
			}
		}
		if len(bad) > maxPods {
			bad = append(bad[:maxPods], fmt.Sprintf("and %d more pods not ready", len(bad)-maxPods))
		}
		nr.Pods = bad

		ns, sel := ref.Namespace, "type=Warning"
		if ns == "" { // events about cluster-scoped objects go to default
			ns, sel = metav1.NamespaceDefault, sel+",involvedObject.name="+ref.Name
		}
		cacheKey := ns + "\x00" + sel
		evs, ok := events[cacheKey]
		if !ok {
			evs = r.warningEvents(ctx, ns, sel)
			events[cacheKey] = evs
		}
		nr.Events = matchEvents(evs, ref, names)
		out = append(out, nr)
	}
	return out
}

// podsOf lists the pods a workload selects; nil for other objects.
func (r *run) podsOf(ctx context.Context, obj *unstructured.Unstructured) []corev1.Pod {
	switch obj.GroupVersionKind().GroupKind() {
	case gkDeployment, gkStatefulSet, gkDaemonSet:
	default:
		return nil
	}
	m, ok, _ := unstructured.NestedMap(obj.Object, "spec", "selector")
	if !ok {
		return nil
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &ls); err != nil {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil || sel.Empty() {
		return nil
	}
	var l *unstructured.UnstructuredList
	err = r.do(ctx, func(ctx context.Context) error {
		r.requests.Add(1)
		var err error
		l, err = r.a.Dynamic.Resource(gvrPods).Namespace(obj.GetNamespace()).List(ctx, metav1.ListOptions{LabelSelector: sel.String(), Limit: 100})
		return err
	})
	if err != nil {
		return nil
	}
	pods := make([]corev1.Pod, 0, len(l.Items))
	for _, u := range l.Items {
		var p corev1.Pod
		if runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p) == nil {
			pods = append(pods, p)
		}
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods
}

// describePod says why a pod is not ready; ok is false for a ready pod.
func describePod(p *corev1.Pod) (desc string, ok bool) {
	if p.DeletionTimestamp != nil {
		return "", false // an old pod on its way out
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return "", false
		}
	}
	parts := []string{string(p.Status.Phase)}
	if p.Status.Phase == "" {
		parts[0] = "Pending"
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
			parts = append(parts, joinNonEmpty(": ", c.Reason, c.Message))
		}
	}
	statuses := append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "ContainerCreating" && cs.State.Waiting.Reason != "PodInitializing":
			parts = append(parts, fmt.Sprintf("container %s waiting: %s", cs.Name, joinNonEmpty(": ", cs.State.Waiting.Reason, cs.State.Waiting.Message)))
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0:
			parts = append(parts, fmt.Sprintf("container %s terminated: %s (exit code %d)", cs.Name, cs.State.Terminated.Reason, cs.State.Terminated.ExitCode))
		case cs.LastTerminationState.Terminated != nil && cs.RestartCount > 0:
			parts = append(parts, fmt.Sprintf("container %s restarted %d times, last: %s (exit code %d)", cs.Name, cs.RestartCount,
				cs.LastTerminationState.Terminated.Reason, cs.LastTerminationState.Terminated.ExitCode))
		}
	}
	if len(parts) == 1 && p.Status.Phase == corev1.PodRunning {
		parts = append(parts, "not ready")
	}
	return "pod " + p.Name + ": " + strings.Join(parts, "; "), true
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// warningEvents lists the warning events in a namespace matching the field
// selector; nil when that fails, since an explanation is best effort.
func (r *run) warningEvents(ctx context.Context, ns, fieldSelector string) []corev1.Event {
	var l *unstructured.UnstructuredList
	err := r.do(ctx, func(ctx context.Context) error {
		r.requests.Add(1)
		var err error
		l, err = r.a.Dynamic.Resource(gvrEvents).Namespace(ns).List(ctx, metav1.ListOptions{FieldSelector: fieldSelector, Limit: 500})
		return err
	})
	if err != nil {
		return nil
	}
	evs := make([]corev1.Event, 0, len(l.Items))
	for _, u := range l.Items {
		var e corev1.Event
		if runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &e) == nil {
			evs = append(evs, e)
		}
	}
	return evs
}

// matchEvents picks the newest warning events about the object, its pods
// and, for a Deployment, its ReplicaSets, one per reason and message.
func matchEvents(evs []corev1.Event, ref ObjectRef, pods map[string]bool) []string {
	var hits []corev1.Event
	for _, e := range evs {
		io := e.InvolvedObject
		switch {
		case io.Kind == ref.Kind && io.Name == ref.Name && io.Namespace == ref.Namespace:
		case io.Kind == "Pod" && pods[io.Name]:
		case ref.Kind == "Deployment" && io.Kind == "ReplicaSet" && strings.HasPrefix(io.Name, ref.Name+"-"):
		default:
			continue
		}
		hits = append(hits, e)
	}
	sort.SliceStable(hits, func(i, j int) bool { return eventTime(&hits[i]).After(eventTime(&hits[j])) })
	var out []string
	seen := map[string]bool{}
	for _, e := range hits {
		k := e.Reason + "\x00" + e.Message
		if seen[k] {
			continue
		}
		seen[k] = true
		s := fmt.Sprintf("%s on %s %s: %s", e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, strings.TrimSpace(e.Message))
		if n := eventCount(&e); n > 1 {
			s += fmt.Sprintf(" (x%d)", n)
		}
		out = append(out, s)
		if len(out) == maxEvents {
			break
		}
	}
	return out
}

// eventTime is when an event was last seen, whichever of the old and new
// event fields its reporter filled.
func eventTime(e *corev1.Event) time.Time {
	t := e.LastTimestamp.Time
	if e.EventTime.After(t) {
		t = e.EventTime.Time
	}
	if e.Series != nil && e.Series.LastObservedTime.After(t) {
		t = e.Series.LastObservedTime.Time
	}
	if t.IsZero() {
		t = e.FirstTimestamp.Time
	}
	if t.IsZero() {
		t = e.CreationTimestamp.Time
	}
	return t
}

func eventCount(e *corev1.Event) int32 {
	if e.Series != nil && e.Series.Count > e.Count {
		return e.Series.Count
	}
	return e.Count
}
