package rbac

import (
	"bytes"
	"encoding/json"
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
		Name:      "obsctl-deployer",
		Namespace: "team-a",
		Objects:   readObjects(t, "stack.yaml", "team-a"),
		Subjects:  []rbacv1.Subject{sa, User("ci-bot"), Group("deployers")},
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"default", Options{Namespace: "monitoring"}},
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

			// What is printed reads back as the policy, in order.
			var want []any
			for _, n := range p.Namespaces {
				want = append(want, n)
			}
			want = append(want, p.ClusterRole)
			for _, r := range p.Roles {
				want = append(want, r)
			}
			if p.ClusterRoleBinding != nil {
				want = append(want, p.ClusterRoleBinding)
			}
			for _, b := range p.RoleBindings {
				want = append(want, b)
			}
			docs := strings.Split(string(y), "\n---\n")
			if len(docs) != len(want) {
				t.Fatalf("%d YAML documents, want %d", len(docs), len(want))
			}
			for i, doc := range docs {
				got := reflect.New(reflect.TypeOf(want[i]).Elem()).Interface()
				if err := yaml.UnmarshalStrict([]byte(doc), got); err != nil {
					t.Fatalf("document %d: %v", i, err)
				}
				if !reflect.DeepEqual(got, want[i]) {
					t.Errorf("document %d reads back as %+v\nwant %+v", i, got, want[i])
				}
			}
			var list struct {
				Kind  string           `json:"kind"`
				Items []map[string]any `json:"items"`
			}
			if err := json.Unmarshal(j, &list); err != nil || list.Kind != "List" || len(list.Items) != len(want) {
				t.Errorf("JSON: a %s of %d items (%v), want a List of %d", list.Kind, len(list.Items), err, len(want))
			}
			if bytes.Contains(y, []byte("creationTimestamp")) || bytes.Contains(j, []byte("creationTimestamp")) {
				t.Error("output has a creationTimestamp")
			}
		})
	}
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

// covers reports whether r grants verb on resource of group, named name
// ("" for every object, which a rule with resourceNames does not grant).
func covers(r rbacv1.PolicyRule, group, resource, name, verb string) bool {
	return anyOf(r.APIGroups, group) && anyOf(r.Resources, resource) && anyOf(r.Verbs, verb) &&
		(len(r.ResourceNames) == 0 || (name != "" && slices.Contains(r.ResourceNames, name)))
}

// allows reports whether p grants verb on resource of group, named name
// ("" for every object), in namespace ns ("" for cluster-wide or a
// cluster-scoped object): through the ClusterRole, or the Role in ns.
func allows(p *Policy, ns, group, resource, name, verb string) bool {
	rules := slices.Clone(p.ClusterRole.Rules)
	for _, r := range p.Roles {
		if ns != "" && r.Namespace == ns {
			rules = append(rules, r.Rules...)
		}
	}
	return slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool { return covers(r, group, resource, name, verb) })
}

