package render

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/render/crds"
)

// kubeletNamespace holds the Service and Endpoints the operator keeps of
// every node's kubelet, for the kubelet ServiceMonitor.
const kubeletNamespace = "kube-system"

// kubeletService names the kubelet Service of the stack: with the stack's
// name, so that two stacks' operators do not fight over one object.
func (b *builder) kubeletService() string { return b.stack + "-kubelet" }

// prometheusOperator runs the Prometheus Operator: its CRDs (which the
// Prometheus, Alertmanager and ServiceMonitor objects of the other
// components need, so they come with the operator), its Deployment, RBAC
// and Service. It also keeps the kubelet Service in kube-system.
func prometheusOperator(b *builder, r *resolved) error {
	defs, err := operatorCRDs()
	if err != nil {
		return err
	}
	for _, d := range defs {
		b.addUnstructured(d.DeepCopy())
	}

	const app = "prometheus-operator"
	ns := b.ns
	c := r.container(app, []string{
		"--kubelet-service=" + kubeletNamespace + "/" + b.kubeletService(),
		"--prometheus-config-reloader=" + b.imageRef(imageConfigReloader),
		"--log-format=logfmt",
		"--web.listen-address=:8080",
		// Scoped to the stack, so that two stacks' operators never
		// reconcile each other's resources: the operator (v0.92's
		// cmd/operator flags) reads ServiceMonitors, PrometheusRules and
		// the rest in --namespaces only, and runs Prometheus, Alertmanager
		// and ThanosRuler resources in their instance namespaces only,
		// which take precedence over --namespaces for those kinds.
		"--namespaces=" + strings.Join(b.monitoredNamespaces(), ","),
		"--prometheus-instance-namespaces=" + ns,
		"--alertmanager-instance-namespaces=" + ns,
		"--thanos-ruler-instance-namespaces=" + ns,
	}, port("http", 8080))
	c.LivenessProbe = httpProbe("/healthz", "http", 5, 10)
	c.ReadinessProbe = httpProbe("/healthz", "http", 5, 10)
	tpl := b.podTemplate(r, app, app, false, c)
	b.add(
		r.serviceAccount(app, ns, app),
		b.deployment(r, app, ns, app, tpl),
		r.service(app, ns, app, servicePort("http", 8080)),
	)

	// What the operator reads and writes everywhere: its own resources,
	// the StatefulSets and their config Secrets and ConfigMaps, the pods it
	// restarts, nodes for the kubelet Endpoints, namespaces for the
	// selectors. Explicit verbs rather than '*', so that the roles hold no
	// verb the operator does not use.
	all := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	sub := []string{"get", "update", "patch"}
	var mon, monSub []string
	for _, p := range []string{"alertmanagers", "alertmanagerconfigs", "prometheuses", "prometheusagents",
		"thanosrulers", "servicemonitors", "podmonitors", "probes", "prometheusrules", "scrapeconfigs"} {
		mon = append(mon, p)
		monSub = append(monSub, p+"/status", p+"/finalizers")
	}
	role, binding := b.clusterRole(r, app, app, ns, app,
		rbacv1.PolicyRule{APIGroups: []string{"monitoring.coreos.com"}, Resources: mon, Verbs: all},
		rbacv1.PolicyRule{APIGroups: []string{"monitoring.coreos.com"}, Resources: monSub, Verbs: sub},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "delete"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"", "events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		rbacv1.PolicyRule{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: []string{"get", "list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"storage.k8s.io"}, Resources: []string{"storageclasses"}, Verbs: []string{"get"}},
	)
	b.add(role, binding)

	// Secrets, ConfigMaps and StatefulSets only in the namespaces the
	// operator watches (it is scoped to them, see --namespaces): it reads
	// the Secrets monitors refer to there and writes the generated
	// configuration of the Prometheus and Alertmanager of the stack's
	// namespace. A ClusterRole would let it, and obsctl, which must hold
	// what it grants, read every Secret in the cluster.
	for _, n := range b.monitoredNamespaces() {
		name := app
		if n != ns {
			name = b.stack + "-" + app
		}
		b.add(monRole(r, name+"-config", n, ns, app,
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"configmaps", "secrets"}, Verbs: all},
			rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"statefulsets"}, Verbs: all},
		)...)
	}

	// Services only where the operator writes them: the governing
	// Services of the Prometheus and Alertmanager StatefulSets in the
	// stack's namespace, and the kubelet Service, Endpoints and
	// EndpointSlices in kube-system.
	serviceVerbs := []string{"get", "create", "update", "delete"}
	b.add(monRole(r, app, ns, ns, app,
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"services", "services/finalizers"}, Verbs: serviceVerbs},
	)...)
	b.add(monRole(r, b.stack+"-"+app, kubeletNamespace, ns, app,
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"services", "services/finalizers", "endpoints"}, Verbs: serviceVerbs},
		rbacv1.PolicyRule{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "create", "update", "delete"}},
	)...)
	return nil
}

// monitoredNamespaces returns, sorted, the namespaces holding the stack's
// configuration resources: its own (ServiceMonitors, the Prometheus and
// Alertmanager) and each PrometheusRule's.
func (b *builder) monitoredNamespaces() []string {
	out := []string{b.ns}
	for _, r := range b.in.PrometheusRules {
		if n := r.Object.GetNamespace(); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// monRole returns a Role in namespace and its binding to the
// ServiceAccount app of saNamespace.
func monRole(r *resolved, name, namespace, saNamespace, app string, rules ...rbacv1.PolicyRule) []runtime.Object {
	role := &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: r.meta(name, namespace, app),
		Rules:      rules,
	}
	binding := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: r.meta(name, namespace, app),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: saNamespace, Name: app}},
	}
	return []runtime.Object{role, binding}
}

// operatorCRDs parses the embedded CRDs once: they are large, and every
// render with the operator on needs them (a deep copy each, as the
// builder labels what it is given).
var operatorCRDs = sync.OnceValues(func() ([]*unstructured.Unstructured, error) {
	names, err := fs.Glob(crds.FS(), "*.yaml")
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	out := make([]*unstructured.Unstructured, 0, len(names))
	for _, n := range names {
		data, err := fs.ReadFile(crds.FS(), n)
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &u.Object); err != nil {
			return nil, fmt.Errorf("crd %s: %w", n, err)
		}
		if u.GetKind() != "CustomResourceDefinition" {
			return nil, fmt.Errorf("crd %s: a %s, not a CustomResourceDefinition", n, u.GetKind())
		}
		out = append(out, u)
	}
	return out, nil
})
