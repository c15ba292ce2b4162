package rbac

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/obsctl/obsctl/internal/kube"
)

// DefaultName is the name of the ClusterRole, the Roles and their bindings
// when Options.Name is empty.
const DefaultName = "obsctl"

// Annotations on Namespaces that the release reads. They are spelled here
// as the release spells them: obsctl rbac prints Namespaces the release
// must recognise.
const (
	// AnnotationAdopt on a live object lets obsctl take it over although
	// obsctl did not create it.
	AnnotationAdopt = kube.AnnotationAdopt
	// AnnotationCreateOnly marks a rendered Namespace the stack needs but
	// does not own: created when missing, else left alone, never pruned.
	AnnotationCreateOnly = kube.AnnotationCreateOnly
)

// manageVerbs are the verbs obsctl needs on every kind it manages; see the
// package documentation for why each.
var manageVerbs = []string{"create", "delete", "get", "list", "patch", "watch"}

// Managed returns the resources of the kinds the stack renders (the Managed
// kinds of kube.Kinds), sorted by group and resource: obsctl may read,
// create, apply and prune them whatever manifests it is given, within the
// limits New puts on Secrets, Namespaces and CustomResourceDefinitions.
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

// Options say what the policy is for.
type Options struct {
	// Name names the ClusterRole, the Roles and their bindings; empty
	// means DefaultName.
	Name string
	// Namespace is the stack's namespace, which holds its lock, its
	// inventory and the Secrets it generates. It is required.
	Namespace string
	// SecretNamespaces are further namespaces the stack keeps Secrets in
	// that Objects do not show: those of the Secrets apply generates,
	// which a render leaves out.
	SecretNamespaces []string
	// Objects are the objects obsctl will apply besides the stack's own
	// kinds: their kinds are managed too, their Namespaces,
	// CustomResourceDefinitions and Secrets say where obsctl may delete
	// and read Secrets, and the rules of their Roles and ClusterRoles are
	// held (see the package documentation).
	Objects []*unstructured.Unstructured
	// Subjects, when there are any, get a ClusterRoleBinding to the
	// ClusterRole and a RoleBinding to each Role.
	Subjects []rbacv1.Subject
}

// Policy is what obsctl needs: a ClusterRole for what it does across the
// cluster, a Role in each namespace where it needs more than that (Secrets
// above all), the stack's namespaces those Roles live in, why each rule is
// there, and the bindings of the subjects asked for.
type Policy struct {
	// Namespaces are the stack's namespaces that hold a Role, created
	// ahead of the stack's first apply so that the Roles can be bound
	// (see the package documentation), sorted by name.
	Namespaces []*corev1.Namespace
	// ClusterRole holds what obsctl needs in every namespace or on
	// cluster-scoped objects.
	ClusterRole *rbacv1.ClusterRole
	// Why says, for each of ClusterRole.Rules, what obsctl does with it
	// and why it is not narrower; it is empty for a rule the one before
	// explains.
	Why []string
	// Roles hold what obsctl needs in one namespace only, sorted by
	// namespace; RoleWhy[i] is to Roles[i] what Why is to ClusterRole.
	Roles   []*rbacv1.Role
	RoleWhy [][]string
	// ClusterRoleBinding binds ClusterRole to Options.Subjects, and
	// RoleBindings bind each of Roles in its namespace; nil when there
	// are no subjects.
	ClusterRoleBinding *rbacv1.ClusterRoleBinding
	RoleBindings       []*rbacv1.RoleBinding
	// Warnings are grants a user should think twice about, one sentence
	// each.
	Warnings []string
}

// New returns the policy for opts. The result depends only on opts, never
// on their order beyond that of Options.Subjects, so that it prints
// byte-stable. An object that is not a valid Role, ClusterRole or binding
// is an error, and so is an empty Options.Namespace.
func New(opts Options) (*Policy, error) {
	if opts.Namespace == "" {
		return nil, errors.New("rbac: the stack's namespace is empty")
	}
	name := cmp.Or(opts.Name, DefaultName)
	st := readStack(opts)
	b := &builder{cluster: &ruleSet{}, namespaced: map[string]*ruleSet{}}
	b.managed(opts.Objects, st)
	b.namespaces(opts.Namespace, st)
	b.crds(st)
	b.cluster.add(rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"events", "pods"}, Verbs: []string{"list"}},
		"Explaining a rollout that timed out: recent warning events and pending pods. Cluster-wide so that the one role covers "+
			"whichever namespace a workload runs in; it reads no Secret.")
	b.cluster.add(rbacv1.PolicyRule{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"selfsubjectreviews"}, Verbs: []string{"create"}},
		"Recording who applied each revision: a SelfSubjectReview returns the caller's own identity and nothing else. "+
			"Most clusters grant it to everyone (system:basic-user); this is for those that removed it.")
	b.stackNamespaces(opts, st)
	if err := b.grants(opts.Objects, opts.Namespace); err != nil {
		return nil, err
	}
	return b.policy(name, opts, st), nil
}

