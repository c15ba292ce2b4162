package render

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/utils/ptr"

	"github.com/obsctl/obsctl/internal/compile"
	"github.com/obsctl/obsctl/internal/fluentd"
)

// What fluent.conf may rely on: the files it reads and writes, the port
// of its metrics and the environment that names Elasticsearch.
const (
	fluentdMetricsPort = fluentd.MetricsPort
	fluentdPasswordEnv = compile.FluentdPasswordEnv
	fluentdStateDir    = compile.FluentdStateDir
	fluentdConfDir     = "/fluentd/etc"
)

// fluentdAgent ships container logs to Elasticsearch, as the repo's pipelines
// say: a DaemonSet in the privileged agent namespace (it reads the node's
// /var/log as root) on every node whatever its taints, with read-only
// RBAC on pods and namespaces for the Kubernetes metadata it adds to each
// record. fluent.conf is the compiled pipelines, or without pipelines a
// minimal configuration of obsctl's own. Without Elasticsearch there is
// nowhere to ship to, so it renders nothing; lint reports the
// combination.
//
// The configuration reaches Elasticsearch as compile.FluentdOutput says; the
// environment names it too (FLUENT_ELASTICSEARCH_HOST, _PORT, _SCHEME,
// _USER and _PASSWORD), which the fallback configuration reads. The
// credentials are the Elasticsearch Secret's, of which apply makes a copy
// with the same values in the agent namespace (a pod reads Secrets of its
// own namespace only).
func fluentdAgent(b *builder, r *resolved) error {
	if !b.enabled("elasticsearch") {
		return nil
	}
	// The compiled configuration skips the logs of containers so named.
	const app = fluentd.SelfContainer
	ns := b.agentNS
	b.esCredentials(ns)

	conf := string(b.in.Fluentd)
	if conf == "" {
		conf = fluentdFallbackConf(ns)
	}

	out := compile.FluentdOutput(b.cfg)
	c := r.container(app, nil, port("metrics", fluentdMetricsPort))
	c.Env = []corev1.EnvVar{
		envValue("FLUENT_ELASTICSEARCH_HOST", out.Host),
		envValue("FLUENT_ELASTICSEARCH_PORT", strconv.Itoa(out.Port)),
		envValue("FLUENT_ELASTICSEARCH_SCHEME", out.Scheme),
		envSecret("FLUENT_ELASTICSEARCH_USER", esCredentialsSecret, "username"),
		envSecret(fluentdPasswordEnv, esCredentialsSecret, "password"),
		// The image's entrypoint would otherwise edit fluent.conf in
		// place, which the ConfigMap volume refuses.
		envValue("FLUENT_ELASTICSEARCH_SED_DISABLE", "true"),
		envValue("FLUENTD_CONF", "fluent.conf"),
		// The Kubernetes metadata filter then watches this node's pods
		// only.
		envField("K8S_NODE_NAME", "spec.nodeName"),
	}
	c.LivenessProbe = tcpProbe("metrics", 10, 20)
	c.ReadinessProbe = tcpProbe("metrics", 5, 10)
	c.VolumeMounts = []corev1.VolumeMount{
		volMount("config", fluentdConfDir, true),
		volMount("varlog", "/var/log", true),
		volMount("state", fluentdStateDir, false),
	}
	// Root, to read the logs the container runtime writes as root, but
	// with no capabilities: the files are root's own. The root file system
	// stays writable: the image's Ruby gems and plugins expect it.
	c.SecurityContext = &corev1.SecurityContext{
		RunAsUser:                ptr.To[int64](0),
		RunAsNonRoot:             ptr.To(false),
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}

	tpl := b.podTemplate(r, app, app, true, c)
	// Logs are wanted from every node, tainted or not.
	tpl.Spec.Tolerations = append([]corev1.Toleration{{Operator: corev1.TolerationOpExists}}, r.tolerations...)
	tpl.Spec.Volumes = []corev1.Volume{
		volConfigMap("config", "fluentd-config"),
		volHostPath("varlog", "/var/log", corev1.HostPathDirectory),
		// Per stack, so that two stacks' Fluentd do not share positions.
		volHostPath("state", fluentdStateDir+"/"+b.stack, corev1.HostPathDirectoryOrCreate),
	}
	setConfigHash(&tpl, conf)

	role, binding := b.clusterRole(r, app, app, ns, app, rbacv1.PolicyRule{
		APIGroups: []string{""}, Resources: []string{"pods", "namespaces"}, Verbs: []string{"get", "list", "watch"},
	})
	b.add(
		r.serviceAccount(app, ns, app),
		role, binding,
		withSource(r.configMap("fluentd-config", ns, app, map[string]string{"fluent.conf": conf}), "pipelines (each named in fluent.conf)"),
		b.daemonSet(r, app, ns, app, tpl),
		r.service(app, ns, app, servicePort("metrics", fluentdMetricsPort)),
	)
	return nil
}

// fluentdFallbackConf is fluent.conf for a repo without pipelines
// (fluentd.FallbackConf).
func fluentdFallbackConf(agentNS string) string {
	return fluentd.FallbackConf(agentNS, fluentdStateDir)
}
