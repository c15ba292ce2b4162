package inventory

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/obsctl/obsctl/internal/redact"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const (
	// AnnotationRedacted, on a stored Secret, is the SecretDigest of the
	// data it was applied with. Its presence means the object is not
	// appliable as stored: its values must be rendered again.
	AnnotationRedacted = "obsctl.dev/redacted-sha256"
	// AnnotationRedactedKeys, on a stored Secret, lists its data keys,
	// comma-separated and sorted.
	AnnotationRedactedKeys = "obsctl.dev/redacted-keys"
	// AnnotationRedactedStringKeys, on a stored Secret, lists the keys it
	// was given in stringData, so that Unredact can give them back in the
	// same form and a rollback applies the Secret exactly as it was.
	AnnotationRedactedStringKeys = "obsctl.dev/redacted-string-keys"

	annotationLastApplied = redact.LastApplied
)

// Redacted reports whether obj is a stored Secret whose values were
// removed. A rollback must render such an object again from its source
// (and may compare the result's SecretDigest with the annotation) instead
// of applying it, which would empty the Secret.
func Redacted(obj *unstructured.Unstructured) bool {
	_, ok := obj.GetAnnotations()[AnnotationRedacted]
	return ok
}

func isSecret(obj *unstructured.Unstructured) bool { return redact.IsSecret(obj) }

// SecretDigest returns "sha256:<hex>" over a Secret's data as the API
// server would store it: data's values base64-decoded, stringData's values
// taking precedence. Each key and value is length-prefixed, keys in sorted
// order, so equal data always has the same digest. It also returns the
// keys, sorted.
func SecretDigest(obj *unstructured.Unstructured) (digest string, keys []string, err error) {
	return redact.Digest(obj)
}

// serverFields are set by the API server; a manifest to re-apply has no
// business carrying them, and managedFields and the last-applied
// annotation would repeat a Secret's values.
var serverFields = [][]string{
	{"metadata", "managedFields"},
	{"metadata", "resourceVersion"},
	{"metadata", "uid"},
	{"metadata", "generation"},
	{"metadata", "creationTimestamp"},
	{"metadata", "deletionTimestamp"},
	{"metadata", "deletionGracePeriodSeconds"},
	{"metadata", "selfLink"},
	{"status"},
}

// forStorage returns a copy of obj fit to store: server-set fields removed and,
// for a Secret, its values replaced by their digest.
func forStorage(obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	out, err := clone(obj)
	if err != nil {
		return nil, err
	}
	for _, f := range serverFields {
		unstructured.RemoveNestedField(out.Object, f...)
	}
	anns := out.GetAnnotations()
	delete(anns, annotationLastApplied)
	if isSecret(obj) {
		digest, keys, err := SecretDigest(obj)
		if err != nil {
			return nil, err
		}
		delete(out.Object, "data")
		delete(out.Object, "stringData")
		if anns == nil {
			anns = map[string]string{}
		}
		anns[AnnotationRedacted] = digest
		anns[AnnotationRedactedKeys] = strings.Join(keys, ",")
		if sd, _ := obj.Object["stringData"].(map[string]any); len(sd) > 0 {
			skeys := slices.Sorted(maps.Keys(sd))
			anns[AnnotationRedactedStringKeys] = strings.Join(skeys, ",")
		}
	}
	if len(anns) == 0 {
		unstructured.RemoveNestedField(out.Object, "metadata", "annotations")
	} else {
		out.SetAnnotations(anns)
	}
	return out, nil
}

// clone copies obj through JSON, which, unlike DeepCopy, accepts any value
// that encodes (an int as well as an int64) and keeps numbers exact.
func clone(obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	b, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// Unredact makes a stored, redacted Secret appliable again with the values
// of live, the Secret as it is in the cluster: stored's metadata and type,
// live's data under the keys stored lists, and the redaction annotations
// removed. same reports whether those values are the ones stored was
// applied with (their digests match); when they are not, applying the
// result keeps the Secret's current values rather than restoring the
// revision's, which the inventory never held.
func Unredact(stored, live *unstructured.Unstructured) (out *unstructured.Unstructured, same bool, err error) {
	anns := stored.GetAnnotations()
	want, ok := anns[AnnotationRedacted]
	if !ok || !isSecret(stored) {
		return nil, false, fmt.Errorf("%s %s/%s is not a redacted Secret", stored.GetKind(), stored.GetNamespace(), stored.GetName())
	}
	liveData, _, err := unstructured.NestedMap(live.Object, "data")
	if err != nil {
		return nil, false, fmt.Errorf("secret %s/%s: live data: %w", live.GetNamespace(), live.GetName(), err)
	}
	asString := map[string]bool{}
	for k := range strings.SplitSeq(anns[AnnotationRedactedStringKeys], ",") {
		asString[k] = k != ""
	}
	data, stringData := map[string]any{}, map[string]any{}
	for k := range strings.SplitSeq(anns[AnnotationRedactedKeys], ",") {
		v, ok := liveData[k].(string)
		if !ok || k == "" {
			continue
		}
		if asString[k] {
			if b, err := base64.StdEncoding.DecodeString(v); err == nil && utf8.Valid(b) {
				stringData[k] = string(b)
				continue
			}
		}
		data[k] = v
	}
	if out, err = clone(stored); err != nil {
		return nil, false, err
	}
	anns = out.GetAnnotations()
	delete(anns, AnnotationRedacted)
	delete(anns, AnnotationRedactedKeys)
	delete(anns, AnnotationRedactedStringKeys)
	if len(anns) == 0 {
		unstructured.RemoveNestedField(out.Object, "metadata", "annotations")
	} else {
		out.SetAnnotations(anns)
	}
	if len(data) > 0 {
		out.Object["data"] = data
	}
	if len(stringData) > 0 {
		out.Object["stringData"] = stringData
	}
	got, _, err := SecretDigest(out)
	if err != nil {
		return nil, false, err
	}
	return out, got == want, nil
}
