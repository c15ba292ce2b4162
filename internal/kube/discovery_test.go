package kube

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

// The answers below have the shapes the API server documents for
// aggregated discovery (apidiscovery.k8s.io/v2) and for the older
// per-group discovery.
const (
	aggregatedCore = `{"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","metadata":{},"items":[
	{"metadata":{"creationTimestamp":null},"versions":[{"version":"v1","freshness":"Current","resources":[
		{"resource":"configmaps","responseKind":{"group":"","version":"","kind":"ConfigMap"},"scope":"Namespaced","singularResource":"configmap","verbs":["create","delete","get","list","patch","update","watch"]},
		{"resource":"namespaces","responseKind":{"group":"","version":"","kind":"Namespace"},"scope":"Cluster","singularResource":"namespace","verbs":["create","delete","get","list","patch","update","watch"],
		 "subresources":[{"subresource":"status","responseKind":{"group":"","version":"","kind":"Namespace"},"verbs":["get","patch","update"]}]},
		{"resource":"bindings","responseKind":{"group":"","version":"","kind":"Binding"},"scope":"Namespaced","singularResource":"binding","verbs":["create"]}]}]}]}`
	aggregatedGroups = `{"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","metadata":{},"items":[
	{"metadata":{"name":"autoscaling","creationTimestamp":null},"versions":[
		{"version":"v2","freshness":"Current","resources":[{"resource":"horizontalpodautoscalers","responseKind":{"group":"","version":"","kind":"HorizontalPodAutoscaler"},"scope":"Namespaced","singularResource":"horizontalpodautoscaler","verbs":["get","list"]}]},
		{"version":"v1","freshness":"Current","resources":[{"resource":"horizontalpodautoscalers","responseKind":{"group":"","version":"","kind":"HorizontalPodAutoscaler"},"scope":"Namespaced","singularResource":"horizontalpodautoscaler","verbs":["get","list"]}]}]},
	{"metadata":{"name":"metrics.k8s.io","creationTimestamp":null},"versions":[{"version":"v1beta1","freshness":"Stale"}]}]}`
	aggregatedType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

	legacyCore   = `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}`
	legacyGroups = `{"kind":"APIGroupList","apiVersion":"v1","groups":[
	{"name":"autoscaling","versions":[{"groupVersion":"autoscaling/v1","version":"v1"},{"groupVersion":"autoscaling/v2","version":"v2"}],"preferredVersion":{"groupVersion":"autoscaling/v2","version":"v2"}},
	{"name":"metrics.k8s.io","versions":[{"groupVersion":"metrics.k8s.io/v1beta1","version":"v1beta1"}],"preferredVersion":{"groupVersion":"metrics.k8s.io/v1beta1","version":"v1beta1"}}]}`
	legacyCoreV1 = `{"kind":"APIResourceList","groupVersion":"v1","resources":[
	{"name":"configmaps","singularName":"configmap","namespaced":true,"kind":"ConfigMap","verbs":["create","delete","get","list","patch","update","watch"]},
	{"name":"namespaces","singularName":"namespace","namespaced":false,"kind":"Namespace","verbs":["create","delete","get","list","patch","update","watch"]},
	{"name":"namespaces/status","singularName":"","namespaced":false,"kind":"Namespace","verbs":["get","patch","update"]},
	{"name":"bindings","singularName":"binding","namespaced":true,"kind":"Binding","verbs":["create"]}]}`
	legacyHPA = `{"kind":"APIResourceList","groupVersion":"autoscaling/VERSION","resources":[
	{"name":"horizontalpodautoscalers","singularName":"horizontalpodautoscaler","namespaced":true,"kind":"HorizontalPodAutoscaler","verbs":["get","list"]}]}`
	unavailable = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server is currently unable to handle the request","reason":"ServiceUnavailable","code":503}`
)

