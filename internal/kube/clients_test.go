package kube

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
)

func object(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		obj  *unstructured.Unstructured
		want string
	}{
		{object("apps/v1", "Deployment", "monitoring", "grafana"), "Deployment monitoring/grafana"},
		{object("v1", "Namespace", "", "monitoring"), "Namespace monitoring"},
		{object("", "", "", ""), "object (unnamed)"},
		{nil, "<nil object>"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := Describe(tt.obj); got != tt.want {
				t.Errorf("Describe = %q, want %q", got, tt.want)
			}
		})
	}
}

// staleMapper is a RESTMapper whose cache lags the server: it knows only
// its current mapper's kinds until Reset swaps in the fresh one.
type staleMapper struct {
	mu sync.Mutex
	meta.RESTMapper
	fresh  meta.RESTMapper
	resets int
}

func (m *staleMapper) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.resets++
	m.RESTMapper = m.fresh
}

// failingMapper fails every mapping as discovery does when the server is
// down.
type failingMapper struct {
	meta.RESTMapper
	resets int
}

func (m *failingMapper) RESTMapping(schema.GroupKind, ...string) (*meta.RESTMapping, error) {
	return nil, errors.New("unable to retrieve the complete list of server APIs")
}

func (m *failingMapper) Reset() { m.resets++ }

