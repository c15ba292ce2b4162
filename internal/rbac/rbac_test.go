package rbac

import (
	"bytes"
	"errors"
	"flag"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.* from the current output")

// readObjects reads the YAML documents of a testdata file, with NAMESPACE
// replaced by ns.
func readObjects(t testing.TB, name, ns string) []*unstructured.Unstructured {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	src = bytes.ReplaceAll(src, []byte("NAMESPACE"), []byte(ns))
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(src), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		if m != nil {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update to accept):\n%s", path, got)
	}
}

func mustNew(t testing.TB, opts Options) *Policy {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func stackOptions(t testing.TB) Options {
	sa, err := ServiceAccount("monitoring:obsctl")
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Name:     "obsctl-deployer",
		Objects:  readObjects(t, "stack.yaml", "team-a"),
		Subjects: []rbacv1.Subject{sa, User("ci-bot"), Group("deployers")},
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"default", Options{}},
		{"stack", stackOptions(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNew(t, tc.opts)
			y, err := p.YAML()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".golden.yaml", y)
			j, err := p.JSON()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".golden.json", j)

			// What is printed reads back as the policy.
			docs := strings.Split(string(y), "\n---\n")
			if want := 1 + btoi(p.Binding != nil); len(docs) != want {
				t.Fatalf("%d YAML documents, want %d", len(docs), want)
			}
			var role rbacv1.ClusterRole
			if err := yaml.UnmarshalStrict([]byte(docs[0]), &role); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(role.Rules, p.Role.Rules) || role.Name != p.Role.Name {
				t.Errorf("YAML reads back as %+v\nwant %+v", role, p.Role)
			}
			if p.Binding != nil {
				var b rbacv1.ClusterRoleBinding
				if err := yaml.UnmarshalStrict([]byte(docs[1]), &b); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(b.Subjects, p.Binding.Subjects) || b.RoleRef.Name != p.Role.Name {
					t.Errorf("binding reads back as %+v", b)
				}
			}
			if bytes.Contains(y, []byte("creationTimestamp")) || bytes.Contains(j, []byte("creationTimestamp")) {
				t.Error("output has a creationTimestamp")
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestManaged pins the kinds the stack renders: changing them changes what
// every user must grant.
func TestManaged(t *testing.T) {
	var got []string
	for _, gr := range Managed() {
		got = append(got, gr.String())
	}
	want := []string{
		"configmaps", "namespaces", "secrets", "serviceaccounts", "services",
		"customresourcedefinitions.apiextensions.k8s.io",
		"daemonsets.apps", "deployments.apps", "statefulsets.apps",
		"cronjobs.batch",
		"alertmanagerconfigs.monitoring.coreos.com", "alertmanagers.monitoring.coreos.com",
		"podmonitors.monitoring.coreos.com", "probes.monitoring.coreos.com",
		"prometheuses.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com",
		"servicemonitors.monitoring.coreos.com",
		"ingresses.networking.k8s.io", "networkpolicies.networking.k8s.io",
		"poddisruptionbudgets.policy",
		"clusterrolebindings.rbac.authorization.k8s.io", "clusterroles.rbac.authorization.k8s.io",
		"rolebindings.rbac.authorization.k8s.io", "roles.rbac.authorization.k8s.io",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Managed() =\n%q\nwant\n%q", got, want)
	}
}

// allows reports whether one rule of p grants verb on resource of group,
// named name ("" for any).
func allows(p *Policy, group, resource, name, verb string) bool {
	for _, r := range p.Role.Rules {
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb) &&
			(len(r.ResourceNames) == 0 || slices.Contains(r.ResourceNames, name)) {
			return true
		}
	}
	return false
}

func TestRules(t *testing.T) {
	def := mustNew(t, Options{})
	stack := mustNew(t, stackOptions(t))
	for _, tc := range []struct {
		name                           string
		p                              *Policy
		group, resource, object, verbs string
		want                           bool
	}{
		{"managed", def, "apps", "deployments", "", "get list watch create patch delete", true},
		{"no update of managed kinds", def, "apps", "deployments", "", "update", false},
		{"inventory", def, "", "secrets", "", "get create update", true},
		{"lock", def, "coordination.k8s.io", "leases", "", "get create update delete", true},
		{"no patch of leases", def, "coordination.k8s.io", "leases", "", "patch", false},
		{"explain", def, "", "events", "", "list", true},
		{"explain pods", def, "", "pods", "", "list", true},
		{"no pod writes", def, "", "pods", "", "create", false},
		{"no escalate", def, "rbac.authorization.k8s.io", "clusterroles", "x", "escalate", false},
		{"no bind", def, "rbac.authorization.k8s.io", "clusterroles", "x", "bind", false},
		{"no nodes by default", def, "", "nodes", "", "list", false},

		{"kind of a CRD in the objects", stack, "example.com", "gizmos", "", "get list watch create patch delete", true},
		{"built-in kind in the objects", stack, "scheduling.k8s.io", "priorityclasses", "", "create patch delete", true},
		{"irregular plural", stack, "batch", "cronjobs", "", "create", true},
		{"grant of the stack's ClusterRole", stack, "", "nodes", "", "get list watch", true},
		{"subresource grant", stack, "", "nodes/metrics", "", "get", true},
		{"not more than granted", stack, "", "nodes", "", "delete", false},
		{"grant of the stack's Role, by name", stack, "", "configmaps", "web-config", "watch", true},
		{"bind of a role the stack does not define", stack, "rbac.authorization.k8s.io", "clusterroles", "view", "bind", true},
		{"bind of that role only", stack, "rbac.authorization.k8s.io", "clusterroles", "cluster-admin", "bind", false},
		{"no bind of the stack's own roles", stack, "rbac.authorization.k8s.io", "clusterroles", "stack-agent", "bind", false},
		{"no escalate with objects either", stack, "rbac.authorization.k8s.io", "clusterroles", "view", "escalate", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range strings.Fields(tc.verbs) {
				if got := allows(tc.p, tc.group, tc.resource, tc.object, v); got != tc.want {
					t.Errorf("%s %s.%s %q: allowed %v, want %v", v, tc.resource, tc.group, tc.object, got, tc.want)
				}
			}
		})
	}
	if !slices.ContainsFunc(stack.Role.Rules, func(r rbacv1.PolicyRule) bool { return slices.Equal(r.NonResourceURLs, []string{"/metrics"}) }) {
		t.Error("the stack's non-resource grant is missing")
	}
	if len(stack.Role.Rules) != len(stack.Why) || stack.Why[0] == "" {
		t.Errorf("%d rules, %d reasons", len(stack.Role.Rules), len(stack.Why))
	}
	// The two equal rules of the stack's Role are held once.
	n := 0
	for _, r := range stack.Role.Rules {
		if slices.Equal(r.ResourceNames, []string{"web-config"}) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d rules for web-config, want 1", n)
	}
}

