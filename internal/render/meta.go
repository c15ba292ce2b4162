package render

import (
	"maps"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/kube"
)

// PodSecurity levels of the two namespaces, as the API server's
// PodSecurity admission enforces them.
const (
	podSecurityRestricted = "restricted"
	podSecurityPrivileged = "privileged"
)

// AnnotationCreateOnly marks a rendered object that the release creates
// when it is missing and otherwise leaves alone: a Namespace the stack's
// objects need but the stack does not own (the namespace of a
// PrometheusRule, say), which may be the user's, with their workloads and
// labels, and must never be relabelled, restricted or pruned by the stack.
const AnnotationCreateOnly = kube.AnnotationCreateOnly

// namespaces adds the stack's Namespaces: the components' under the
// restricted level, the node agents' (when anything runs there) under the
// privileged level. Every other namespace a rendered object lives in
// (rules.namespace, a PrometheusRule file's own) gets a create-only
// Namespace, so that the objects apply right after a cluster is created,
// without the stack claiming the namespace; Kubernetes' own namespaces
// (kube-system holds the kubelet Service's Role) exist already and are
// left out.
func namespaces(b *builder) {
	for _, n := range b.foreignNamespaces() {
		b.add(&corev1.Namespace{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: n, Annotations: map[string]string{
				AnnotationCreateOnly: "true",
			}},
		})
	}
	ns := func(name, level string) *corev1.Namespace {
		return &corev1.Namespace{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
				"pod-security.kubernetes.io/enforce": level,
				"pod-security.kubernetes.io/audit":   level,
				"pod-security.kubernetes.io/warn":    level,
			}},
		}
	}
	b.add(ns(b.ns, podSecurityRestricted))
	if b.usedAgent {
		b.add(ns(b.agentNS, podSecurityPrivileged))
	}
}

// foreignNamespaces returns, sorted, the namespaces the objects rendered
// so far live in that the stack does not own and Kubernetes does not
// reserve.
func (b *builder) foreignNamespaces() []string {
	seen := map[string]bool{}
	for _, o := range b.objs {
		if m, err := meta.Accessor(o); err == nil {
			seen[m.GetNamespace()] = true
		}
	}
	for _, u := range b.rendered {
		seen[u.GetNamespace()] = true
	}
	var out []string
	for _, n := range slices.Sorted(maps.Keys(seen)) {
		if n != "" && n != b.ns && (n != b.agentNS || !b.usedAgent) && !config.ReservedNamespace(n) {
			out = append(out, n)
		}
	}
	return out
}

// labels returns the labels of a component's objects; app is the
// app.kubernetes.io/name of the workload they belong to.
func (r *resolved) labels(app string) map[string]string {
	return map[string]string{
		LabelName:      app,
		LabelComponent: r.key,
		LabelVersion:   r.version,
	}
}

// selector returns the labels a workload's selector matches: stable
// across versions, unlike labels.
func selector(app string) map[string]string {
	return map[string]string{LabelName: app, LabelPartOf: partOf}
}

// meta returns ObjectMeta for an object of component r.
func (r *resolved) meta(name, namespace, app string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: r.labels(app)}
}

// podTemplate returns the pod template of a workload: the selector's
// labels plus the component's, the component's scheduling settings, and
// in the ha profile a spread over nodes (required) and zones (preferred).
// Containers come with the restricted security context unless the pod is
// a node agent's (privileged set).
func (b *builder) podTemplate(r *resolved, app, serviceAccount string, privileged bool, containers ...corev1.Container) corev1.PodTemplateSpec {
	l := r.labels(app)
	maps.Copy(l, selector(app))
	spec := corev1.PodSpec{
		ServiceAccountName:           serviceAccount,
		AutomountServiceAccountToken: ptr.To(serviceAccount != ""),
		NodeSelector:                 r.nodeSelector,
		Tolerations:                  r.tolerations,
		Containers:                   containers,
	}
	if !privileged {
		spec.SecurityContext = &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      ptr.To[int64](65534),
			RunAsGroup:     ptr.To[int64](65534),
			FSGroup:        ptr.To[int64](65534),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		}
		for i := range spec.Containers {
			c := &spec.Containers[i]
			if c.SecurityContext == nil {
				c.SecurityContext = restrictedContainer(true)
			}
		}
	}
	if b.ha && r.replicas > 1 {
		sel := &metav1.LabelSelector{MatchLabels: selector(app)}
		spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{
			{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: sel},
			{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: sel},
		}
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: l}, Spec: spec}
}

