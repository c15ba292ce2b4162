package cluster_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/obsctl/obsctl/test/cluster"
)

// nodes is how many simulated nodes the shared cluster has.
const nodes = 3

var kube cluster.Harness

func TestMain(m *testing.M) {
	os.Exit(kube.Main(m, cluster.Options{Nodes: nodes}))
}

// testCtx is a context for one test's cluster calls, bounded so a stuck
// watch fails the test instead of hanging the package.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}
