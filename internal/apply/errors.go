package apply

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FieldConflict is one field another field manager owns: in a conflict,
// with a different value from the one obsctl applies (ConflictError,
// ObjectResult.TookBack), or one obsctl leaves to it
// (ObjectResult.LeftTo).
type FieldConflict struct {
	Manager string // the other field manager, e.g. "kubectl-edit"
	Field   string // the field path as the API server writes it, e.g. .spec.replicas
}

// ConflictError is a server-side apply conflict: other field managers own
// fields obsctl sets. Apply fails with it under ConflictsFail; under
// ConflictsTake (or with Options.ForceConflicts) the fields are taken back
// instead.
type ConflictError struct {
	Object    ObjectRef
	Conflicts []FieldConflict // sorted by manager, then field
	Err       error           // the API server's error
}

// Error names the object, every conflicting manager with its fields, and
// the way out.
func (e *ConflictError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", e.Object)
	if len(e.Conflicts) == 0 {
		fmt.Fprintf(&b, "%v", e.Err)
	} else {
		b.WriteString("conflict with ")
		var parts []string
		for i := 0; i < len(e.Conflicts); {
			m := e.Conflicts[i].Manager
			var fields []string
			for ; i < len(e.Conflicts) && e.Conflicts[i].Manager == m; i++ {
				fields = append(fields, e.Conflicts[i].Field)
			}
			parts = append(parts, fmt.Sprintf("field manager %q over %s", m, strings.Join(fields, ", ")))
		}
		b.WriteString(strings.Join(parts, "; "))
	}
	b.WriteString(" (apply with --conflicts=take, the default, to take these fields back)")
	return b.String()
}

// Unwrap returns the API server's error, so apierrors.IsConflict holds.
func (e *ConflictError) Unwrap() error { return e.Err }

// Managers returns the names of the conflicting field managers, sorted and
// without repeats.
func (e *ConflictError) Managers() []string {
	var out []string
	for _, c := range e.Conflicts {
		if len(out) == 0 || out[len(out)-1] != c.Manager {
			out = append(out, c.Manager)
		}
	}
	return out
}

// newConflictError reads the conflicts from the causes of an apply conflict.
// The API server writes one cause per field, with the message
// `conflict with "manager"` and, for managers that updated rather than
// applied, ` using apps/v1` after it.
func newConflictError(ref ObjectRef, err error) *ConflictError {
	ce := &ConflictError{Object: ref, Err: err}
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return ce
	}
	for _, c := range status.Status().Details.Causes {
		if c.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		ce.Conflicts = append(ce.Conflicts, FieldConflict{Manager: managerOf(c.Message), Field: c.Field})
	}
	sort.Slice(ce.Conflicts, func(i, j int) bool {
		a, b := ce.Conflicts[i], ce.Conflicts[j]
		if a.Manager != b.Manager {
			return a.Manager < b.Manager
		}
		return a.Field < b.Field
	})
	return ce
}

// managerOf extracts the manager's name from a conflict cause's message,
// falling back to the message itself when it has another shape.
func managerOf(msg string) string {
	rest, ok := strings.CutPrefix(msg, "conflict with ")
	if !ok {
		return msg
	}
	if q, err := strconv.QuotedPrefix(rest); err == nil {
		if name, err := strconv.Unquote(q); err == nil {
			return name
		}
	}
	return rest
}

// FailedError reports the objects an Apply could not apply. Errors of every
// failed object are reachable with errors.As and errors.Is.
type FailedError struct {
	Failed []ObjectResult // the objects with Action Failed, in input order
	// Skipped is how many objects were not sent: held back because what
	// they depend on failed, or left when the run ended.
	Skipped int
}

// Error lists every failed object's error, one per line.
func (e *FailedError) Error() string {
	var b strings.Builder
	if len(e.Failed) == 1 {
		b.WriteString("apply: 1 object failed")
	} else {
		fmt.Fprintf(&b, "apply: %d objects failed", len(e.Failed))
	}
	if e.Skipped > 0 {
		fmt.Fprintf(&b, ", %d not applied", e.Skipped)
	}
	b.WriteString(":")
	for _, f := range e.Failed {
		b.WriteString("\n  ")
		b.WriteString(strings.ReplaceAll(f.Err.Error(), "\n", "\n  "))
	}
	return b.String()
}

// Unwrap returns the failed objects' errors.
func (e *FailedError) Unwrap() []error {
	out := make([]error, 0, len(e.Failed))
	for _, f := range e.Failed {
		out = append(out, f.Err)
	}
	return out
}

// NotReady explains why one object did not become ready in time.
type NotReady struct {
	Object ObjectRef
	// Status is the readiness judgement, as `kubectl rollout status` words
	// it, e.g. "0 of 3 updated replicas are available".
	Status string
	// Conditions are the object's conditions that are not in their good
	// state, as "Type=Status Reason: message".
	Conditions []string
	// Pods describes the object's pods that are not ready: pending and why
	// (unschedulable, waiting containers).
	Pods []string
	// Events are the newest warning events about the object and its pods,
	// newest first.
	Events []string
}

// NotReadyError is returned by Apply with Options.Wait when objects did not
// become ready before Options.Timeout. The objects were applied; the CLI
// maps this error to its own exit code.
type NotReadyError struct {
	Timeout time.Duration // Options.Timeout
	Waited  time.Duration // from the start of the Apply until it gave up
	Objects []NotReady    // in apply order
}

// Error says, for each object, why it is not ready.
func (e *NotReadyError) Error() string {
	var b strings.Builder
	n := len(e.Objects)
	noun := "objects are"
	if n == 1 {
		noun = "object is"
	}
	fmt.Fprintf(&b, "%d %s not ready after %s (timeout %s):", n, noun, e.Waited.Round(100*time.Millisecond), e.Timeout)
	for _, o := range e.Objects {
		fmt.Fprintf(&b, "\n  %s: %s", o.Object, o.Status)
		for _, c := range o.Conditions {
			fmt.Fprintf(&b, "\n    condition %s", c)
		}
		for _, p := range o.Pods {
			fmt.Fprintf(&b, "\n    %s", p)
		}
		for _, ev := range o.Events {
			fmt.Fprintf(&b, "\n    event %s", ev)
		}
	}
	return b.String()
}
