package catalog

import "slices"

// buckets are the bucket boundaries (le, +Inf aside) of the classic
// histograms whose boundaries are fixed in their program's source, by
// family name. The API server's are those of k8s.io/apiserver v0.36.3
// (pkg/endpoints/metrics), which the local control plane runs; they have
// not changed since Kubernetes 1.23.
var buckets = map[string][]float64{
	"apiserver_request_duration_seconds": {0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3,
		4, 5, 6, 8, 10, 15, 20, 30, 45, 60},
	"apiserver_request_sli_duration_seconds": {0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3,
		4, 5, 6, 8, 10, 15, 20, 30, 45, 60},
}

// Buckets returns the bucket boundaries of the histogram family (its name
// without _bucket), smallest first, and whether they are known: a
// latency SLO's threshold must be one of them, or no series counts the
// requests under it.
func Buckets(family string) ([]float64, bool) {
	b, ok := buckets[family]
	return slices.Clone(b), ok
}
