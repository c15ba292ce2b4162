package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/obsctl/obsctl/internal/kube"
)

// A StatefulSet's volume claim templates, selector and service name cannot
// change (a profile change does that): the API server refuses the apply,
// and the only way to the new object is to delete the old one and create
// it again. That recreates its pods, a change someone has to agree to, so
// the engine replaces only the objects Options.Replace allows; the others
// fail with a *ReplaceNeededError, which the release lists as a
// destructive change to confirm. A server dry run of an allowed replace
// deletes nothing: it sends the delete and the create as dry runs (the
// server checks both, and returns the object the replace would make) and
// reports Replaced.

// immutableStatefulSet reports whether err is the API server refusing to
// change a StatefulSet field that cannot change.
func immutableStatefulSet(it *item, err error) bool {
	return it.gvk.GroupKind() == gkStatefulSet && apierrors.IsInvalid(err) &&
		strings.Contains(err.Error(), "updates to statefulset spec for fields other than")
}

// replaceTimeout bounds waiting for a replaced object to go.
const replaceTimeout = time.Minute

// replaceOne handles an object the API server refused to change in place,
// apiErr saying why: it fails it with a *ReplaceNeededError unless
// Options.Replace allows replacing it, and replaces it (or, in a server
// dry run, checks the delete) otherwise.
func (r *run) replaceOne(ctx context.Context, it *item, ri dynamic.ResourceInterface, apiErr error, force bool, start time.Time) {
	if !r.opts.Replace[it.res.Object.ID()] {
		it.res.Action = Failed
		it.res.Err = newReplaceNeededError(it.res.Object, apiErr)
		return
	}
	// What the apply said about conflicts and replicas is about the old
	// object; the new one has no other field managers and gets the whole
	// desired object, replicas included.
	it.res.TookBack, it.res.LeftTo, it.res.Note = nil, nil, ""
	if it.full != nil {
		it.p, it.full = it.full, nil
	}
	var out *unstructured.Unstructured
	err := r.remove(ctx, it, ri)
	switch {
	case err != nil:
	case it.res.DryRun:
		out, err = r.dryRunCreate(ctx, it, ri)
	default:
		out, err = r.send(ctx, it, ri, force, start)
	}
	if err != nil {
		it.res.Action, it.res.Err = Failed, fmt.Errorf("%s: %w", it.res.Object, err)
		return
	}
	it.res.Action, it.res.Applied = Replaced, out
	if it.res.DryRun {
		it.addNote("would be replaced: a field StatefulSets cannot change did; its pods would be recreated, their volumes kept")
		return
	}
	it.addNote("replaced: a field StatefulSets cannot change did; its pods were recreated, their volumes kept")
}

// remove deletes the item's live object and what it owns (in the
// foreground: the object goes last) and waits until it is gone, so that
// applying it again creates it afresh; its pods go with it (an adopted pod
// could not take the new volumes) and their volume claims stay. In a
// server dry run the delete is a dry run, and nothing is waited for.
func (r *run) remove(ctx context.Context, it *item, ri dynamic.ResourceInterface) error {
	name := it.p.obj.GetName()
	live := it.live
	if live == nil {
		// Not among the objects listed (it lacks the stack's labels):
		// read it, for the UID that makes sure the delete takes the
		// object the apply met.
		err := r.do(ctx, func(ctx context.Context) error {
			r.requests.Add(1)
			var err error
			live, err = ri.Get(ctx, name, metav1.GetOptions{})
			return err
		})
		if err != nil {
			return fmt.Errorf("replace: read: %w", err)
		}
	}
	uid := live.GetUID()
	fg := metav1.DeletePropagationForeground
	do := metav1.DeleteOptions{PropagationPolicy: &fg, Preconditions: &metav1.Preconditions{UID: &uid}}
	if it.res.DryRun {
		do.DryRun = []string{metav1.DryRunAll}
	}
	err := r.do(ctx, func(ctx context.Context) error {
		r.requests.Add(1)
		return ri.Delete(ctx, name, do)
	})
	if it.res.DryRun {
		if err != nil {
			return fmt.Errorf("replace: delete (server dry run): %w", err)
		}
		return nil
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("replace: delete: %w", err)
	}
	deadline := time.Now().Add(replaceTimeout)
	for {
		r.requests.Add(1)
		_, err := ri.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replace: still there %s after its delete", replaceTimeout)
		}
		if err := kube.Sleep(ctx, crdPollInterval); err != nil {
			return err
		}
	}
}

// dryRunCreate returns the object a replace would create, as a server dry
// run of creating it: what diff shows as the replace's result, defaults
// and admission included. The server cannot dry-run creating an object
// that still exists, so the dry run creates it under a name generated from
// its own, and the answer gets its own name back.
func (r *run) dryRunCreate(ctx context.Context, it *item, ri dynamic.ResourceInterface) (*unstructured.Unstructured, error) {
	obj := it.p.obj.DeepCopy()
	name := obj.GetName()
	obj.SetName("")
	obj.SetGenerateName(name + "-")
	var out *unstructured.Unstructured
	err := r.do(ctx, func(ctx context.Context) error {
		r.requests.Add(1)
		var err error
		out, err = ri.Create(ctx, obj, metav1.CreateOptions{FieldManager: FieldManager, DryRun: []string{metav1.DryRunAll}})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("replace: create (server dry run): %w", err)
	}
	out.SetName(name)
	out.SetGenerateName("")
	return out, nil
}

// ReplaceNeededError is an object the API server will not change in place
// (a StatefulSet whose volume claim templates, selector or service name
// changed) and that Options.Replace does not allow replacing. Replacing it
// deletes and re-creates it, and its pods; the release asks for a
// confirmation first, then applies again with the object in
// Options.Replace.
type ReplaceNeededError struct {
	Object ObjectRef
	// Message is the API server's, naming the fields that cannot change.
	Message string
	// Err is the API server's error: apierrors.IsInvalid holds.
	Err error
}

func newReplaceNeededError(ref ObjectRef, err error) *ReplaceNeededError {
	msg := err.Error()
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		msg = status.Status().Message
	}
	return &ReplaceNeededError{Object: ref, Message: msg, Err: err}
}

// Error names the object, says that it needs a replace and what that
// means, and gives the server's reason.
func (e *ReplaceNeededError) Error() string {
	return fmt.Sprintf("%s: cannot be changed in place, only replaced (deleted and created again, its pods with it; not allowed in this apply): %s", e.Object, e.Message)
}

// Unwrap returns the API server's error.
func (e *ReplaceNeededError) Unwrap() error { return e.Err }
