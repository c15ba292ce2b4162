package apply

import (
	"strings"
	"testing"
)

// TestJudge judges status fixtures as `kubectl rollout status` would.
func TestJudge(t *testing.T) {
	tests := []struct {
		name   string
		obj    string
		ready  bool
		failed bool
		status string // a substring of the judgement
	}{
		{
			name:   "deployment rolled out",
			obj:    `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, generation: 2}, spec: {replicas: 3}, status: {observedGeneration: 2, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3}}`,
			ready:  true,
			status: "successfully rolled out",
		},
		{
			name:   "deployment spec not observed",
			obj:    `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, generation: 3}, spec: {replicas: 3}, status: {observedGeneration: 2, replicas: 3, updatedReplicas: 3, availableReplicas: 3}}`,
			status: "observe the new spec",
		},
		{
			name:   "deployment updating",
			obj:    `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, generation: 2}, spec: {replicas: 3}, status: {observedGeneration: 2, replicas: 4, updatedReplicas: 1, availableReplicas: 3}}`,
			status: "1 out of 3 new replicas have been updated",
		},
		{
			name:   "deployment old replicas terminating",
			obj:    `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, generation: 2}, spec: {replicas: 3}, status: {observedGeneration: 2, replicas: 4, updatedReplicas: 3, availableReplicas: 3}}`,
			status: "1 old replicas are pending termination",
		},
		{
			name:   "deployment unavailable",
			obj:    `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, generation: 1}, spec: {replicas: 3}, status: {observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 1}}`,
			status: "1 of 3 updated replicas are available",
		},
		{
			name: "deployment past its deadline",
			obj: `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, generation: 1}, spec: {replicas: 3}, status: {observedGeneration: 1, replicas: 3, updatedReplicas: 3, availableReplicas: 0,
			       conditions: [{type: Progressing, status: "False", reason: ProgressDeadlineExceeded}]}}`,
			failed: true,
			status: "progress deadline",
		},
		{
			name:   "deployment scaled to zero",
			obj:    `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, generation: 4}, spec: {replicas: 0}, status: {observedGeneration: 4}}`,
			ready:  true,
			status: "successfully rolled out",
		},
		{
			name:   "statefulset rolled out",
			obj:    `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: db, generation: 1}, spec: {replicas: 2, updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 0}}}, status: {observedGeneration: 1, replicas: 2, readyReplicas: 2, updatedReplicas: 2, currentRevision: db-1, updateRevision: db-1}}`,
			ready:  true,
			status: "complete",
		},
		{
			name:   "statefulset never observed",
			obj:    `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: db, generation: 1}, spec: {replicas: 2}, status: {}}`,
			status: "observe the new spec",
		},
		{
			name:   "statefulset pods not ready",
			obj:    `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: db, generation: 1}, spec: {replicas: 2}, status: {observedGeneration: 1, replicas: 2, readyReplicas: 1}}`,
			status: "1 of 2 pods are ready",
		},
		{
			name:   "statefulset partition pending",
			obj:    `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: db, generation: 2}, spec: {replicas: 3, updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1}}}, status: {observedGeneration: 2, replicas: 3, readyReplicas: 3, updatedReplicas: 1}}`,
			status: "1 out of 2 new pods have been updated",
		},
		{
			name:   "statefulset revision pending",
			obj:    `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: db, generation: 2}, spec: {replicas: 2, updateStrategy: {type: RollingUpdate}}, status: {observedGeneration: 2, replicas: 2, readyReplicas: 2, updatedReplicas: 1, currentRevision: db-1, updateRevision: db-2}}`,
			status: "revision db-2",
		},
		{
			name:   "statefulset on delete",
			obj:    `{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: db, generation: 2}, spec: {replicas: 2, updateStrategy: {type: OnDelete}}, status: {observedGeneration: 1}}`,
			ready:  true,
			status: "OnDelete",
		},
		{
			name:   "daemonset rolled out",
			obj:    `{apiVersion: apps/v1, kind: DaemonSet, metadata: {name: agent, generation: 1}, spec: {updateStrategy: {type: RollingUpdate}}, status: {observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3}}`,
			ready:  true,
			status: "successfully rolled out",
		},
		{
			name:   "daemonset updating",
			obj:    `{apiVersion: apps/v1, kind: DaemonSet, metadata: {name: agent, generation: 2}, spec: {updateStrategy: {type: RollingUpdate}}, status: {observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 2, numberAvailable: 3}}`,
			status: "2 out of 3 new pods have been updated",
		},
		{
			name:   "daemonset unavailable",
			obj:    `{apiVersion: apps/v1, kind: DaemonSet, metadata: {name: agent, generation: 2}, spec: {updateStrategy: {type: RollingUpdate}}, status: {observedGeneration: 2, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 2}}`,
			status: "2 of 3 updated pods are available",
		},
		{
			name:   "daemonset not observed",
			obj:    `{apiVersion: apps/v1, kind: DaemonSet, metadata: {name: agent, generation: 2}, spec: {updateStrategy: {type: RollingUpdate}}, status: {observedGeneration: 1, desiredNumberScheduled: 3, updatedNumberScheduled: 3, numberAvailable: 3}}`,
			status: "observe the new spec",
		},
		{
			name:   "crd established",
			obj:    `{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: a.b}, status: {conditions: [{type: NamesAccepted, status: "True"}, {type: Established, status: "True"}]}}`,
			ready:  true,
			status: "established",
		},
		{
			name:   "crd new",
			obj:    `{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: a.b}}`,
			status: "waiting to be established",
		},
		{
			name:   "crd names taken",
			obj:    `{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: a.b}, status: {conditions: [{type: NamesAccepted, status: "False", message: "\"as\" is already in use"}, {type: Established, status: "False"}]}}`,
			failed: true,
			status: "already in use",
		},
		{
			name:   "other kinds are ready once applied",
			obj:    `{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}`,
			ready:  true,
			status: "applied",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := judge(obj(t, tt.obj))
			if got.ready != tt.ready || got.failed != tt.failed || !strings.Contains(got.status, tt.status) {
				t.Errorf("judge = %+v, want ready=%v failed=%v status ~ %q", got, tt.ready, tt.failed, tt.status)
			}
		})
	}
}

func TestBadConditions(t *testing.T) {
	o := obj(t, `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web}, status: {conditions: [
	  {type: Available, status: "False", reason: MinimumReplicasUnavailable, message: Deployment does not have minimum availability.},
	  {type: Progressing, status: "True", reason: ReplicaSetUpdated},
	  {type: ReplicaFailure, status: "True", reason: FailedCreate, message: quota exceeded}]}}`)
	got := badConditions(o)
	want := []string{
		"Available=False MinimumReplicasUnavailable: Deployment does not have minimum availability.",
		"ReplicaFailure=True FailedCreate: quota exceeded",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("badConditions =\n%q\nwant\n%q", got, want)
	}
}

func TestWaitsFor(t *testing.T) {
	for _, gk := range []struct {
		gk   string
		want bool
	}{{"Deployment.apps", true}, {"StatefulSet.apps", true}, {"DaemonSet.apps", true}, {"CustomResourceDefinition.apiextensions.k8s.io", true}, {"Job.batch", false}, {"Service", false}} {
		kind, group, _ := strings.Cut(gk.gk, ".")
		if got := waitsFor(schemaGK(group, kind)); got != gk.want {
			t.Errorf("waitsFor(%s) = %v", gk.gk, got)
		}
	}
}
