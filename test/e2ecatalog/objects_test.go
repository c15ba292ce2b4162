package e2ecatalog

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/obsctl/obsctl/test/cluster"
	"github.com/obsctl/obsctl/test/e2ekit"
)

// objects are one of each kind kube-state-metrics watches that the stack
// itself does not make, in the states that make its conditional families
// appear (a failed Job, a container waiting after being OOM-killed), so
// that the catalog holds the families rules select on.
var objects = `
apiVersion: v1
kind: Namespace
metadata: {name: catalog}
---
` + e2ekit.VPADefinition + "---\n" + vpaWeb + `---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: catalog}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: catalog}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      nodeName: catalog-nowhere
      containers: [{name: migrate, image: busybox}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: backfill, namespace: catalog}
spec:
  template:
    spec:
      restartPolicy: Never
      nodeName: catalog-nowhere
      containers: [{name: backfill, image: busybox}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: catalog}
spec:
  schedule: "0 3 * * *"
  suspend: true
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: nightly, image: busybox}]
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: catalog}
provisioner: example.com/none
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: catalog}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: catalog
  hostPath: {path: /nonexistent/catalog}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: catalog, labels: {app: web}, annotations: {owner: web}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: catalog
  # Bound to its volume from the start: a claim left to the PV
  # controller's matching goes to provisioning when the controller has
  # not yet seen the volume, and is then annotated for a provisioner
  # (labels kube-state-metrics exposes only on that race).
  volumeName: catalog
  resources: {requests: {storage: 1Gi}}
---
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata: {name: catalog}
spec:
  attacher: none.example.com
  nodeName: catalog-nowhere
  source: {persistentVolumeName: catalog}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: catalog}
spec:
  rules:
    - host: web.example
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
  tls: [{hosts: [web.example], secretName: web-tls}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: catalog}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: catalog, namespace: catalog}
spec:
  hard: {pods: "10"}
---
apiVersion: v1
kind: LimitRange
metadata: {name: catalog, namespace: catalog}
spec:
  limits:
    - type: Container
      default: {cpu: 100m}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy, namespace: catalog}
spec:
  replicas: 0
  selector: {app: legacy}
  template:
    metadata: {labels: {app: legacy}}
    spec:
      containers: [{name: legacy, image: busybox}]
---
apiVersion: v1
kind: Pod
metadata: {name: crashing, namespace: catalog, labels: {app: web}}
spec:
  nodeName: catalog-nowhere
  containers: [{name: app, image: busybox, resources: {requests: {cpu: 10m}, limits: {memory: 64Mi}}}]
`

// vpaWeb is a VerticalPodAutoscaler of the Deployment web, and
// vpaWebStatus what its recommender wrote: its memory held down by
// maxAllowed, in the quantities the recommender writes.
var vpaWeb, vpaWebStatus = e2ekit.VPA("catalog", "web", "web")

// statuses are what the objects' controllers would have written: the
// VPA's recommender recommended, the Job failed, and the Pod's container
// waits to restart after it was OOM-killed. Nothing runs them (their node
// does not exist, nor does a recommender).
var statuses = map[string]string{
	"VerticalPodAutoscaler/web": vpaWebStatus,
	"Job/migrate": `
status:
  failed: 1
  startTime: "2026-01-01T00:00:00Z"
  conditions:
    - {type: FailureTarget, status: "True", reason: BackoffLimitExceeded, lastTransitionTime: "2026-01-01T00:01:00Z"}
    - {type: Failed, status: "True", reason: BackoffLimitExceeded, lastTransitionTime: "2026-01-01T00:01:00Z"}
`,
	"Job/backfill": `
status:
  succeeded: 1
  startTime: "2026-01-01T00:00:00Z"
  completionTime: "2026-01-01T00:02:00Z"
  conditions:
    - {type: SuccessCriteriaMet, status: "True", lastTransitionTime: "2026-01-01T00:02:00Z"}
    - {type: Complete, status: "True", lastTransitionTime: "2026-01-01T00:02:00Z"}
`,
	"CronJob/nightly": `
status:
  lastScheduleTime: "2026-01-01T03:00:00Z"
  lastSuccessfulTime: "2026-01-01T03:02:00Z"
`,
	"HorizontalPodAutoscaler/web": `
status:
  currentReplicas: 1
  desiredReplicas: 1
  currentMetrics:
    - type: Resource
      resource: {name: cpu, current: {averageUtilization: 40, averageValue: 40m}}
  conditions:
    - {type: AbleToScale, status: "True", reason: ReadyForNewScale, lastTransitionTime: "2026-01-01T00:00:00Z"}
    - {type: ScalingActive, status: "True", reason: ValidMetricFound, lastTransitionTime: "2026-01-01T00:00:00Z"}
`,
	"PersistentVolumeClaim/data": `
status:
  phase: Bound
  accessModes: [ReadWriteOnce]
  capacity: {storage: 1Gi}
  conditions:
    - {type: Resizing, status: "True", lastTransitionTime: "2026-01-01T00:00:00Z"}
`,
	"Pod/crashing": `
status:
  phase: Running
  conditions:
    - {type: Ready, status: "False", lastTransitionTime: "2026-01-01T00:00:00Z"}
  containerStatuses:
    - name: app
      image: busybox
      imageID: ""
      ready: false
      restartCount: 3
      state: {waiting: {reason: CrashLoopBackOff}}
      lastState: {terminated: {reason: OOMKilled, exitCode: 137, startedAt: "2026-01-01T00:00:00Z", finishedAt: "2026-01-01T00:01:00Z"}}
`,
}

// seedObjects creates the objects, writes their statuses, and gives the
// cluster's first node a role and a taint (PreferNoSchedule: nothing
// moves).
func seedObjects(t *testing.T, c *cluster.Cluster, cs cluster.Client) {
	t.Helper()
	ctx := cluster.Context(t)
	e2ekit.Seed(t, cs, objects, statuses)
	patch := []byte(`{"metadata":{"labels":{"node-role.kubernetes.io/control-plane":""}},"spec":{"taints":[{"key":"obsctl.dev/catalog","effect":"PreferNoSchedule"}]}}`)
	if _, err := cs.CoreV1().Nodes().Patch(ctx, c.Nodes()[0], types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}
