package lock

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/obsctl/obsctl/test/cluster"
)

func TestOptionsValidate(t *testing.T) {
	ok := Options{Namespace: "monitoring", Stack: "prod", Holder: "alice@host pid 1"}
	for _, tc := range []struct {
		name   string
		change func(*Options)
		want   string // substring of the error; empty for none
	}{
		{"ok", func(*Options) {}, ""},
		{"no namespace", func(o *Options) { o.Namespace = "" }, "namespace is empty"},
		{"no stack", func(o *Options) { o.Stack = "" }, "stack is empty"},
		{"no holder", func(o *Options) { o.Holder = "" }, "holder is empty"},
		{"negative duration", func(o *Options) { o.LeaseDuration = -time.Second }, "negative lease duration"},
		{"bad stack", func(o *Options) { o.Stack = "Prod_1" }, "valid lease name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.change(&o)
			err := o.validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestHeldBy(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	l := &Lock{ns: "monitoring", name: "obsctl-prod", stack: "prod", holder: "me", duration: time.Minute}
	lease := func(holder string, acquired, renewed *time.Time, secs *int32) *coordinationv1.Lease {
		s := coordinationv1.LeaseSpec{LeaseDurationSeconds: secs}
		if holder != "" {
			s.HolderIdentity = &holder
		}
		if acquired != nil {
			s.AcquireTime = &metav1.MicroTime{Time: *acquired}
		}
		if renewed != nil {
			s.RenewTime = &metav1.MicroTime{Time: *renewed}
		}
		return &coordinationv1.Lease{Spec: s}
	}
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	secs := func(n int32) *int32 { return &n }
	for _, tc := range []struct {
		name    string
		lease   *coordinationv1.Lease
		held    bool
		expires time.Time
	}{
		{"no holder", lease("", at(-time.Second), at(-time.Second), secs(60)), false, time.Time{}},
		{"renewed recently", lease("bob", at(-time.Hour), at(-10*time.Second), secs(60)), true, now.Add(50 * time.Second)},
		{"expired", lease("bob", at(-time.Hour), at(-61*time.Second), secs(60)), false, time.Time{}},
		{"expires exactly now", lease("bob", at(-time.Hour), at(-60*time.Second), secs(60)), true, now},
		{"holder's own duration counts", lease("bob", at(-time.Hour), at(-90*time.Second), secs(120)), true, now.Add(30 * time.Second)},
		{"our duration when the lease has none", lease("bob", at(-time.Hour), at(-30*time.Second), nil), true, now.Add(30 * time.Second)},
		{"acquire time when never renewed", lease("bob", at(-10*time.Second), nil, secs(60)), true, now.Add(50 * time.Second)},
		{"no times at all", lease("bob", nil, nil, secs(60)), false, time.Time{}},
		{"our own identity is not reentrant", lease("me", at(-time.Second), at(-time.Second), secs(60)), true, now.Add(59 * time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := l.heldBy(tc.lease, now)
			if (got != nil) != tc.held {
				t.Fatalf("heldBy = %v, want held %v", got, tc.held)
			}
			if got != nil && !got.Expires.Equal(tc.expires) {
				t.Errorf("expires %s, want %s", got.Expires, tc.expires)
			}
		})
	}
}

func TestHeldErrorMessage(t *testing.T) {
	e := &HeldError{
		Namespace: "monitoring", Lease: "obsctl-prod", Stack: "prod", Holder: "alice@ci-7 pid 42",
		Since:   time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Expires: time.Date(2025, 3, 1, 12, 5, 0, 0, time.UTC),
	}
	want := `stack "prod" is locked by alice@ci-7 pid 42 since 2025-03-01T12:00:00Z (lease monitoring/obsctl-prod, expires 2025-03-01T12:05:00Z unless renewed)`
	if got := e.Error(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// acquire takes a lock for a test and releases it at the end.
func acquire(t *testing.T, cs cluster.Client, opts Options) *Lock {
	t.Helper()
	l, err := Acquire(cluster.Context(t), cs, opts)
	if err != nil {
		t.Fatalf("acquire as %s: %v", opts.Holder, err)
	}
	t.Cleanup(func() { _ = l.Release(context.Background()) })
	return l
}

func getLease(t *testing.T, cs cluster.Client, ns, stack string) *coordinationv1.Lease {
	t.Helper()
	lease, err := cs.CoordinationV1().Leases(ns).Get(cluster.Context(t), LeaseName(stack), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return lease
}

func waitLost(t *testing.T, l *Lock, within time.Duration) {
	t.Helper()
	select {
	case <-l.Lost():
	case <-time.After(within):
		t.Fatalf("lock not lost within %s", within)
	}
	if l.Err() == nil {
		t.Fatal("Lost closed but Err is nil")
	}
}

// TestAcquireRelease takes a lock in a namespace that does not exist yet,
// checks the Lease it wrote, and releases it.
func TestAcquireRelease(t *testing.T) {
	t.Parallel()
	cs := clusterClient(t)
	ctx := cluster.Context(t)
	ns := "lock-fresh-" + rand.String(6)
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })

	before := time.Now()
	l, err := Acquire(ctx, cs, Options{Namespace: ns, Stack: "prod", Holder: "alice@host pid 1"})
	if err != nil {
		t.Fatal(err)
	}
	created, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the namespace was not created: %v", err)
	}
	if created.Labels[labelManagedBy] != "obsctl" || created.Labels[labelStack] != "prod" {
		t.Errorf("namespace labels %v", created.Labels)
	}

	lease := getLease(t, cs, ns, "prod")
	s := lease.Spec
	if s.HolderIdentity == nil || *s.HolderIdentity != "alice@host pid 1" {
		t.Errorf("holderIdentity %v", s.HolderIdentity)
	}
	if s.LeaseDurationSeconds == nil || *s.LeaseDurationSeconds != 60 {
		t.Errorf("leaseDurationSeconds %v, want 60", s.LeaseDurationSeconds)
	}
	if s.AcquireTime == nil || s.RenewTime == nil || s.AcquireTime.Before(&metav1.MicroTime{Time: before.Add(-time.Second)}) {
		t.Errorf("acquireTime %v renewTime %v, want both about %s", s.AcquireTime, s.RenewTime, before)
	}
	if lease.Labels[labelManagedBy] != "obsctl" || lease.Labels[labelStack] != "prod" {
		t.Errorf("lease labels %v", lease.Labels)
	}
	if l.Namespace() != ns || l.Name() != "obsctl-prod" || l.Holder() != "alice@host pid 1" {
		t.Errorf("lock is %s/%s held by %s", l.Namespace(), l.Name(), l.Holder())
	}

	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoordinationV1().Leases(ns).Get(ctx, "obsctl-prod", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("lease still there after Release: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Errorf("second Release: %v", err)
	}
	select {
	case <-l.Lost():
		t.Error("Release closed Lost")
	default:
	}

	// Free again: the next apply takes it at once.
	l2 := acquire(t, cs, Options{Namespace: ns, Stack: "prod", Holder: "bob@host pid 2"})
	if got := *getLease(t, cs, ns, "prod").Spec.HolderIdentity; got != l2.Holder() {
		t.Errorf("holder %s after re-acquire, want %s", got, l2.Holder())
	}
}

// TestHeldFailsFast: a second apply without --wait fails at once, naming
// the holder, since when, and until when.
func TestHeldFailsFast(t *testing.T) {
	t.Parallel()
	cs := clusterClient(t)
	ns := harness.Cluster(t).Namespace(t, "lock")
	first := acquire(t, cs, Options{Namespace: ns, Stack: "prod", Holder: "alice@ci-1 pid 100"})
	lease := getLease(t, cs, ns, "prod")

	start := time.Now()
	_, err := Acquire(cluster.Context(t), cs, Options{Namespace: ns, Stack: "prod", Holder: "bob@laptop pid 200"})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("failing took %s", took)
	}
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("error %v, want a *HeldError", err)
	}
	if held.Holder != first.Holder() || !strings.Contains(err.Error(), "alice@ci-1 pid 100") {
		t.Errorf("error names %q: %v", held.Holder, err)
	}
	if !held.Since.Equal(lease.Spec.AcquireTime.Time) {
		t.Errorf("since %s, want acquireTime %s", held.Since, lease.Spec.AcquireTime)
	}
	if d := held.Expires.Sub(held.Renewed); d != time.Minute {
		t.Errorf("expires %s after the renewal, want 1m", d)
	}
	if held.Namespace != ns || held.Lease != "obsctl-prod" || held.Stack != "prod" {
		t.Errorf("held error about %s/%s stack %s", held.Namespace, held.Lease, held.Stack)
	}
	if got := *getLease(t, cs, ns, "prod").Spec.HolderIdentity; got != first.Holder() {
		t.Errorf("failed acquire changed the holder to %s", got)
	}

	// Another stack in the same namespace is a different lock.
	acquire(t, cs, Options{Namespace: ns, Stack: "staging", Holder: "bob@laptop pid 200"})
}

// TestWait: with Wait, the second apply gets the lock once the first
// releases it; a waiting apply whose context ends says who held the lock.
func TestWait(t *testing.T) {
	t.Parallel()
	cs := clusterClient(t)
	ns := harness.Cluster(t).Namespace(t, "lock")
	first := acquire(t, cs, Options{Namespace: ns, Stack: "prod", Holder: "alice pid 1"})

	t.Run("timeout", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(cluster.Context(t), 300*time.Millisecond)
		defer cancel()
		_, err := Acquire(ctx, cs, Options{Namespace: ns, Stack: "prod", Holder: "carol pid 3", Wait: true, PollInterval: 50 * time.Millisecond})
		var held *HeldError
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &held) || held.Holder != "alice pid 1" {
			t.Fatalf("error %v, want the deadline and a *HeldError naming alice", err)
		}
	})

	// A client's rate limiter refuses a request it would have to hold
	// past the deadline: the wait still ends as a wait for the holder.
	t.Run("timeout in the rate limiter", func(t *testing.T) {
		cfg := harness.Cluster(t).RESTConfig()
		cfg.QPS, cfg.Burst = 0.5, 1
		slow := cluster.NewClient(t, cfg)
		ctx, cancel := context.WithTimeout(cluster.Context(t), 600*time.Millisecond)
		defer cancel()
		_, err := Acquire(ctx, slow, Options{Namespace: ns, Stack: "prod", Holder: "dave pid 4", Wait: true, PollInterval: 50 * time.Millisecond})
		var held *HeldError
		if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &held) || held.Holder != "alice pid 1" {
			t.Fatalf("error %v, want the deadline and a *HeldError naming alice", err)
		}
	})

	t.Run("released", func(t *testing.T) {
		waiting := make(chan *HeldError, 1)
		type result struct {
			l   *Lock
			err error
		}
		got := make(chan result, 1)
		go func() {
			l, err := Acquire(cluster.Context(t), cs, Options{
				Namespace: ns, Stack: "prod", Holder: "bob pid 2", Wait: true,
				PollInterval: 50 * time.Millisecond,
				OnWait:       func(h *HeldError) { waiting <- h },
			})
			got <- result{l, err}
		}()
		select {
		case h := <-waiting:
			if h.Holder != "alice pid 1" {
				t.Errorf("OnWait says the holder is %s", h.Holder)
			}
		case r := <-got:
			t.Fatalf("Acquire returned (%v, %v) while the lock was held", r.l, r.err)
		case <-time.After(10 * time.Second):
			t.Fatal("OnWait not called")
		}
		select {
		case r := <-got:
			t.Fatalf("Acquire returned (%v, %v) while the lock was held", r.l, r.err)
		case <-time.After(200 * time.Millisecond):
		}
		if err := first.Release(cluster.Context(t)); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-got:
			if r.err != nil {
				t.Fatal(r.err)
			}
			defer r.l.Release(context.Background())
			if h := *getLease(t, cs, ns, "prod").Spec.HolderIdentity; h != "bob pid 2" {
				t.Errorf("holder %s, want bob pid 2", h)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("waiting Acquire did not get the released lock")
		}
	})
}

