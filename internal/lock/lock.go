package lock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"

	"k8s.io/utils/clock"

	"github.com/obsctl/obsctl/internal/kube"
)

// DefaultLeaseDuration is how long a lock outlives its last renewal when
// Options.LeaseDuration is zero.
const DefaultLeaseDuration = 60 * time.Second

// DefaultPollInterval is how often a waiting Acquire looks at the lease
// again when Options.PollInterval is zero.
const DefaultPollInterval = 2 * time.Second

const (
	fieldManager   = "obsctl"
	labelManagedBy = kube.LabelManagedBy
	labelStack     = kube.LabelStack
)

// Options say which lock to take and how.
type Options struct {
	// Namespace is the stack's namespace, where the Lease lives. Acquire
	// creates it when it does not exist.
	Namespace string
	// Stack names the stack; the Lease is obsctl-<Stack>.
	Stack string
	// Holder says who takes the lock, for the error a second apply shows,
	// e.g. "alice@build-7 pid 4242".
	Holder string
	// LeaseDuration is how long the lock stays taken after its last
	// renewal; a run that dies leaves the lock for at most this long. It is
	// rounded up to whole seconds (the Lease stores seconds); 0 means
	// DefaultLeaseDuration.
	LeaseDuration time.Duration
	// Wait makes Acquire wait until the lock is free (or ctx ends) instead
	// of failing with a *HeldError.
	Wait bool
	// PollInterval is how often a waiting Acquire reads the lease again;
	// 0 means DefaultPollInterval.
	PollInterval time.Duration
	// OnWait, when set, is called once when Acquire starts to wait, with
	// who holds the lock, so a command can say why it is not progressing.
	OnWait func(*HeldError)
	// Clock gives the time for lease timestamps, expiry, renewals and
	// polling; nil means the real clock. Tests pass a fake one.
	Clock clock.Clock
}

// HeldError is returned by Acquire without Options.Wait when someone else
// holds the lock, and wrapped in the error of a waiting Acquire whose ctx
// ended.
type HeldError struct {
	Namespace string // the Lease's namespace
	Lease     string // the Lease's name
	Stack     string
	Holder    string    // the holder's identity
	Since     time.Time // when the holder acquired the lock
	Renewed   time.Time // when the holder last renewed it
	Expires   time.Time // when the lock is free unless renewed again
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("stack %q is locked by %s since %s (lease %s/%s, expires %s unless renewed)",
		e.Stack, e.Holder, e.Since.UTC().Format(time.RFC3339), e.Namespace, e.Lease, e.Expires.UTC().Format(time.RFC3339))
}

// LeaseName returns the name of the Lease that locks stack.
func LeaseName(stack string) string { return "obsctl-" + stack }

// Lock is a held lock. It renews itself until Release or until it is lost.
type Lock struct {
	client   dynamic.Interface
	clock    clock.Clock
	ns, name string
	stack    string
	holder   string
	duration time.Duration
	acquired time.Time // the acquireTime we wrote, to tell our lease from a later one

	mu    sync.Mutex
	lease *coordinationv1.Lease // as last written or read by us
	err   error                 // why the lock was lost

	lost        chan struct{}
	lostOnce    sync.Once
	cancel      context.CancelFunc
	done        chan struct{} // closed when the renewal goroutine returns
	releaseOnce sync.Once
	releaseErr  error
	// createdNS says Acquire created the namespace.
	createdNS bool
}

// errRace says another process changed the lease between our read and our
// write; reading it again tells who won.
var errRace = errors.New("lease changed concurrently")

