package e2elint

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/cli"
	"github.com/obsctl/obsctl/internal/compile"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/render"
	"github.com/obsctl/obsctl/test/cluster"
)

// TestLintKnowsWhatTheClusterRefuses is the proof of issue 10's point 3:
// for each cluster-* case of the hostile corpus, the API server's answer to
// what the repo renders, and lint's. Every repo the API server refuses, or
// obsctl cannot even render, is one lint reports an error for; every case
// the corpus says lint accepts
// (exit 0) is accepted by the API server; and a case that says what the
// API server answers (apiserver reject|accept) gets that answer, so that a
// case never silently stops exercising what it was written for.
func TestLintKnowsWhatTheClusterRefuses(t *testing.T) {
	s := newServer(t)
	start := time.Now()
	var refused, accepted, unrendered int
	for _, c := range readCorpus(t, "cluster-") {
		t.Run(c.name, func(t *testing.T) {
			dir := c.materialize(t)
			v := s.judge(t, dir)
			code, errs := lint(t, dir)
			t.Logf("API server: %s; lint: exit %d, %d errors", v, code, len(errs))
			switch {
			case !v.rendered:
				unrendered++
			case len(v.refused) > 0:
				refused++
			default:
				accepted++
			}
			if len(v.refused) > 0 && (code != cli.ExitFindings || len(errs) == 0) {
				t.Errorf("the API server refuses the repo, lint does not (exit %d):\n%s", code, strings.Join(v.refused, "\n"))
			}
			if !v.rendered && (code != cli.ExitFindings || len(errs) == 0) {
				t.Errorf("obsctl cannot render the repo (%s), lint does not say why (exit %d)", v.why, code)
			}
			if c.exit == 0 && (!v.rendered || len(v.refused) > 0) {
				t.Errorf("lint accepts the repo (the case says exit 0), the cluster does not: %s", v)
			}
			if c.exit == 0 && code != 0 {
				t.Errorf("lint: exit %d, want 0 (the case is a near miss); errors: %s", code, strings.Join(errs, "; "))
			}
			switch c.apiserver {
			case "reject":
				if !v.rendered || len(v.refused) == 0 {
					t.Errorf("the case says the API server refuses the repo; it was %s", v)
				}
			case "accept":
				if !v.rendered || len(v.refused) > 0 {
					t.Errorf("the case says the API server accepts the repo; it was %s", v)
				}
			}
		})
	}
	t.Logf("%d cases in %s: the API server refused %d, accepted %d; %d could not be rendered",
		refused+accepted+unrendered, time.Since(start).Round(time.Millisecond), refused, accepted, unrendered)
}

// server is the control plane, with the stack's CRDs installed, and what
// it accepted already.
type server struct {
	applier *apply.Applier
	dyn     cluster.Dynamic
	mu      sync.Mutex
	ok      map[[32]byte]bool // objects (with the stack they go in) the dry run accepted
}

func newServer(t *testing.T) *server {
	t.Helper()
	c := harness.Cluster(t)
	cfg := c.RESTConfig()
	cfg.QPS, cfg.Burst = 1000, 2000
	cl, err := kube.NewClients(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{applier: &apply.Applier{Dynamic: cl.Dynamic, Mapper: cl.Mapper}, dyn: cl.Dynamic, ok: map[[32]byte]bool{}}
	// The CRDs every render holds, installed once: a dry run does not
	// install them, and the custom resources of each case need them.
	objs, err := renderDir(t, t.TempDir())
	if err != nil {
		t.Fatalf("render the embedded default repo: %v", err)
	}
	var crds []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, o)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.applier.Apply(ctx, crds, apply.Options{Stack: "e2elint"}); err != nil {
		t.Fatalf("install the CRDs: %v", err)
	}
	return s
}

// renderDir renders the repo in dir as obsctl apply would, whatever lint
// says of it: load, compile, render. A panic is an error too.
func renderDir(t *testing.T, dir string) (objs []*unstructured.Unstructured, err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	r, err := load.Load(load.Options{WorkDir: dir})
	if err != nil {
		return nil, err
	}
	c, err := compile.Compile(r)
	if err != nil {
		return nil, err
	}
	res, err := render.Render(c, "")
	if err != nil {
		return nil, err
	}
	return res.Objects, nil
}

// verdict is the cluster's answer to a repo.
type verdict struct {
	rendered bool
	why      string   // why it was not rendered
	objects  int      // how many objects were sent
	refused  []string // the objects refused, with the API server's reasons
}

func (v verdict) String() string {
	switch {
	case !v.rendered:
		return "not rendered (" + v.why + ")"
	case len(v.refused) > 0:
		return fmt.Sprintf("%d of %d objects refused: %s", len(v.refused), v.objects, strings.Join(v.refused, "; "))
	}
	return fmt.Sprintf("all %d objects accepted", v.objects)
}

// etcdMinimum is a size under which no object meets etcd's request limit
// (1.5 MiB): a server dry run stops before etcd, so an object bigger than
// this is also written for real, and deleted.
const etcdMinimum = 1 << 20

