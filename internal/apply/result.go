package apply

import (
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/kube"
)

// ObjectRef names one object: kube's one reference type.
type ObjectRef = kube.Ref

// RefOf returns the reference of obj as given: its namespace is the one the
// object names, before any defaulting.
func RefOf(obj *unstructured.Unstructured) ObjectRef { return kube.RefOf(obj) }

// Action is what happened to one object.
type Action string

// The actions. Created, Configured, Replaced and Unchanged are successes;
// with a server dry run they say what would have happened (see
// ObjectResult.Verb).
const (
	Created    Action = "created"
	Configured Action = "configured"
	// Replaced objects were deleted and created again: the API server
	// would not change them in place, and Options.Replace allowed it.
	Replaced  Action = "replaced"
	Unchanged Action = "unchanged"
	Failed    Action = "failed"
	// Skipped objects were not sent: held back because an object they
	// depend on failed (ObjectResult.HeldBackBy names it), or the context
	// ended first.
	Skipped Action = "skipped"
	// Ready is only ever an Event's action: a waited-for object has rolled
	// out, or a CustomResourceDefinition is Established.
	Ready Action = "ready"
)

// DryRun selects a dry-run mode. A client dry run never reaches the engine:
// the caller prints the rendered objects instead.
type DryRun string

// The dry-run modes Apply accepts.
const (
	DryRunNone   DryRun = ""
	DryRunServer DryRun = "server"
)

// ObjectResult is the outcome for one object.
type ObjectResult struct {
	Object ObjectRef // with the namespace the object was applied in
	Wave   Wave
	Action Action
	DryRun bool // the action is what a server dry run says would happen
	// Err is set when Action is Failed: a *ConflictError, a
	// *ReplaceNeededError, or the API error wrapped with the object's
	// "Kind namespace/name".
	Err error
	// Duration is the time spent applying this object.
	Duration time.Duration
	// Note says more about the action: why an object was replaced, what
	// held it back, which fields were taken back or left to others.
	Note string
	// HeldBackBy names, for an object held back (Skipped), the object of
	// the input it depends on that failed or was itself held back: its
	// Namespace, its CustomResourceDefinition, the role it binds.
	HeldBackBy *ObjectRef
	// TookBack are the fields other field managers had changed that the
	// apply took back (Options.Conflicts is ConflictsTake), sorted by
	// manager, then field; the note says them too.
	TookBack []FieldConflict
	// LeftTo are the fields the apply left to the other field managers
	// that own them: spec.replicas of a Deployment or StatefulSet that
	// kubectl scale or an autoscaler scaled. The note says them too, with
	// the live value.
	LeftTo []FieldConflict
	// Live is the object as it was found before the apply among the stack's
	// objects, or as Options.Live gave it; nil when it was not there (or
	// could not be listed).
	Live *unstructured.Unstructured
	// Applied is the object as the server returned it from the apply, or
	// Live when it was left unchanged; nil when the object failed (but for
	// a CRD stored and then never Established) or was skipped. For a
	// Replaced object in a server dry run it is the object the server
	// would create in its place.
	Applied *unstructured.Unstructured
}

// Verb is the action as a kubectl user reads it: "created", or
// "created (server dry run)".
func (r ObjectResult) Verb() string {
	if r.DryRun && r.Action != Failed && r.Action != Skipped {
		return string(r.Action) + " (server dry run)"
	}
	return string(r.Action)
}

// Result is the outcome of one Apply.
type Result struct {
	// Objects holds one entry per input object, in input order.
	Objects []ObjectResult
	DryRun  DryRun
	// Patches is how many PATCH (server-side apply) requests were sent. An
	// unchanged re-apply sends none.
	Patches int
	// Requests is how many API requests the engine sent in all: lists,
	// patches and the reads of the wait. Discovery, which the RESTMapper
	// does, is not counted.
	Requests int
	// Duration is the wall time of the whole Apply.
	Duration time.Duration
}

// Count returns how many objects ended with action a.
func (r *Result) Count(a Action) int {
	n := 0
	for _, o := range r.Objects {
		if o.Action == a {
			n++
		}
	}
	return n
}

// Event is what an Observer hears about one object: once when its apply
// ends (any action but Ready), and, for objects the engine waits for, once
// more with Ready when it has rolled out or is Established. A
// CustomResourceDefinition that will never become Established (its names
// are taken) is heard once more with Failed instead: its custom resources
// are then held back.
type Event struct {
	Object ObjectRef
	Wave   Wave
	Action Action
	DryRun bool
	// Duration is the time spent applying the object, or for Ready the
	// time from the end of its apply until it was seen ready.
	Duration time.Duration
	Err      error
	// Note says more about the action (see ObjectResult.Note).
	Note string
	// HeldBackBy is ObjectResult.HeldBackBy.
	HeldBackBy *ObjectRef
	// TookBack is ObjectResult.TookBack.
	TookBack []FieldConflict
	// LeftTo is ObjectResult.LeftTo.
	LeftTo []FieldConflict
}

// Observer hears the progress of an Apply, for example to print one line
// per object and a live progress line. Observe is called from one goroutine
// at a time and must not block for long: the workers wait for it.
type Observer interface {
	Observe(Event)
}

// ObserverFunc adapts a function to an Observer.
type ObserverFunc func(Event)

// Observe calls f(e).
func (f ObserverFunc) Observe(e Event) { f(e) }