func TestRules(t *testing.T) {
	def := mustNew(t, Options{Namespace: "monitoring"})
	stack := mustNew(t, stackOptions(t))
	for _, tc := range []struct {
		name                               string
		p                                  *Policy
		ns, group, resource, object, verbs string
		want                               bool
	}{
		{"managed", def, "", "apps", "deployments", "", "get list watch create patch delete", true},
		{"no update of managed kinds", def, "", "apps", "deployments", "", "update", false},
		{"inventory", def, "monitoring", "", "secrets", "", "get list create update patch delete", true},
		{"lock", def, "monitoring", "coordination.k8s.io", "leases", "", "get create update delete", true},
		{"no lock elsewhere", def, "default", "coordination.k8s.io", "leases", "", "get create update delete", false},
		{"no patch of leases", def, "monitoring", "coordination.k8s.io", "leases", "", "patch", false},
		{"explain", def, "", "", "events", "", "list", true},
		{"explain pods", def, "", "", "pods", "", "list", true},
		{"no pod writes", def, "", "", "pods", "", "create", false},
		{"identity", def, "", "authentication.k8s.io", "selfsubjectreviews", "", "create", true},
		{"namespaces", def, "", "", "namespaces", "", "get list watch create", true},
		{"no namespace delete without a stack", def, "", "", "namespaces", "monitoring", "delete patch", false},
		{"CRDs", def, "", "apiextensions.k8s.io", "customresourcedefinitions", "", "get list watch create", true},
		{"no CRD delete without a stack", def, "", "apiextensions.k8s.io", "customresourcedefinitions", "x.example.com", "delete patch", false},
		{"no escalate", def, "", "rbac.authorization.k8s.io", "clusterroles", "x", "escalate", false},
		{"no bind", def, "", "rbac.authorization.k8s.io", "clusterroles", "x", "bind", false},
		{"no nodes by default", def, "", "", "nodes", "", "list", false},

		{"kind of a CRD in the objects", stack, "", "example.com", "gizmos", "", "get list watch create patch delete", true},
		{"built-in kind in the objects", stack, "", "scheduling.k8s.io", "priorityclasses", "", "create patch delete", true},
		{"irregular plural", stack, "", "batch", "cronjobs", "", "create", true},
		{"grant of the stack's ClusterRole", stack, "", "", "nodes", "", "get list watch", true},
		{"subresource grant", stack, "", "", "nodes/metrics", "", "get", true},
		{"not more than granted", stack, "", "", "nodes", "", "delete", false},
		{"grant of the stack's Role, in its namespace", stack, "team-a", "", "configmaps", "web-config", "watch", true},
		{"bind of a role the stack does not define, in the binding's namespace", stack, "team-a", "rbac.authorization.k8s.io", "clusterroles", "view", "bind", true},
		{"not elsewhere", stack, "team-b", "rbac.authorization.k8s.io", "clusterroles", "view", "bind", false},
		{"nor cluster-wide", stack, "", "rbac.authorization.k8s.io", "clusterroles", "view", "bind", false},
		{"bind of that role only", stack, "team-a", "rbac.authorization.k8s.io", "clusterroles", "cluster-admin", "bind", false},
		{"no bind of the stack's own roles", stack, "team-a", "rbac.authorization.k8s.io", "clusterroles", "stack-agent", "bind", false},
		{"no escalate with objects either", stack, "team-a", "rbac.authorization.k8s.io", "clusterroles", "view", "escalate", false},
		{"Secrets of the stack's owned namespace", stack, "team-a-agents", "", "secrets", "", "get list create patch delete", true},
		{"no inventory update there", stack, "team-a-agents", "", "secrets", "", "update", false},
		{"a namespace to prune is listed whole", stack, "team-a-agents", "example.com", "widgets", "", "list", true},
		{"the stack's namespace is not", stack, "team-a", "example.com", "widgets", "", "list", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range strings.Fields(tc.verbs) {
				if got := allows(tc.p, tc.ns, tc.group, tc.resource, tc.object, v); got != tc.want {
					t.Errorf("%s %s.%s %q in %q: allowed %v, want %v", v, tc.resource, tc.group, tc.object, tc.ns, got, tc.want)
				}
			}
		})
	}
	if !slices.ContainsFunc(stack.ClusterRole.Rules, func(r rbacv1.PolicyRule) bool { return slices.Equal(r.NonResourceURLs, []string{"/metrics"}) }) {
		t.Error("the stack's non-resource grant is missing")
	}
	for _, p := range []*Policy{def, stack} {
		if len(p.ClusterRole.Rules) != len(p.Why) || p.Why[0] == "" {
			t.Errorf("%d rules, %d reasons", len(p.ClusterRole.Rules), len(p.Why))
		}
		for i, r := range p.Roles {
			if len(r.Rules) != len(p.RoleWhy[i]) || p.RoleWhy[i][0] == "" {
				t.Errorf("Role %s: %d rules, %d reasons", r.Namespace, len(r.Rules), len(p.RoleWhy[i]))
			}
		}
	}
	// The two equal rules of the stack's Role are held once.
	n := 0
	for _, r := range stack.Roles {
		for _, rule := range r.Rules {
			if slices.Equal(rule.ResourceNames, []string{"web-config"}) {
				n++
			}
		}
	}
	if n != 1 {
		t.Errorf("%d rules for web-config, want 1", n)
	}
}

