package inventory

import (
	"testing"

	"github.com/obsctl/obsctl/test/cluster"
)

// ClusterForTest gives the external tests (package inventory_test) a
// client of the shared cluster and a namespace of their own in it,
// skipping t when cluster tests do not run.
func ClusterForTest(t *testing.T, prefix string) (cluster.Client, string) {
	t.Helper()
	return clusterClient(t), harness.Cluster(t).Namespace(t, prefix)
}
