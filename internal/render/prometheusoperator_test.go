package render

import (
	"io/fs"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/compile"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/render/crds"
)

// crdNames returns the names of the embedded CRDs, read independently
// of the component.
func crdNames(t *testing.T) []string {
	t.Helper()
	files, err := fs.Glob(crds.FS(), "*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no embedded CRDs: %v", err)
	}
	var names []string
	for _, f := range files {
		data, err := fs.ReadFile(crds.FS(), f)
		if err != nil {
			t.Fatal(err)
		}
		var crd struct {
			Metadata struct{ Name string } `json:"metadata"`
		}
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		names = append(names, crd.Metadata.Name)
	}
	slices.Sort(names)
	return names
}

func TestOperatorCRDsExactlyWhenOperatorOn(t *testing.T) {
	want := crdNames(t)
	if len(want) != 10 {
		t.Errorf("%d embedded CRDs, want the operator's 10", len(want))
	}
	for _, tc := range []struct {
		name, stackYAML string
		on              bool
	}{
		{"minimal", "  profile: minimal\n", true},
		{"ha", "  profile: ha\n", true},
		{"operator off", "  components: {prometheusOperator: {enabled: false}}\n", false},
		{"operator off, ha", "  profile: ha\n  components: {prometheusOperator: {enabled: false}}\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := render(t, tc.stackYAML)
			var got []string
			for _, o := range ofKind(res, "CustomResourceDefinition") {
				got = append(got, o.GetName())
			}
			slices.Sort(got)
			if tc.on && !slices.Equal(got, want) {
				t.Errorf("CRDs rendered %v, want %v", got, want)
			}
			if !tc.on && len(got) > 0 {
				t.Errorf("operator off, yet CRDs rendered: %v", got)
			}
			if d := find(res, "Deployment", "monitoring", "prometheus-operator"); (d != nil) != tc.on {
				t.Errorf("operator Deployment rendered: %v, want %v", d != nil, tc.on)
			}
			if sm := find(res, "ServiceMonitor", "monitoring", "kubelet"); (sm != nil) != tc.on {
				t.Errorf("kubelet ServiceMonitor (needs the operator's kubelet Service) rendered: %v, want %v", sm != nil, tc.on)
			}
		})
	}
}

// The CRDs are parsed once; each render must label its own copy.
func TestOperatorCRDsNotShared(t *testing.T) {
	render(t, "")
	defs, err := operatorCRDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		if len(d.GetLabels()) > 0 {
			t.Errorf("the parsed CRD %s was labelled by a render: %v", d.GetName(), d.GetLabels())
		}
	}
}

func TestOperatorDeployment(t *testing.T) {
	for _, profile := range profiles {
		t.Run(profile, func(t *testing.T) {
			res := render(t, "  profile: "+profile+"\n  registry: registry.example.com/mirror\n")
			d := typed[appsv1.Deployment](t, mustFind(t, res, "Deployment", "monitoring", "prometheus-operator"))
			if *d.Spec.Replicas != 1 {
				t.Errorf("replicas %d: the operator runs once", *d.Spec.Replicas)
			}
			pod := d.Spec.Template.Spec
			c := pod.Containers[0]
			for _, arg := range []string{
				"--kubelet-service=kube-system/obsctl-kubelet",
				"--prometheus-config-reloader=registry.example.com/mirror/prometheus-operator/prometheus-config-reloader:v0.92.1",
				"--log-format=logfmt",
				"--web.listen-address=:8080",
				"--namespaces=monitoring",
				"--prometheus-instance-namespaces=monitoring",
				"--alertmanager-instance-namespaces=monitoring",
				"--thanos-ruler-instance-namespaces=monitoring",
			} {
				if !slices.Contains(c.Args, arg) {
					t.Errorf("operator args %v lack %s", c.Args, arg)
				}
			}
			if c.Image != "registry.example.com/mirror/prometheus-operator/prometheus-operator:v0.92.1" {
				t.Errorf("image %s", c.Image)
			}
			sc := c.SecurityContext
			if sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || !*sc.RunAsNonRoot {
				t.Errorf("container security context %+v", sc)
			}
			if pod.ServiceAccountName != "prometheus-operator" || !*pod.AutomountServiceAccountToken {
				t.Errorf("the operator needs its service account's token: %q %v", pod.ServiceAccountName, *pod.AutomountServiceAccountToken)
			}
			svc := typed[corev1.Service](t, mustFind(t, res, "Service", "monitoring", "prometheus-operator"))
			if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[0].Port != 8080 {
				t.Errorf("Service ports %+v", svc.Spec.Ports)
			}
		})
	}
}

// allows reports whether rules grant verb on group/resource.
func allows(rules []rbacv1.PolicyRule, group, resource, verb string) bool {
	for _, r := range rules {
		if slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) &&
			(slices.Contains(r.Verbs, verb) || slices.Contains(r.Verbs, "*")) {
			return true
		}
	}
	return false
}

