//go:build tools

// The generator's inputs, required here so that go.mod pins their versions:
// the Prometheus Operator's API packages (every version the CRDs serve) and
// controller-gen.
package main

import (
	_ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	_ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	_ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1beta1"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
