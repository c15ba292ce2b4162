package apply

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/client-go/dynamic"
)

// fakeCluster is a dynamic client over an in-memory store, for the
// engine's decisions: what it sends, in which order, and what it makes of
// the answers. A server-side apply merges the body into the stored object
// (it does not track field ownership: a test scripts conflicts with
// onPatch); what a real API server accepts is cluster_test.go's to show.
type fakeCluster struct {
	mu    sync.Mutex
	objs  map[fakeKey]*unstructured.Unstructured
	rv    int
	uid   int
	calls []fakeCall
	// onPatch, when set, sees every patch before it is applied; an error
	// is the server's answer.
	onPatch func(c fakeCall, live *unstructured.Unstructured) error
	// takenKinds are CRD kinds whose names another CRD holds: a CRD
	// defining one is stored with NamesAccepted=False.
	takenKinds map[string]bool
}

type fakeKey struct {
	resource  string
	namespace string
	name      string
}

func (k fakeKey) String() string { return k.resource + " " + k.namespace + "/" + k.name }

// fakeCall is one request the engine sent.
type fakeCall struct {
	Verb   string // list, get, patch, delete, create
	Key    fakeKey
	Force  bool
	DryRun bool
	Body   map[string]any // of a patch
}

func newFake(live ...*unstructured.Unstructured) *fakeCluster {
	f := &fakeCluster{objs: map[fakeKey]*unstructured.Unstructured{}}
	for _, o := range live {
		o = o.DeepCopy()
		f.uid++
		o.SetUID(types.UID(fmt.Sprint("uid-", f.uid)))
		f.rv++
		o.SetResourceVersion(strconv.Itoa(f.rv))
		f.objs[f.keyOf(o)] = o
	}
	return f
}

func (f *fakeCluster) keyOf(o *unstructured.Unstructured) fakeKey {
	m, err := fakeMapper().RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
	if err != nil {
		panic(err)
	}
	return fakeKey{m.Resource.Resource, o.GetNamespace(), o.GetName()}
}

// fakeKinds are the kinds fakeMapper knows, namespaced or not.
var fakeKinds = map[schema.GroupVersionKind]bool{
	{Version: "v1", Kind: "Namespace"}:                                               false,
	{Version: "v1", Kind: "ConfigMap"}:                                               true,
	{Version: "v1", Kind: "Service"}:                                                 true,
	{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}: false,
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"}:                true,
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"}:         true,
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}:         false,
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"}:  false,
	{Group: "apps", Version: "v1", Kind: "Deployment"}:                               true,
	{Group: "apps", Version: "v1", Kind: "StatefulSet"}:                              true,
	{Group: "example.com", Version: "v1", Kind: "Widget"}:                            true,
}

// fakeMapper maps fakeKinds; a kind it does not know stays unknown (it is
// not resettable).
func fakeMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	for gvk, namespaced := range fakeKinds {
		scope := meta.RESTScopeRoot
		if namespaced {
			scope = meta.RESTScopeNamespace
		}
		m.Add(gvk, scope)
	}
	return m
}

func (f *fakeCluster) applier() *Applier { return &Applier{Dynamic: f, Mapper: fakeMapper()} }

// sent returns the calls with verb, in order.
func (f *fakeCluster) sent(verb string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if c.Verb == verb {
			out = append(out, c)
		}
	}
	return out
}

