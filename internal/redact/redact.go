// Package redact is the one place that knows where a Kubernetes object
// holds secret values and how to keep them out of what obsctl prints or
// stores: a Secret's data and stringData, and kubectl's last-applied
// annotation, which repeats them. The inventory stores Secrets by the
// digest of their values (Digest); diff shows them as "(redacted, N
// bytes)" (ForDiff). Nothing else in obsctl reads a Secret's values.
package redact

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// LastApplied is kubectl's client-side apply annotation: on a Secret it
// holds the values in the clear.
const LastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// ValueFields are the top-level fields of a Secret that hold values.
var ValueFields = []string{"data", "stringData"}

// IsSecret reports whether obj is a core Secret.
func IsSecret(obj *unstructured.Unstructured) bool {
	if obj == nil {
		return false
	}
	gvk := obj.GroupVersionKind()
	return gvk.Group == "" && gvk.Kind == "Secret"
}

// Values returns a Secret's values as the API server would store them:
// data base64-decoded, stringData's values taking precedence. A value that
// is not a string, or data that is not base64, is an error.
func Values(obj *unstructured.Unstructured) (map[string][]byte, error) {
	data := map[string][]byte{}
	for _, field := range ValueFields {
		m, ok := obj.Object[field]
		if !ok || m == nil {
			continue
		}
		mm, ok := m.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("secret %s is a %T, not a map", field, m)
		}
		for k, v := range mm {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("secret %s key %q is a %T, not a string", field, k, v)
			}
			if field == "stringData" {
				data[k] = []byte(s)
				continue
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("secret %s key %q: %w", field, k, err)
			}
			data[k] = b
		}
	}
	return data, nil
}

// Digest returns "sha256:<hex>" over a Secret's values (see Values). Each
// key and value is length-prefixed, keys in sorted order, so equal data
// always has the same digest. It also returns the keys, sorted.
func Digest(obj *unstructured.Unstructured) (digest string, keys []string, err error) {
	data, err := Values(obj)
	if err != nil {
		return "", nil, err
	}
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	var n [8]byte
	for _, k := range keys {
		binary.BigEndian.PutUint64(n[:], uint64(len(k)))
		h.Write(n[:])
		h.Write([]byte(k))
		binary.BigEndian.PutUint64(n[:], uint64(len(data[k])))
		h.Write(n[:])
		h.Write(data[k])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), keys, nil
}

// ForDiff replaces, in place, the values of Secrets before and after (the
// live object and what apply would make of it, either may be nil) with
// "(redacted, N bytes)", adding ", changed" on the after side where the
// value differs from the before side, so that a change shows without its
// content. The last-applied annotation is redacted the same way. Other
// kinds are left as they are.
func ForDiff(before, after *unstructured.Unstructured) (*unstructured.Unstructured, *unstructured.Unstructured) {
	bv := rawValues(before)
	av := rawValues(after)
	redact := func(obj *unstructured.Unstructured, mine, other map[string][]byte, isAfter bool) {
		if !IsSecret(obj) {
			return
		}
		marker := func(k string, v []byte) string {
			s := fmt.Sprintf("(redacted, %d bytes", len(v))
			if o, ok := other[k]; isAfter && other != nil && ok && !bytes.Equal(o, v) {
				s += ", changed"
			}
			return s + ")"
		}
		for _, field := range ValueFields {
			m, ok := obj.Object[field].(map[string]any)
			if !ok {
				continue
			}
			out := make(map[string]any, len(m))
			for k := range m {
				out[k] = marker(field+"/"+k, mine[field+"/"+k])
			}
			obj.Object[field] = out
		}
		if a := obj.GetAnnotations(); a[LastApplied] != "" {
			s := "(redacted)"
			if o, ok := other[LastApplied]; isAfter && ok && !bytes.Equal(o, []byte(a[LastApplied])) {
				s = "(redacted, changed)"
			}
			a[LastApplied] = s
			obj.SetAnnotations(a)
		}
	}
	redact(before, bv, av, false)
	redact(after, av, bv, true)
	return before, after
}

// rawValues returns a Secret's values by "data/KEY" (decoded, or as it is
// when it is not base64) and "stringData/KEY", stringData counted as the
// data it becomes, and its last-applied annotation; nil for other objects.
// Unlike Values it never fails: diff shows what it can.
func rawValues(obj *unstructured.Unstructured) map[string][]byte {
	if !IsSecret(obj) {
		return nil
	}
	out := map[string][]byte{}
	if m, ok := obj.Object["data"].(map[string]any); ok {
		for k, v := range m {
			s, _ := v.(string)
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				b = []byte(s)
			}
			out["data/"+k] = b
		}
	}
	if m, ok := obj.Object["stringData"].(map[string]any); ok {
		for k, v := range m {
			s, _ := v.(string)
			out["stringData/"+k] = []byte(s)
			out["data/"+k] = []byte(s)
		}
	}
	if a := obj.GetAnnotations()[LastApplied]; a != "" {
		out[LastApplied] = []byte(a)
	}
	return out
}
