package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// ErrNoReadyPod is returned by ForwardService when no pod behind the
// Service is ready.
var ErrNoReadyPod = errors.New("no ready pod")

// ServiceTarget returns a ready pod behind Service ns/name and the port of
// that pod that the Service's port serves, as kubectl port-forward
// svc/NAME PORT resolves them: the Service's selector, its port's
// targetPort (a number, or the name of a container port).
func ServiceTarget(ctx context.Context, client dynamic.Interface, ns, name string, port int32) (*corev1.Pod, int32, error) {
	svc, err := Services(client, ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, 0, err
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Port == port {
			sp = &svc.Spec.Ports[i]
		}
	}
	if sp == nil {
		return nil, 0, fmt.Errorf("service %s/%s has no port %d", ns, name, port)
	}
	if len(svc.Spec.Selector) == 0 {
		return nil, 0, fmt.Errorf("service %s/%s selects no pods", ns, name)
	}
	items, err := Pods(client, ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return nil, 0, err
	}
	slices.SortFunc(items, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	for _, p := range items {
		if p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning || !podReady(p) {
			continue
		}
		target, ok := containerPort(p, sp.TargetPort, sp.Port)
		if !ok {
			return nil, 0, fmt.Errorf("pod %s/%s has no port %s, which service %s serves on %d", ns, p.Name, sp.TargetPort.String(), name, port)
		}
		return p, target, nil
	}
	return nil, 0, fmt.Errorf("service %s/%s: %w", ns, name, ErrNoReadyPod)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// containerPort resolves a Service port's targetPort in a pod: a number
// as it is (the port itself when unset), a name by the containers' ports.
func containerPort(p *corev1.Pod, target intstr.IntOrString, port int32) (int32, bool) {
	switch {
	case target.Type == intstr.Int && target.IntVal == 0:
		return port, true
	case target.Type == intstr.Int:
		return target.IntVal, true
	}
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == target.StrVal {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

// ForwardService forwards a free port of 127.0.0.1 to Service ns/name's
// port, through the API server (kubectl port-forward svc/NAME), and
// returns the local address and what stops the forwarding.
func ForwardService(ctx context.Context, cfg *rest.Config, client dynamic.Interface, ns, name string, port int32) (string, func(), error) {
	pod, target, err := ServiceTarget(ctx, client, ns, name, port)
	if err != nil {
		return "", nil, err
	}
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return "", nil, err
	}
	u, err := url.Parse(strings.TrimRight(cfg.Host, "/") + "/api/v1/namespaces/" + url.PathEscape(ns) + "/pods/" + url.PathEscape(pod.Name) + "/portforward")
	if err != nil {
		return "", nil, err
	}
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	stop, ready := make(chan struct{}), make(chan struct{})
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", target)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		return "", nil, err
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-done:
		return "", nil, fmt.Errorf("port-forward to pod %s/%s: %v", ns, pod.Name, err)
	case <-ctx.Done():
		close(stop)
		return "", nil, ctx.Err()
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		close(stop)
		return "", nil, fmt.Errorf("port-forward to pod %s/%s: no local port (%v)", ns, pod.Name, err)
	}
	stopped := false
	return fmt.Sprintf("127.0.0.1:%d", ports[0].Local), func() {
		if !stopped {
			stopped = true
			close(stop)
		}
	}, nil
}