// discoveryServer answers discovery as an API server with or without
// aggregated discovery does, and counts the requests.
func discoveryServer(t *testing.T, aggregated bool) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		wantsAggregated := strings.Contains(r.Header.Get("Accept"), "as=APIGroupDiscoveryList")
		answer := func(contentType, body string) {
			w.Header().Set("Content-Type", contentType)
			_, _ = w.Write([]byte(body))
		}
		switch path := r.URL.Path; {
		case aggregated && wantsAggregated && path == "/api":
			answer(aggregatedType, aggregatedCore)
		case aggregated && wantsAggregated && path == "/apis":
			answer(aggregatedType, aggregatedGroups)
		case path == "/api":
			answer("application/json", legacyCore)
		case path == "/apis":
			answer("application/json", legacyGroups)
		case path == "/api/v1":
			answer("application/json", legacyCoreV1)
		case path == "/apis/autoscaling/v1", path == "/apis/autoscaling/v2":
			answer("application/json", strings.Replace(legacyHPA, "VERSION", path[len(path)-2:], 1))
		case path == "/apis/metrics.k8s.io/v1beta1":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(unavailable))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

func newTestDiscovery(t *testing.T, host string) *Discovery {
	t.Helper()
	c, err := NewClients(&rest.Config{Host: host})
	if err != nil {
		t.Fatal(err)
	}
	return c.Discovery
}

func TestDiscoveryMapping(t *testing.T) {
	hpa := schema.GroupKind{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}
	for _, tt := range []struct {
		name         string
		aggregated   bool
		wantRequests int32
	}{
		{"aggregated", true, 2},
		// /api, /apis, /api/v1 and the three group versions.
		{"per group", false, 6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, requests := discoveryServer(t, tt.aggregated)
			d := newTestDiscovery(t, srv.URL)

			m, err := d.RESTMapping(schema.GroupKind{Kind: "ConfigMap"}, "v1")
			if err != nil {
				t.Fatal(err)
			}
			if m.Resource != (schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}) || m.Scope.Name() != meta.RESTScopeNameNamespace {
				t.Errorf("ConfigMap maps to %v scoped %s", m.Resource, m.Scope.Name())
			}
			if m, err = d.RESTMapping(schema.GroupKind{Kind: "Namespace"}); err != nil || m.Scope.Name() != meta.RESTScopeNameRoot || m.Resource.Resource != "namespaces" {
				t.Errorf("Namespace maps to %v, %v; want the cluster-scoped namespaces", m, err)
			}
			// No version: the preferred one. Asked for: that one.
			if m, err = d.RESTMapping(hpa); err != nil || m.Resource.Version != "v2" {
				t.Errorf("HPA without version maps to %v, %v; want v2, the preferred version", m, err)
			}
			if m, err = d.RESTMapping(hpa, "v1"); err != nil || m.Resource.Version != "v1" || m.GroupVersionKind.Version != "v1" {
				t.Errorf("HPA v1 maps to %v, %v", m, err)
			}
			if m, err = d.RESTMapping(hpa, "v3", "v1"); err != nil || m.Resource.Version != "v1" {
				t.Errorf("HPA v3 or v1 maps to %v, %v; want v1, the first served", m, err)
			}
			ms, err := d.RESTMappings(hpa)
			if err != nil || len(ms) != 2 || ms[0].Resource.Version != "v2" || ms[1].Resource.Version != "v1" {
				t.Errorf("RESTMappings(HPA) = %v, %v; want v2 then v1", ms, err)
			}
			if _, err := d.RESTMapping(hpa, "v3"); !meta.IsNoMatchError(err) {
				t.Errorf("HPA v3: %v, want a no-match error", err)
			}
			if _, err := d.RESTMapping(schema.GroupKind{Group: "example.com", Kind: "Widget"}); !meta.IsNoMatchError(err) {
				t.Errorf("unknown kind: %v, want a no-match error", err)
			}
			// A group the server could not describe: the kind may exist.
			_, err = d.RESTMapping(schema.GroupKind{Group: "metrics.k8s.io", Kind: "PodMetrics"})
			if err == nil || meta.IsNoMatchError(err) || !strings.Contains(err.Error(), "could not be discovered") {
				t.Errorf("kind of an undiscoverable group: %v, want an error saying the group could not be discovered", err)
			}

			gvr, err := d.ResourceFor(schema.GroupVersionResource{Resource: "horizontalpodautoscaler"})
			if err != nil || gvr.Version != "v2" || gvr.Resource != "horizontalpodautoscalers" {
				t.Errorf("ResourceFor(singular) = %v, %v", gvr, err)
			}
			if gvk, err := d.KindFor(schema.GroupVersionResource{Resource: "configmaps"}); err != nil || gvk.Kind != "ConfigMap" {
				t.Errorf("KindFor(configmaps) = %v, %v", gvk, err)
			}
			if s, err := d.ResourceSingularizer("namespaces"); err != nil || s != "namespace" {
				t.Errorf("ResourceSingularizer(namespaces) = %q, %v", s, err)
			}
			if _, err := d.ResourceFor(schema.GroupVersionResource{Resource: "widgets"}); !meta.IsNoMatchError(err) {
				t.Errorf("ResourceFor(widgets): %v, want a no-match error", err)
			}

			rs, err := d.Resources(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, r := range rs {
				names = append(names, r.GroupVersionResource.String())
				if strings.Contains(r.Resource, "/") {
					t.Errorf("Resources lists the subresource %s", r.Resource)
				}
			}
			if len(rs) != 5 {
				t.Errorf("Resources = %v, want configmaps, namespaces, bindings and the two HPA versions", names)
			}

			if got := requests.Load(); got != tt.wantRequests {
				t.Errorf("%d requests, want %d: discovery is asked once", got, tt.wantRequests)
			}
			d.Reset()
			if _, err := d.RESTMapping(schema.GroupKind{Kind: "ConfigMap"}); err != nil {
				t.Fatal(err)
			}
			if got := requests.Load(); got != 2*tt.wantRequests {
				t.Errorf("%d requests after Reset, want %d: Reset makes discovery ask again", got, 2*tt.wantRequests)
			}
		})
	}
}