// patchesOf returns the patches sent for one object, by name.
func (f *fakeCluster) patchesOf(name string) []fakeCall {
	var out []fakeCall
	for _, c := range f.sent("patch") {
		if c.Key.name == name {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeCluster) get(resource, ns, name string) *unstructured.Unstructured {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.objs[fakeKey{resource, ns, name}]
}

func (f *fakeCluster) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return &fakeResource{f: f, gvr: gvr}
}

// fakeResource implements the requests the engine sends; the others are
// left to the embedded nil interface and panic.
type fakeResource struct {
	dynamic.NamespaceableResourceInterface
	f   *fakeCluster
	gvr schema.GroupVersionResource
	ns  string
}

func (r *fakeResource) Namespace(ns string) dynamic.ResourceInterface {
	c := *r
	c.ns = ns
	return &c
}

func (r *fakeResource) key(name string) fakeKey { return fakeKey{r.gvr.Resource, r.ns, name} }

func (r *fakeResource) gr() schema.GroupResource { return r.gvr.GroupResource() }

func (r *fakeResource) List(_ context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{Verb: "list", Key: r.key("")})
	sel, err := labels.Parse(opts.LabelSelector)
	if err != nil {
		return nil, err
	}
	l := &unstructured.UnstructuredList{}
	var names []fakeKey
	for k := range f.objs {
		if k.resource == r.gvr.Resource && k.namespace == r.ns {
			names = append(names, k)
		}
	}
	sort.Slice(names, func(i, j int) bool { return names[i].name < names[j].name })
	for _, k := range names {
		if o := f.objs[k]; sel.Matches(labels.Set(o.GetLabels())) {
			l.Items = append(l.Items, *o.DeepCopy())
		}
	}
	return l, nil
}

func (r *fakeResource) Get(_ context.Context, name string, _ metav1.GetOptions, _ ...string) (*unstructured.Unstructured, error) {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fakeCall{Verb: "get", Key: r.key(name)})
	o := f.objs[r.key(name)]
	if o == nil {
		return nil, apierrors.NewNotFound(r.gr(), name)
	}
	return o.DeepCopy(), nil
}

func (r *fakeResource) Delete(_ context.Context, name string, opts metav1.DeleteOptions, _ ...string) error {
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	dry := len(opts.DryRun) > 0
	f.calls = append(f.calls, fakeCall{Verb: "delete", Key: r.key(name), DryRun: dry})
	o := f.objs[r.key(name)]
	if o == nil {
		return apierrors.NewNotFound(r.gr(), name)
	}
	if p := opts.Preconditions; p != nil && p.UID != nil && *p.UID != o.GetUID() {
		return apierrors.NewConflict(r.gr(), name, fmt.Errorf("uid precondition"))
	}
	if !dry {
		delete(f.objs, r.key(name))
	}
	return nil
}

// Create makes obj, named from its generateName when it has no name, as
// the API server does; a dry run stores nothing.
func (r *fakeResource) Create(_ context.Context, obj *unstructured.Unstructured, opts metav1.CreateOptions, sub ...string) (*unstructured.Unstructured, error) {
	if len(sub) > 0 || opts.FieldManager != FieldManager {
		return nil, fmt.Errorf("fake: unexpected create %v by %q", sub, opts.FieldManager)
	}
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	out := obj.DeepCopy()
	if out.GetName() == "" && out.GetGenerateName() != "" {
		f.uid++
		out.SetName(fmt.Sprintf("%sx%04d", out.GetGenerateName(), f.uid))
	}
	c := fakeCall{Verb: "create", Key: r.key(out.GetName()), DryRun: len(opts.DryRun) > 0, Body: out.Object}
	f.calls = append(f.calls, c)
	if f.objs[c.Key] != nil {
		return nil, apierrors.NewAlreadyExists(r.gr(), out.GetName())
	}
	f.uid++
	out.SetUID(types.UID(fmt.Sprint("uid-", f.uid)))
	out.SetCreationTimestamp(metav1.NewTime(time.Now().Truncate(time.Second)))
	f.rv++
	out.SetResourceVersion(strconv.Itoa(f.rv))
	if !c.DryRun {
		f.objs[c.Key] = out.DeepCopy()
	}
	return out.DeepCopy(), nil
}

