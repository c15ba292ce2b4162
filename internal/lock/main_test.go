package lock

import (
	"os"
	"testing"

	"k8s.io/client-go/kubernetes"

	"github.com/obsctl/obsctl/test/cluster"
)

var kube cluster.Harness

func TestMain(m *testing.M) {
	os.Exit(kube.Main(m, cluster.Options{Nodes: 1}))
}

// clusterClient returns a client of the shared cluster, skipping t when
// cluster tests do not run.
func clusterClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	return kubernetes.NewForConfigOrDie(kube.Cluster(t).RESTConfig())
}
