package render

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// nodeExporterRoot is where node-exporter sees the node's root file
// system.
const nodeExporterRoot = "/host/root"

// nodeExporter exports host metrics from every node: a DaemonSet in the
// node agents' namespace (its PodSecurity level is privileged) with the
// host's network and process namespaces, so that the network and process
// metrics are the node's, and the host's root mounted read-only. It runs
// as nobody, which the metrics need nothing beyond, and tolerates every
// taint: a node without node-exporter is a node without alerts.
func nodeExporter(b *builder, r *resolved) error {
	const app = "node-exporter"
	ns := b.agentNS
	c := r.container(app, []string{
		"--web.listen-address=:9100",
		"--path.rootfs=" + nodeExporterRoot,
		"--path.procfs=" + nodeExporterRoot + "/proc",
		"--path.sysfs=" + nodeExporterRoot + "/sys",
		"--path.udev.data=" + nodeExporterRoot + "/run/udev/data",
		// The pods' volumes and the container runtime's layers are the
		// workloads' disks, not the node's; kubelet_volume_stats covers
		// the volumes.
		"--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run/containerd/.+|var/lib/containerd/.+|var/lib/docker/.+|var/lib/kubelet/pods/.+)($|/)",
	}, port("http-metrics", 9100))
	c.LivenessProbe = httpProbe("/", "http-metrics", 5, 10)
	c.ReadinessProbe = httpProbe("/", "http-metrics", 5, 10)
	c.SecurityContext = restrictedContainer(true)
	c.VolumeMounts = []corev1.VolumeMount{{
		Name: "root", MountPath: nodeExporterRoot, ReadOnly: true,
		MountPropagation: ptr.To(corev1.MountPropagationHostToContainer),
	}}

	tpl := b.podTemplate(r, app, app, true, c)
	spec := &tpl.Spec
	spec.HostNetwork = true
	spec.HostPID = true
	spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	spec.SecurityContext = &corev1.PodSecurityContext{
		RunAsNonRoot:   ptr.To(true),
		RunAsUser:      ptr.To[int64](65534),
		RunAsGroup:     ptr.To[int64](65534),
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	spec.Tolerations = append([]corev1.Toleration{{Operator: corev1.TolerationOpExists}}, r.tolerations...)
	spec.Volumes = []corev1.Volume{{
		Name:         "root",
		VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}},
	}}
	// node-exporter reads nothing from the API server.
	spec.AutomountServiceAccountToken = ptr.To(false)

	svc := r.service(app, ns, app, servicePort("http-metrics", 9100))
	svc.Spec.ClusterIP = corev1.ClusterIPNone
	b.add(
		r.serviceAccount(app, ns, app),
		b.daemonSet(r, app, ns, app, tpl),
		svc,
	)
	return nil
}
