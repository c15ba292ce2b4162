package e2ehistory

import (
	"os"
	"testing"

	"github.com/obsctl/obsctl/test/cluster"
)

var kube cluster.Harness

func TestMain(m *testing.M) {
	os.Exit(kube.Main(m, cluster.Options{Nodes: 1}))
}
