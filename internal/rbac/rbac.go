package rbac

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/obsctl/obsctl/internal/kube"
)

// DefaultName is the name of the ClusterRole, and of its binding, when
// Options.Name is empty.
const DefaultName = "obsctl"

// manageVerbs are the verbs obsctl needs on every kind it manages; see the
// package documentation for why each.
var manageVerbs = []string{"create", "delete", "get", "list", "patch", "watch"}

// Managed returns the resources of the kinds the stack renders (the Managed
// kinds of kube.Kinds), sorted by group and resource: obsctl gets, lists,
// watches, creates, patches and deletes them whatever manifests it is
// given.
func Managed() []schema.GroupResource {
	var out []schema.GroupResource
	for _, k := range kube.Kinds {
		if k.Managed {
			out = append(out, schema.GroupResource{Group: k.Group, Resource: k.Resource})
		}
	}
	slices.SortFunc(out, compareGR)
	return out
}

func compareGR(a, b schema.GroupResource) int {
	return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Resource, b.Resource))
}

// Options say what the ClusterRole is for.
type Options struct {
	// Name names the ClusterRole and its binding; empty means DefaultName.
	Name string
	// Objects are the objects obsctl will apply besides the stack's own
	// kinds: their kinds are managed too, and the rules of their Roles and
	// ClusterRoles are held (see the package documentation).
	Objects []*unstructured.Unstructured
	// Subjects, when there are any, get a ClusterRoleBinding to the
	// ClusterRole.
	Subjects []rbacv1.Subject
}

// Policy is what obsctl needs: a ClusterRole, why it has each rule, and the
// binding of the subjects asked for.
type Policy struct {
	Role *rbacv1.ClusterRole
	// Why says, for each of Role.Rules, what obsctl does with it; it is
	// empty for a rule the one before explains.
	Why []string
	// Binding binds Role to Options.Subjects; nil when there are none.
	Binding *rbacv1.ClusterRoleBinding
	// Warnings are rules a user should think twice about, one sentence
	// each.
	Warnings []string
}

// New returns the policy for opts. The result depends only on opts, never
// on their order beyond that of Options.Subjects, so that it prints
// byte-stable. An object that is not a valid Role, ClusterRole or binding
// is an error.
func New(opts Options) (*Policy, error) {
	name := cmp.Or(opts.Name, DefaultName)
	b := &builder{}

	byGroup := map[string][]string{}
	for _, gr := range Managed() {
		byGroup[gr.Group] = append(byGroup[gr.Group], gr.Resource)
	}
	crdPlurals := map[schema.GroupKind]string{}
	for _, obj := range opts.Objects {
		if obj.GroupVersionKind().GroupKind() == kube.GKCRD {
			group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "kind")
			plural, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "plural")
			if kind != "" && plural != "" {
				crdPlurals[schema.GroupKind{Group: group, Kind: kind}] = plural
			}
		}
	}
	for _, obj := range opts.Objects {
		gvk := obj.GroupVersionKind()
		res := resourceOf(gvk, crdPlurals)
		if !slices.Contains(byGroup[gvk.Group], res) {
			byGroup[gvk.Group] = append(byGroup[gvk.Group], res)
		}
	}
	groups := make([]string, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	for i, g := range groups {
		why := ""
		if i == 0 {
			why = "The kinds obsctl manages, one rule per API group: read the live objects (get, list, watch), " +
				"server-side apply (patch, and create, which the API server checks too when an apply creates the object), prune (delete)."
		}
		b.add(rbacv1.PolicyRule{APIGroups: []string{g}, Resources: byGroup[g], Verbs: manageVerbs}, why)
	}
	b.add(rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create", "get", "update"}},
		"The inventory: one Secret per stack, rewritten with update so that a concurrent apply conflicts instead of losing a revision.")
	b.add(rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create", "delete", "get", "update"}},
		"The lock: one Lease per stack, taken over with update when its holder died, deleted when the apply ends.")
	b.add(rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"events", "pods"}, Verbs: []string{"list"}},
		"Explaining a rollout that timed out: recent warning events and pending pods.")

	if err := b.grants(opts.Objects); err != nil {
		return nil, err
	}

	p := &Policy{
		Role: &rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRole"},
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Rules:      b.rules,
		},
		Why:      b.why,
		Warnings: b.warnings,
	}
	if len(opts.Subjects) > 0 {
		p.Binding = &rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "ClusterRoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   slices.Clone(opts.Subjects),
		}
	}
	return p, nil
}

