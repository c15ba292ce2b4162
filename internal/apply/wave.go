package apply

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/obsctl/obsctl/internal/kube"
)

// Wave is a step of an apply; the waves and the kinds in each are kube's
// one table of kinds.
type Wave = kube.Wave

// The waves, in the order they are applied (see kube.Wave).
const (
	WaveCRDs       = kube.WaveCRDs
	WaveNamespaces = kube.WaveNamespaces
	WaveRBAC       = kube.WaveRBAC
	WaveBindings   = kube.WaveBindings
	WaveConfig     = kube.WaveConfig
	WaveServices   = kube.WaveServices
	WaveWorkloads  = kube.WaveWorkloads
	WaveOther      = kube.WaveOther
)

// WaveOf returns the wave objects of kind gk are applied in.
func WaveOf(gk schema.GroupKind) Wave { return kube.WaveOf(gk) }

// Batch is the objects of one wave, in the order they were given.
type Batch struct {
	Wave    Wave
	Objects []*unstructured.Unstructured
}

// Waves splits objs into the waves they are applied in, in order, leaving
// out empty waves. Within a batch the objects keep their input order, so the
// split is deterministic and `obsctl diff` shows objects in apply order.
func Waves(objs []*unstructured.Unstructured) []Batch {
	var by [WaveOther + 1][]*unstructured.Unstructured
	for _, o := range objs {
		w := WaveOf(o.GroupVersionKind().GroupKind())
		by[w] = append(by[w], o)
	}
	var out []Batch
	for w, list := range by {
		if len(list) > 0 {
			out = append(out, Batch{Wave: Wave(w), Objects: list})
		}
	}
	return out
}
