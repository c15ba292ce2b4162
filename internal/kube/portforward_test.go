package kube

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	dynfake "k8s.io/client-go/dynamic/fake"
)

func pod(name string, phase corev1.PodPhase, ready bool, ports ...corev1.ContainerPort) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "m", Labels: map[string]string{"app": "es"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "es", Ports: ports}}},
		Status:     corev1.PodStatus{Phase: phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
}

// ServiceTarget resolves a Service's port as kubectl port-forward svc/...
// does: a ready pod of its selector, and the container port its
// targetPort names.
func TestServiceTarget(t *testing.T) {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "es", Namespace: "m"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "es"}, Ports: []corev1.ServicePort{
			{Name: "http", Port: 9200, TargetPort: intstr.FromString("http")},
			{Name: "plain", Port: 80, TargetPort: intstr.FromInt32(8080)},
		}},
	}
	http := corev1.ContainerPort{Name: "http", ContainerPort: 19200}
	ctx := context.Background()

	cs := fakeDynamic(t, svc, pod("es-0", corev1.PodPending, false, http), pod("es-1", corev1.PodRunning, false, http))
	if _, _, err := ServiceTarget(ctx, cs, "m", "es", 9200); !errors.Is(err, ErrNoReadyPod) {
		t.Errorf("no ready pod: %v", err)
	}
	cs = fakeDynamic(t, svc, pod("es-0", corev1.PodRunning, false, http), pod("es-1", corev1.PodRunning, true, http))
	p, port, err := ServiceTarget(ctx, cs, "m", "es", 9200)
	if err != nil || p.Name != "es-1" || port != 19200 {
		t.Errorf("named targetPort: %v %d %v", p, port, err)
	}
	if _, port, err := ServiceTarget(ctx, cs, "m", "es", 80); err != nil || port != 8080 {
		t.Errorf("numbered targetPort: %d %v", port, err)
	}
	if _, _, err := ServiceTarget(ctx, cs, "m", "es", 443); err == nil {
		t.Error("a port the Service does not have")
	}
}

func fakeDynamic(t *testing.T, objs ...runtime.Object) *dynfake.FakeDynamicClient {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return dynfake.NewSimpleDynamicClient(scheme, objs...)
}