// TestDiscoveryServerDown: when the server answers nothing, mapping fails
// with the server's error, not a no-match that would read as "the CRD is
// not installed", and the error is kept for nobody: the next call asks
// again.
func TestDiscoveryServerDown(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	srv, _ := discoveryServer(t, true)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(unavailable))
			return
		}
		srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer front.Close()
	c, err := NewClients(&rest.Config{Host: front.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Discovery.RESTMapping(schema.GroupKind{Kind: "ConfigMap"})
	if err == nil || meta.IsNoMatchError(err) || !IsTransient(err) {
		t.Fatalf("mapping with the server down: %v, want a transient error", err)
	}
	if !strings.Contains(err.Error(), "discover the cluster's API resources") {
		t.Errorf("error %q does not say what failed", err)
	}
	down.Store(false)
	if _, err := c.Discovery.RESTMapping(schema.GroupKind{Kind: "ConfigMap"}); err != nil {
		t.Errorf("mapping once the server is back: %v", err)
	}
}

// TestDiscoveryConcurrent maps from many goroutines at once, across a
// Reset: one load at a time, every answer right (run with -race).
func TestDiscoveryConcurrent(t *testing.T) {
	srv, _ := discoveryServer(t, true)
	d := newTestDiscovery(t, srv.URL)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 32 {
				d.Reset()
			}
			m, err := d.RESTMapping(schema.GroupKind{Kind: "ConfigMap"}, "v1")
			if err == nil && m.Resource.Resource != "configmaps" {
				err = errors.New("wrong mapping " + m.Resource.String())
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestTypedRoundTrip sends a Lease and a Secret through the dynamic client
// and back: the times, the byte data and the kind survive the conversion.
func TestTypedRoundTrip(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := new(strings.Builder)
		_, _ = io.Copy(buf, r.Body)
		mu.Lock()
		bodies = append(bodies, buf.String())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(buf.String())) // the server stores what it is sent
	}))
	defer srv.Close()
	c, err := NewClients(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	renewed := metav1.NewMicroTime(time.Date(2026, 11, 21, 3, 4, 5, 123456000, time.UTC))
	holder := "alice"
	lease, err := Leases(c.Dynamic, "monitoring").Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "obsctl-prod", Namespace: "monitoring"},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, RenewTime: &renewed},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !lease.Spec.RenewTime.Equal(&renewed) || *lease.Spec.HolderIdentity != holder {
		t.Errorf("lease came back as %+v", lease.Spec)
	}

	secret, err := Secrets(c.Dynamic, "monitoring").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "monitoring"},
		Data:       map[string][]byte{"bin": {0, 1, 2, 255}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := secret.Data["bin"]; string(got) != "\x00\x01\x02\xff" {
		t.Errorf("secret data came back as %q", got)
	}
	for i, want := range [][]string{{`"apiVersion":"coordination.k8s.io/v1"`, `"kind":"Lease"`}, {`"apiVersion":"v1"`, `"kind":"Secret"`}} {
		for _, w := range want {
			if !strings.Contains(bodies[i], w) {
				t.Errorf("request %d sent %s, want it to carry %s", i, bodies[i], w)
			}
		}
	}
	if !strings.Contains(bodies[0], `"renewTime":"2026-11-21T03:04:05.123456Z"`) {
		t.Errorf("lease sent as %s, want the renew time in microseconds", bodies[0])
	}
}