// managed adds the cluster-wide rules for the kinds obsctl manages and the
// kinds of objs, but Secrets, Namespaces and CustomResourceDefinitions,
// which get narrower rules: one rule per API group.
func (b *builder) managed(objs []*unstructured.Unstructured, st *stack) {
	byGroup := map[string][]string{}
	for _, gr := range Managed() {
		if !narrowed[gr] {
			byGroup[gr.Group] = append(byGroup[gr.Group], gr.Resource)
		}
	}
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		res := resourceOf(gvk, st.crdPlurals)
		if gr := (schema.GroupResource{Group: gvk.Group, Resource: res}); !narrowed[gr] && !slices.Contains(byGroup[gvk.Group], res) {
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
				"server-side apply (patch, and create, which the API server checks too when an apply creates the object), prune (delete). " +
				"Cluster-wide, because the repo chooses the namespaces the stack's objects go to (a rule's namespace, say) and status lists them across namespaces; " +
				"Secrets, Namespaces and CustomResourceDefinitions get narrower rules."
		}
		b.cluster.add(rbacv1.PolicyRule{APIGroups: []string{g}, Resources: byGroup[g], Verbs: manageVerbs}, why)
	}
}

// namespaces adds the rules on Namespaces: read and create any, change
// only those the stack renders and delete only those it owns, by name.
func (b *builder) namespaces(stackNS string, st *stack) {
	b.cluster.add(rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"create", "get", "list", "watch"}},
		"Namespaces: read (get, list, watch) to know which exist and whose they are; create, which Kubernetes cannot narrow by name "+
			"(a create is authorized before the name in its body is read), for the stack's namespaces and the lock's.")
	owned := st.ownedNamespaces(stackNS)
	if len(st.namespaces) > 0 && slices.Equal(st.namespaces, owned) {
		b.cluster.add(rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}, ResourceNames: owned, Verbs: []string{"delete", "patch"}},
			"The stack's own namespaces, by name: server-side apply (patch) and prune (delete, with --prune-protected); obsctl changes and deletes no other namespace.")
		return
	}
	if len(st.namespaces) > 0 {
		b.cluster.add(rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}, ResourceNames: st.namespaces, Verbs: []string{"patch"}},
			"The namespaces the stack renders, by name: server-side apply. obsctl changes no other namespace.")
	}
	if len(owned) > 0 {
		b.cluster.add(rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}, ResourceNames: owned, Verbs: []string{"delete"}},
			"Prune of the stack's own namespaces (with --prune-protected), by name: never "+stackNS+
				", which holds the lock and the inventory, nor a namespace the stack only needs; obsctl deletes no other namespace.")
	}
}

// crds adds the rules on CustomResourceDefinitions: read and create any,
// change and delete only the stack's, by name.
func (b *builder) crds(st *stack) {
	b.cluster.add(rbacv1.PolicyRule{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: []string{"create", "get", "list", "watch"}},
		"CustomResourceDefinitions: read (get, list, watch) to wait until one is established and to know whose one is; create, which Kubernetes cannot narrow by name.")
	if len(st.crds) > 0 {
		b.cluster.add(rbacv1.PolicyRule{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, ResourceNames: st.crds, Verbs: []string{"delete", "patch"}},
			"The stack's CustomResourceDefinitions, by name: server-side apply, the used-by annotation when another stack owns one (patch), "+
				"and prune (delete, with --prune-protected). obsctl changes and deletes no other one.")
	}
}