// resourceOf maps a kind to its resource: a kind kube.Kinds lists, one a
// CustomResourceDefinition among the objects defines, or else the regular
// plural (lower case, "s", "es" or "ies"), which is what a
// CustomResourceDefinition's plural almost always is. obsctl rbac reads no
// cluster, so it cannot ask discovery.
func resourceOf(gvk schema.GroupVersionKind, crdPlurals map[schema.GroupKind]string) string {
	if k := kube.KindOf(gvk.GroupKind()); k != nil {
		return k.Resource
	}
	if r, ok := crdPlurals[gvk.GroupKind()]; ok {
		return r
	}
	plural, _ := meta.UnsafeGuessKindToResource(gvk)
	return plural.Resource
}

// builder collects rules in order, dropping any that repeats one already
// there.
type builder struct {
	rules    []rbacv1.PolicyRule
	why      []string
	warnings []string
}

func (b *builder) add(r rbacv1.PolicyRule, why string) {
	r = normalize(r)
	for _, have := range b.rules {
		if equalRule(have, r) {
			return
		}
	}
	b.rules = append(b.rules, r)
	b.why = append(b.why, why)
}

// normalize returns r with every list sorted and without repeats, so that
// equal rules compare and print equal.
func normalize(r rbacv1.PolicyRule) rbacv1.PolicyRule {
	sorted := func(s []string) []string {
		if len(s) == 0 {
			return nil
		}
		s = slices.Clone(s)
		slices.Sort(s)
		return slices.Compact(s)
	}
	return rbacv1.PolicyRule{
		APIGroups:       sorted(r.APIGroups),
		Resources:       sorted(r.Resources),
		ResourceNames:   sorted(r.ResourceNames),
		NonResourceURLs: sorted(r.NonResourceURLs),
		Verbs:           sorted(r.Verbs),
	}
}

func equalRule(a, b rbacv1.PolicyRule) bool {
	return slices.Equal(a.APIGroups, b.APIGroups) && slices.Equal(a.Resources, b.Resources) &&
		slices.Equal(a.ResourceNames, b.ResourceNames) && slices.Equal(a.NonResourceURLs, b.NonResourceURLs) &&
		slices.Equal(a.Verbs, b.Verbs)
}

// roleKey names a role: its kind ("ClusterRole" or "Role"), namespace and
// name.
type roleKey struct{ kind, namespace, name string }

func (k roleKey) String() string {
	if k.namespace == "" {
		return k.kind + " " + k.name
	}
	return k.kind + " " + k.namespace + "/" + k.name
}

