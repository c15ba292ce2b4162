// Package e2ekit holds what the end-to-end test packages share: running
// obsctl in process against a test cluster, polling until a condition
// holds, and reading an HTTP endpoint of a program the test runs.
package e2ekit

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/obsctl/obsctl/internal/cli"
	"github.com/obsctl/obsctl/test/cluster"
)

// Result is how an obsctl run ended.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Obsctl runs obsctl in process from dir with the cluster's kubeconfig and
// no other environment, and logs what it wrote.
func Obsctl(t testing.TB, c *cluster.Cluster, dir string, args ...string) Result {
	t.Helper()
	return ObsctlAs(t, c.Kubeconfig(), dir, args...)
}

// ObsctlAs is Obsctl with another kubeconfig: another identity's.
func ObsctlAs(t testing.TB, kubeconfig, dir string, args ...string) Result {
	t.Helper()
	return obsctlRun(t, kubeconfig, dir, nil, args...)
}

// ObsctlEnv is Obsctl with these variables (NAME=value) in its
// environment too.
func ObsctlEnv(t testing.TB, c *cluster.Cluster, dir string, env []string, args ...string) Result {
	t.Helper()
	return obsctlRun(t, c.Kubeconfig(), dir, env, args...)
}

func obsctlRun(t testing.TB, kubeconfig, dir string, env []string, args ...string) Result {
	t.Helper()
	var out, errb bytes.Buffer
	start := time.Now()
	code := cli.Run(context.Background(), args, cli.Deps{
		Stdout: &out, Stderr: &errb, WorkDir: dir,
		Getenv: func(k string) string {
			if k == "KUBECONFIG" {
				return kubeconfig
			}
			for _, kv := range env {
				if name, v, ok := strings.Cut(kv, "="); ok && name == k {
					return v
				}
			}
			return ""
		},
	})
	t.Logf("obsctl %s (%s): exit %d in %s\n--- stdout\n%s--- stderr\n%s", strings.Join(args, " "), kubeconfig, code, time.Since(start).Round(time.Millisecond), out.String(), errb.String())
	return Result{code, out.String(), errb.String()}
}

// Eventually polls cond every half second until it holds, failing the
// test when it has not within the timeout, or at once when a component of
// the cluster (a program the test runs among them) has exited. cond's
// string says why it does not hold yet.
func Eventually(t testing.TB, c *cluster.Cluster, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if err := c.Err(); err != nil {
			t.Fatalf("%s: %v; last: %s", what, err, why)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last: %s", what, timeout, why)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Get reads url, giving up after five seconds: its status code and body,
// or 0 and the error.
func Get(url string) (int, string) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