// restrictedContainer is a container security context that passes the
// restricted PodSecurity level; readOnly says whether the image runs with
// a read-only root file system.
func restrictedContainer(readOnly bool) *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(readOnly),
		RunAsNonRoot:             ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// container returns a component's main container: its image, resources
// and the given ports and probes.
func (r *resolved) container(name string, args []string, ports ...corev1.ContainerPort) corev1.Container {
	return corev1.Container{
		Name:            name,
		Image:           r.image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Args:            args,
		Ports:           ports,
		Resources:       r.resources,
	}
}

// port names a container port.
func port(name string, n int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: n, Protocol: corev1.ProtocolTCP}
}

// httpProbe probes path on the named port.
func httpProbe(path, portName string, initialDelay, period int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString(portName)}},
		InitialDelaySeconds: initialDelay,
		PeriodSeconds:       period,
		TimeoutSeconds:      5,
		FailureThreshold:    6,
	}
}

// tcpProbe probes that the named port accepts connections.
func tcpProbe(portName string, initialDelay, period int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:        corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString(portName)}},
		InitialDelaySeconds: initialDelay,
		PeriodSeconds:       period,
		TimeoutSeconds:      5,
		FailureThreshold:    6,
	}
}

// deployment returns a Deployment of r's replicas.
func (b *builder) deployment(r *resolved, name, namespace, app string, tpl corev1.PodTemplateSpec) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: r.meta(name, namespace, app),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(r.replicas),
			Selector: &metav1.LabelSelector{MatchLabels: selector(app)},
			Template: tpl,
		},
	}
}

// daemonSet returns a DaemonSet, rolled one node at a time.
func (b *builder) daemonSet(r *resolved, name, namespace, app string, tpl corev1.PodTemplateSpec) *appsv1.DaemonSet {
	if namespace == b.agentNS {
		b.usedAgent = true
	}
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: r.meta(name, namespace, app),
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: selector(app)},
			Template: tpl,
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type:          appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1))},
			},
		},
	}
}

// statefulSet returns a StatefulSet of r's replicas whose volume called
// volume is a claim of r's storage, or an emptyDir when r has none.
func (b *builder) statefulSet(r *resolved, name, namespace, app, service, volume string, tpl corev1.PodTemplateSpec) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: r.meta(name, namespace, app),
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(r.replicas),
			ServiceName:         service,
			Selector:            &metav1.LabelSelector{MatchLabels: selector(app)},
			PodManagementPolicy: appsv1.ParallelPodManagement,
			Template:            tpl,
		},
	}
	if r.storage.IsZero() {
		s.Spec.Template.Spec.Volumes = append(s.Spec.Template.Spec.Volumes, corev1.Volume{
			Name: volume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}},
		})
		return s
	}
	claim := corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: volume, Labels: selector(app)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: r.storage}},
		},
	}
	if r.storageClass != "" {
		claim.Spec.StorageClassName = ptr.To(r.storageClass)
	}
	s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{claim}
	return s
}

// storageSpec returns r's volume for an operator-managed custom resource
// (Prometheus, Alertmanager): a claim template, or nil for emptyDir.
func (r *resolved) storageSpec() (size resource.Quantity, class *string, ok bool) {
	if r.storage.IsZero() {
		return resource.Quantity{}, nil, false
	}
	if r.storageClass != "" {
		class = ptr.To(r.storageClass)
	}
	return r.storage, class, true
}

