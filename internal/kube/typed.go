package kube

import (
	"context"
	"fmt"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// Typed reads and writes objects of one built-in kind as Go structs. It
// goes through the dynamic client, converting on the way: the typed
// clientset would link the scheme of every API group Kubernetes has into
// obsctl, for the three kinds it handles as structs (the lock's Lease, the
// inventory's Secret, a Namespace). Its methods are those of the typed
// clientset's.
type Typed[T any, P interface {
	*T
	runtime.Object
}] struct {
	ri  dynamic.ResourceInterface
	gvk schema.GroupVersionKind
}

// Leases reads and writes Leases in namespace ns.
func Leases(client dynamic.Interface, ns string) Typed[coordinationv1.Lease, *coordinationv1.Lease] {
	gv := coordinationv1.SchemeGroupVersion
	return Typed[coordinationv1.Lease, *coordinationv1.Lease]{client.Resource(gv.WithResource("leases")).Namespace(ns), gv.WithKind("Lease")}
}

// Secrets reads and writes Secrets in namespace ns.
func Secrets(client dynamic.Interface, ns string) Typed[corev1.Secret, *corev1.Secret] {
	gv := corev1.SchemeGroupVersion
	return Typed[corev1.Secret, *corev1.Secret]{client.Resource(gv.WithResource("secrets")).Namespace(ns), gv.WithKind("Secret")}
}

// Namespaces reads and writes Namespaces.
func Namespaces(client dynamic.Interface) Typed[corev1.Namespace, *corev1.Namespace] {
	gv := corev1.SchemeGroupVersion
	return Typed[corev1.Namespace, *corev1.Namespace]{client.Resource(gv.WithResource("namespaces")), gv.WithKind("Namespace")}
}

// Services reads Services in namespace ns.
func Services(client dynamic.Interface, ns string) Typed[corev1.Service, *corev1.Service] {
	gv := corev1.SchemeGroupVersion
	return Typed[corev1.Service, *corev1.Service]{client.Resource(gv.WithResource("services")).Namespace(ns), gv.WithKind("Service")}
}

// Pods reads Pods in namespace ns.
func Pods(client dynamic.Interface, ns string) Typed[corev1.Pod, *corev1.Pod] {
	gv := corev1.SchemeGroupVersion
	return Typed[corev1.Pod, *corev1.Pod]{client.Resource(gv.WithResource("pods")).Namespace(ns), gv.WithKind("Pod")}
}

// List lists the objects opts select.
func (t Typed[T, P]) List(ctx context.Context, opts metav1.ListOptions) ([]P, error) {
	l, err := t.ri.List(ctx, opts)
	if err != nil {
		return nil, err
	}
	out := make([]P, 0, len(l.Items))
	for i := range l.Items {
		o, err := t.from(&l.Items[i])
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// Get reads the object called name.
func (t Typed[T, P]) Get(ctx context.Context, name string, opts metav1.GetOptions) (P, error) {
	u, err := t.ri.Get(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	return t.from(u)
}

// Create creates obj and returns it as the server stored it.
func (t Typed[T, P]) Create(ctx context.Context, obj P, opts metav1.CreateOptions) (P, error) {
	u, err := t.to(obj)
	if err != nil {
		return nil, err
	}
	if u, err = t.ri.Create(ctx, u, opts); err != nil {
		return nil, err
	}
	return t.from(u)
}

// Update replaces obj, conditional on its resourceVersion when it has one,
// and returns it as the server stored it.
func (t Typed[T, P]) Update(ctx context.Context, obj P, opts metav1.UpdateOptions) (P, error) {
	u, err := t.to(obj)
	if err != nil {
		return nil, err
	}
	if u, err = t.ri.Update(ctx, u, opts); err != nil {
		return nil, err
	}
	return t.from(u)
}

// Delete deletes the object called name.
func (t Typed[T, P]) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	return t.ri.Delete(ctx, name, opts)
}

func (t Typed[T, P]) to(obj P) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %s to JSON: %w", t.gvk.Kind, err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(t.gvk)
	return u, nil
}

func (t Typed[T, P]) from(u *unstructured.Unstructured) (P, error) {
	obj := P(new(T))
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		return nil, fmt.Errorf("read %s %s: %w", t.gvk.Kind, u.GetName(), err)
	}
	return obj, nil
}
