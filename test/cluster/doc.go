// Package cluster runs a real, local Kubernetes control plane for tests and
// `make cluster-up`: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler as processes built from the pinned Go modules in test/kube,
// and kwok simulating the nodes and their kubelets. It sits outside the
// obsctl pipeline: it is what the apply stage and the cluster tests talk to.
//
// EnsureBinaries builds (or finds) the binaries, Start runs a control plane
// on its own loopback address, and Harness gives a test package one shared
// cluster from its TestMain.
package cluster
