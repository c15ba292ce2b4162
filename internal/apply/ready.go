package apply

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	gkCRD         = schema.GroupKind{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}
	gkDeployment  = schema.GroupKind{Group: "apps", Kind: "Deployment"}
	gkStatefulSet = schema.GroupKind{Group: "apps", Kind: "StatefulSet"}
	gkDaemonSet   = schema.GroupKind{Group: "apps", Kind: "DaemonSet"}
)

// readiness is the engine's judgement of a live object.
type readiness struct {
	ready bool
	// status says what is awaited, or that it is done.
	status string
	// failed means the object will not become ready without a change,
	// e.g. a Deployment past its progress deadline.
	failed bool
}

// waitsFor reports whether the engine waits for objects of kind gk:
// workloads until they have rolled out, CRDs until Established.
func waitsFor(gk schema.GroupKind) bool {
	switch gk {
	case gkCRD, gkDeployment, gkStatefulSet, gkDaemonSet:
		return true
	}
	return false
}

// judge decides whether obj is ready, from its status alone, as
// `kubectl rollout status` decides for workloads.
func judge(obj *unstructured.Unstructured) readiness {
	switch obj.GroupVersionKind().GroupKind() {
	case gkCRD:
		return judgeCRD(obj)
	case gkDeployment:
		var d appsv1.Deployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &d); err != nil {
			return readiness{status: fmt.Sprintf("cannot read status: %v", err)}
		}
		return judgeDeployment(&d)
	case gkStatefulSet:
		var s appsv1.StatefulSet
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &s); err != nil {
			return readiness{status: fmt.Sprintf("cannot read status: %v", err)}
		}
		return judgeStatefulSet(&s)
	case gkDaemonSet:
		var d appsv1.DaemonSet
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &d); err != nil {
			return readiness{status: fmt.Sprintf("cannot read status: %v", err)}
		}
		return judgeDaemonSet(&d)
	}
	return readiness{ready: true, status: "applied"}
}

func judgeDeployment(d *appsv1.Deployment) readiness {
	s := d.Status
	if d.Generation > s.ObservedGeneration {
		return readiness{status: "waiting for the deployment controller to observe the new spec"}
	}
	for _, c := range s.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return readiness{status: "exceeded its progress deadline", failed: true}
		}
	}
	if d.Spec.Replicas != nil && s.UpdatedReplicas < *d.Spec.Replicas {
		return readiness{status: fmt.Sprintf("%d out of %d new replicas have been updated", s.UpdatedReplicas, *d.Spec.Replicas)}
	}
	if s.Replicas > s.UpdatedReplicas {
		return readiness{status: fmt.Sprintf("%d old replicas are pending termination", s.Replicas-s.UpdatedReplicas)}
	}
	if s.AvailableReplicas < s.UpdatedReplicas {
		return readiness{status: fmt.Sprintf("%d of %d updated replicas are available", s.AvailableReplicas, s.UpdatedReplicas)}
	}
	return readiness{ready: true, status: "successfully rolled out"}
}

func judgeStatefulSet(sts *appsv1.StatefulSet) readiness {
	s := sts.Status
	if sts.Spec.UpdateStrategy.Type != "" && sts.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		// kubectl cannot follow an OnDelete rollout either: pods change
		// only when someone deletes them.
		return readiness{ready: true, status: "applied (OnDelete update strategy: no rollout to follow)"}
	}
	if s.ObservedGeneration == 0 || sts.Generation > s.ObservedGeneration {
		return readiness{status: "waiting for the statefulset controller to observe the new spec"}
	}
	if sts.Spec.Replicas != nil && s.ReadyReplicas < *sts.Spec.Replicas {
		return readiness{status: fmt.Sprintf("%d of %d pods are ready", s.ReadyReplicas, *sts.Spec.Replicas)}
	}
	if ru := sts.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil && sts.Spec.Replicas != nil {
		if want := *sts.Spec.Replicas - *ru.Partition; s.UpdatedReplicas < want {
			return readiness{status: fmt.Sprintf("partitioned roll out: %d out of %d new pods have been updated", s.UpdatedReplicas, want)}
		}
		return readiness{ready: true, status: "partitioned roll out complete"}
	}
	if s.UpdateRevision != s.CurrentRevision {
		return readiness{status: fmt.Sprintf("rolling update: %d pods at revision %s", s.UpdatedReplicas, s.UpdateRevision)}
	}
	return readiness{ready: true, status: "successfully rolled out"}
}

func judgeDaemonSet(d *appsv1.DaemonSet) readiness {
	s := d.Status
	if d.Spec.UpdateStrategy.Type != "" && d.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType {
		return readiness{ready: true, status: "applied (OnDelete update strategy: no rollout to follow)"}
	}
	if d.Generation > s.ObservedGeneration {
		return readiness{status: "waiting for the daemonset controller to observe the new spec"}
	}
	if s.UpdatedNumberScheduled < s.DesiredNumberScheduled {
		return readiness{status: fmt.Sprintf("%d out of %d new pods have been updated", s.UpdatedNumberScheduled, s.DesiredNumberScheduled)}
	}
	if s.NumberAvailable < s.DesiredNumberScheduled {
		return readiness{status: fmt.Sprintf("%d of %d updated pods are available", s.NumberAvailable, s.DesiredNumberScheduled)}
	}
	return readiness{ready: true, status: "successfully rolled out"}
}

// judgeCRD waits for Established; NamesAccepted=False (a name another CRD
// holds) never resolves by itself.
func judgeCRD(obj *unstructured.Unstructured) readiness {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "NamesAccepted" && m["status"] == "False" {
			return readiness{status: fmt.Sprintf("names not accepted: %v", m["message"]), failed: true}
		}
	}
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return readiness{ready: true, status: "established"}
		}
	}
	return readiness{status: "waiting to be established"}
}

// badConditions lists obj's conditions that are not in their good state:
// every condition whose status is not True, and failure conditions
// (ReplicaFailure and the like) that are True.
func badConditions(obj *unstructured.Unstructured) []string {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	var out []string
	for _, c := range conds {
		m, _ := c.(map[string]any)
		typ, _ := m["type"].(string)
		status, _ := m["status"].(string)
		reason, _ := m["reason"].(string)
		msg, _ := m["message"].(string)
		bad := status != "True"
		if typ == "ReplicaFailure" || typ == "Failed" || typ == "Degraded" {
			bad = status == "True"
		}
		if !bad {
			continue
		}
		s := typ + "=" + status
		if reason != "" {
			s += " " + reason
		}
		if msg != "" {
			s += ": " + msg
		}
		out = append(out, s)
	}
	return out
}