// stackNamespaces adds the rules obsctl gets in the stack's namespaces
// only: their Secrets, the lock, and what a prune of a namespace reads
// first.
func (b *builder) stackNamespaces(opts Options, st *stack) {
	for _, ns := range st.secretNamespaces(opts) {
		verbs, why := manageVerbs, "Secrets, in this namespace only: the stack's own (read, server-side apply, prune) and the copies of the ones apply generates."
		if ns == opts.Namespace {
			verbs = append(slices.Clone(manageVerbs), "update")
			why = "Secrets, in this namespace only: the inventory (its index rewritten with update, so that a concurrent apply conflicts instead of losing a revision; " +
				"its packs created, and deleted when no revision needs them), the Secrets apply generates (created once), the stack's own " +
				"(server-side apply, prune) and the receiver Secrets apply checks (get)."
		}
		b.in(ns).add(rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: verbs}, why)
	}
	b.in(opts.Namespace).add(rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create", "delete", "get", "update"}},
		"The lock: one Lease per stack, taken over with update when its holder died, deleted when the apply ends.")
	for _, ns := range st.ownedNamespaces(opts.Namespace) {
		b.in(ns).add(rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"list"}},
			"Before it prunes this namespace obsctl lists every kind in it, and keeps the namespace when anything the stack did not make lives there.")
	}
}

// narrowed are the managed resources that get rules of their own instead of
// the cluster-wide one: Secrets in the stack's namespaces only, Namespaces
// and CustomResourceDefinitions changed and deleted by name only.
var narrowed = map[schema.GroupResource]bool{
	{Resource: "secrets"}:    true,
	{Resource: "namespaces"}: true,
	{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}: true,
}

// stack is what New reads from the objects.
type stack struct {
	// namespaces are the Namespaces among the objects, and createOnly
	// those of them the stack needs but does not own; sorted.
	namespaces, createOnly []string
	// crds are the names of the CustomResourceDefinitions among the
	// objects, sorted; crdPlurals the resources they define.
	crds       []string
	crdPlurals map[schema.GroupKind]string
	// secretNS are the namespaces of the Secrets among the objects.
	secretNS []string
}

func readStack(opts Options) *stack {
	st := &stack{crdPlurals: map[schema.GroupKind]string{}}
	for _, obj := range opts.Objects {
		switch gk := obj.GroupVersionKind().GroupKind(); gk {
		case kube.GKNamespace:
			st.namespaces = append(st.namespaces, obj.GetName())
			if obj.GetAnnotations()[AnnotationCreateOnly] == "true" {
				st.createOnly = append(st.createOnly, obj.GetName())
			}
		case kube.GKCRD:
			st.crds = append(st.crds, obj.GetName())
			group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "kind")
			plural, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "plural")
			if kind != "" && plural != "" {
				st.crdPlurals[schema.GroupKind{Group: group, Kind: kind}] = plural
			}
		case kube.GKSecret:
			st.secretNS = append(st.secretNS, cmp.Or(obj.GetNamespace(), opts.Namespace))
		}
	}
	st.namespaces, st.createOnly, st.crds = sortedSet(st.namespaces), sortedSet(st.createOnly), sortedSet(st.crds)
	return st
}

// ownedNamespaces returns the namespaces obsctl may delete: those the stack
// renders and owns, but its own namespace, which holds its lock and
// inventory and is never pruned.
func (st *stack) ownedNamespaces(stackNS string) []string {
	var out []string
	for _, ns := range st.namespaces {
		if ns != stackNS && !slices.Contains(st.createOnly, ns) {
			out = append(out, ns)
		}
	}
	return out
}

// secretNamespaces returns the namespaces obsctl gets Secrets in: the
// stack's, those the stack owns (generated Secrets get copies there), those
// of the Secrets among the objects and opts.SecretNamespaces.
func (st *stack) secretNamespaces(opts Options) []string {
	out := append([]string{opts.Namespace}, st.ownedNamespaces(opts.Namespace)...)
	out = append(out, st.secretNS...)
	return sortedSet(append(out, opts.SecretNamespaces...))
}