func TestResourceFor(t *testing.T) {
	// The server records the paths it is asked for, which tell how the
	// returned interface is scoped.
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"apiVersion":"v1","kind":"Thing","metadata":{"name":"x"}}`))
	}))
	defer srv.Close()

	configMap := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	namespace := schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}
	widget := schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}
	known := meta.NewDefaultRESTMapper(nil)
	known.Add(configMap, meta.RESTScopeNamespace)
	known.Add(namespace, meta.RESTScopeRoot)
	fresh := meta.NewDefaultRESTMapper(nil)
	fresh.Add(configMap, meta.RESTScopeNamespace)
	fresh.Add(namespace, meta.RESTScopeRoot)
	fresh.Add(widget, meta.RESTScopeNamespace)

	tests := []struct {
		name       string
		obj        *unstructured.Unstructured
		failing    bool
		wantPath   string // path of a Get through the interface
		wantResets int
		wantErr    []string
		wantIs     error
		noMatch    bool
	}{
		{name: "namespaced", obj: object("v1", "ConfigMap", "monitoring", "cm"), wantPath: "/api/v1/namespaces/monitoring/configmaps/cm"},
		{name: "cluster-scoped", obj: object("v1", "Namespace", "", "monitoring"), wantPath: "/api/v1/namespaces/monitoring"},
		{name: "fresh CRD kind after a reset", obj: object("example.com/v1", "Widget", "monitoring", "w"), wantPath: "/apis/example.com/v1/namespaces/monitoring/widgets/w", wantResets: 1},
		{name: "namespaced without namespace", obj: object("v1", "ConfigMap", "", "cm"), wantErr: []string{"ConfigMap cm: "}, wantIs: ErrNoNamespace},
		{name: "unknown kind, reset once", obj: object("example.com/v2", "Gadget", "monitoring", "g"), wantResets: 1, noMatch: true,
			wantErr: []string{"Gadget monitoring/g: ", "CustomResourceDefinition installed"}},
		{name: "no kind", obj: object("v1", "", "monitoring", "x"), wantErr: []string{"object monitoring/x: apiVersion or kind is missing"}},
		{name: "discovery fails, no reset", obj: object("v1", "ConfigMap", "monitoring", "cm"), failing: true, wantErr: []string{"map ConfigMap monitoring/cm to a resource: unable to retrieve"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClients(&rest.Config{Host: srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			stale := &staleMapper{RESTMapper: known, fresh: fresh}
			failing := &failingMapper{}
			c.Mapper = stale
			if tt.failing {
				c.Mapper = failing
			}
			ri, mapping, err := c.ResourceFor(tt.obj)
			if resets := stale.resets + failing.resets; resets != tt.wantResets {
				t.Errorf("mapper reset %d times, want %d", resets, tt.wantResets)
			}
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("ResourceFor succeeded with %v, want an error", mapping.Resource)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
					t.Errorf("error %q is not %v", err, tt.wantIs)
				}
				if tt.noMatch && !meta.IsNoMatchError(err) {
					t.Errorf("error %q is not a no-match error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResourceFor: %v", err)
			}
			if mapping.GroupVersionKind != tt.obj.GroupVersionKind() {
				t.Errorf("mapping is for %v, want %v", mapping.GroupVersionKind, tt.obj.GroupVersionKind())
			}
			mu.Lock()
			paths = nil
			mu.Unlock()
			if _, err := ri.Get(context.Background(), tt.obj.GetName(), metav1.GetOptions{}); err != nil {
				t.Fatalf("get through the resource interface: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(paths) != 1 || paths[0] != tt.wantPath {
				t.Errorf("requests %v, want one to %s", paths, tt.wantPath)
			}
		})
	}
}

func TestNewClientsDefaults(t *testing.T) {
	t.Run("fills what the config leaves out", func(t *testing.T) {
		in := &rest.Config{Host: "https://127.0.0.1:6443"}
		c, err := NewClients(in)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(c.Config.UserAgent, "obsctl/") || c.Config.QPS != DefaultQPS || c.Config.Burst != DefaultBurst {
			t.Errorf("config has user agent %q, QPS %v, burst %d", c.Config.UserAgent, c.Config.QPS, c.Config.Burst)
		}
		if in.UserAgent != "" || in.QPS != 0 {
			t.Errorf("NewClients changed the caller's config: %+v", in)
		}
	})
	t.Run("keeps what the config sets", func(t *testing.T) {
		c, err := NewClients(&rest.Config{Host: "https://127.0.0.1:6443", UserAgent: "mine", QPS: 7, Burst: 9})
		if err != nil {
			t.Fatal(err)
		}
		if c.Config.UserAgent != "mine" || c.Config.QPS != 7 || c.Config.Burst != 9 {
			t.Errorf("config has user agent %q, QPS %v, burst %d; want mine, 7, 9", c.Config.UserAgent, c.Config.QPS, c.Config.Burst)
		}
	})
	t.Run("bad TLS material", func(t *testing.T) {
		_, err := NewClients(&rest.Config{Host: "https://127.0.0.1:6443", TLSClientConfig: rest.TLSClientConfig{CAFile: "/nonexistent/ca.crt"}})
		if err == nil || !strings.Contains(err.Error(), "https://127.0.0.1:6443") {
			t.Errorf("error = %v, want one naming the host", err)
		}
	})
}

// TestRetryStoppedEndpoint points real clients at a loopback port nothing
// listens on, as when the kube-apiserver is down: both the mapping and the
// request fail as transient, and Retry gives up at the deadline saying why.
func TestRetryStoppedEndpoint(t *testing.T) {
	c, err := NewClients(&rest.Config{Host: "https://" + closedAddr(t), TLSClientConfig: rest.TLSClientConfig{Insecure: true}})
	if err != nil {
		t.Fatal(err)
	}
	ns := object("v1", "Namespace", "", "monitoring")
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	attempts := 0
	err = Retry(ctx, "apply "+Describe(ns), func(ctx context.Context) error {
		attempts++
		ri, _, err := c.ResourceFor(ns)
		if err != nil {
			return err
		}
		_, err = ri.Get(ctx, ns.GetName(), metav1.GetOptions{})
		return err
	})
	elapsed := time.Since(start)
	t.Logf("after %v: %v", elapsed, err)
	if elapsed > 2500*time.Millisecond {
		t.Errorf("Retry returned after %v, want within about the 1.5s deadline", elapsed)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %v does not wrap both the deadline and the refused connection", err)
	}
	if attempts < 3 {
		t.Errorf("%d attempts, want several", attempts)
	}
	for _, w := range []string{"apply Namespace monitoring: ", "unreachable (connection refused)", "context deadline exceeded"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}
