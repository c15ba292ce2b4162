package render

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// kubeStateResources are the collectors kube-state-metrics runs: its
// default set without secrets and the two webhook configurations and
// certificate signing requests its ClusterRole does not cover.
var kubeStateResources = []string{
	"configmaps", "cronjobs", "daemonsets", "deployments", "endpoints", "endpointslices",
	"horizontalpodautoscalers", "ingresses", "jobs", "leases", "limitranges", "namespaces",
	"networkpolicies", "nodes", "persistentvolumeclaims", "persistentvolumes",
	"poddisruptionbudgets", "pods", "replicasets", "replicationcontrollers", "resourcequotas",
	"services", "statefulsets", "storageclasses", "volumeattachments",
}

// kubeStateMetrics exports the state of Kubernetes objects: a Deployment
// (two replicas in ha, each serving every object: the metrics are
// deduplicated by the rules' aggregations), read-only RBAC on what it
// watches, its Service, and the custom resource state config that makes
// series of VerticalPodAutoscalers (kubestatemetrics_vpa.go).
func kubeStateMetrics(b *builder, r *resolved) error {
	const app = "kube-state-metrics"
	ns := b.ns
	crs, err := kubeStateCRSConfig()
	if err != nil {
		return err
	}
	c := r.container(app, []string{
		// Every collector of kube-state-metrics' default set but Secrets:
		// kube_secret_* says little a rule needs, and reading every Secret
		// in the cluster would make kube-state-metrics, and obsctl, which
		// must hold what it grants, able to read them all.
		"--resources=" + strings.Join(kubeStateResources, ","),
		"--port=8080",
		"--telemetry-port=8081",
		"--custom-resource-state-config-file=" + kubeStateCRSDir + "/" + kubeStateCRSFile,
	}, port("http-metrics", 8080), port("telemetry", 8081))
	c.LivenessProbe = httpProbe("/livez", "http-metrics", 5, 10)
	c.ReadinessProbe = httpProbe("/readyz", "telemetry", 5, 10)
	c.VolumeMounts = []corev1.VolumeMount{volMount("customresourcestate", kubeStateCRSDir, true)}
	tpl := b.podTemplate(r, app, app, false, c)
	tpl.Spec.Volumes = []corev1.Volume{volConfigMap("customresourcestate", kubeStateCRSConfigMap)}
	// A new config rolls the pods: kube-state-metrics watches the file
	// too, but the rollout is what a release can wait for.
	setConfigHash(&tpl, crs)
	b.add(
		r.serviceAccount(app, ns, app),
		r.configMap(kubeStateCRSConfigMap, ns, app, map[string]string{kubeStateCRSFile: crs}),
		b.deployment(r, app, ns, app, tpl),
		r.service(app, ns, app, servicePort("http-metrics", 8080), servicePort("telemetry", 8081)),
	)
	role, binding := b.clusterRole(r, app, app, ns, app, append([]rbacv1.PolicyRule{
		rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{
			"configmaps", "nodes", "pods", "services", "serviceaccounts", "resourcequotas",
			"replicationcontrollers", "limitranges", "persistentvolumeclaims", "persistentvolumes", "namespaces", "endpoints",
		}, Verbs: []string{"list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"statefulsets", "daemonsets", "deployments", "replicasets"}, Verbs: []string{"list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"batch"}, Resources: []string{"cronjobs", "jobs"}, Verbs: []string{"list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"autoscaling"}, Resources: []string{"horizontalpodautoscalers"}, Verbs: []string{"list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: []string{"list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies", "ingresses"}, Verbs: []string{"list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"storage.k8s.io"}, Resources: []string{"storageclasses", "volumeattachments"}, Verbs: []string{"list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"list", "watch"}},
		rbacv1.PolicyRule{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
	}, kubeStateCRSRules()...)...)
	b.add(role, binding)
	b.addPDB(r, app, ns, app)
	return nil
}
