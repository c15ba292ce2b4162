package kube

// The labels and annotations obsctl writes and reads on cluster objects,
// in one place: the apply engine, the release, render, the lock, the
// inventory and obsctl rbac all name them from here.
const (
	// ManagedBy is the value of LabelManagedBy on what obsctl applies,
	// and its server-side apply field manager.
	ManagedBy = "obsctl"
	// LabelManagedBy marks every object obsctl applies.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelStack names the stack an object belongs to.
	LabelStack = "obsctl.dev/stack"
	// LabelGenerated marks the Secrets whose values obsctl generated:
	// created once, never changed, never pruned by a routine command.
	LabelGenerated = "obsctl.dev/generated"
	// LabelRelease marks the ConfigMap that carries a stack's identity in
	// render output; its value is the stack's name.
	LabelRelease = "obsctl.dev/release"
	// LabelAccess marks the roles and bindings obsctl rbac prints.
	LabelAccess = "obsctl.dev/access"

	// AnnotationAdopt, set to "true" on an existing object, lets a stack
	// take it over without --adopt.
	AnnotationAdopt = "obsctl.dev/adopt"
	// AnnotationCreateOnly, on a desired object, says the stack needs it
	// to exist but does not own it: created when missing, else left alone.
	AnnotationCreateOnly = "obsctl.dev/create-only"
	// AnnotationReplicas, on a Deployment or StatefulSet, holds the
	// replicas the stack's profile wants.
	AnnotationReplicas = "obsctl.dev/replicas"
	// AnnotationUsedByPrefix, followed by a stack's name, marks a shared
	// object (a CRD) another stack owns as used by that stack.
	AnnotationUsedByPrefix = "obsctl.dev/used-by."
)