// TestNarrow pins what the policy never grants: Secrets outside the
// stack's namespaces, delete on a namespace that is not the stack's own,
// delete on a CRD the stack does not render.
func TestNarrow(t *testing.T) {
	withSecretRole := stackOptions(t)
	withSecretRole.Objects = append(slices.Clone(withSecretRole.Objects), &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
		"metadata": map[string]any{"name": "reader", "namespace": "team-a-rules"},
		"rules":    []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"secrets"}, "verbs": []any{"get"}}},
	}})
	for _, tc := range []struct {
		name string
		opts Options
		// secretNS are the namespaces obsctl gets Secrets in; ownNS those
		// it may delete; crds the CRDs it may delete.
		secretNS, ownNS, crds []string
	}{
		{"no stack", Options{Namespace: "monitoring"}, []string{"monitoring"}, nil, nil},
		{"stack", stackOptions(t), []string{"team-a", "team-a-agents"}, []string{"team-a-agents"}, []string{"gizmos.example.com"}},
		{"generated Secrets elsewhere", Options{Namespace: "monitoring", SecretNamespaces: []string{"logging", "monitoring"}}, []string{"logging", "monitoring"}, nil, nil},
		{"a Secret without a namespace", Options{Namespace: "obs", Objects: []*unstructured.Unstructured{{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s"},
		}}}}, []string{"obs"}, nil, nil},
		{"a Role of the stack reading Secrets", withSecretRole, []string{"team-a", "team-a-agents", "team-a-rules"}, []string{"team-a-agents"}, []string{"gizmos.example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNew(t, tc.opts)
			for i, r := range p.ClusterRole.Rules {
				for _, v := range []string{"get", "list", "watch", "create", "update", "patch", "delete"} {
					if covers(r, "", "secrets", "", v) || covers(r, "", "secrets", "any", v) {
						t.Errorf("ClusterRole rule %d grants %s on secrets cluster-wide: %+v", i, v, r)
					}
				}
				if covers(r, "", "namespaces", "", "delete") {
					t.Errorf("ClusterRole rule %d grants delete on every namespace: %+v", i, r)
				}
				if covers(r, "", "namespaces", "", "patch") {
					t.Errorf("ClusterRole rule %d grants patch on every namespace: %+v", i, r)
				}
				if covers(r, "apiextensions.k8s.io", "customresourcedefinitions", "", "delete") {
					t.Errorf("ClusterRole rule %d grants delete on every CRD: %+v", i, r)
				}
				if len(r.ResourceNames) > 0 && slices.Contains(r.Resources, "namespaces") && slices.Contains(r.Verbs, "delete") && !slices.Equal(r.ResourceNames, tc.ownNS) {
					t.Errorf("ClusterRole rule %d deletes namespaces %q, want only %q", i, r.ResourceNames, tc.ownNS)
				}
				if len(r.ResourceNames) > 0 && slices.Contains(r.Resources, "customresourcedefinitions") && slices.Contains(r.Verbs, "delete") && !slices.Equal(r.ResourceNames, tc.crds) {
					t.Errorf("ClusterRole rule %d deletes CRDs %q, want only %q", i, r.ResourceNames, tc.crds)
				}
			}
			var secretNS []string
			for _, r := range p.Roles {
				if slices.ContainsFunc(r.Rules, func(rule rbacv1.PolicyRule) bool { return covers(rule, "", "secrets", "", "get") }) {
					secretNS = append(secretNS, r.Namespace)
				}
			}
			if !slices.Equal(secretNS, tc.secretNS) {
				t.Errorf("Secrets readable in %q, want %q", secretNS, tc.secretNS)
			}
			for _, ns := range append(slices.Clone(tc.ownNS), "kube-system", "default", tc.opts.Namespace) {
				if got := allows(p, "", "", "namespaces", ns, "delete"); got != slices.Contains(tc.ownNS, ns) {
					t.Errorf("delete namespace %s: %v, want %v", ns, got, !got)
				}
			}
			for _, crd := range append(slices.Clone(tc.crds), "widgets.example.org") {
				if got := allows(p, "", "apiextensions.k8s.io", "customresourcedefinitions", crd, "delete"); got != slices.Contains(tc.crds, crd) {
					t.Errorf("delete CRD %s: %v, want %v", crd, got, !got)
				}
			}
			if len(p.Warnings) != 0 {
				t.Errorf("warnings %q", p.Warnings)
			}
		})
	}
}

