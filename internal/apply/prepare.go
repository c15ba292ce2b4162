package apply

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/obsctl/obsctl/internal/kube"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// The ownership labels and the annotations the engine adds to every object.
const (
	// FieldManager is the server-side apply field manager obsctl applies as.
	FieldManager = kube.ManagedBy
	// LabelManagedBy marks every object obsctl applies; its value is
	// FieldManager.
	LabelManagedBy = kube.LabelManagedBy
	// LabelStack names the stack an object belongs to (Options.Stack).
	LabelStack = kube.LabelStack
	// AnnotationHash holds a hash of the object as obsctl last applied it,
	// so that a re-apply recognizes an object it has nothing to change in.
	AnnotationHash = "obsctl.dev/applied-hash"
	// annotationPrefix marks annotations the engine owns.
	annotationPrefix = "obsctl.dev/"
)

// serverOwnedMeta are the metadata fields the API server sets. They are
// dropped from the applied body (resourceVersion would otherwise act as a
// precondition, managedFields are refused in an apply) and ignored when
// comparing with a live object.
var serverOwnedMeta = []string{
	"resourceVersion", "uid", "generation", "creationTimestamp", "managedFields",
	"selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
}

// prepared is an object ready to apply: a copy of the caller's object with
// the ownership labels and the applied hash, and its JSON body.
type prepared struct {
	obj  *unstructured.Unstructured
	body []byte
	hash string
}

// prepare copies src (through JSON, so the copy shares nothing with it and
// its numbers are int64 or float64 as in objects read from the server), sets
// its namespace (defaultNS for a namespaced object that has none, none for a
// cluster-scoped one), drops the server-owned metadata, adds the ownership
// labels and the hash of the result as AnnotationHash.
func prepare(src *unstructured.Unstructured, stack string, namespaced bool, defaultNS string) (*prepared, error) {
	raw, err := json.Marshal(src.Object)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	var m map[string]any
	if err := utiljson.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	obj := &unstructured.Unstructured{Object: m}
	meta, _ := m["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		m["metadata"] = meta
	}
	for _, f := range serverOwnedMeta {
		delete(meta, f)
	}
	switch {
	case !namespaced:
		delete(meta, "namespace")
	case obj.GetNamespace() == "":
		obj.SetNamespace(defaultNS)
	}
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = FieldManager
	labels[LabelStack] = stack
	obj.SetLabels(labels)

	ann := obj.GetAnnotations()
	delete(ann, AnnotationHash)
	if len(ann) == 0 {
		delete(meta, "annotations")
	} else {
		obj.SetAnnotations(ann)
	}
	// encoding/json writes map keys sorted, so equal objects hash equally.
	canon, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	sum := sha256.Sum256(canon)
	hash := hex.EncodeToString(sum[:16])
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationHash] = hash
	obj.SetAnnotations(ann)
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return &prepared{obj: obj, body: body, hash: hash}, nil
}
