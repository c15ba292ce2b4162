// Command kube-apiserver is upstream's kube-apiserver, built from the
// k8s.io/kubernetes module pinned in ../../go.mod for the local test control plane.
package main

import (
	"os"
	_ "time/tzdata" // CronJob time zones, as upstream's main has it.

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
