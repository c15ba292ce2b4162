package cluster_test

import (
	"os"
	"testing"

	"github.com/obsctl/obsctl/test/cluster"
)

// nodes is how many simulated nodes the shared cluster has.
const nodes = 3

var kube cluster.Harness

func TestMain(m *testing.M) {
	os.Exit(kube.Main(m, cluster.Options{Nodes: nodes}))
}
