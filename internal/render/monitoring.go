package render

import (
	"maps"
	"regexp"
	"strconv"
	"strings"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/obsctl/obsctl/internal/apply"
)

// What the Prometheus Operator's custom resources share: the helpers of the
// components whose pods the operator creates (Prometheus, Alertmanager) and
// of the ServiceMonitors. The builders of meta.go make pod templates;
// these make the same choices (restricted security context, ha spread,
// PodDisruptionBudgets) for pods obsctl only describes.

// monAPIVersion is the API version of the operator's custom resources.
const monAPIVersion = "monitoring.coreos.com/v1"

// Files every pod with an automounted service account token has: what
// Prometheus presents to the kubelets and the API server, and the cluster's
// CA that signs the API server's certificate.
const (
	monTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	monCAFile    = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
)

// monTypeMeta is the TypeMeta of the operator's kind.
func monTypeMeta(kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: monAPIVersion, Kind: kind}
}

// monAdd adds the operator's custom resources. The typed API has
// non-pointer structs that convert to empty objects (rules: {alert: {}},
// tlsConfig: {ca: {}}) and a status with zero counts: monAdd drops both,
// so that the render shows, and apply owns, only the fields obsctl sets.
// Empty selectors and emptyDirs stay: they mean something.
func (b *builder) monAdd(objs ...runtime.Object) error {
	for _, o := range objs {
		u, err := toUnstructured(o)
		if err != nil {
			return err
		}
		delete(u.Object, "status")
		monCompact(u.Object)
		b.addUnstructured(u)
	}
	return nil
}

// monCompact removes the empty objects under m, except selectors (empty
// selects everything; absent, nothing) and emptyDirs.
func monCompact(m map[string]any) {
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			monCompact(v)
			if len(v) == 0 && k != "emptyDir" && !strings.HasSuffix(k, "Selector") {
				delete(m, k)
			}
		case []any:
			for _, e := range v {
				if em, ok := e.(map[string]any); ok {
					monCompact(em)
				}
			}
		}
	}
}

// monStackSelector selects the objects of this stack: every object obsctl
// renders or applies carries the stack label (objects and the apply
// engine set it), whatever its other labels or namespace.
func (b *builder) monStackSelector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{apply.LabelStack: b.stack}}
}

// monPodMetadata returns labels for the pods the operator creates, besides
// the ones it reserves (app.kubernetes.io/name, version, instance): with
// part-of, selector(app) matches them as it matches obsctl's own pods.
func (r *resolved) monPodMetadata() *monitoringv1.EmbeddedObjectMetadata {
	return &monitoringv1.EmbeddedObjectMetadata{Labels: map[string]string{
		LabelComponent: r.key,
		LabelPartOf:    partOf,
	}}
}

// monPodSecurity is the pod security context of the operator's pods. It
// passes the restricted PodSecurity level together with the container
// security contexts the operator sets (no privilege escalation, read-only
// root file system, all capabilities dropped); the user and group are the
// ones the Prometheus and Alertmanager images are built for.
func monPodSecurity() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](1000),
		RunAsGroup:     ptr.To[int64](2000),
		FSGroup:        ptr.To[int64](2000),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

// monSpread returns the ha profile's spread of the pods sel selects, as
// podTemplate spreads obsctl's own pods: over nodes (required) and zones
// (preferred). It is nil otherwise.
func (b *builder) monSpread(r *resolved, sel map[string]string) []corev1.TopologySpreadConstraint {
	if !b.ha || r.replicas < 2 {
		return nil
	}
	ls := &metav1.LabelSelector{MatchLabels: sel}
	return []corev1.TopologySpreadConstraint{
		{MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: ls},
		{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.ScheduleAnyway, LabelSelector: ls},
	}
}

// monAddPDB adds, in the ha profile with more than one replica, a
// PodDisruptionBudget allowing one of the pods sel selects down at a time.
// The operator makes none for its StatefulSets.
func (b *builder) monAddPDB(r *resolved, name, app string, sel map[string]string) {
	if !b.ha || r.replicas < 2 {
		return
	}
	b.add(&policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: r.meta(name, b.ns, app),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: sel},
		},
	})
}

