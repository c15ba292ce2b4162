// Command etcd is upstream's etcd server, built from the go.etcd.io/etcd/server/v3
// module pinned in ../../go.mod for the local test control plane.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
