package release

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/obsctl/obsctl/internal/kube"
)

// prune deletes what the plan prunes, in its order (custom resources
// first, namespaces and CRDs last), each with foreground propagation and
// the UID the plan saw as a precondition: an object replaced since is not
// the one the plan decided about. Kept objects are reported too. It
// returns the refs to keep in the inventory: those it failed to delete.
func (r *run) prune(ctx context.Context) ([]kube.Ref, error) {
	var kept []kube.Ref
	var errs []error
	for _, c := range r.plan.Changes {
		if c.Desired != nil {
			continue
		}
		wave := kube.WaveOf(c.Ref.GroupKind())
		if c.Action != Pruned {
			if c.Action == Kept {
				r.emit(ObjectResult{Ref: c.Ref, Wave: wave, Action: Kept, Note: c.Reason})
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			kept = append(kept, c.Ref)
			errs = append(errs, fmt.Errorf("prune %s: %w", c.Ref, err))
			r.emit(ObjectResult{Ref: c.Ref, Wave: wave, Action: Kept, Note: "not pruned: the run ended first"})
			continue
		}
		start := time.Now()
		note, err := r.deleteOne(ctx, c)
		o := ObjectResult{Ref: c.Ref, Wave: wave, Action: Pruned, Note: note, Destructive: c.Destructive, Duration: time.Since(start)}
		var kerr keepError
		switch {
		case errors.As(err, &kerr):
			kept = append(kept, c.Ref)
			o.Action, o.Note = Kept, kerr.why
		case err != nil:
			kept = append(kept, c.Ref)
			o.Action, o.Err = Failed, err
			errs = append(errs, fmt.Errorf("prune %s: %w", c.Ref, err))
		}
		r.emit(o)
	}
	return kept, errors.Join(errs...)
}

// keepError is a prune that found the object should stay after all.
type keepError struct{ why string }

func (e keepError) Error() string { return e.why }

func (r *run) deleteOne(ctx context.Context, c Change) (string, error) {
	if c.Reason == "already being deleted" {
		return c.Reason, nil
	}
	ri, err := r.c.resource(c.Ref)
	if err != nil {
		return "", err
	}
	if ri == nil {
		return "already gone: the cluster no longer has its kind", nil
	}
	fg := metav1.DeletePropagationForeground
	opts := metav1.DeleteOptions{PropagationPolicy: &fg}
	if c.Live != nil {
		uid := c.Live.GetUID()
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	err = RetryRequest(ctx, func(ctx context.Context) error {
		return ri.Delete(ctx, c.Ref.Name, opts)
	})
	switch {
	case apierrors.IsNotFound(err):
		return "already gone", nil
	case apierrors.IsConflict(err):
		return "", keepError{"it was replaced while obsctl looked at it"}
	case err != nil:
		return "", err
	}
	return "", nil
}
