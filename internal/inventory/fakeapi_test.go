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
	"k8s.io/client-go/dynamic"
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

// fault fails the next times requests of verb on the Secret called name
// (or, when name ends in *, whose name starts with the rest), with err;
// after applies them first, and then calls then, if set, before the
// client sees the error.
type fault struct {
	verb, name string
	after      bool
	times      int
	err        error
	then       func()
}

func (ft *fault) matches(verb, name string) bool {
	if ft.times <= 0 || ft.verb != verb {
		return false
	}
	if prefix, ok := strings.CutSuffix(ft.name, "*"); ok {
		return strings.HasPrefix(name, prefix)
	}
	return name == ft.name
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

// second returns another client of the same store, without the faults:
// someone else's obsctl, which may write while this one waits for an
// answer (the fake client serialises its calls, so f's own client cannot).
func (f *fakeAPI) second() dynamic.Interface {
	c := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{secretsGVR: "SecretList"})
	c.ReactionChain = nil
	c.AddReactor("*", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.apply(action)
	})
	return c
}

// fail adds a fault.
func (f *fakeAPI) fail(ft fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &ft)
}

// timeout is what a client sees when etcd stalls past the request's time.
var timeout = apierrors.NewTimeoutError("request did not complete within requested timeout - context deadline exceeded", 0)

func (f *fakeAPI) react(action k8stesting.Action) (bool, runtime.Object, error) {
	f.mu.Lock()
	name := actionName(action)
	for _, ft := range f.faults {
		if !ft.matches(action.GetVerb(), name) {
			continue
		}
		ft.times--
		if ft.after {
			// Whether it succeeded or failed, its answer is lost.
			_, _, _ = f.apply(action)
		}
		f.mu.Unlock()
		if ft.then != nil {
			ft.then()
		}
		return true, nil, ft.err
	}
	defer f.mu.Unlock()
	return f.apply(action)
}

// actionName is the name of the Secret action is about; "" for a list.
// (Create and update actions have the same methods: they are told apart by
// verb, not by type.)
func actionName(action k8stesting.Action) string {
	switch a := action.(type) {
	case k8stesting.CreateAction:
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
	switch action.GetVerb() {
	case "create":
		o := action.(k8stesting.CreateAction).GetObject().(*unstructured.Unstructured).DeepCopy()
		f.rv++
		o.SetResourceVersion(strconv.Itoa(f.rv))
		o.SetCreationTimestamp(metav1.NewTime(f.now))
		if err := tracker.Create(secretsGVR, o, ns); err != nil {
			return true, nil, err
		}
		f.writes["create "+o.GetName()]++
		return true, o, nil
	case "update":
		o := action.(k8stesting.UpdateAction).GetObject().(*unstructured.Unstructured).DeepCopy()
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
	case "delete":
		f.writes["delete "+actionName(action)]++
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