// TestDeterministic: the objects' order does not change the output.
func TestDeterministic(t *testing.T) {
	opts := stackOptions(t)
	want, err := mustNew(t, opts).YAML()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		objs := slices.Clone(opts.Objects)
		rng := mrand.New(mrand.NewPCG(uint64(i), 1))
		rng.Shuffle(len(objs), func(a, b int) { objs[a], objs[b] = objs[b], objs[a] })
		o := opts
		o.Objects = objs
		got, err := mustNew(t, o).YAML()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("order %d prints differently:\n%s", i, got)
		}
	}
}

func TestAggregationRule(t *testing.T) {
	agg := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
		"metadata": map[string]any{"name": "stack-view"},
		"aggregationRule": map[string]any{"clusterRoleSelectors": []any{
			map[string]any{"matchLabels": map[string]any{"example.com/aggregate-to-stack": "true"}},
		}},
	}}
	p := mustNew(t, Options{Objects: []*unstructured.Unstructured{agg}})
	for _, v := range []string{"escalate", "bind"} {
		if !allows(p, "rbac.authorization.k8s.io", "clusterroles", "stack-view", v) {
			t.Errorf("%s on the aggregated ClusterRole missing", v)
		}
		if allows(p, "rbac.authorization.k8s.io", "clusterroles", "other", v) {
			t.Errorf("%s on any other ClusterRole granted", v)
		}
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "ClusterRole stack-view has an aggregationRule") {
		t.Errorf("warnings %q", p.Warnings)
	}
	if w := mustNew(t, Options{}).Warnings; len(w) != 0 {
		t.Errorf("warnings without objects: %q", w)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  map[string]any
		want string
	}{
		{"rules not a list", map[string]any{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
			"metadata": map[string]any{"name": "bad"}, "rules": "all",
		}, "ClusterRole bad"},
		{"binding without a role", map[string]any{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
			"metadata": map[string]any{"name": "b", "namespace": "ns"}, "roleRef": map[string]any{"kind": "Group", "name": "x"},
		}, "RoleBinding b: roleRef names no Role or ClusterRole"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Objects: []*unstructured.Unstructured{{Object: tc.obj}}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestServiceAccount(t *testing.T) {
	s, err := ServiceAccount("monitoring:obsctl")
	if err != nil || s != (rbacv1.Subject{Kind: "ServiceAccount", Namespace: "monitoring", Name: "obsctl"}) {
		t.Errorf("ServiceAccount = %+v, %v", s, err)
	}
	for _, bad := range []string{"obsctl", ":obsctl", "monitoring:", "a:b:c", ""} {
		if _, err := ServiceAccount(bad); err == nil {
			t.Errorf("ServiceAccount(%q) accepted", bad)
		}
	}
}

func TestResourceOf(t *testing.T) {
	for gvk, want := range map[schema.GroupVersionKind]string{
		{Version: "v1", Kind: "Endpoints"}:                           "endpoints",
		{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}: "ingresses",
		{Group: "example.com", Version: "v1", Kind: "Policy"}:        "policies",
		{Group: "example.com", Version: "v1", Kind: "Gizmo"}:         "gizmoz", // from the CRD
	} {
		if got := resourceOf(gvk, map[schema.GroupKind]string{{Group: "example.com", Kind: "Gizmo"}: "gizmoz"}); got != want {
			t.Errorf("resourceOf(%s) = %s, want %s", gvk, got, want)
		}
	}
}
