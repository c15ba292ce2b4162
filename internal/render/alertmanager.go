package render

import (
	"slices"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// The Alertmanager custom resource: its name, and the labels the operator
// puts on its pods.
const (
	alertmanagerName = "main"
	alertmanagerApp  = "alertmanager"
)

// alertmanagerPods selects the pods of the Alertmanager resource.
var alertmanagerPods = map[string]string{LabelName: alertmanagerApp, "alertmanager": alertmanagerName}

// alertmanagerConfigSecret is the Secret holding alertmanager.yaml: the
// name the operator reads when spec.configSecret is unset, given
// explicitly as well.
const alertmanagerConfigSecret = "alertmanager-" + alertmanagerName

// alertmanagerConfigKey is the key the operator reads the configuration
// from.
const alertmanagerConfigKey = "alertmanager.yaml"

// alertmanager describes Alertmanager for the operator: one Alertmanager
// resource (three replicas in ha, which gossip to deduplicate
// notifications), its configuration Secret and its Service.
//
// The configuration is what obsctl compiled from alerting: in obsctl.yaml.
// It refers to secret values by file, under amroute.SecretDir; the
// resource lists each Secret those files come from in spec.secrets, which
// the operator mounts at SecretDir/<secret>, one file per key. A repo
// without routing renders no configuration Secret and leaves
// spec.configSecret unset: the operator then runs Alertmanager with its
// own minimal configuration (one receiver that notifies nobody), so that
// alerts still reach it and show in its UI.
func alertmanager(b *builder, r *resolved) error {
	const app = alertmanagerApp
	ns := b.ns
	spec := monitoringv1.AlertmanagerSpec{
		PodMetadata:        r.monPodMetadata(),
		Image:              ptr.To(r.image),
		Version:            r.version,
		Replicas:           ptr.To(r.replicas),
		Storage:            r.monStorage(),
		Resources:          r.resources,
		NodeSelector:       r.nodeSelector,
		Tolerations:        r.tolerations,
		ServiceAccountName: app,
		// Alertmanager does not talk to the API server.
		AutomountServiceAccountToken: ptr.To(false),
		SecurityContext:              monPodSecurity(),
		TopologySpreadConstraints:    b.monSpread(r, alertmanagerPods),
	}
	if r.retention > 0 {
		spec.Retention = monGoDuration(r.retention)
	}
	if am := b.in.Alertmanager; am != nil {
		spec.ConfigSecret = alertmanagerConfigSecret
		for _, m := range am.Secrets {
			if m.FromEnv != "" {
				// obsctl apply writes it from the environment.
				b.fromEnv(r, b.ns, m.Secret, m.Key, m.FromEnv)
			} else {
				// The user's: without it the pods never start.
				b.require(r, b.ns, m.Secret, m.Key)
			}
			if !slices.Contains(spec.Secrets, m.Secret) {
				spec.Secrets = append(spec.Secrets, m.Secret)
			}
		}
		slices.Sort(spec.Secrets)
		b.add(&corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: r.meta(alertmanagerConfigSecret, ns, app),
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{alertmanagerConfigKey: am.YAML},
		})
	}

	svc := r.service(app, ns, app, servicePort("web", 9093), servicePort(reloaderPort, 8080))
	svc.Spec.Selector = alertmanagerPods
	b.add(r.serviceAccount(app, ns, app), svc)
	b.monAddPDB(r, app, app, alertmanagerPods)
	return b.monAdd(&monitoringv1.Alertmanager{
		TypeMeta:   monTypeMeta("Alertmanager"),
		ObjectMeta: r.meta(alertmanagerName, ns, app),
		Spec:       spec,
	})
}