// grants adds the rules of the roles among objs, bind on the roles the
// bindings among objs refer to that objs do not define, and escalate and
// bind on the ClusterRoles among objs that aggregate others.
func (b *builder) grants(objs []*unstructured.Unstructured) error {
	type role struct {
		key   roleKey
		rules []rbacv1.PolicyRule
	}
	var (
		roles   []role
		defined = map[roleKey]bool{}
		// aggregated are the ClusterRoles whose rules the API server fills
		// in from other roles.
		aggregated []roleKey
		bound      = map[roleKey]bool{}
		boundBy    = map[roleKey]string{}
		bindKeys   []roleKey
		errs       []error
	)
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		if gvk.Group != rbacv1.GroupName {
			continue
		}
		switch gvk.Kind {
		case "ClusterRole":
			var cr rbacv1.ClusterRole
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &cr); err != nil {
				errs = append(errs, fmt.Errorf("ClusterRole %s: %w", obj.GetName(), err))
				continue
			}
			k := roleKey{"ClusterRole", "", cr.Name}
			roles = append(roles, role{k, cr.Rules})
			defined[k] = true
			if cr.AggregationRule != nil && len(cr.AggregationRule.ClusterRoleSelectors) > 0 {
				aggregated = append(aggregated, k)
			}
		case "Role":
			var r rbacv1.Role
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &r); err != nil {
				errs = append(errs, fmt.Errorf("Role %s/%s: %w", obj.GetNamespace(), obj.GetName(), err))
				continue
			}
			k := roleKey{"Role", r.Namespace, r.Name}
			roles = append(roles, role{k, r.Rules})
			defined[k] = true
		case "ClusterRoleBinding", "RoleBinding":
			ref, _, _ := unstructured.NestedStringMap(obj.Object, "roleRef")
			k := roleKey{ref["kind"], "", ref["name"]}
			if k.kind == "Role" {
				k.namespace = obj.GetNamespace()
			}
			if (k.kind != "Role" && k.kind != "ClusterRole") || k.name == "" {
				errs = append(errs, fmt.Errorf("%s %s: roleRef names no Role or ClusterRole", gvk.Kind, obj.GetName()))
				continue
			}
			if !bound[k] {
				bound[k] = true
				boundBy[k] = gvk.Kind + " " + qualified(obj)
				bindKeys = append(bindKeys, k)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	slices.SortFunc(roles, func(a, c role) int { return compareKey(a.key, c.key) })
	for _, r := range roles {
		for _, rule := range r.rules {
			b.add(rule, "Granted by "+r.key.String()+", which obsctl creates: RBAC lets it grant only what it holds.")
		}
	}
	slices.SortFunc(bindKeys, compareKey)
	for _, k := range bindKeys {
		if defined[k] {
			continue
		}
		b.add(rbacv1.PolicyRule{
			APIGroups:     []string{rbacv1.GroupName},
			Resources:     []string{strings.ToLower(k.kind) + "s"},
			ResourceNames: []string{k.name},
			Verbs:         []string{"bind"},
		}, "Bound by "+boundBy[k]+" but not created by obsctl: bind on that "+k.kind+" alone.")
	}
	slices.SortFunc(aggregated, compareKey)
	for _, k := range aggregated {
		b.add(rbacv1.PolicyRule{
			APIGroups:     []string{rbacv1.GroupName},
			Resources:     []string{"clusterroles"},
			ResourceNames: []string{k.name},
			Verbs:         []string{"bind", "escalate"},
		}, k.String()+" has an aggregationRule, which only cluster-admin may set: escalate and bind on it alone.")
		b.warnings = append(b.warnings, fmt.Sprintf("%s has an aggregationRule: creating it needs escalate on it, and binding it bind, which let obsctl grant anything through that one ClusterRole; consider creating it outside obsctl", k))
	}
	return nil
}

func compareKey(a, b roleKey) int {
	return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.namespace, b.namespace), cmp.Compare(a.name, b.name))
}

func qualified(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return ns + "/" + obj.GetName()
	}
	return obj.GetName()
}

// ServiceAccount parses "NAMESPACE:NAME", as kubectl's --serviceaccount
// takes it, into a subject.
func ServiceAccount(s string) (rbacv1.Subject, error) {
	ns, name, ok := strings.Cut(s, ":")
	if !ok || ns == "" || name == "" || strings.Contains(name, ":") {
		return rbacv1.Subject{}, fmt.Errorf("service account %q: want NAMESPACE:NAME", s)
	}
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}, nil
}

// User returns the subject for a user name.
func User(name string) rbacv1.Subject {
	return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: name}
}

// Group returns the subject for a group name.
func Group(name string) rbacv1.Subject {
	return rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: name}
}
