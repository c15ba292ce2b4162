package render

import (
	"strconv"

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
//
// It listens on stack.components.nodeExporter.port of the node's network
// (default 9100), declared as the container's host port: a second stack on
// the cluster picks another port, or its pods would never start.
func nodeExporter(b *builder, r *resolved) error {
	const app = "node-exporter"
	ns := b.agentNS
	hostPort := int32(b.cfg.Stack.Components.NodeExporter.HostPort())
	metrics := port("http-metrics", hostPort)
	metrics.HostPort = hostPort
	c := r.container(app, []string{
		"--web.listen-address=:" + strconv.Itoa(int(hostPort)),
		"--path.rootfs=" + nodeExporterRoot,
		"--path.procfs=" + nodeExporterRoot + "/proc",
		"--path.sysfs=" + nodeExporterRoot + "/sys",
		"--path.udev.data=" + nodeExporterRoot + "/run/udev/data",
		// The pods' volumes and the container runtime's layers are the
		// workloads' disks, not the node's; kubelet_volume_stats covers
		// the volumes.
		"--collector.filesystem.mount-points-exclude=^/(dev|proc|sys|run/containerd/.+|var/lib/containerd/.+|var/lib/docker/.+|var/lib/kubelet/pods/.+)($|/)",
	}, metrics)
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

	svc := r.service(app, ns, app, servicePort("http-metrics", hostPort))
	svc.Spec.ClusterIP = corev1.ClusterIPNone
	b.add(
		r.serviceAccount(app, ns, app),
		b.daemonSet(r, app, ns, app, tpl),
		svc,
	)
	return nil
}