// createLease writes a lease as another (possibly dead) obsctl would.
func createLease(t *testing.T, cs cluster.Client, ns, stack, holder string, renewed time.Time, secs int32) {
	t.Helper()
	zero := int32(0)
	_, err := cs.CoordinationV1().Leases(ns).Create(cluster.Context(t), &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: LeaseName(stack)},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       &holder,
			LeaseDurationSeconds: &secs,
			AcquireTime:          &metav1.MicroTime{Time: renewed.Add(-time.Minute)},
			RenewTime:            &metav1.MicroTime{Time: renewed},
			LeaseTransitions:     &zero,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTakeOverCrashed: a lease left by a run that died (renewTime + duration
// in the past) is taken over.
func TestTakeOverCrashed(t *testing.T) {
	t.Parallel()
	cs := clusterClient(t)
	ns := harness.Cluster(t).Namespace(t, "lock")
	createLease(t, cs, ns, "prod", "crashed pid 9", time.Now().Add(-2*time.Minute), 60)

	l := acquire(t, cs, Options{Namespace: ns, Stack: "prod", Holder: "alice pid 1"})
	lease := getLease(t, cs, ns, "prod")
	if *lease.Spec.HolderIdentity != l.Holder() {
		t.Errorf("holder %s, want %s", *lease.Spec.HolderIdentity, l.Holder())
	}
	if lease.Spec.LeaseTransitions == nil || *lease.Spec.LeaseTransitions != 1 {
		t.Errorf("leaseTransitions %v, want 1", lease.Spec.LeaseTransitions)
	}
	if time.Since(lease.Spec.RenewTime.Time) > 30*time.Second {
		t.Errorf("renewTime %s not refreshed", lease.Spec.RenewTime)
	}
}

// TestTakeOverFakeClock runs two holders on their own fake clocks: the
// second cannot take the lock while it is fresh, takes it over once it has
// expired, and the first then finds out on its next renewal and leaves the
// new holder's lease alone on Release.
func TestTakeOverFakeClock(t *testing.T) {
	t.Parallel()
	cs := clusterClient(t)
	ns := harness.Cluster(t).Namespace(t, "lock")
	start := time.Now()
	clockA := clocktesting.NewFakeClock(start)
	a := acquire(t, cs, Options{Namespace: ns, Stack: "prod", Holder: "alice", Clock: clockA})

	clockB := clocktesting.NewFakeClock(start.Add(59 * time.Second))
	var held *HeldError
	if _, err := Acquire(cluster.Context(t), cs, Options{Namespace: ns, Stack: "prod", Holder: "bob", Clock: clockB}); !errors.As(err, &held) {
		t.Fatalf("59s after acquiring: error %v, want a *HeldError", err)
	}
	clockB.SetTime(start.Add(61 * time.Second))
	b := acquire(t, cs, Options{Namespace: ns, Stack: "prod", Holder: "bob", Clock: clockB})
	if h := *getLease(t, cs, ns, "prod").Spec.HolderIdentity; h != "bob" {
		t.Fatalf("holder %s after the takeover, want bob", h)
	}

	// Alice's renewal timer is due 20s after her acquire.
	waitFor(t, "alice's renewal timer", clockA.HasWaiters)
	clockA.Step(20 * time.Second)
	waitLost(t, a, 10*time.Second)
	if !strings.Contains(a.Err().Error(), "held by bob") {
		t.Errorf("Err %v, want it to name bob", a.Err())
	}
	if err := a.Release(cluster.Context(t)); err != nil {
		t.Fatal(err)
	}
	if h := *getLease(t, cs, ns, "prod").Spec.HolderIdentity; h != "bob" {
		t.Fatalf("alice's Release changed the holder to %s", h)
	}
	select {
	case <-b.Lost():
		t.Fatalf("bob lost the lock: %v", b.Err())
	default:
	}
}

// TestRace: processes racing for a free lock, missing or expired, end with
// exactly one holder; every other gets a *HeldError naming it.
func TestRace(t *testing.T) {
	t.Parallel()
	cs := clusterClient(t)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, ns string)
	}{
		{"missing", func(*testing.T, string) {}},
		{"expired", func(t *testing.T, ns string) {
			createLease(t, cs, ns, "prod", "crashed", time.Now().Add(-time.Hour), 60)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := harness.Cluster(t).Namespace(t, "lock")
			tc.setup(t, ns)
			const racers = 8
			var (
				wg      sync.WaitGroup
				ready   = make(chan struct{})
				locks   = make([]*Lock, racers)
				errs    = make([]error, racers)
				ctx     = cluster.Context(t)
				started sync.WaitGroup
			)
			started.Add(racers)
			for i := range racers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					started.Done()
					<-ready
					locks[i], errs[i] = Acquire(ctx, cs, Options{Namespace: ns, Stack: "prod", Holder: fmt.Sprintf("racer %d", i)})
				}()
			}
			started.Wait()
			close(ready)
			wg.Wait()

			var winners []*Lock
			for _, l := range locks {
				if l != nil {
					winners = append(winners, l)
					defer l.Release(context.Background())
				}
			}
			if len(winners) != 1 {
				t.Fatalf("%d winners, want 1; errors %v", len(winners), errs)
			}
			holder := *getLease(t, cs, ns, "prod").Spec.HolderIdentity
			if holder != winners[0].Holder() {
				t.Errorf("lease held by %s, winner is %s", holder, winners[0].Holder())
			}
			for i, err := range errs {
				if locks[i] != nil {
					continue
				}
				var held *HeldError
				if !errors.As(err, &held) || held.Holder != holder {
					t.Errorf("racer %d: %v, want a *HeldError naming %s", i, err, holder)
				}
			}
		})
	}
}