// freshCRDServer answers discovery as an API server that publishes the
// kind of an established CustomResourceDefinition only from the
// publishAt-th group listing on, and lists that definition when defined.
func freshCRDServer(t *testing.T, defined bool, publishAt int32) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var listings atomic.Int32
	const group = `{"name":"fresh.obsctl.test","versions":[{"groupVersion":"fresh.obsctl.test/v1","version":"v1"}],"preferredVersion":{"groupVersion":"fresh.obsctl.test/v1","version":"v1"}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api":
			_, _ = w.Write([]byte(legacyCore))
		case "/api/v1":
			_, _ = w.Write([]byte(legacyCoreV1))
		case "/apis":
			groups := `{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`
			if listings.Add(1) >= publishAt {
				groups = `{"kind":"APIGroupList","apiVersion":"v1","groups":[` + group + `]}`
			}
			_, _ = w.Write([]byte(groups))
		case "/apis/fresh.obsctl.test/v1":
			_, _ = w.Write([]byte(`{"kind":"APIResourceList","groupVersion":"fresh.obsctl.test/v1","resources":[{"name":"widgets","singularName":"widget","namespaced":true,"kind":"Widget","verbs":["get","list","create","patch"]}]}`))
		case "/apis/apiextensions.k8s.io/v1/customresourcedefinitions":
			items := ""
			if defined {
				items = `{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"widgets.fresh.obsctl.test"},
"spec":{"group":"fresh.obsctl.test","names":{"kind":"Widget","plural":"widgets"},"scope":"Namespaced","versions":[{"name":"v1","served":true,"storage":true}]}}`
			}
			_, _ = w.Write([]byte(`{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinitionList","metadata":{},"items":[` + items + `]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &listings
}

// A kind whose definition exists but which discovery does not publish
// yet is mapped once it does; a kind no definition serves fails at once.
func TestResourceForLaggingDiscovery(t *testing.T) {
	widget := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "fresh.obsctl.test/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w1", "namespace": "ns"}}}

	srv, listings := freshCRDServer(t, true, 4)
	c, err := NewClients(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, mapping, err := c.ResourceFor(widget)
	if err != nil {
		t.Fatalf("a defined kind discovery publishes late: %v", err)
	}
	if mapping.Resource.Resource != "widgets" || listings.Load() < 4 {
		t.Errorf("mapping %v after %d listings", mapping.Resource, listings.Load())
	}

	srv, listings = freshCRDServer(t, false, 1000)
	if c, err = NewClients(&rest.Config{Host: srv.URL}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, _, err := c.ResourceFor(widget); !meta.IsNoMatchError(err) {
		t.Errorf("a kind no definition serves: %v, want no match", err)
	}
	if d := time.Since(start); listings.Load() > 2 || d > time.Second {
		t.Errorf("a kind no definition serves took %d listings, %s: it should fail at once", listings.Load(), d)
	}
}