// Acquire takes the lock of opts.Stack. It returns a *HeldError (test with
// errors.As) when someone else holds it and opts.Wait is false; with
// opts.Wait it polls until the lock is free and returns ctx's error, joined
// with the last *HeldError, if ctx ends first. A lock whose holder stopped
// renewing it for longer than its duration is taken over.
//
// The lock renews itself in the background until Release; ctx bounds only
// Acquire itself, not the renewals.
func Acquire(ctx context.Context, client dynamic.Interface, opts Options) (*Lock, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.LeaseDuration == 0 {
		opts.LeaseDuration = DefaultLeaseDuration
	}
	// Round up to what the Lease can say, so that what we renew against
	// is what everyone else reads.
	secs := (opts.LeaseDuration + time.Second - 1) / time.Second
	opts.LeaseDuration = secs * time.Second
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	l := &Lock{
		client:   client,
		clock:    opts.Clock,
		ns:       opts.Namespace,
		name:     LeaseName(opts.Stack),
		stack:    opts.Stack,
		holder:   opts.Holder,
		duration: opts.LeaseDuration,
		lost:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	var last *HeldError // the holder waited for, once there is one
	for {
		err := l.tryAcquire(ctx)
		if err == nil {
			break
		}
		var held *HeldError
		switch {
		case errors.Is(err, errRace):
			continue // someone else wrote first: read again to see who
		case errors.As(err, &held) && opts.Wait:
			if last == nil && opts.OnWait != nil {
				opts.OnWait(held)
			}
			last = held
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("wait for lock: %w; %w", ctx.Err(), held)
			case <-l.clock.After(opts.PollInterval):
			}
		case last != nil && deadlineNear(ctx, opts.PollInterval):
			// The read failed because the wait is over: client-go's rate
			// limiter refuses a request it would hold past the deadline
			// ("would exceed context deadline"), before the context ends.
			return nil, fmt.Errorf("wait for lock: %w; %w", context.DeadlineExceeded, last)
		default:
			return nil, err
		}
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	go l.renewLoop(rctx)
	return l, nil
}

func (o Options) validate() error {
	switch {
	case o.Namespace == "":
		return errors.New("lock: namespace is empty")
	case o.Stack == "":
		return errors.New("lock: stack is empty")
	case o.Holder == "":
		return errors.New("lock: holder is empty")
	case o.LeaseDuration < 0:
		return fmt.Errorf("lock: negative lease duration %s", o.LeaseDuration)
	}
	if errs := validation.IsDNS1123Subdomain(LeaseName(o.Stack)); len(errs) > 0 {
		return fmt.Errorf("lock: stack %q does not make a valid lease name: %s", o.Stack, strings.Join(errs, "; "))
	}
	return nil
}

// tryAcquire reads the lease once and, when it is free, expired or
// missing, writes it as ours. It returns a *HeldError when the lease is
// someone else's and errRace when a concurrent writer got there first.
func (l *Lock) tryAcquire(ctx context.Context) error {
	leases := kube.Leases(l.client, l.ns)
	cur, err := leases.Get(ctx, l.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return l.create(ctx)
	}
	if err != nil {
		return fmt.Errorf("read lock %s/%s: %w", l.ns, l.name, err)
	}
	now := l.clock.Now()
	if held := l.heldBy(cur, now); held != nil {
		return held
	}
	next := cur.DeepCopy()
	l.fill(next, now)
	transitions := int32(1)
	if cur.Spec.LeaseTransitions != nil {
		transitions = *cur.Spec.LeaseTransitions + 1
	}
	next.Spec.LeaseTransitions = &transitions
	// Update carries cur's resourceVersion: of two processes taking over the
	// same expired lease, the second gets a conflict.
	got, err := leases.Update(ctx, next, metav1.UpdateOptions{FieldManager: fieldManager})
	switch {
	case apierrors.IsConflict(err), apierrors.IsNotFound(err):
		return errRace
	case err != nil:
		return fmt.Errorf("take over lock %s/%s: %w", l.ns, l.name, err)
	}
	l.lease = got
	return nil
}

// create makes the lease, and the namespace first when it is missing.
func (l *Lock) create(ctx context.Context) error {
	leases := kube.Leases(l.client, l.ns)
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{
		Name:      l.name,
		Namespace: l.ns,
		Labels:    map[string]string{labelManagedBy: "obsctl", labelStack: l.stack},
	}}
	l.fill(lease, l.clock.Now())
	got, err := leases.Create(ctx, lease, metav1.CreateOptions{FieldManager: fieldManager})
	if apierrors.IsNotFound(err) {
		// The only thing a create can miss is the namespace.
		if err := l.createNamespace(ctx); err != nil {
			return err
		}
		got, err = leases.Create(ctx, lease, metav1.CreateOptions{FieldManager: fieldManager})
	}
	switch {
	case apierrors.IsAlreadyExists(err):
		return errRace
	case err != nil:
		return fmt.Errorf("create lock %s/%s: %w", l.ns, l.name, err)
	}
	l.lease = got
	return nil
}

