// Package compile is the compile stage: from a loaded repo (load) to what
// the repo compiles to, each artifact built once: the Prometheus rule
// files, the PrometheusRule objects (as objects, never written as YAML and
// parsed back), the Alertmanager configuration, fluent.conf and the
// dashboards. obsctl build writes its result; render (and through it
// apply) turns it into the stack's Kubernetes objects; lint reuses its
// routing.
//
// It sits between load and render: load -> compile -> render -> release,
// with lint checking the loaded repo and reusing what compile made of it.
package compile
