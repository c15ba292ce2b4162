package lock

import (
	"os"
	"testing"

	"github.com/obsctl/obsctl/test/cluster"
)

var harness cluster.Harness

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, cluster.Options{Nodes: 1}))
}

// clusterClient returns a client of the shared cluster, skipping t when
// cluster tests do not run.
func clusterClient(t *testing.T) cluster.Client {
	t.Helper()
	return cluster.NewClient(t, harness.Cluster(t).RESTConfig())
}