func TestOperatorRBAC(t *testing.T) {
	res := render(t, "")
	cr := typed[rbacv1.ClusterRole](t, mustFind(t, res, "ClusterRole", "", "obsctl-prometheus-operator"))
	crb := typed[rbacv1.ClusterRoleBinding](t, mustFind(t, res, "ClusterRoleBinding", "", "obsctl-prometheus-operator"))
	if crb.RoleRef.Name != cr.Name || crb.Subjects[0].Name != "prometheus-operator" || crb.Subjects[0].Namespace != "monitoring" {
		t.Errorf("binding %+v", crb)
	}
	for _, c := range []struct{ group, resource, verb string }{
		{"monitoring.coreos.com", "prometheuses", "watch"},
		{"monitoring.coreos.com", "prometheuses/status", "update"},
		{"monitoring.coreos.com", "alertmanagers/finalizers", "update"},
		{"monitoring.coreos.com", "servicemonitors", "list"},
		{"monitoring.coreos.com", "servicemonitors/status", "patch"},
		{"monitoring.coreos.com", "prometheusrules", "watch"},
		{"", "pods", "delete"},
		{"", "nodes", "watch"},
		{"", "namespaces", "get"},
		{"networking.k8s.io", "ingresses", "list"},
		{"storage.k8s.io", "storageclasses", "get"},
	} {
		if !allows(cr.Rules, c.group, c.resource, c.verb) {
			t.Errorf("the operator's ClusterRole does not allow %s on %s/%s", c.verb, c.group, c.resource)
		}
	}
	// Services only in the namespaces it writes them to.
	if allows(cr.Rules, "", "services", "create") || allows(cr.Rules, "", "endpoints", "create") {
		t.Error("the operator may create Services and Endpoints cluster-wide")
	}
	// Secrets, ConfigMaps and StatefulSets only in the namespaces it
	// watches: obsctl must hold what it grants, so a cluster-wide grant
	// would let obsctl read every Secret too.
	for _, verb := range []string{"get", "list", "watch"} {
		if allows(cr.Rules, "", "secrets", verb) {
			t.Errorf("the operator may %s Secrets cluster-wide", verb)
		}
	}
	config := typed[rbacv1.Role](t, mustFind(t, res, "Role", "monitoring", "prometheus-operator-config"))
	for _, c := range []struct{ group, resource, verb string }{
		{"apps", "statefulsets", "create"}, {"", "secrets", "update"}, {"", "secrets", "watch"}, {"", "configmaps", "delete"},
	} {
		if !allows(config.Rules, c.group, c.resource, c.verb) {
			t.Errorf("the operator's Role in its namespace does not allow %s on %s/%s", c.verb, c.group, c.resource)
		}
	}
	kube := typed[rbacv1.Role](t, mustFind(t, res, "Role", "kube-system", "obsctl-prometheus-operator"))
	for _, c := range []struct{ group, resource, verb string }{
		{"", "services", "create"}, {"", "services", "update"}, {"", "endpoints", "update"},
		{"discovery.k8s.io", "endpointslices", "list"}, {"discovery.k8s.io", "endpointslices", "create"},
	} {
		if !allows(kube.Rules, c.group, c.resource, c.verb) {
			t.Errorf("the kube-system Role does not allow %s on %s/%s, which the kubelet Service needs", c.verb, c.group, c.resource)
		}
	}
	own := typed[rbacv1.Role](t, mustFind(t, res, "Role", "monitoring", "prometheus-operator"))
	if !allows(own.Rules, "", "services", "create") {
		t.Error("the operator cannot create the governing Services of its StatefulSets")
	}
	for _, ns := range []string{"kube-system", "monitoring"} {
		rb := typed[rbacv1.RoleBinding](t, mustFind(t, res, "RoleBinding", ns, map[string]string{"kube-system": "obsctl-prometheus-operator", "monitoring": "prometheus-operator"}[ns]))
		if rb.RoleRef.Kind != "Role" || rb.Subjects[0].Name != "prometheus-operator" || rb.Subjects[0].Namespace != "monitoring" {
			t.Errorf("RoleBinding %s/%s %+v", ns, rb.Name, rb)
		}
	}
}

// TestOperatorWatchesTheStacksNamespaces: the operator reads configuration
// resources in the stack's namespace and every PrometheusRule's, and runs
// Prometheus and Alertmanager resources of the stack's namespace only, so
// that a second stack's operator and this one never reconcile the same
// resource.
func TestOperatorWatchesTheStacksNamespaces(t *testing.T) {
	_, in := renderRepo(t, "  namespace: mon\n", func(c *config.Config) { c.Rules.Namespace = "team-rules" })
	extra := in.PrometheusRules[0].Object.DeepCopy()
	extra.SetNamespace("team-a")
	in.PrometheusRules = append(in.PrometheusRules, compile.RuleObject{Object: extra})
	res, err := Render(in, "")
	if err != nil {
		t.Fatal(err)
	}
	c := typed[appsv1.Deployment](t, mustFind(t, res, "Deployment", "mon", "prometheus-operator")).Spec.Template.Spec.Containers[0]
	for _, arg := range []string{
		"--namespaces=mon,team-a,team-rules",
		"--prometheus-instance-namespaces=mon",
		"--alertmanager-instance-namespaces=mon",
	} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("operator args %v lack %s", c.Args, arg)
		}
	}
	// Every configuration resource rendered is in a watched namespace.
	for _, o := range res.Objects {
		if o.GroupVersionKind().Group == "monitoring.coreos.com" && !slices.Contains([]string{"mon", "team-a", "team-rules"}, o.GetNamespace()) {
			t.Errorf("%s %s/%s is in a namespace the operator does not watch", o.GetKind(), o.GetNamespace(), o.GetName())
		}
	}
}
