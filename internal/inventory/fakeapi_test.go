package inventory

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
)

// fakeAPI is a dynamic client over an in-memory object store that, unlike
// the plain fake, keeps resourceVersions as the API server does (an update
// with a stale one is a Conflict) and stamps creation times, and that fails
// requests on demand: before they apply (the server unreachable) or after
// (the answer lost, as in an etcd stall). It is for the inventory's
// decisions; what a real API server accepts is tested in cluster_test.go.
type fakeAPI struct {
	*dynamicfake.FakeDynamicClient
	t *testing.T

	mu     sync.Mutex
	rv     int
	now    time.Time
	faults []*fault
	// writes counts the writes that applied, by verb and name.
	writes map[string]int
}

// fault fails the next times requests of verb whose Secret name starts
// with prefix, with err; after applies them first.
type fault struct {
	verb, prefix string
	after        bool
	times        int
	err          error
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{
		FakeDynamicClient: dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
			map[schema.GroupVersionResource]string{secretsGVR: "SecretList"}),
		t: t, now: t0, writes: map[string]int{},
	}
	f.PrependReactor("*", "secrets", f.react)
	return f
}

// fail adds a fault.
func (f *fakeAPI) fail(verb, prefix string, after bool, times int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &fault{verb, prefix, after, times, err})
}

// timeout is what a client sees when etcd stalls past the request's time.
var timeout = apierrors.NewTimeoutError("request did not complete within requested timeout - context deadline exceeded", 0)

func (f *fakeAPI) react(action k8stesting.Action) (bool, runtime.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := actionName(action)
	for _, ft := range f.faults {
		if ft.times > 0 && ft.verb == action.GetVerb() && strings.HasPrefix(name, ft.prefix) {
			ft.times--
			if !ft.after {
				return true, nil, ft.err
			}
			if _, _, err := f.apply(action); err != nil {
				f.t.Fatalf("%s %s before a lost answer: %v", action.GetVerb(), name, err)
			}
			return true, nil, ft.err
		}
	}
	return f.apply(action)
}

func actionName(action k8stesting.Action) string {
	switch a := action.(type) {
	case k8stesting.CreateAction:
		if o, ok := a.GetObject().(*unstructured.Unstructured); ok {
			return o.GetName()
		}
	case k8stesting.UpdateAction:
		if o, ok := a.GetObject().(*unstructured.Unstructured); ok {
			return o.GetName()
		}
	case k8stesting.GetAction:
		return a.GetName()
	case k8stesting.DeleteAction:
		return a.GetName()
	}
	return ""
}

// apply does what the API server would, with f.mu held.
func (f *fakeAPI) apply(action k8stesting.Action) (bool, runtime.Object, error) {
	tracker := f.Tracker()
	ns := action.GetNamespace()
	switch a := action.(type) {
	case k8stesting.CreateAction:
		o := a.GetObject().(*unstructured.Unstructured).DeepCopy()
		f.rv++
		o.SetResourceVersion(strconv.Itoa(f.rv))
		o.SetCreationTimestamp(metav1.NewTime(f.now))
		if err := tracker.Create(secretsGVR, o, ns); err != nil {
			return true, nil, err
		}
		f.writes["create "+o.GetName()]++
		return true, o, nil
	case k8stesting.UpdateAction:
		o := a.GetObject().(*unstructured.Unstructured).DeepCopy()
		cur, err := tracker.Get(secretsGVR, ns, o.GetName())
		if err != nil {
			return true, nil, err
		}
		have := cur.(*unstructured.Unstructured).GetResourceVersion()
		if o.GetResourceVersion() != have {
			return true, nil, apierrors.NewConflict(secretsGVR.GroupResource(), o.GetName(),
				fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again (have %s, got %s)", have, o.GetResourceVersion()))
		}
		f.rv++
		o.SetResourceVersion(strconv.Itoa(f.rv))
		o.SetCreationTimestamp(cur.(*unstructured.Unstructured).GetCreationTimestamp())
		if err := tracker.Update(secretsGVR, o, ns); err != nil {
			return true, nil, err
		}
		f.writes["update "+o.GetName()]++
		return true, o, nil
	case k8stesting.DeleteAction:
		f.writes["delete "+a.GetName()]++
	}
	return k8stesting.ObjectReaction(tracker)(action)
}

// secret returns the stored Secret called name, nil when there is none.
func (f *fakeAPI) secret(ns, name string) *corev1.Secret {
	f.t.Helper()
	o, err := f.Tracker().Get(secretsGVR, ns, name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	var sec corev1.Secret
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.(*unstructured.Unstructured).Object, &sec); err != nil {
		f.t.Fatal(err)
	}
	return &sec
}

// secrets returns every stored Secret in ns by name.
func (f *fakeAPI) secrets(ns string) map[string]*corev1.Secret {
	f.t.Helper()
	l, err := f.Tracker().List(secretsGVR, schema.GroupVersionKind{Version: "v1", Kind: "Secret"}, ns)
	if err != nil {
		f.t.Fatal(err)
	}
	items := l.(*unstructured.UnstructuredList).Items
	out := map[string]*corev1.Secret{}
	for _, u := range items {
		out[u.GetName()] = f.secret(ns, u.GetName())
	}
	return out
}

// put stores sec as someone else would.
func (f *fakeAPI) put(sec *corev1.Secret) {
	f.t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(sec)
	if err != nil {
		f.t.Fatal(err)
	}
	obj := &unstructured.Unstructured{Object: u}
	obj.SetAPIVersion("v1")
	obj.SetKind("Secret")
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, _, err := f.apply(k8stesting.NewCreateAction(secretsGVR, sec.Namespace, obj)); err != nil {
		f.t.Fatal(err)
	}
}
