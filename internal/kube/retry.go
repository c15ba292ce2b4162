package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"
)

// etcdTransient are messages etcd gives, passed on by the API server, for
// trouble that a retry gets past.
var etcdTransient = []string{
	"etcdserver: leader changed",
	"etcdserver: no leader",
	"etcdserver: request timed out",
	"etcdserver: too many requests",
}

// IsTransient reports whether err is API server trouble that a retry may get
// past: the server unreachable or restarting (connection refused or reset,
// EOF, timeouts), overloaded (429), failing inside (500, 502, 503, 504) or
// waiting on etcd (a leader change). The end of the caller's own context is
// not transient: retrying cannot outlive it.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := int(status.Status().Code)
		switch {
		case apierrors.IsServerTimeout(err), apierrors.IsTimeout(err),
			apierrors.IsTooManyRequests(err), apierrors.IsInternalError(err),
			apierrors.IsServiceUnavailable(err):
			return true
		case code == http.StatusBadGateway, code == http.StatusServiceUnavailable,
			code == http.StatusGatewayTimeout, code == http.StatusInternalServerError:
			return true
		case apierrors.IsUnexpectedServerError(err):
			// A response that is not a Kubernetes Status came from something
			// in front of the API server. A 4xx one (a proxy refusing our
			// credentials, say) will not change by waiting.
			return code == 0 || code >= 500
		}
		return hasEtcdTransient(status.Status().Message)
	}
	switch {
	case utilnet.IsConnectionRefused(err), utilnet.IsConnectionReset(err),
		utilnet.IsProbableEOF(err), utilnet.IsHTTP2ConnectionLost(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.EPIPE), utilnet.IsTimeout(err):
		return true
	}
	return hasEtcdTransient(err.Error())
}

func hasEtcdTransient(msg string) bool {
	for _, m := range etcdTransient {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// Backoff says how long Retry waits between attempts: Initial, then Factor
// times longer each time up to Max, each wait shortened at random by up to
// Jitter of itself so that parallel requests do not retry in step.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	Factor  float64
	Jitter  float64
	// Sleep waits for d or until ctx ends, returning ctx.Err() then; nil
	// means a timer. Tests pass one that records the waits.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultBackoff is the backoff Retry uses: 100ms doubling to 5s, with 20%
// jitter.
func DefaultBackoff() Backoff {
	return Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second, Factor: 2, Jitter: 0.2}
}

// Retry calls fn until it succeeds, returns an error that is not transient,
// or ctx ends, waiting between attempts as DefaultBackoff says. what says
// what fn does, such as "apply Deployment monitoring/grafana", and starts
// every error Retry returns.
func Retry(ctx context.Context, what string, fn func(context.Context) error) error {
	return DefaultBackoff().Retry(ctx, what, fn)
}

// Retry calls fn until it succeeds, returns an error that is not transient,
// or ctx ends, waiting between attempts as b says. A failure that is not
// transient comes back at once, wrapped as "what: err". When ctx ends
// during the retries the result is a *RetryError, which wraps both ctx.Err()
// and the last transient error.
func (b Backoff) Retry(ctx context.Context, what string, fn func(context.Context) error) error {
	sleep := b.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	start := time.Now()
	delay := b.Initial
	var last error
	giveUp := func(attempts int) error {
		if last == nil {
			return fmt.Errorf("%s: %w", what, ctx.Err())
		}
		return &RetryError{What: what, Attempts: attempts, Elapsed: time.Since(start), Last: last, Ctx: ctx.Err()}
	}
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return giveUp(attempt - 1)
		}
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil && (IsTransient(err) || errors.Is(err, ctx.Err())) {
			// An error that only says the context ended tells less than the
			// transient one before it.
			if last == nil || !errors.Is(err, ctx.Err()) {
				last = err
			}
			return giveUp(attempt)
		}
		if !IsTransient(err) {
			return fmt.Errorf("%s: %w", what, err)
		}
		last = err
		if err := sleep(ctx, b.wait(delay, err)); err != nil {
			return giveUp(attempt)
		}
		delay = b.next(delay)
	}
}

// wait is how long to wait after err before the next attempt: delay less
// the jitter, or longer if the server asked for it (Retry-After), but never
// more than Max.
func (b Backoff) wait(delay time.Duration, err error) time.Duration {
	d := delay
	if b.Jitter > 0 {
		d -= time.Duration(b.Jitter * rand.Float64() * float64(d))
	}
	if secs, ok := apierrors.SuggestsClientDelay(err); ok && time.Duration(secs)*time.Second > d {
		d = time.Duration(secs) * time.Second
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	return d
}

func (b Backoff) next(delay time.Duration) time.Duration {
	f := b.Factor
	if f < 1 {
		f = 1
	}
	d := time.Duration(float64(delay) * f)
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	return d
}

// Sleep waits for d, or until ctx ends, when it returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// RetryError is what Retry returns when its context ends while it is still
// retrying. It wraps both the context's error and the last transient one.
type RetryError struct {
	// What was being done, as given to Retry.
	What string
	// Attempts is how many times fn was called.
	Attempts int
	// Elapsed is the time from the first attempt to giving up.
	Elapsed time.Duration
	// Last is the last transient error.
	Last error
	// Ctx is the context's error: context.DeadlineExceeded or
	// context.Canceled.
	Ctx error
}

// Error reads like "apply Deployment monitoring/grafana: kube-apiserver at
// https://10.0.0.1:6443 unreachable (connection refused) for 12s, 9 attempts:
// context deadline exceeded".
func (e *RetryError) Error() string {
	attempts := "1 attempt"
	if e.Attempts != 1 {
		attempts = fmt.Sprintf("%d attempts", e.Attempts)
	}
	return fmt.Sprintf("%s: %s for %s, %s: %v", e.What, Explain(e.Last), roundElapsed(e.Elapsed), attempts, e.Ctx)
}

// Unwrap returns the context's error and the last transient error, for
// errors.Is and errors.As.
func (e *RetryError) Unwrap() []error { return []error{e.Ctx, e.Last} }

func roundElapsed(d time.Duration) string {
	if d >= 10*time.Second {
		return d.Round(time.Second).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// Explain says in a few words what a transient error means for the user,
// such as "kube-apiserver at https://10.0.0.1:6443 unreachable (connection
// refused)", instead of the layers of library text around it. Other errors
// come back as their own text.
func Explain(err error) string {
	if err == nil {
		return "no error"
	}
	server := "kube-apiserver"
	var uerr *url.Error
	if errors.As(err, &uerr) {
		if u, perr := url.Parse(uerr.URL); perr == nil && u.Host != "" {
			server += " at " + u.Scheme + "://" + u.Host
		}
	}
	var status apierrors.APIStatus
	switch {
	case errors.As(err, &status):
		s := status.Status()
		text := server + " answered"
		if s.Code != 0 {
			text += fmt.Sprintf(" %d %s", s.Code, http.StatusText(int(s.Code)))
		}
		if s.Message != "" {
			text += ": " + s.Message
		}
		return text
	case utilnet.IsConnectionRefused(err):
		return server + " unreachable (connection refused)"
	case utilnet.IsConnectionReset(err):
		return server + " dropped the connection (connection reset)"
	case utilnet.IsTimeout(err):
		return server + " did not answer in time"
	case utilnet.IsProbableEOF(err), utilnet.IsHTTP2ConnectionLost(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return server + " closed the connection"
	}
	return err.Error()
}
