package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/inventory"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/render"
)

// Source is what a release applies and where it came from.
type Source struct {
	// Objects are the objects of the set: the rendered stack, a
	// revision's manifests, or the manifests given to apply -f.
	Objects []*unstructured.Unstructured
	// Generated are the Secrets whose values the release generates once
	// (or takes from the environment) and never changes.
	Generated []render.GeneratedSecret
	// Requires are the Secrets the stack reads that its users create; the
	// release checks them before it changes anything.
	Requires []render.Requirement
	// Profile is the stack's profile ("" for manifests that are no
	// stack); ProfileNamed says the user named it (--profile).
	Profile      string
	ProfileNamed bool
	// Repo says where the set comes from, for history: a folder, "the
	// embedded default repo", or the manifests' paths.
	Repo string
	// Implicit says the embedded default repo was taken because no
	// obsctl.yaml was found: the release then refuses to stand it up
	// where another stack or another repo's release is.
	Implicit bool
	// Git is the repo's commit, when it is a git work tree.
	Git *inventory.GitInfo
	// RollbackOf is the revision a rollback re-applies; 0 otherwise.
	RollbackOf int
	// Defaults are the items of the default content the repo builds on
	// (load.Repo.DefaultItems), recorded with the revision; nil for a
	// repo that builds on none, and for manifests.
	Defaults map[string]string
}

// Options say how to release.
type Options struct {
	Stack, Namespace string
	// DryRun sends every object as a server dry run and changes nothing:
	// no lock, no prune, no revision.
	DryRun bool
	// Prune deletes what the previous revision had and this one does not;
	// PruneProtected names the protected kinds it may delete.
	Prune          bool
	PruneProtected []Protected
	// Adopt takes over existing objects obsctl did not create.
	Adopt bool
	// Yes confirms destructive changes; without it, Confirm is asked, and
	// without Confirm the release stops with a *ConfirmError.
	Yes     bool
	Confirm func(changes []string) (bool, error)
	// Conflicts says what to do with fields other managers took over.
	Conflicts apply.ConflictPolicy
	// Wait waits for workloads to roll out.
	Wait bool
	// Deadline bounds the whole run; Timeout is the --timeout it came
	// from, for messages.
	Deadline time.Time
	Timeout  time.Duration
	// WaitLock waits while another run holds the lock; LockLease is the
	// lock's lease; Holder says who holds it, for the other runs.
	WaitLock  bool
	LockLease time.Duration
	Holder    string
	// Message, User and Host go into the revision.
	Message, User, Host string
	// Getenv reads the environment, for Secrets given as {env: VAR}.
	Getenv func(string) string
	// Observer hears every object's outcome and the release's notes.
	Observer Observer

	// profileUnnamed, for Diff, says a profile change was shown as if
	// named: apply would ask for it.
	profileUnnamed bool
}

// ObjectResult is what became, or would become, of one object.
type ObjectResult struct {
	Ref    kube.Ref
	Wave   kube.Wave
	Action Action
	// DryRun says the action is what a server dry run predicts.
	DryRun bool
	// Note says more: a reason, fields taken back, what a dry run could
	// not check.
	Note string
	// Destructive says what data the change loses.
	Destructive string
	Err         error
	Duration    time.Duration
	// Before and After are the object as it is and as it would be, for
	// diff: cleaned of server-set fields, Secret values redacted. Set only
	// by Diff.
	Before, After *unstructured.Unstructured
}

// Result is the outcome of one release.
type Result struct {
	Stack, Namespace string
	// Objects holds one entry per object the plan decided about, in apply
	// order, then in prune order.
	Objects []ObjectResult
	// Revision is the revision recorded; 0 when none was (a dry run, a
	// no-op, a release stopped before it changed anything).
	Revision   int
	RollbackOf int
	// Patches and Requests count the engine's API requests.
	Patches, Requests int
	// Confirm are the destructive changes of the plan.
	Confirm []string
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

// EventType says what an Event is about.
type EventType int

// The event types.
const (
	// EventObject is one object's outcome.
	EventObject EventType = iota
	// EventReady says a waited-for object rolled out.
	EventReady
	// EventNote is a message for the user (standard error).
	EventNote
	// EventObjects announces the objects the release will apply, in
	// order, before the first outcome (for progress).
	EventObjects
)

// Event is what an Observer hears.
type Event struct {
	Type   EventType
	Object ObjectResult
	// Text is the note, for EventNote.
	Text string
	// Objects are the objects to apply, for EventObjects.
	Objects []*unstructured.Unstructured
}

// Observer hears a release as it goes; the CLI prints what it hears. It
// never runs concurrently with itself.
type Observer interface{ Observe(Event) }

// ObserverFunc adapts a function to an Observer.
type ObserverFunc func(Event)

// Observe calls f(e).
func (f ObserverFunc) Observe(e Event) { f(e) }

// ConfirmError stops a release with destructive changes nobody
// confirmed. Nothing was changed.
type ConfirmError struct {
	Stack   string
	Changes []string
}

func (e *ConfirmError) Error() string {
	return fmt.Sprintf("stack %s: nothing changed: %d destructive change(s) need confirming with --yes:\n  %s",
		e.Stack, len(e.Changes), strings.Join(e.Changes, "\n  "))
}

// ConflictError says objects in the way were left alone: they exist and are
// not the stack's. Everything else was applied.
type ConflictError struct {
	Conflicts []Change
}

func (e *ConflictError) Error() string {
	var parts []string
	for _, c := range e.Conflicts {
		parts = append(parts, c.Ref.String()+": "+c.Reason)
	}
	return fmt.Sprintf("%d object(s) left alone, not the stack's:\n  %s", len(e.Conflicts), strings.Join(parts, "\n  "))
}

// RequirementError says Secrets the stack reads and its users create are
// missing: the components that read them would not start, so they were
// held back; everything else was applied.
type RequirementError struct {
	Missing []string // "Secret monitoring/opsgenie (missing), read by Alertmanager"
	Fixes   []string // the kubectl commands that create them
	// HeldBack are the components held back until they exist.
	HeldBack []string
}

func (e *RequirementError) Error() string {
	return fmt.Sprintf("%s held back: the stack reads Secrets that do not exist, and its pods would not start:\n  %s\ncreate them, then apply again:\n  %s",
		strings.Join(e.HeldBack, ", "), strings.Join(e.Missing, "\n  "), strings.Join(e.Fixes, "\n  "))
}

// RepoError says the release would stand up the embedded default repo's
// stack where another repo's release is: obsctl never does so without
// being told.
type RepoError struct{ Msg string }

func (e *RepoError) Error() string { return e.Msg }

// TimeoutError says the run's deadline passed before it was done.
type TimeoutError struct {
	Timeout time.Duration
	Err     error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("--timeout %s ran out: %v", e.Timeout, e.Err)
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// AsTimeout wraps err as a *TimeoutError once the run's deadline has
// passed: whatever failed then (a request cut short, a server that stopped
// answering, a wait) failed because time ran out, and the exit code says
// so. An interrupt stays what it is.
func AsTimeout(ctx context.Context, err error, timeout time.Duration) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var te *TimeoutError
	var nr *apply.NotReadyError
	if errors.As(err, &te) || errors.As(err, &nr) {
		return err
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return &TimeoutError{Timeout: timeout, Err: err}
	}
	return err
}