// sortedSet returns s sorted, without repeats or empty strings.
func sortedSet(s []string) []string {
	s = slices.DeleteFunc(slices.Clone(s), func(v string) bool { return v == "" })
	slices.Sort(s)
	return slices.Clip(slices.Compact(s))
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

// ruleSet collects the rules of one role in order, dropping any that
// repeats one already there.
type ruleSet struct {
	rules []rbacv1.PolicyRule
	why   []string
}

func (s *ruleSet) add(r rbacv1.PolicyRule, why string) {
	r = normalize(r)
	for _, have := range s.rules {
		if equalRule(have, r) {
			return
		}
	}
	s.rules = append(s.rules, r)
	s.why = append(s.why, why)
}

// builder collects the ClusterRole's rules and each namespace's Role's.
type builder struct {
	cluster    *ruleSet
	namespaced map[string]*ruleSet
	warnings   []string
}

// in returns the rules of the Role in namespace ns.
func (b *builder) in(ns string) *ruleSet {
	s := b.namespaced[ns]
	if s == nil {
		s = &ruleSet{}
		b.namespaced[ns] = s
	}
	return s
}

// LabelAccess marks the roles and bindings obsctl rbac prints, with their
// name: obsctl's own access, which a namespace prune does not count among
// the objects of others a namespace holds (they go with it, and obsctl
// needs them no longer).
const LabelAccess = kube.LabelAccess

// policy assembles the objects: a Role for each namespace that has rules,
// a Namespace for each of those the stack renders or holds its lock in,
// and bindings when there are subjects.
func (b *builder) policy(name string, opts Options, st *stack) *Policy {
	tm := func(kind string) metav1.TypeMeta {
		return metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: kind}
	}
	om := func(ns string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{LabelAccess: name}}
	}
	p := &Policy{
		ClusterRole: &rbacv1.ClusterRole{TypeMeta: tm("ClusterRole"), ObjectMeta: om(""), Rules: b.cluster.rules},
		Why:         b.cluster.why,
		Warnings:    b.warnings,
	}
	nss := make([]string, 0, len(b.namespaced))
	for ns := range b.namespaced {
		nss = append(nss, ns)
	}
	slices.Sort(nss)
	for _, ns := range nss {
		p.Roles = append(p.Roles, &rbacv1.Role{TypeMeta: tm("Role"), ObjectMeta: om(ns), Rules: b.namespaced[ns].rules})
		p.RoleWhy = append(p.RoleWhy, b.namespaced[ns].why)
		if ns != opts.Namespace && !slices.Contains(st.namespaces, ns) {
			continue // not the stack's: it must exist already
		}
		n := &corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns},
		}
		if slices.Contains(st.namespaces, ns) && !slices.Contains(st.createOnly, ns) {
			n.Annotations = map[string]string{AnnotationAdopt: "true"}
		}
		p.Namespaces = append(p.Namespaces, n)
	}
	if len(opts.Subjects) > 0 {
		p.ClusterRoleBinding = &rbacv1.ClusterRoleBinding{
			TypeMeta:   tm("ClusterRoleBinding"),
			ObjectMeta: om(""),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   slices.Clone(opts.Subjects),
		}
		for _, r := range p.Roles {
			p.RoleBindings = append(p.RoleBindings, &rbacv1.RoleBinding{
				TypeMeta:   tm("RoleBinding"),
				ObjectMeta: om(r.Namespace),
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
				Subjects:   slices.Clone(opts.Subjects),
			})
		}
	}
	return p
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

