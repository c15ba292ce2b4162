package kube_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/obsctl/obsctl/test/cluster"
)

// harness is the control plane the cluster tests share. The package's unit
// tests run in the same binary and do not need it.
var harness cluster.Harness

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, cluster.Options{Nodes: 1}))
}

// testCtx bounds one test's cluster calls, so that a stuck call fails the
// test instead of hanging the package.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
