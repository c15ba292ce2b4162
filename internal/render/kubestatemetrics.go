package render

import (
	"strings"

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
// watches, and its Service.
func kubeStateMetrics(b *builder, r *resolved) error {
	const app = "kube-state-metrics"
	ns := b.ns
	c := r.container(app, []string{
		// Every collector of kube-state-metrics' default set but Secrets:
		// kube_secret_* says little a rule needs, and reading every Secret
		// in the cluster would make kube-state-metrics, and obsctl, which
		// must hold what it grants, able to read them all.
		"--resources=" + strings.Join(kubeStateResources, ","),
		"--port=8080",
		"--telemetry-port=8081",
	}, port("http-metrics", 8080), port("telemetry", 8081))
	c.LivenessProbe = httpProbe("/livez", "http-metrics", 5, 10)
	c.ReadinessProbe = httpProbe("/readyz", "telemetry", 5, 10)
	tpl := b.podTemplate(r, app, app, false, c)
	b.add(
		r.serviceAccount(app, ns, app),
		b.deployment(r, app, ns, app, tpl),
		r.service(app, ns, app, servicePort("http-metrics", 8080), servicePort("telemetry", 8081)),
	)
	role, binding := b.clusterRole(r, app, app, ns, app,
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
	)
	b.add(role, binding)
	b.addPDB(r, app, ns, app)
	return nil
}