// monStorage returns r's volume for an operator-managed custom resource: a
// claim template of r's size and class, or an emptyDir.
func (r *resolved) monStorage() *monitoringv1.StorageSpec {
	size, class, ok := r.storageSpec()
	if !ok {
		return &monitoringv1.StorageSpec{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	}
	return &monitoringv1.StorageSpec{VolumeClaimTemplate: monitoringv1.EmbeddedPersistentVolumeClaim{
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
			StorageClassName: class,
		},
	}}
}

// monDuration formats d as a Prometheus duration (15d, 1h30m).
func monDuration(d time.Duration) monitoringv1.Duration {
	return monitoringv1.Duration(model.Duration(d).String())
}

// monGoDuration formats d as a Go duration without zero units (120h, not
// 120h0m0s), as the Alertmanager resource's retention takes it: its schema
// takes whole hours, minutes, seconds and milliseconds (1s500ms), never a
// fraction (1.5s, which time.Duration.String writes).
func monGoDuration(d time.Duration) monitoringv1.GoDuration {
	ms := (d % time.Second) / time.Millisecond
	whole := d - d%time.Second
	s := ""
	if whole > 0 || ms == 0 {
		s = whole.String()
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
	}
	if ms > 0 {
		s += strconv.FormatInt(int64(ms), 10) + "ms"
	}
	return monitoringv1.GoDuration(s)
}

// monScrape is what a ServiceMonitor scrapes: the Services sel selects in
// namespace, kept to the one called service, on the named port.
type monScrape struct {
	// job is the job label of every series, which the repo's rules and
	// dashboards query.
	job string
	// namespace and service name the scraped Service.
	namespace, service string
	// sel selects the Service by its labels.
	sel map[string]string
	// endpoints are the scraped ports and paths; monServiceMonitor adds
	// the relabelings that keep the service and set the job.
	endpoints []monitoringv1.Endpoint
}

// monComponentScrape scrapes the Service of component r that obsctl
// renders: selected by the component and stack labels every rendered
// object carries, so that the selector does not depend on how the
// component's file names its app.
func (b *builder) monComponentScrape(r *resolved, job, namespace, service, port string) monScrape {
	return monScrape{
		job: job, namespace: namespace, service: service,
		sel:       map[string]string{LabelComponent: r.key, apply.LabelStack: b.stack},
		endpoints: []monitoringv1.Endpoint{{Port: port}},
	}
}

// monServiceMonitor returns a ServiceMonitor in the stack's namespace,
// labelled as r's, for s. Each endpoint keeps only the Service called
// s.service (another stack's, or another Service of the component with the
// same labels, is not scraped twice) and sets the job label to s.job
// whatever the Service's name: the operator's default job is the Service
// name, which is not always the job the rules query (elasticsearch-metrics,
// <stack>-kubelet, kubernetes).
func (b *builder) monServiceMonitor(r *resolved, app string, s monScrape) *monitoringv1.ServiceMonitor {
	eps := make([]monitoringv1.Endpoint, len(s.endpoints))
	for i, ep := range s.endpoints {
		ep.RelabelConfigs = append([]monitoringv1.RelabelConfig{
			{Action: "keep", SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_service_name"}, Regex: regexp.QuoteMeta(s.service)},
			{Action: "replace", TargetLabel: "job", Replacement: ptr.To(s.job)},
		}, ep.RelabelConfigs...)
		eps[i] = ep
	}
	return &monitoringv1.ServiceMonitor{
		TypeMeta:   monTypeMeta("ServiceMonitor"),
		ObjectMeta: r.meta(s.job, b.ns, app),
		Spec: monitoringv1.ServiceMonitorSpec{
			Selector:          metav1.LabelSelector{MatchLabels: maps.Clone(s.sel)},
			NamespaceSelector: monitoringv1.NamespaceSelector{MatchNames: []string{s.namespace}},
			Endpoints:         eps,
		},
	}
}
