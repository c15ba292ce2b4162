package kube

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// refusedErr is the error an HTTP client gets from a closed port.
func refusedErr(t *testing.T) error {
	t.Helper()
	resp, err := http.Get("http://" + closedAddr(t) + "/api")
	if err == nil {
		resp.Body.Close()
		t.Fatal("GET of a closed port succeeded")
	}
	return err
}

// deadlineErr is the error a read past its deadline gets.
func deadlineErr(t *testing.T) error {
	t.Helper()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	if err := c1.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err := c1.Read(make([]byte, 1))
	if err == nil {
		t.Fatal("read past the deadline succeeded")
	}
	return &url.Error{Op: "Get", URL: "https://10.0.0.1:6443/api", Err: err}
}

func TestIsTransient(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	unexpected := func(code int) error {
		return apierrors.NewGenericServerResponse(code, "get", gr, "grafana", "<html>proxy says no</html>", 0, true)
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"server timeout", apierrors.NewServerTimeout(gr, "get", 1), true},
		{"timeout 504", apierrors.NewTimeoutError("request did not complete", 1), true},
		{"too many requests", apierrors.NewTooManyRequests("slow down", 1), true},
		{"too many requests error", apierrors.NewTooManyRequestsError("slow down"), true},
		{"internal error", apierrors.NewInternalError(errors.New("boom")), true},
		{"service unavailable", apierrors.NewServiceUnavailable("starting"), true},
		{"etcd leader changed as internal error", apierrors.NewInternalError(errors.New("etcdserver: leader changed")), true},
		{"etcd leader changed as plain text", fmt.Errorf("apply: %w", errors.New("etcdserver: leader changed")), true},
		{"etcd request timed out", errors.New("etcdserver: request timed out, possibly due to previous leader failure"), true},
		{"unexpected response 502", unexpected(http.StatusBadGateway), true},
		{"unexpected response 503", unexpected(http.StatusServiceUnavailable), true},
		{"unexpected response 504", unexpected(http.StatusGatewayTimeout), true},
		{"unexpected response 401", unexpected(http.StatusUnauthorized), false},
		{"wrapped internal error", fmt.Errorf("apply Deployment monitoring/grafana: %w", apierrors.NewInternalError(errors.New("boom"))), true},
		{"not found", apierrors.NewNotFound(gr, "grafana"), false},
		{"conflict", apierrors.NewConflict(gr, "grafana", errors.New("field managers disagree")), false},
		{"forbidden", apierrors.NewForbidden(gr, "grafana", errors.New("RBAC")), false},
		{"bad request", apierrors.NewBadRequest("no"), false},
		{"already exists", apierrors.NewAlreadyExists(gr, "grafana"), false},
		{"connection refused", refusedErr(t), true},
		{"connection refused, wrapped", fmt.Errorf("get: %w", refusedErr(t)), true},
		{"connection reset", &url.Error{Op: "Get", URL: "https://10.0.0.1:6443/api", Err: &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}}, true},
		{"EOF", &url.Error{Op: "Get", URL: "https://10.0.0.1:6443/api", Err: io.EOF}, true},
		{"unexpected EOF", fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), true},
		{"GOAWAY", errors.New("http2: server sent GOAWAY and closed the connection; LastStreamID=1"), true},
		{"net timeout", deadlineErr(t), true},
		{"context deadline", &url.Error{Op: "Get", URL: "https://10.0.0.1:6443/api", Err: context.DeadlineExceeded}, false},
		{"context canceled", fmt.Errorf("apply: %w", context.Canceled), false},
		{"unknown certificate authority", &url.Error{Op: "Get", URL: "https://10.0.0.1:6443/api", Err: x509.UnknownAuthorityError{}}, false},
		{"no kind match", &meta.NoKindMatchError{GroupKind: schema.GroupKind{Group: "example.com", Kind: "Widget"}, SearchedVersions: []string{"v1"}}, false},
		{"plain error", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsTransient(tt.err); got != tt.want {
				t.Errorf("IsTransient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"refused", refusedErr(t), "unreachable (connection refused)"},
		{"reset", &url.Error{Op: "Get", URL: "https://10.0.0.1:6443/api", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, "kube-apiserver at https://10.0.0.1:6443 dropped the connection (connection reset)"},
		{"timeout", deadlineErr(t), "kube-apiserver at https://10.0.0.1:6443 did not answer in time"},
		{"EOF", &url.Error{Op: "Get", URL: "https://10.0.0.1:6443/api?timeout=32s", Err: io.EOF}, "kube-apiserver at https://10.0.0.1:6443 closed the connection"},
		{"status", apierrors.NewInternalError(errors.New("etcdserver: leader changed")), "kube-apiserver answered 500 Internal Server Error: Internal error occurred: etcdserver: leader changed"},
		{"other", errors.New("boom"), "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Explain(tt.err); !strings.Contains(got, tt.want) {
				t.Errorf("Explain = %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

// recorder is a Backoff.Sleep that records the waits without waiting.
type recorder struct{ waits []time.Duration }

func (r *recorder) sleep(ctx context.Context, d time.Duration) error {
	r.waits = append(r.waits, d)
	return ctx.Err()
}

func TestRetry(t *testing.T) {
	refused := refusedErr(t)
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "monitoring", errors.New("RBAC"))
	ms := time.Millisecond
	tests := []struct {
		name         string
		backoff      Backoff
		errs         []error // what fn returns on each attempt; nil after the last
		wantAttempts int
		wantWaits    []time.Duration
		wantErr      error // errors.Is target; nil means success
	}{
		{
			name:         "success at once",
			backoff:      Backoff{Initial: 10 * ms, Max: 100 * ms, Factor: 2},
			wantAttempts: 1,
		},
		{
			name:         "transient errors then success, doubling up to Max",
			backoff:      Backoff{Initial: 10 * ms, Max: 25 * ms, Factor: 2},
			errs:         []error{refused, refused, refused, refused},
			wantAttempts: 5,
			wantWaits:    []time.Duration{10 * ms, 20 * ms, 25 * ms, 25 * ms},
		},
		{
			name:         "non-transient error returns at once",
			backoff:      Backoff{Initial: 10 * ms, Max: 100 * ms, Factor: 2},
			errs:         []error{forbidden},
			wantAttempts: 1,
			wantErr:      forbidden,
		},
		{
			name:         "non-transient error after transient ones",
			backoff:      Backoff{Initial: 10 * ms, Max: 100 * ms, Factor: 2},
			errs:         []error{refused, forbidden},
			wantAttempts: 2,
			wantWaits:    []time.Duration{10 * ms},
			wantErr:      forbidden,
		},
		{
			name:         "Retry-After beats the backoff, capped at Max",
			backoff:      Backoff{Initial: 10 * ms, Max: 3 * time.Second, Factor: 2},
			errs:         []error{apierrors.NewTooManyRequests("slow down", 2), apierrors.NewTooManyRequests("slow down", 60)},
			wantAttempts: 3,
			wantWaits:    []time.Duration{2 * time.Second, 3 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			tt.backoff.Sleep = rec.sleep
			attempts := 0
			err := tt.backoff.Retry(context.Background(), "apply Deployment monitoring/grafana", func(context.Context) error {
				attempts++
				if attempts <= len(tt.errs) {
					return tt.errs[attempts-1]
				}
				return nil
			})
			switch {
			case tt.wantErr == nil && err != nil:
				t.Errorf("Retry = %v, want success", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("Retry = %v, want an error wrapping %v", err, tt.wantErr)
			case tt.wantErr != nil && !strings.HasPrefix(err.Error(), "apply Deployment monitoring/grafana: "):
				t.Errorf("error %q does not say what was being done", err)
			}
			if attempts != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", attempts, tt.wantAttempts)
			}
			if fmt.Sprint(rec.waits) != fmt.Sprint(tt.wantWaits) {
				t.Errorf("waits = %v, want %v", rec.waits, tt.wantWaits)
			}
		})
	}
}

func TestRetryJitter(t *testing.T) {
	rec := &recorder{}
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Factor: 1, Jitter: 0.5, Sleep: rec.sleep}
	refused := refusedErr(t)
	attempts := 0
	err := b.Retry(context.Background(), "get", func(context.Context) error {
		if attempts++; attempts <= 50 {
			return refused
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[time.Duration]bool{}
	for _, w := range rec.waits {
		if w < 50*time.Millisecond || w > 100*time.Millisecond {
			t.Errorf("wait %v outside [50ms, 100ms]", w)
		}
		distinct[w] = true
	}
	if len(rec.waits) != 50 || len(distinct) < 2 {
		t.Errorf("%d waits, %d distinct; want 50 waits that differ", len(rec.waits), len(distinct))
	}
}

func TestRetryContext(t *testing.T) {
	refused := refusedErr(t)

	t.Run("deadline while retrying", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		b := Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, Factor: 2}
		start := time.Now()
		attempts := 0
		err := b.Retry(ctx, "apply Deployment monitoring/grafana", func(context.Context) error {
			attempts++
			return refused
		})
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Errorf("Retry returned after %v, want about the 300ms deadline", elapsed)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("error %v does not wrap both the deadline and the connection error", err)
		}
		var re *RetryError
		if !errors.As(err, &re) || re.Attempts != attempts || attempts < 3 {
			t.Errorf("error %#v: want a *RetryError counting the %d attempts (at least 3)", err, attempts)
		}
		for _, w := range []string{"apply Deployment monitoring/grafana: kube-apiserver at http://127.0.0.1:", "unreachable (connection refused) for ", "attempts: context deadline exceeded"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
		t.Logf("error: %v", err)
	})

	t.Run("canceled during the wait", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		sleeps := 0
		b := Backoff{Initial: time.Millisecond, Max: time.Millisecond, Factor: 2, Sleep: func(ctx context.Context, d time.Duration) error {
			if sleeps++; sleeps == 2 {
				cancel()
			}
			return ctx.Err()
		}}
		attempts := 0
		err := b.Retry(ctx, "get", func(context.Context) error {
			attempts++
			return refused
		})
		var re *RetryError
		if !errors.Is(err, context.Canceled) || !errors.As(err, &re) || !errors.Is(re.Last, syscall.ECONNREFUSED) {
			t.Errorf("error = %v, want a *RetryError wrapping context.Canceled and the connection error", err)
		}
		if attempts != 2 {
			t.Errorf("attempts = %d, want 2", attempts)
		}
	})

	t.Run("request cut short by the deadline keeps the transient error", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		b := Backoff{Initial: time.Millisecond, Max: time.Millisecond, Factor: 2, Sleep: (&recorder{}).sleep}
		attempts := 0
		err := b.Retry(ctx, "get", func(ctx context.Context) error {
			if attempts++; attempts == 1 {
				return refused
			}
			cancel()
			return &url.Error{Op: "Get", URL: "https://10.0.0.1:6443/api", Err: ctx.Err()}
		})
		var re *RetryError
		if !errors.As(err, &re) || !errors.Is(re.Last, syscall.ECONNREFUSED) || !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want a *RetryError whose last error is the refused connection", err)
		}
	})

	t.Run("context already done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		called := false
		err := Retry(ctx, "get", func(context.Context) error {
			called = true
			return nil
		})
		if called || !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "get: ") {
			t.Errorf("called = %v, error = %v; want fn not called and get: context canceled", called, err)
		}
	})
}