// TestBroadGrant: a ClusterRole of the stack that reads Secrets or deletes
// namespaces is held, since obsctl must hold what it grants, with a
// warning naming it.
func TestBroadGrant(t *testing.T) {
	role := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
		"metadata": map[string]any{"name": "operator"},
		"rules": []any{
			map[string]any{"apiGroups": []any{""}, "resources": []any{"configmaps", "secrets"}, "verbs": []any{"*"}},
			map[string]any{"apiGroups": []any{""}, "resources": []any{"namespaces"}, "verbs": []any{"delete"}},
		},
	}}
	p := mustNew(t, Options{Namespace: "monitoring", Objects: []*unstructured.Unstructured{role}})
	if !allows(p, "", "", "secrets", "", "list") || !allows(p, "", "", "namespaces", "", "delete") {
		t.Error("the ClusterRole's grants are not held")
	}
	for i, r := range p.ClusterRole.Rules {
		if covers(r, "", "secrets", "", "list") && !strings.HasPrefix(p.Why[i], "Broad because ClusterRole operator") {
			t.Errorf("rule %d reads every Secret, and says %q", i, p.Why[i])
		}
	}
	want := "ClusterRole operator grants get, list, watch on secrets in every namespace and delete on any namespace: obsctl must hold"
	if len(p.Warnings) != 1 || !strings.HasPrefix(p.Warnings[0], want) {
		t.Errorf("warnings %q, want one starting %q", p.Warnings, want)
	}
}

// TestNamespaces: the Namespaces printed are the stack's that hold a Role;
// those the stack renders and owns are annotated for adoption.
func TestNamespaces(t *testing.T) {
	adopt := func(p *Policy) map[string]string {
		out := map[string]string{}
		for _, n := range p.Namespaces {
			out[n.Name] = n.Annotations[AnnotationAdopt]
		}
		return out
	}
	stack := stackOptions(t)
	stack.Objects = append(slices.Clone(stack.Objects), &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
		"metadata": map[string]any{"name": "operator", "namespace": "kube-system"},
		"rules":    []any{map[string]any{"apiGroups": []any{""}, "resources": []any{"services"}, "verbs": []any{"get"}}},
	}})
	for _, tc := range []struct {
		name  string
		opts  Options
		want  map[string]string
		roles []string
	}{
		// The stack's namespace is never applied without a Namespace
		// among the objects: nothing to adopt.
		{"no stack", Options{Namespace: "monitoring"}, map[string]string{"monitoring": ""}, []string{"monitoring"}},
		// kube-system is not the stack's: it has a Role, but is not
		// printed; team-a-rules is the stack's, but has no Role.
		{"stack", stack, map[string]string{"team-a": "true", "team-a-agents": "true"}, []string{"kube-system", "team-a", "team-a-agents"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustNew(t, tc.opts)
			if got := adopt(p); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("namespaces (and their adopt annotation) %v, want %v", got, tc.want)
			}
			var roles []string
			for _, r := range p.Roles {
				roles = append(roles, r.Namespace)
			}
			if !slices.Equal(roles, tc.roles) {
				t.Errorf("Roles in %q, want %q", roles, tc.roles)
			}
			want := 0
			if len(tc.opts.Subjects) > 0 {
				want = len(p.Roles)
			}
			if len(p.RoleBindings) != want {
				t.Errorf("%d RoleBindings for %d Roles", len(p.RoleBindings), len(p.Roles))
			}
		})
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
	p := mustNew(t, Options{Namespace: "monitoring", Objects: []*unstructured.Unstructured{agg}})
	for _, v := range []string{"escalate", "bind"} {
		if !allows(p, "", "rbac.authorization.k8s.io", "clusterroles", "stack-view", v) {
			t.Errorf("%s on the aggregated ClusterRole missing", v)
		}
		if allows(p, "", "rbac.authorization.k8s.io", "clusterroles", "other", v) {
			t.Errorf("%s on any other ClusterRole granted", v)
		}
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "ClusterRole stack-view has an aggregationRule") {
		t.Errorf("warnings %q", p.Warnings)
	}
	if w := mustNew(t, Options{Namespace: "monitoring"}).Warnings; len(w) != 0 {
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
		{"cluster binding of a Role", map[string]any{
			"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
			"metadata": map[string]any{"name": "b"}, "roleRef": map[string]any{"kind": "Role", "name": "x"},
		}, "ClusterRoleBinding b: roleRef names a Role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Namespace: "monitoring", Objects: []*unstructured.Unstructured{{Object: tc.obj}}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestNoNamespace(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("a policy without the stack's namespace")
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