// judge renders the repo in dir and sends its objects to the API server as
// a release does: Namespaces first (for real: a dry run of an object in a
// namespace that does not exist fails for that alone), then every object
// as a server dry run through the apply engine, and objects big enough to
// meet etcd's limit for real.
func (s *server) judge(t *testing.T, dir string) verdict {
	t.Helper()
	objs, err := renderDir(t, dir)
	if err != nil {
		return verdict{why: err.Error()}
	}
	v := verdict{rendered: true}
	stack := ""
	var namespaces, rest, big []*unstructured.Unstructured
	for _, o := range objs {
		if stack == "" {
			stack = o.GetLabels()[apply.LabelStack]
		}
		b, err := json.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case o.GetKind() == "CustomResourceDefinition":
			continue // installed, the same in every render
		case o.GetKind() == "Namespace":
			namespaces = append(namespaces, o)
		case len(b) > etcdMinimum:
			big = append(big, o)
		}
		key := sha256.Sum256(append([]byte(stack+"\x00"), b...))
		s.mu.Lock()
		seen := s.ok[key]
		s.mu.Unlock()
		if !seen {
			rest = append(rest, o)
		}
		v.objects++
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	send := func(objs []*unstructured.Unstructured, dry apply.DryRun) *apply.Result {
		if len(objs) == 0 {
			return nil
		}
		res, err := s.applier.Apply(ctx, objs, apply.Options{Stack: stack, Namespace: "monitoring", DryRun: dry, Timeout: time.Minute})
		if res == nil && err != nil {
			v.refused = append(v.refused, "the apply engine: "+err.Error())
			return nil
		}
		for _, o := range res.Objects {
			if o.Action == apply.Failed || o.Action == apply.Skipped {
				msg := o.Object.String()
				if o.Err != nil {
					msg = o.Err.Error()
				} else if o.Note != "" {
					msg += ": " + o.Note
				}
				v.refused = append(v.refused, msg)
			}
		}
		return res
	}
	send(namespaces, apply.DryRunNone)
	if res := send(rest, apply.DryRunServer); res != nil {
		for i, o := range res.Objects {
			if o.Action != apply.Failed && o.Action != apply.Skipped {
				b, _ := json.Marshal(rest[i].Object)
				s.mu.Lock()
				s.ok[sha256.Sum256(append([]byte(stack+"\x00"), b...))] = true
				s.mu.Unlock()
			}
		}
	}
	if res := send(big, apply.DryRunNone); res != nil {
		for _, o := range res.Objects {
			if o.Action == apply.Created || o.Action == apply.Configured || o.Action == apply.Unchanged {
				s.delete(t, o.Object)
			}
		}
	}
	return v
}

// delete removes an object written for real.
func (s *server) delete(t *testing.T, ref apply.ObjectRef) {
	t.Helper()
	m, err := s.applier.Mapper.RESTMapping(ref.GroupKind(), ref.Version)
	if err == nil {
		err = s.dyn.Resource(m.Resource).Namespace(ref.Namespace).Delete(cluster.Context(t), ref.Name, metav1.DeleteOptions{})
	}
	if err != nil {
		t.Errorf("delete %s: %v", ref, err)
	}
}

// lint runs obsctl lint on dir and returns its exit code and its findings
// at error and above.
func lint(t *testing.T, dir string) (int, []string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), []string{"lint", "--format", "json"}, cli.Deps{
		Stdout: &out, Stderr: &errb, WorkDir: dir, Getenv: os.Getenv,
	})
	var rep struct {
		Findings []struct {
			Check, Severity, File, Message string
			Start                          struct{ Line int }
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("lint: exit %d, not JSON (%v); stderr:\n%s", code, err, errb.String())
	}
	var errs []string
	for _, f := range rep.Findings {
		if f.Severity == "error" || f.Severity == "fatal" {
			errs = append(errs, fmt.Sprintf("%s:%d: %s [%s]", f.File, f.Start.Line, f.Message, f.Check))
		}
	}
	return code, errs
}

// TestResourcesEveryComponent: for every component of the stack, a
// request above its limit and a limit below its request (the other value
// the profile's default) are reported by lint, and requests equal to
// limits are accepted by the API server and lint alike. The corpus has a
// few components; this has them all.
func TestResourcesEveryComponent(t *testing.T) {
	s := newServer(t)
	const base = `apiVersion: obsctl/v1
name: sweep
defaults: false
rules:
  paths: [rules]
  namespace: monitoring
alerting:
  severities: [critical, warning]
  defaultReceiver: hook
  receivers:
    - name: hook
      webhook: {url: "http://127.0.0.1:9/hook"}
stack:
  components:
`
	const rule = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n    for: 5m\n    labels: {severity: warning}\n    annotations: {summary: s, description: d, runbook_url: \"https://example.com/rb\"}\n"
	for _, key := range []string{"prometheusOperator", "prometheus", "alertmanager", "nodeExporter", "kubeStateMetrics", "grafana", "elasticsearch", "kibana", "fluentd", "jaeger"} {
		for _, v := range []struct {
			name, resources string
			refused         bool // lint must refuse it
		}{
			{"request-above-limit", "{requests: {memory: 1Ti}}", true},
			{"limit-below-request", "{limits: {cpu: 1m}}", true},
			{"equal", "{requests: {cpu: 1m, memory: 1Mi}, limits: {cpu: 1m, memory: 1Mi}}", false},
		} {
			t.Run(key+"/"+v.name, func(t *testing.T) {
				dir := t.TempDir()
				for name, data := range map[string]string{
					"obsctl.yaml":  base + "    " + key + ":\n      resources: " + v.resources + "\n",
					"rules/a.yaml": rule,
				} {
					if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				verdict := s.judge(t, dir)
				code, errs := lint(t, dir)
				t.Logf("API server: %s; lint: exit %d, %s", verdict, code, strings.Join(errs, "; "))
				if len(verdict.refused) > 0 && code != cli.ExitFindings {
					t.Errorf("the API server refuses the repo, lint does not")
				}
				if v.refused && (code != cli.ExitFindings || !strings.Contains(strings.Join(errs, "\n"), "[stack/resources]")) {
					t.Errorf("lint: exit %d without stack/resources, want it to refuse %s", code, v.resources)
				}
				if !v.refused && (code != 0 || !verdict.rendered || len(verdict.refused) > 0) {
					t.Errorf("requests equal to limits: lint exit %d, API server %s; want both to accept", code, verdict)
				}
			})
		}
	}
}
