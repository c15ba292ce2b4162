package e2ekit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"

	"github.com/obsctl/obsctl/test/cluster"
)

// VPADefinition is the VerticalPodAutoscaler's resource, as the VPA
// installs it (its schema aside): kube-state-metrics reads its objects
// through the custom resource state the stack configures.
const VPADefinition = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: verticalpodautoscalers.autoscaling.k8s.io
  # A *.k8s.io group must say where it was approved (the VPA's says this).
  annotations: {api-approved.kubernetes.io: "https://github.com/kubernetes/kubernetes/pull/63797"}
spec:
  group: autoscaling.k8s.io
  scope: Namespaced
  names: {kind: VerticalPodAutoscaler, plural: verticalpodautoscalers, singular: verticalpodautoscaler, shortNames: [vpa]}
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

// VPA returns a VerticalPodAutoscaler named after the Deployment it
// scales, in namespace ns, with a policy for its container, and the
// status its recommender would write (no recommender runs here): memory
// held down by maxAllowed, in the quantities the recommender writes.
func VPA(ns, deployment, container string) (object, status string) {
	object = fmt.Sprintf(`apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: %[2]s}
  updatePolicy: {updateMode: Recreate}
  resourcePolicy:
    containerPolicies:
      - containerName: %[3]s
        minAllowed: {cpu: 50m, memory: 64Mi}
        maxAllowed: {cpu: "1", memory: 1Gi}
`, ns, deployment, container)
	status = fmt.Sprintf(`
status:
  recommendation:
    containerRecommendations:
      - containerName: %s
        target: {cpu: 250m, memory: 1Gi}
        lowerBound: {cpu: 100m, memory: 262144k}
        upperBound: {cpu: "2", memory: 2Gi}
        uncappedTarget: {cpu: 250m, memory: "1610612736"}
`, container)
	return object, status
}

// resources are the kinds Seed creates.
var resources = map[string]schema.GroupVersionResource{
	"Namespace":                {Version: "v1", Resource: "namespaces"},
	"CustomResourceDefinition": {Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"},
	"VerticalPodAutoscaler":    {Group: "autoscaling.k8s.io", Version: "v1", Resource: "verticalpodautoscalers"},
	"HorizontalPodAutoscaler":  {Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"},
	"Job":                      {Group: "batch", Version: "v1", Resource: "jobs"},
	"CronJob":                  {Group: "batch", Version: "v1", Resource: "cronjobs"},
	"StorageClass":             {Group: "storage.k8s.io", Version: "v1", Resource: "storageclasses"},
	"PersistentVolume":         {Version: "v1", Resource: "persistentvolumes"},
	"PersistentVolumeClaim":    {Version: "v1", Resource: "persistentvolumeclaims"},
	"VolumeAttachment":         {Group: "storage.k8s.io", Version: "v1", Resource: "volumeattachments"},
	"Ingress":                  {Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"},
	"PodDisruptionBudget":      {Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"},
	"ResourceQuota":            {Version: "v1", Resource: "resourcequotas"},
	"LimitRange":               {Version: "v1", Resource: "limitranges"},
	"ReplicationController":    {Version: "v1", Resource: "replicationcontrollers"},
	"Pod":                      {Version: "v1", Resource: "pods"},
}

// Seed creates the objects (YAML documents) and writes the statuses
// (keyed by Kind/name, a YAML document with status:) their controllers
// would have written.
func Seed(t *testing.T, cs cluster.Client, objects string, statuses map[string]string) {
	t.Helper()
	ctx := cluster.Context(t)
	dec := yaml.NewDecoder(bytes.NewReader([]byte(objects)))
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		gvr, ok := resources[u.GetKind()]
		if !ok {
			t.Fatalf("no resource for %s", u.GetKind())
		}
		ri := cs.Resource(gvr).Namespace(u.GetNamespace())
		created, err := ri.Create(ctx, u, metav1.CreateOptions{})
		// An object of a resource just defined: the API server serves
		// it once the definition is established, within seconds.
		for start := time.Now(); apierrors.IsNotFound(err) && time.Since(start) < 30*time.Second; {
			time.Sleep(time.Second)
			created, err = ri.Create(ctx, u, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		st, ok := statuses[u.GetKind()+"/"+u.GetName()]
		if !ok {
			continue
		}
		var s map[string]any
		if err := yaml.Unmarshal([]byte(st), &s); err != nil {
			t.Fatal(err)
		}
		// A controller may write the object between its create and
		// this (the PVC protection finalizer): write the status onto
		// the object as it then is. The Job controller may have
		// started a Job meanwhile: its startTime cannot change any
		// more, and the run ends no earlier than it started.
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			status := maps.Clone(s["status"].(map[string]any))
			if started, ok, _ := unstructured.NestedString(created.Object, "status", "startTime"); ok && started != "" {
				status["startTime"] = started
				if done, ok := status["completionTime"].(string); ok && done < started {
					status["completionTime"] = started
				}
			}
			created.Object["status"] = status
			_, err := ri.UpdateStatus(ctx, created, metav1.UpdateOptions{})
			if apierrors.IsConflict(err) {
				if latest, gerr := ri.Get(ctx, u.GetName(), metav1.GetOptions{}); gerr == nil {
					created = latest
				}
			}
			return err
		})
		if err != nil {
			t.Fatalf("status of %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}
