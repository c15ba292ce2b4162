package apply_test

import (
	"bytes"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/test/cluster"
)

var harness cluster.Harness

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, cluster.Options{Nodes: 3}))
}

// requests counts the HTTP requests a client sends, by method.
type requests struct {
	mu       sync.Mutex
	byMethod map[string]int
}

func (c *requests) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		c.mu.Lock()
		c.byMethod[req.Method]++
		c.mu.Unlock()
		return rt.RoundTrip(req)
	})
}

// take returns the counts so far and starts again from zero.
func (c *requests) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.byMethod
	c.byMethod = map[string]int{}
	return out
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// client is what the CLI will build for one run: a REST config without
// client-side throttling, a dynamic client and a deferred discovery mapper.
type client struct {
	cfg      *rest.Config
	dyn      dynamic.Interface
	requests *requests
}

func newClient(t *testing.T) *client {
	t.Helper()
	c := harness.Cluster(t)
	cfg := c.RESTConfig()
	cfg.QPS, cfg.Burst = 1000, 2000
	counter := &requests{byMethod: map[string]int{}}
	cfg.WrapTransport = counter.wrap
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &client{cfg: cfg, dyn: dyn, requests: counter}
}

// applier returns an Applier with a fresh mapper, as a new obsctl process
// would have.
func (c *client) applier(t *testing.T) *apply.Applier {
	t.Helper()
	cl, err := kube.NewClients(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &apply.Applier{Dynamic: c.dyn, Mapper: cl.Mapper}
}

// decodeObjects reads a multi-document YAML stream.
func decodeObjects(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		js, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			t.Fatalf("%v in\n%s", err, doc)
		}
		out = append(out, u)
	}
	return out
}

func stripComments(doc []byte) []byte {
	var keep []string
	for _, l := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			keep = append(keep, l)
		}
	}
	return []byte(strings.Join(keep, "\n"))
}

// recorder is an Observer keeping every event.
type recorder struct {
	mu     sync.Mutex
	events []apply.Event
}

func (r *recorder) Observe(e apply.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) count(a apply.Action) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Action == a {
			n++
		}
	}
	return n
}
