package render

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// checkHostPorts refuses a render in which two workloads listen on the
// same port of the nodes' network: on a node that runs both, the second
// pod never starts (or, with the host's network, fails to bind). A pod
// claims a host port with hostPort, or, with the host's network, with
// every port it declares.
func checkHostPorts(objs []*unstructured.Unstructured) error {
	type claim struct {
		port     int64
		protocol string
	}
	owner := map[claim]string{}
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet":
		default:
			continue
		}
		spec, ok, _ := unstructured.NestedMap(o.Object, "spec", "template", "spec")
		if !ok {
			continue
		}
		hostNetwork, _, _ := unstructured.NestedBool(spec, "hostNetwork")
		containers, _, _ := unstructured.NestedSlice(spec, "containers")
		who := o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
		for _, c := range containers {
			cm, _ := c.(map[string]any)
			ports, _, _ := unstructured.NestedSlice(cm, "ports")
			for _, p := range ports {
				pm, _ := p.(map[string]any)
				n, _, _ := unstructured.NestedInt64(pm, "hostPort")
				if n == 0 && hostNetwork {
					n, _, _ = unstructured.NestedInt64(pm, "containerPort")
				}
				if n == 0 {
					continue
				}
				proto, _, _ := unstructured.NestedString(pm, "protocol")
				if proto == "" {
					proto = "TCP"
				}
				k := claim{n, proto}
				if prev, ok := owner[k]; ok && prev != who {
					return fmt.Errorf("render: %s and %s both listen on host port %d/%s of every node they share; give one another port (stack.components.nodeExporter.port, say)", prev, who, n, proto)
				}
				owner[k] = who
			}
		}
	}
	return nil
}
