package render

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

func TestNodeExporter(t *testing.T) {
	for _, profile := range profiles {
		t.Run(profile, func(t *testing.T) {
			res := render(t, "  profile: "+profile+`
  components:
    nodeExporter:
      tolerations: [{key: dedicated, operator: Equal, value: gpu, effect: NoSchedule}]
`)
			if find(res, "DaemonSet", "monitoring", "node-exporter") != nil {
				t.Error("node-exporter in the restricted namespace")
			}
			ds := typed[appsv1.DaemonSet](t, mustFind(t, res, "DaemonSet", "monitoring-agents", "node-exporter"))
			ns := mustFind(t, res, "Namespace", "", "monitoring-agents")
			if ns.GetLabels()["pod-security.kubernetes.io/enforce"] != "privileged" {
				t.Errorf("the agents' namespace is not privileged: %v", ns.GetLabels())
			}
			pod := ds.Spec.Template.Spec
			if !pod.HostNetwork || !pod.HostPID {
				t.Errorf("hostNetwork %v hostPID %v", pod.HostNetwork, pod.HostPID)
			}
			if !slices.Contains(pod.Tolerations, corev1.Toleration{Operator: corev1.TolerationOpExists}) {
				t.Errorf("tolerations %v: node-exporter must run on every node", pod.Tolerations)
			}
			if !slices.ContainsFunc(pod.Tolerations, func(tol corev1.Toleration) bool { return tol.Key == "dedicated" }) {
				t.Errorf("tolerations %v lack the configured one", pod.Tolerations)
			}
			if sc := pod.SecurityContext; sc == nil || !*sc.RunAsNonRoot || *sc.RunAsUser != 65534 {
				t.Errorf("pod security context %+v: node-exporter runs as nobody", sc)
			}
			c := pod.Containers[0]
			if sc := c.SecurityContext; sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation {
				t.Errorf("container security context %+v", sc)
			}
			for _, arg := range []string{"--path.rootfs=/host/root", "--path.procfs=/host/root/proc", "--path.sysfs=/host/root/sys"} {
				if !slices.Contains(c.Args, arg) {
					t.Errorf("args %v lack %s", c.Args, arg)
				}
			}
			i := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/host/root" })
			if i < 0 || !c.VolumeMounts[i].ReadOnly {
				t.Fatalf("mounts %+v: want the host's root read-only at /host/root", c.VolumeMounts)
			}
			v := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == c.VolumeMounts[i].Name })
			if v < 0 || pod.Volumes[v].HostPath == nil || pod.Volumes[v].HostPath.Path != "/" {
				t.Errorf("volumes %+v", pod.Volumes)
			}
			if len(c.Ports) != 1 || c.Ports[0].Name != "http-metrics" || c.Ports[0].ContainerPort != 9100 || c.Ports[0].HostPort != 9100 {
				t.Errorf("ports %+v", c.Ports)
			}
			mustFind(t, res, "ServiceAccount", "monitoring-agents", "node-exporter")
			svc := typed[corev1.Service](t, mustFind(t, res, "Service", "monitoring-agents", "node-exporter"))
			if svc.Spec.ClusterIP != corev1.ClusterIPNone || !hasPort(svc, "http-metrics") {
				t.Errorf("Service %+v", svc.Spec)
			}
		})
	}
}

// TestNodeExporterPort: stack.components.nodeExporter.port moves the
// listen address, the container's (host) port and the Service's port
// together, so that a second stack can take another port of the nodes.
func TestNodeExporterPort(t *testing.T) {
	res := render(t, "  components: {nodeExporter: {port: 9200}}\n")
	ds := typed[appsv1.DaemonSet](t, mustFind(t, res, "DaemonSet", "monitoring-agents", "node-exporter"))
	c := ds.Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--web.listen-address=:9200") || slices.Contains(c.Args, "--web.listen-address=:9100") {
		t.Errorf("args %v", c.Args)
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 9200 || c.Ports[0].HostPort != 9200 {
		t.Errorf("ports %+v", c.Ports)
	}
	svc := typed[corev1.Service](t, mustFind(t, res, "Service", "monitoring-agents", "node-exporter"))
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 9200 || svc.Spec.Ports[0].TargetPort.StrVal != "http-metrics" {
		t.Errorf("Service ports %+v", svc.Spec.Ports)
	}
}
