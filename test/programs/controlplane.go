package programs

import (
	"context"
	"net"
	"net/url"
	"strconv"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/obsctl/obsctl/test/cluster"
)

// MirrorControlPlane points the API server's default/kubernetes Service,
// and the Services a stack keeps in kube-system for
// the control plane (internal/render's controlPlaneScrape: stack-etcd,
// stack-scheduler, stack-controller-manager) at the local
// control plane's real etcd, scheduler and controller manager, which run
// as processes rather than the static pods the Services select on a
// kubeadm cluster. It writes an EndpointSlice of each, as MirrorEndpoints
// does for pods, on the port each process really serves (etcd its
// metrics on its client URL), so that Prometheus scrapes them through
// the ServiceMonitors obsctl rendered. kube-proxy and CoreDNS do not run
// here.
func MirrorControlPlane(ctx context.Context, c *cluster.Cluster, stack string) error {
	cs, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return err
	}
	// The API server too: its default/kubernetes Service has no endpoints
	// here (the control plane runs with --endpoint-reconciler-type=none,
	// Endpoints refusing its loopback address). Its ServiceMonitor
	// scrapes the port called https.
	host, port, err := net.SplitHostPort(c.APIServerAddress())
	if err != nil {
		return err
	}
	if err := mirrorSlice(ctx, cs, "default", "kubernetes", "https", host, port); err != nil {
		return err
	}
	// Each Service is STACK-NAME (internal/render's controlPlaneParts).
	for name, raw := range map[string]string{
		"etcd":               c.EtcdURL(),
		"scheduler":          c.SchedulerURL(),
		"controller-manager": c.ControllerManagerURL(),
	} {
		u, err := url.Parse(raw)
		if err != nil {
			return err
		}
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil {
			return err
		}
		if err := mirrorSlice(ctx, cs, "kube-system", stack+"-"+name, "metrics", host, port); err != nil {
			return err
		}
	}
	return nil
}

// mirrorSlice writes the EndpointSlice of Service ns/svc that leads its
// port called portName to host:port, in place of any it wrote before.
func mirrorSlice(ctx context.Context, cs kubernetes.Interface, ns, svc, portName, host, portText string) error {
	port, err := strconv.Atoi(portText)
	if err != nil {
		return err
	}
	slice := mirrorSliceOf(ns, svc)
	slice.Ports = []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To(int32(port))}}
	slice.Endpoints = []discoveryv1.Endpoint{{Addresses: []string{host}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}}
	return writeMirrorSlice(ctx, cs, slice)
}
