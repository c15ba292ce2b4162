package rbac

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/obsctl/obsctl/test/cluster"
)

var harness cluster.Harness

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, cluster.Options{Nodes: 1}))
}

// testCtx bounds one test's cluster calls, so a stuck call fails the test
// instead of hanging the package.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}