// TestRenewAndLostOnDelete: the lock renews itself, and notices when its
// lease is deleted behind its back.
func TestRenewAndLostOnDelete(t *testing.T) {
	t.Parallel()
	cs := clusterClient(t)
	ns := harness.Cluster(t).Namespace(t, "lock")
	l := acquire(t, cs, Options{Namespace: ns, Stack: "prod", Holder: "alice", LeaseDuration: 1500 * time.Millisecond})
	first := getLease(t, cs, ns, "prod")
	if *first.Spec.LeaseDurationSeconds != 2 {
		t.Errorf("leaseDurationSeconds %d, want 1.5s rounded up to 2", *first.Spec.LeaseDurationSeconds)
	}
	waitFor(t, "a renewal", func() bool {
		cur := getLease(t, cs, ns, "prod")
		return cur.Spec.RenewTime.After(first.Spec.RenewTime.Time)
	})

	if err := cs.CoordinationV1().Leases(ns).Delete(cluster.Context(t), LeaseName("prod"), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitLost(t, l, 10*time.Second)
	if !strings.Contains(l.Err().Error(), "deleted") {
		t.Errorf("Err %v, want it to say the lease was deleted", l.Err())
	}
}

// TestLostWhenRenewalFails cuts the lock's connection to the API server:
// after a lease duration without a renewal the lock is lost.
func TestLostWhenRenewalFails(t *testing.T) {
	t.Parallel()
	c := harness.Cluster(t)
	cs := cluster.NewClient(t, c.RESTConfig())
	ns := harness.Cluster(t).Namespace(t, "lock")

	var cut atomic.Bool
	cfg := c.RESTConfig()
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if cut.Load() {
				return nil, errors.New("network cut by the test")
			}
			return rt.RoundTrip(r)
		})
	}
	flaky := cluster.NewClient(t, cfg)
	l := acquire(t, flaky, Options{Namespace: ns, Stack: "prod", Holder: "alice", LeaseDuration: 2 * time.Second})

	cut.Store(true)
	start := time.Now()
	waitLost(t, l, 10*time.Second)
	if took := time.Since(start); took < time.Second {
		t.Errorf("lost after %s, before the lease could have expired", took)
	}
	if !strings.Contains(l.Err().Error(), "not renewed") || !strings.Contains(l.Err().Error(), "network cut by the test") {
		t.Errorf("Err %v, want it to say the renewals failed and why", l.Err())
	}
	// Lost, the lease is not ours to delete.
	if err := l.Release(cluster.Context(t)); err != nil {
		t.Errorf("Release of a lost lock: %v", err)
	}
	cut.Store(false)
	// And anyone may take it over once it has expired.
	acquire(t, cs, Options{Namespace: ns, Stack: "prod", Holder: "bob", Wait: true, PollInterval: 100 * time.Millisecond})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// waitFor polls cond every 20ms for up to 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