// grants adds the rules of the roles among objs: a ClusterRole's to the
// ClusterRole, a Role's to the Role in its namespace (the API server checks
// that obsctl holds a Role's rules in that namespace only). It adds bind on
// the roles the bindings among objs refer to that objs do not define, in
// the binding's namespace for a RoleBinding, and escalate and bind on the
// ClusterRoles among objs that aggregate others. stackNS is the namespace
// of objects that name none.
func (b *builder) grants(objs []*unstructured.Unstructured, stackNS string) error {
	type role struct {
		key   roleKey
		rules []rbacv1.PolicyRule
	}
	type binding struct {
		role roleKey
		// namespace is the RoleBinding's; empty for a ClusterRoleBinding.
		namespace string
		by        string
	}
	var (
		roles   []role
		defined = map[roleKey]bool{}
		// aggregated are the ClusterRoles whose rules the API server fills
		// in from other roles.
		aggregated []roleKey
		bindings   []binding
		errs       []error
	)
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		if gvk.Group != rbacv1.GroupName {
			continue
		}
		ns := cmp.Or(obj.GetNamespace(), stackNS)
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
			k := roleKey{"Role", ns, r.Name}
			roles = append(roles, role{k, r.Rules})
			defined[k] = true
		case "ClusterRoleBinding", "RoleBinding":
			ref, _, _ := unstructured.NestedStringMap(obj.Object, "roleRef")
			k := roleKey{ref["kind"], "", ref["name"]}
			if (k.kind != "Role" && k.kind != "ClusterRole") || k.name == "" {
				errs = append(errs, fmt.Errorf("%s %s: roleRef names no Role or ClusterRole", gvk.Kind, obj.GetName()))
				continue
			}
			if k.kind == "Role" && gvk.Kind == "ClusterRoleBinding" {
				errs = append(errs, fmt.Errorf("ClusterRoleBinding %s: roleRef names a Role, which only a RoleBinding can", obj.GetName()))
				continue
			}
			bnd := binding{role: k, by: gvk.Kind + " " + obj.GetName()}
			if gvk.Kind == "RoleBinding" {
				bnd.namespace = ns
				bnd.by = gvk.Kind + " " + ns + "/" + obj.GetName()
				if k.kind == "Role" {
					bnd.role.namespace = ns
				}
			}
			bindings = append(bindings, bnd)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	slices.SortFunc(roles, func(a, c role) int { return compareKey(a.key, c.key) })
	for _, r := range roles {
		if r.key.kind == "Role" {
			for _, rule := range r.rules {
				b.in(r.key.namespace).add(rule, "Granted by "+r.key.String()+", which obsctl creates: RBAC lets it grant in this namespace only what it holds here.")
			}
			continue
		}
		for _, rule := range r.rules {
			b.cluster.add(rule, "Broad because "+r.key.String()+", which obsctl creates, grants it: RBAC lets obsctl grant only what it holds itself, cluster-wide for a ClusterRole.")
		}
		if w := broadGrant(r.rules); w != "" {
			b.warnings = append(b.warnings, fmt.Sprintf("%s grants %s: obsctl must hold what the roles it creates grant, so this identity can do the same; "+
				"narrow that ClusterRole (a Role in the namespaces it needs) to narrow obsctl's", r.key, w))
		}
	}
	slices.SortFunc(bindings, func(a, c binding) int {
		return cmp.Or(cmp.Compare(a.namespace, c.namespace), compareKey(a.role, c.role), cmp.Compare(a.by, c.by))
	})
	for _, bnd := range bindings {
		if defined[bnd.role] {
			continue
		}
		rule := rbacv1.PolicyRule{
			APIGroups:     []string{rbacv1.GroupName},
			Resources:     []string{strings.ToLower(bnd.role.kind) + "s"},
			ResourceNames: []string{bnd.role.name},
			Verbs:         []string{"bind"},
		}
		why := "Bound by " + bnd.by + " but not created by obsctl: bind on that " + bnd.role.kind + " alone"
		if bnd.namespace == "" {
			b.cluster.add(rule, why+".")
		} else {
			b.in(bnd.namespace).add(rule, why+", in this namespace.")
		}
	}
	slices.SortFunc(aggregated, compareKey)
	for _, k := range aggregated {
		b.cluster.add(rbacv1.PolicyRule{
			APIGroups:     []string{rbacv1.GroupName},
			Resources:     []string{"clusterroles"},
			ResourceNames: []string{k.name},
			Verbs:         []string{"bind", "escalate"},
		}, k.String()+" has an aggregationRule, which only cluster-admin may set: escalate and bind on it alone.")
		b.warnings = append(b.warnings, fmt.Sprintf("%s has an aggregationRule: creating it needs escalate on it, and binding it bind, which let obsctl grant anything through that one ClusterRole; consider creating it outside obsctl", k))
	}
	return nil
}

// broadGrant says what rules grant that obsctl's own rules never do
// cluster-wide: reading Secrets, or deleting namespaces. It returns "" when
// they grant neither.
func broadGrant(rules []rbacv1.PolicyRule) string {
	var out []string
	if v := verbsOn(rules, "secrets", "get", "list", "watch"); len(v) > 0 {
		out = append(out, strings.Join(v, ", ")+" on secrets in every namespace")
	}
	if v := verbsOn(rules, "namespaces", "delete"); len(v) > 0 {
		out = append(out, "delete on any namespace")
	}
	return strings.Join(out, " and ")
}

// verbsOn returns which of verbs the rules grant on every object of the
// core resource res.
func verbsOn(rules []rbacv1.PolicyRule, res string, verbs ...string) []string {
	var out []string
	for _, v := range verbs {
		for _, r := range rules {
			if len(r.ResourceNames) == 0 && anyOf(r.APIGroups, "") && anyOf(r.Resources, res) && anyOf(r.Verbs, v) {
				out = append(out, v)
				break
			}
		}
	}
	return out
}

// anyOf reports whether list holds v or the wildcard.
func anyOf(list []string, v string) bool {
	return slices.Contains(list, v) || slices.Contains(list, "*")
}

func compareKey(a, b roleKey) int {
	return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.namespace, b.namespace), cmp.Compare(a.name, b.name))
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
