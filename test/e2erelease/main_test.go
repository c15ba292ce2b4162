// Package e2erelease proves, on a control plane of its own, the scenarios
// of issue 9 (one release engine): what a post-cluster-create hook, CI and
// a person on call see when they release the default stack's content with
// obsctl, in process through cli.Run: exit codes, the per-object lines,
// -o json, and the cluster afterwards, with nothing lost.
//
// Each test releases a stack of its own (a repo copied from the embedded
// default's content, with its own name, namespaces and node-exporter port),
// so the tests share the cluster and run in parallel. The stack named
// "owner" is released first, once, before any test goes parallel: it owns
// the operator's CustomResourceDefinitions, which the other stacks use.
package e2erelease

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	obsctlrepo "github.com/obsctl/obsctl"
	"github.com/obsctl/obsctl/internal/cli"
	"github.com/obsctl/obsctl/test/cluster"
)

var harness cluster.Harness

func TestMain(m *testing.M) {
	code := harness.Main(m, cluster.Options{Nodes: 3, Volumes: 16})
	if owner.repo != "" {
		_ = os.RemoveAll(owner.repo)
	}
	os.Exit(code)
}

// The environment variables the stacks' alerting receivers take their
// credentials from ({env: VAR} in obsctl.yaml), so that no test needs a
// Secret of the user's.
var receiverEnv = map[string]string{
	"E2E_OPSGENIE_API_KEY":      "e2e-opsgenie-key",
	"E2E_PAGERDUTY_ROUTING_KEY": "e2e-pagerduty-key",
	"E2E_SLACK_WEBHOOK_URL":     "https://hooks.slack.invalid/e2e",
}

// The GroupVersionResources the tests read.
var (
	gvrCRDs           = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	gvrPrometheusRule = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "prometheusrules"}
	gvrServiceMonitor = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "servicemonitors"}
	gvrPrometheuses   = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "prometheuses"}
	gvrAlertmanagers  = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "alertmanagers"}
)

// stack is one test's stack: its repo and where it lives in the cluster.
type stack struct {
	t  *testing.T
	c  *cluster.Cluster
	cs cluster.Client
	// name is the stack's name; ns and agents its namespaces.
	name, ns, agents string
	// repo is the stack's repo folder.
	repo string
	port int
	// components are obsctl.yaml's stack.components lines besides
	// node-exporter's port, "kubeStateMetrics: {replicas: 2}" say.
	components []string
	// home is obsctl's $HOME.
	home string
}

// newStack writes a repo for a stack called name: the embedded default's
// obsctl.yaml, with the stack's own name, namespace and node-exporter port
// and receivers that read the environment, and a copy of the repo root's
// rules/, dashboards/ and pipelines/.
func newStack(t *testing.T, name string, port int, components ...string) *stack {
	t.Helper()
	return newStackIn(t, t.TempDir(), name, port, components...)
}

