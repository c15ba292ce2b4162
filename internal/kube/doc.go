// Package kube is how obsctl reaches a cluster. It belongs to the apply
// stage, the last of the pipeline (load -> compile -> lint -> render ->
// apply), and is the only part of obsctl that talks to a Kubernetes API
// server: commands that read or change a cluster get their connection here.
//
// RESTConfig finds the cluster the way kubectl users expect (--kubeconfig,
// KUBECONFIG, ~/.kube/config, then the pod's service account, with
// --context choosing among contexts). NewClients builds the dynamic client,
// a memory-cached discovery client and a RESTMapper that can be reset once a
// CustomResourceDefinition has been applied, and ResourceFor turns an object
// into the resource interface to send it to. IsTransient and Retry tell
// passing API server trouble (a restart, an etcd leader change, overload)
// from real failures and retry the former, and Describe names an object the
// same way in every message.
package kube