// pdb returns a PodDisruptionBudget allowing one pod of app down at a
// time, for workloads with more than one replica in the ha profile; nil
// otherwise.
func (b *builder) pdb(r *resolved, name, namespace, app string) *policyv1.PodDisruptionBudget {
	if !b.ha || r.replicas < 2 {
		return nil
	}
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: r.meta(name, namespace, app),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: selector(app)},
		},
	}
}

// addPDB adds the PodDisruptionBudget pdb returns, if any.
func (b *builder) addPDB(r *resolved, name, namespace, app string) {
	if p := b.pdb(r, name, namespace, app); p != nil {
		b.add(p)
	}
}

// service returns a Service selecting app's pods.
func (r *resolved) service(name, namespace, app string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: r.meta(name, namespace, app),
		Spec:       corev1.ServiceSpec{Selector: selector(app), Ports: ports},
	}
}

// servicePort exposes the named container port.
func servicePort(name string, n int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Port: n, TargetPort: intstr.FromString(name), Protocol: corev1.ProtocolTCP}
}

// serviceAccount returns a ServiceAccount.
func (r *resolved) serviceAccount(name, namespace, app string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   r.meta(name, namespace, app),
		AutomountServiceAccountToken: ptr.To(false),
	}
}

// clusterRole returns a ClusterRole and its binding to a ServiceAccount;
// cluster-wide names carry the stack's name, so that two stacks coexist.
func (b *builder) clusterRole(r *resolved, name, app, saNamespace, sa string, rules ...rbacv1.PolicyRule) (*rbacv1.ClusterRole, *rbacv1.ClusterRoleBinding) {
	full := b.stack + "-" + name
	role := &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: r.meta(full, "", app),
		Rules:      rules,
	}
	binding := &rbacv1.ClusterRoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
		ObjectMeta: r.meta(full, "", app),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: full},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: saNamespace, Name: sa}},
	}
	return role, binding
}

// configMap returns a ConfigMap.
func (r *resolved) configMap(name, namespace, app string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: r.meta(name, namespace, app),
		Data:       data,
	}
}

// generate records a Secret of generated values that apply creates once.
func (b *builder) generate(r *resolved, namespace, name string, fixed map[string]string, keys ...string) {
	b.generateIn(r, []string{namespace}, name, fixed, keys...)
}

// fromEnv records that apply writes key of Secret name from the
// environment variable env.
func (b *builder) fromEnv(r *resolved, namespace, name, key, env string) {
	for i, g := range b.generated {
		if g.Namespace == namespace && g.Name == name {
			b.generated[i].Env[key] = env
			return
		}
	}
	b.generated = append(b.generated, GeneratedSecret{Namespace: namespace, Name: name, Env: map[string]string{key: env}, Component: r.title})
}

// generateTLS records a kubernetes.io/tls Secret that apply creates once:
// a private CA and a certificate for cn that it signs.
func (b *builder) generateTLS(r *resolved, namespace, name, cn string) {
	b.generated = append(b.generated, GeneratedSecret{Namespace: namespace, Name: name, TLS: true, CommonName: cn,
		Keys: []string{"ca.crt", "tls.crt", "tls.key"}, Component: r.title})
}

// generateIn is generate with a copy of the Secret, with the same values,
// in each of namespaces (the first one holds the original).
func (b *builder) generateIn(r *resolved, namespaces []string, name string, fixed map[string]string, keys ...string) {
	for i, g := range b.generated {
		if g.Namespace == namespaces[0] && g.Name == name {
			// Another component reads it too: add its namespaces.
			for _, ns := range namespaces[1:] {
				if !slices.Contains(g.AllNamespaces(), ns) {
					b.generated[i].Also = append(b.generated[i].Also, ns)
				}
			}
			return
		}
	}
	b.generated = append(b.generated, GeneratedSecret{Namespace: namespaces[0], Also: namespaces[1:], Name: name, Keys: keys, Fixed: fixed, Component: r.title})
}