func (l *Lock) createNamespace(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   l.ns,
		Labels: map[string]string{labelManagedBy: "obsctl", labelStack: l.stack},
	}}
	_, err := kube.Namespaces(l.client).Create(ctx, ns, metav1.CreateOptions{FieldManager: fieldManager})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s for the lock: %w", l.ns, err)
	}
	l.createdNS = err == nil
	return nil
}

// CreatedNamespace reports whether Acquire created the lock's namespace,
// which was missing: a release then reports the stack's Namespace as
// created, not as configured by itself.
func (l *Lock) CreatedNamespace() bool { return l.createdNS }

// fill writes our holder and times into lease.
func (l *Lock) fill(lease *coordinationv1.Lease, now time.Time) {
	// The API keeps microseconds; keep the same, so that acquireTime
	// compares equal after a round trip.
	now = now.UTC().Truncate(time.Microsecond)
	l.acquired = now
	holder := l.holder
	secs := int32(l.duration / time.Second)
	lease.Spec.HolderIdentity = &holder
	lease.Spec.LeaseDurationSeconds = &secs
	lease.Spec.AcquireTime = &metav1.MicroTime{Time: now}
	lease.Spec.RenewTime = &metav1.MicroTime{Time: now}
}

// heldBy returns a *HeldError when lease is held by anyone, us included
// (the lock is not reentrant), and has not expired at now.
func (l *Lock) heldBy(lease *coordinationv1.Lease, now time.Time) *HeldError {
	s := lease.Spec
	if s.HolderIdentity == nil || *s.HolderIdentity == "" {
		return nil
	}
	e := &HeldError{Namespace: l.ns, Lease: l.name, Stack: l.stack, Holder: *s.HolderIdentity}
	if s.AcquireTime != nil {
		e.Since = s.AcquireTime.Time
	}
	switch {
	case s.RenewTime != nil:
		e.Renewed = s.RenewTime.Time
	case s.AcquireTime != nil:
		e.Renewed = s.AcquireTime.Time
	default:
		return nil // no time to expire from: not a lease anyone can be renewing
	}
	d := l.duration
	if s.LeaseDurationSeconds != nil {
		d = time.Duration(*s.LeaseDurationSeconds) * time.Second
	}
	e.Expires = e.Renewed.Add(d)
	if now.After(e.Expires) {
		return nil
	}
	return e
}

// ours reports whether lease is the one this Lock wrote: same holder and
// acquire time. A later run with the same identity has a later acquireTime.
func (l *Lock) ours(lease *coordinationv1.Lease) bool {
	s := lease.Spec
	return s.HolderIdentity != nil && *s.HolderIdentity == l.holder &&
		s.AcquireTime != nil && s.AcquireTime.UTC().Truncate(time.Microsecond).Equal(l.acquired)
}

// Namespace returns the namespace of the lock's Lease.
func (l *Lock) Namespace() string { return l.ns }

// Name returns the name of the lock's Lease.
func (l *Lock) Name() string { return l.name }

// Holder returns the identity the lock is held as.
func (l *Lock) Holder() string { return l.holder }

// Lost is closed when the lock is lost: the lease was deleted or taken by
// someone else, or could not be renewed for a whole lease duration. The
// apply should stop then; Err says what happened. Release does not close it.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Err returns why the lock was lost, or nil while it is held.
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func (l *Lock) markLost(err error) {
	l.lostOnce.Do(func() {
		l.mu.Lock()
		l.err = fmt.Errorf("lock %s/%s lost: %w", l.ns, l.name, err)
		l.mu.Unlock()
		close(l.lost)
	})
}

// errGone says the lease is no longer ours: deleted, or held by another.
type errGone struct{ msg string }

func (e errGone) Error() string { return e.msg }

