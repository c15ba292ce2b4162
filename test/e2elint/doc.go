// Package e2elint proves obsctl lint against the real API server (the
// local control plane of test/cluster): for every case of the cluster-*
// hostile corpus (internal/cli/testdata/hostile) it renders the repo, sends
// every object as a server dry run through the apply engine, as a release
// does, and lints the repo. Lint must report an error for every repo the
// API server refuses, and the accepted near misses (the longest valid name,
// a quantity just within its limit, the biggest PrometheusRule that still
// applies) must lint clean and be accepted. It holds tests only.
package e2elint
