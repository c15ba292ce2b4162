package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLeanDependencies keeps packages out of the binary whose init costs
// every run of obsctl lint start-up time and memory: client-go's typed
// clientset and discovery register the scheme of every Kubernetes API
// group (55 of them). obsctl talks to clusters through the dynamic client
// and its own discovery instead.
func TestLeanDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	banned := []string{
		"k8s.io/client-go/kubernetes",
		"k8s.io/client-go/kubernetes/scheme",
		"k8s.io/client-go/discovery",
		"k8s.io/client-go/restmapper",
	}
	for pkg := range strings.Lines(string(out)) {
		pkg = strings.TrimSpace(pkg)
		for _, b := range banned {
			if pkg == b {
				t.Errorf("obsctl links %s; use the dynamic client and kube.Discovery instead", pkg)
			}
		}
	}
}