// newStackIn is newStack with the repo in the folder dir.
func newStackIn(t *testing.T, dir, name string, port int, components ...string) *stack {
	t.Helper()
	s := stackIn(t, dir, name, port, components...)
	s.writeConfig()
	for _, d := range []string{"rules", "dashboards", "pipelines"} {
		if err := os.CopyFS(filepath.Join(s.repo, d), os.DirFS(filepath.Join("..", "..", d))); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// stackIn returns the stack called name whose repo is the folder repo.
func stackIn(t *testing.T, repo, name string, port int, components ...string) *stack {
	t.Helper()
	c := harness.Cluster(t)
	return &stack{
		t: t, c: c, cs: cluster.NewClient(t, c.RESTConfig()),
		name: name, ns: name + "-mon", agents: name + "-mon-agents",
		repo: repo, port: port, components: components, home: t.TempDir(),
	}
}

// config returns the stack's obsctl.yaml.
func (s *stack) config() string {
	s.t.Helper()
	cfg := string(obsctlrepo.DefaultConfig)
	for _, r := range []struct{ old, new string }{
		{"\nname: obsctl\n", "\nname: " + s.name + "\n"},
		{"\n  namespace: monitoring\n", "\n  namespace: " + s.ns + "\n"},
		{"secret: {name: alertmanager-opsgenie, key: api-key}", "env: E2E_OPSGENIE_API_KEY"},
		{"secret: {name: alertmanager-pagerduty, key: routing-key}", "env: E2E_PAGERDUTY_ROUTING_KEY"},
		{"secret: {name: alertmanager-slack, key: webhook-url}", "env: E2E_SLACK_WEBHOOK_URL"},
	} {
		if !strings.Contains(cfg, r.old) {
			s.t.Fatalf("the default obsctl.yaml no longer has %q, which the test replaces", r.old)
		}
		cfg = strings.ReplaceAll(cfg, r.old, r.new)
	}
	if strings.Contains(cfg, "\nstack:") {
		s.t.Fatal("the default obsctl.yaml has a stack: of its own, which the test would duplicate")
	}
	cfg += "\nstack:\n  components:\n"
	cfg += fmt.Sprintf("    nodeExporter: {port: %d}\n", s.port)
	for _, c := range s.components {
		cfg += "    " + c + "\n"
	}
	return cfg
}

// writeConfig writes the stack's obsctl.yaml.
func (s *stack) writeConfig() {
	s.t.Helper()
	s.writeFile("obsctl.yaml", s.config())
}

func (s *stack) writeFile(rel, content string) {
	s.t.Helper()
	p := filepath.Join(s.repo, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// getenv is the environment obsctl sees.
func (s *stack) getenv(k string) string {
	switch k {
	case "KUBECONFIG":
		return s.c.Kubeconfig()
	case "HOME":
		return s.home
	case "USER":
		return "e2e"
	}
	return receiverEnv[k]
}

// result is what one obsctl run did.
type result struct {
	code           int
	stdout, stderr string
}

// obsctl runs obsctl in process from dir (the repo when "").
func (s *stack) obsctl(dir string, args ...string) result {
	s.t.Helper()
	if dir == "" {
		dir = s.repo
	}
	var out, errb bytes.Buffer
	start := time.Now()
	code := cli.Run(context.Background(), args, cli.Deps{Stdout: &out, Stderr: &errb, WorkDir: dir, Getenv: s.getenv})
	s.t.Logf("obsctl %s (in %s): exit %d in %s\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), dir,
		code, time.Since(start).Round(time.Millisecond), out.String(), errb.String())
	return result{code, out.String(), errb.String()}
}

// apply runs obsctl apply from the repo and fails the test unless it exits 0.
func (s *stack) apply(args ...string) result {
	s.t.Helper()
	r := s.obsctl("", append([]string{"apply", "--timeout", "3m"}, args...)...)
	if r.code != cli.ExitOK {
		s.t.Fatalf("obsctl apply %s: exit %d, want 0", strings.Join(args, " "), r.code)
	}
	return r
}

// applyReport is apply -o json's result, as a script reads it.
type applyReport struct {
	Stack       string
	Namespace   string
	Revision    int
	Counts      map[string]int
	Requests    map[string]int
	Objects     []reportObject
	Destructive []string
	ExitCode    int
	Error       string
}

type reportObject struct {
	APIVersion, Kind, Namespace, Name string
	Action, Note, Destructive, Error  string
}

func (o reportObject) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

func parseReport(t *testing.T, stdout string) applyReport {
	t.Helper()
	var rep applyReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("apply -o json: %v\n%s", err, stdout)
	}
	return rep
}

// changed returns how many objects the run created, configured, replaced
// or pruned.
func (r applyReport) changed() int {
	return r.Counts["created"] + r.Counts["configured"] + r.Counts["replaced"] + r.Counts["pruned"]
}

// objectLines returns the lines of apply's stdout by object: "Kind
// namespace/name" (or "Kind name") -> the rest of the line.
func objectLines(t *testing.T, stdout string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if l == "" {
			continue
		}
		f := strings.SplitN(l, " ", 3)
		if len(f) < 3 {
			t.Fatalf("malformed line %q", l)
		}
		out[f[0]+" "+f[1]] = f[2]
	}
	return out
}

// ctx bounds one test's own cluster calls.
func (s *stack) ctx() context.Context { return cluster.Context(s.t) }

// secretData returns the data of the Secrets selected by sel in the
// stack's namespaces, by "namespace/name", values decoded.
func (s *stack) secretData(sel string) map[string]map[string]string {
	s.t.Helper()
	out := map[string]map[string]string{}
	for _, ns := range []string{s.ns, s.agents} {
		l, err := s.cs.CoreV1().Secrets(ns).List(s.ctx(), metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			s.t.Fatal(err)
		}
		for _, sec := range l.Items {
			d := map[string]string{}
			for k, v := range sec.Data {
				d[k] = string(v)
			}
			out[ns+"/"+sec.Name] = d
		}
	}
	return out
}

// generatedSecrets returns the values of the stack's generated Secrets.
func (s *stack) generatedSecrets() map[string]map[string]string {
	s.t.Helper()
	return s.secretData("obsctl.dev/generated=true,obsctl.dev/stack=" + s.name)
}

// wantGenerated are the generated Secrets of a stack in the minimal
// profile: Grafana's admin credentials, Elasticsearch's credentials (a copy
// in the agents' namespace for Fluentd) and Kibana's encryption keys.
func (s *stack) wantGenerated() []string {
	return []string{
		s.agents + "/elasticsearch-credentials",
		s.ns + "/elasticsearch-credentials",
		s.ns + "/grafana-admin",
		s.ns + "/kibana-encryption-keys",
	}
}

// checkGenerated fails the test unless the stack's generated Secrets are
// exactly want's, with want's values (when want is not nil), and returns
// them.
func (s *stack) checkGenerated(what string, want map[string]map[string]string) map[string]map[string]string {
	s.t.Helper()
	got := s.generatedSecrets()
	if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, s.wantGenerated()) {
		s.t.Errorf("%s: generated Secrets %v, want %v", what, names, s.wantGenerated())
	}
	for name, data := range got {
		if len(data) == 0 {
			s.t.Errorf("%s: generated Secret %s has no values", what, name)
		}
	}
	if want != nil {
		for name, data := range want {
			if !maps.Equal(got[name], data) {
				s.t.Errorf("%s: the values of generated Secret %s changed (keys before %v, after %v)", what, name,
					slices.Sorted(maps.Keys(data)), slices.Sorted(maps.Keys(got[name])))
			}
		}
	}
	return got
}

// crdOwners returns every CustomResourceDefinition's obsctl.dev/stack
// label, by name.
func crdOwners(t *testing.T, cs cluster.Client) map[string]string {
	t.Helper()
	l, err := cs.Resource(gvrCRDs).List(cluster.Context(t), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range l.Items {
		out[o.GetName()] = o.GetLabels()["obsctl.dev/stack"]
	}
	return out
}

// uids returns the UIDs of the objects of resource gvr in ns that carry
// the stack's label, by name; gone or being deleted ones are left out.
func (s *stack) uids(gvr schema.GroupVersionResource, ns string) map[string]types.UID {
	s.t.Helper()
	l, err := s.cs.Resource(gvr).Namespace(ns).List(s.ctx(), metav1.ListOptions{LabelSelector: "obsctl.dev/stack=" + s.name})
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]types.UID{}
	for _, o := range l.Items {
		if o.GetDeletionTimestamp() == nil {
			out[o.GetName()] = o.GetUID()
		}
	}
	return out
}

var (
	gvrDeployments  = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	gvrStatefulSets = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}
	gvrDaemonSets   = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}
	gvrConfigMaps   = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	gvrNamespaces   = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	gvrSecrets      = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	gvrServices     = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	gvrPVCs         = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
	gvrPDBs         = schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}
)

