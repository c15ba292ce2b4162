package e2elint

import (
	"os"
	"testing"

	"github.com/obsctl/obsctl/test/cluster"
)

var harness cluster.Harness

func TestMain(m *testing.M) { os.Exit(harness.Main(m, cluster.Options{Nodes: 1})) }