func (r *fakeResource) Patch(_ context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, sub ...string) (*unstructured.Unstructured, error) {
	if pt != types.ApplyPatchType || len(sub) > 0 || opts.FieldManager != FieldManager {
		return nil, fmt.Errorf("fake: unexpected patch %s %v by %q", pt, sub, opts.FieldManager)
	}
	var body map[string]any
	if err := utiljson.Unmarshal(data, &body); err != nil {
		return nil, err
	}
	f := r.f
	f.mu.Lock()
	defer f.mu.Unlock()
	c := fakeCall{Verb: "patch", Key: r.key(name), Force: opts.Force != nil && *opts.Force, DryRun: len(opts.DryRun) > 0, Body: body}
	f.calls = append(f.calls, c)
	live := f.objs[c.Key]
	if f.onPatch != nil {
		if err := f.onPatch(c, live); err != nil {
			return nil, err
		}
	}
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	out := &unstructured.Unstructured{Object: map[string]any{}}
	if live != nil {
		out = live.DeepCopy()
	}
	merge(out.Object, body)
	mf := []metav1.ManagedFieldsEntry{{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply, Time: &now}}
	if live != nil {
		for _, e := range live.GetManagedFields() {
			if e.Manager != FieldManager {
				mf = append(mf, e)
			}
		}
	} else {
		f.uid++
		out.SetUID(types.UID(fmt.Sprint("uid-", f.uid)))
		out.SetCreationTimestamp(now)
	}
	out.SetManagedFields(mf)
	if out.GroupVersionKind().GroupKind() == gkCRD {
		kind, _, _ := unstructured.NestedString(out.Object, "spec", "names", "kind")
		cond := []any{map[string]any{"type": "NamesAccepted", "status": "True"}, map[string]any{"type": "Established", "status": "True"}}
		if f.takenKinds[kind] {
			cond = []any{map[string]any{"type": "NamesAccepted", "status": "False", "reason": "KindConflict", "message": fmt.Sprintf("%q is already in use", kind)}}
		}
		_ = unstructured.SetNestedSlice(out.Object, cond, "status", "conditions")
	}
	if live == nil || !sameContent(live, out) {
		f.rv++
		out.SetResourceVersion(strconv.Itoa(f.rv))
	}
	if !c.DryRun {
		f.objs[c.Key] = out.DeepCopy()
	}
	return out, nil
}

// merge sets every field of src in dst, merging maps.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

// invalid is the API server refusing an object, as a 422 with msg.
func invalid(c fakeCall, msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: 422, Reason: metav1.StatusReasonInvalid,
		Message: fmt.Sprintf("%s %q is invalid: %s", c.Key.resource, c.Key.name, msg),
	}}
}

// failNames is an onPatch refusing the named objects.
func failNames(names ...string) func(fakeCall, *unstructured.Unstructured) error {
	return func(c fakeCall, _ *unstructured.Unstructured) error {
		for _, n := range names {
			if c.Key.name == n {
				return invalid(c, "refused by the test")
			}
		}
		return nil
	}
}

// events is an Observer keeping every event.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) Observe(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

// of returns the events about the object named name, in order.
func (e *events) of(name string) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Event
	for _, ev := range e.all {
		if ev.Object.Name == name {
			out = append(out, ev)
		}
	}
	return out
}

// byName returns the results by object "Kind name".
func byName(res *Result) map[string]ObjectResult {
	out := map[string]ObjectResult{}
	for _, o := range res.Objects {
		out[o.Object.Kind+" "+o.Object.Name] = o
	}
	return out
}

func actionsOf(res *Result) map[string]Action {
	out := map[string]Action{}
	for k, o := range byName(res) {
		out[k] = o.Action
	}
	return out
}

func wantActions(t *testing.T, res *Result, want map[string]Action) {
	t.Helper()
	if res == nil {
		t.Fatal("no result")
	}
	if got := actionsOf(res); !reflect.DeepEqual(got, want) {
		t.Errorf("actions\n got %v\nwant %v", got, want)
	}
}

// objs decodes a multi-document YAML stream of objects.
func objs(t *testing.T, docs ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, d := range docs {
		out = append(out, obj(t, d))
	}
	return out
}