// versions returns the resourceVersion of every object of the stack (its
// label) of the common kinds in its namespaces, the inventory's Secrets
// included, by "resource namespace/name": equal versions say a run
// changed nothing.
func (s *stack) versions() map[string]string {
	s.t.Helper()
	out := map[string]string{}
	for _, gvr := range []schema.GroupVersionResource{gvrDeployments, gvrStatefulSets, gvrDaemonSets, gvrConfigMaps, gvrSecrets,
		gvrServices, gvrPDBs, gvrPrometheusRule, gvrServiceMonitor, gvrPrometheuses, gvrAlertmanagers} {
		for _, ns := range []string{s.ns, s.agents} {
			l, err := s.cs.Resource(gvr).Namespace(ns).List(s.ctx(), metav1.ListOptions{LabelSelector: "obsctl.dev/stack=" + s.name})
			if err != nil {
				s.t.Fatal(err)
			}
			for _, o := range l.Items {
				out[gvr.Resource+" "+ns+"/"+o.GetName()] = o.GetResourceVersion()
			}
		}
	}
	return out
}

// sameVersions fails the test when the stack's objects changed since
// before (a result of versions).
func (s *stack) sameVersions(what string, before map[string]string) {
	s.t.Helper()
	after := s.versions()
	for k, v := range before {
		switch w, ok := after[k]; {
		case !ok:
			s.t.Errorf("%s: %s is gone", what, k)
		case w != v:
			s.t.Errorf("%s: %s changed", what, k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			s.t.Errorf("%s: %s appeared", what, k)
		}
	}
}

// get returns one object, failing the test when it cannot be read; nil
// when it does not exist.
func (s *stack) get(gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	s.t.Helper()
	o, err := s.cs.Resource(gvr).Namespace(ns).Get(s.ctx(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		s.t.Fatal(err)
	}
	return o
}

// waitPruned waits until the objects of the stack that a prune deleted in
// the foreground are gone: until then, an apply finds them being deleted
// and leaves them alone. Custom resources take longest: the garbage
// collector finishes their foreground deletion once it has discovered
// their kind, up to half a minute after the CRD was created.
func (s *stack) waitPruned() {
	s.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var left []string
		for _, gvr := range []schema.GroupVersionResource{gvrDeployments, gvrStatefulSets, gvrDaemonSets,
			gvrPrometheusRule, gvrServiceMonitor, gvrPrometheuses, gvrAlertmanagers} {
			for _, ns := range []string{s.ns, s.agents} {
				l, err := s.cs.Resource(gvr).Namespace(ns).List(s.ctx(), metav1.ListOptions{LabelSelector: "obsctl.dev/stack=" + s.name})
				if err != nil {
					s.t.Fatal(err)
				}
				for _, o := range l.Items {
					if o.GetDeletionTimestamp() != nil {
						left = append(left, gvr.Resource+" "+ns+"/"+o.GetName())
					}
				}
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("pruned objects still being deleted after 90s: %v", left)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// owner is the stack that owns the operator's CustomResourceDefinitions:
// released before any other, so that which stack owns them does not
// depend on the order the tests run in. Every test calls ownerStack before
// t.Parallel, so the first one releases it while the others wait.
var owner struct {
	once sync.Once
	repo string
	err  string
}

const (
	ownerName = "owner"
	ownerPort = 9201
)

// ownerStack releases the owner stack once, from a repo of the package's,
// and returns it bound to t.
func ownerStack(t *testing.T) *stack {
	t.Helper()
	owner.once.Do(func() {
		dir, err := os.MkdirTemp("", "obsctl-e2erelease-owner-")
		if err != nil {
			owner.err = err.Error()
			return
		}
		owner.repo = dir
		s := newStackIn(t, dir, ownerName, ownerPort)
		if r := s.obsctl("", "apply", "--timeout", "3m"); r.code != 0 {
			owner.err = fmt.Sprintf("the owner stack's first apply: exit %d", r.code)
		}
	})
	if owner.err != "" {
		t.Fatal(owner.err)
	}
	return stackIn(t, owner.repo, ownerName, ownerPort)
}
