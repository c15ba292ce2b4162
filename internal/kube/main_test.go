package kube_test

import (
	"os"
	"testing"

	"github.com/obsctl/obsctl/test/cluster"
)

// harness is the control plane the cluster tests share. The package's unit
// tests run in the same binary and do not need it.
var harness cluster.Harness

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, cluster.Options{Nodes: 1}))
}