// renewLoop renews the lease every third of its duration until ctx ends or
// the lock is lost. A failed renewal is retried sooner; the lock is lost
// once a whole duration has passed since the last renewal that landed,
// because from then on anyone may take it over.
func (l *Lock) renewLoop(ctx context.Context) {
	defer close(l.done)
	interval := l.duration / 3
	l.mu.Lock()
	lastOK := l.lease.Spec.RenewTime.Time
	l.mu.Unlock()
	wait := interval
	var lastErr error
	for {
		t := l.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		left := lastOK.Add(l.duration).Sub(l.clock.Now())
		if left <= 0 {
			err := fmt.Errorf("not renewed since %s, longer than its %s duration", lastOK.Format(time.RFC3339), l.duration)
			if lastErr != nil {
				err = fmt.Errorf("%w: %w", err, lastErr)
			}
			l.markLost(err)
			return
		}
		rctx, cancel := context.WithTimeout(ctx, min(interval, left))
		renewed, err := l.renew(rctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		var gone errGone
		switch {
		case err == nil:
			lastOK, wait, lastErr = renewed, interval, nil
		case errors.As(err, &gone):
			l.markLost(err)
			return
		default:
			if l.clock.Since(lastOK) >= l.duration {
				l.markLost(fmt.Errorf("not renewed for its %s duration: %w", l.duration, err))
				return
			}
			lastErr = err
			wait = max(interval/3, 10*time.Millisecond)
		}
	}
}

// renew writes a new renewTime and returns it. It returns errGone when the
// lease is no longer ours, other errors when the API could not be reached.
func (l *Lock) renew(ctx context.Context) (time.Time, error) {
	leases := kube.Leases(l.client, l.ns)
	for range 3 {
		l.mu.Lock()
		next := l.lease.DeepCopy()
		l.mu.Unlock()
		now := l.clock.Now().UTC().Truncate(time.Microsecond)
		next.Spec.RenewTime = &metav1.MicroTime{Time: now}
		got, err := leases.Update(ctx, next, metav1.UpdateOptions{FieldManager: fieldManager})
		if err == nil {
			l.mu.Lock()
			l.lease = got
			l.mu.Unlock()
			return now, nil
		}
		if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
			return time.Time{}, fmt.Errorf("renew: %w", err)
		}
		// Someone wrote the lease; it may still be ours (an earlier
		// renewal whose answer we missed), or not.
		cur, err := leases.Get(ctx, l.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return time.Time{}, errGone{"the lease was deleted"}
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("renew: %w", err)
		}
		if !l.ours(cur) {
			holder := "nobody"
			if h := cur.Spec.HolderIdentity; h != nil && *h != "" {
				holder = *h
			}
			return time.Time{}, errGone{"the lease is now held by " + holder}
		}
		l.mu.Lock()
		l.lease = cur
		l.mu.Unlock()
	}
	return time.Time{}, errors.New("renew: the lease keeps changing under us")
}

// Release stops renewing and deletes the lease if it is still ours. A lease
// someone else holds by now is left alone. When the delete fails the lock
// still frees itself when its duration runs out; the error says so. Calling
// Release again does nothing and returns the first call's error.
func (l *Lock) Release(ctx context.Context) error {
	l.releaseOnce.Do(func() {
		l.cancel()
		<-l.done
		l.releaseErr = l.release(ctx)
	})
	return l.releaseErr
}

func (l *Lock) release(ctx context.Context) error {
	select {
	case <-l.lost:
		return nil // not ours to delete any more
	default:
	}
	leases := kube.Leases(l.client, l.ns)
	l.mu.Lock()
	cur := l.lease
	l.mu.Unlock()
	for range 3 {
		uid, rv := cur.UID, cur.ResourceVersion
		err := leases.Delete(ctx, l.name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}})
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsConflict(err) {
			return l.releaseFailed(err)
		}
		if cur, err = leases.Get(ctx, l.name, metav1.GetOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return l.releaseFailed(err)
		}
		if !l.ours(cur) {
			return nil
		}
	}
	return l.releaseFailed(errors.New("the lease keeps changing"))
}

func (l *Lock) releaseFailed(err error) error {
	return fmt.Errorf("release lock %s/%s (it frees itself within %s): %w", l.ns, l.name, l.duration, err)
}

// deadlineNear reports whether ctx has ended, or ends within d.
func deadlineNear(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < max(d, time.Second)
}
