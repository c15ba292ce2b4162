package apply

import (
	"encoding/base64"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// unchanged reports whether applying p over live would change nothing, so
// the engine need not send it. Both must hold:
//
//   - live carries p's applied hash: obsctl last applied exactly this
//     object. Without it a field removed from the desired object would
//     still be live, and a subset test alone would call that unchanged.
//   - live satisfies p: every field p sets is live with the same value, up
//     to the server's normalization. This catches changes made by others.
//
// Any doubt answers false: applying an unchanged object is harmless, and the
// engine then sees from the resourceVersion that nothing changed.
func unchanged(p *prepared, live *unstructured.Unstructured) bool {
	if live == nil || live.GetDeletionTimestamp() != nil {
		return false
	}
	if live.GetAnnotations()[AnnotationHash] != p.hash {
		return false
	}
	return satisfies(p.obj.Object, live.Object)
}

// satisfies reports whether live carries every field of desired with an
// equal value. Status and the metadata the server owns are not compared,
// nor the engine's own annotations; lists must have the same length and
// each element must satisfy its counterpart, since the server keeps the
// order an applier gives.
func satisfies(desired, live map[string]any) bool {
	desired = normalizeDesired(desired)
	for k, want := range desired {
		got, ok := live[k]
		switch k {
		case "status":
			continue
		case "metadata":
			if !metadataSatisfies(want, got) {
				return false
			}
			continue
		}
		if !subset([]string{k}, want, got, ok) {
			return false
		}
	}
	return true
}

func metadataSatisfies(want, got any) bool {
	w, _ := want.(map[string]any)
	g, _ := got.(map[string]any)
	for k, wv := range w {
		if isServerOwnedMeta(k) {
			continue
		}
		gv, ok := g[k]
		if k == "annotations" {
			wa, _ := wv.(map[string]any)
			ga, _ := gv.(map[string]any)
			for ak, av := range wa {
				if strings.HasPrefix(ak, annotationPrefix) {
					continue
				}
				gav, ok := ga[ak]
				if !subset([]string{"metadata", "annotations", ak}, av, gav, ok) {
					return false
				}
			}
			continue
		}
		if !subset([]string{"metadata", k}, wv, gv, ok) {
			return false
		}
	}
	return true
}

func isServerOwnedMeta(k string) bool {
	for _, f := range serverOwnedMeta {
		if k == f {
			return true
		}
	}
	return false
}

// normalizeDesired rewrites what the server always rewrites, on a shallow
// copy: a Secret's stringData is merged into data, base64-encoded, and never
// stored as such.
func normalizeDesired(obj map[string]any) map[string]any {
	sd, ok := obj["stringData"].(map[string]any)
	if !ok || obj["kind"] != "Secret" || obj["apiVersion"] != "v1" {
		return obj
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		out[k] = v
	}
	delete(out, "stringData")
	data := map[string]any{}
	if d, ok := obj["data"].(map[string]any); ok {
		for k, v := range d {
			data[k] = v
		}
	}
	for k, v := range sd {
		s, ok := v.(string)
		if !ok {
			return obj // not a valid Secret; let the server say so
		}
		data[k] = base64.StdEncoding.EncodeToString([]byte(s))
	}
	out["data"] = data
	return out
}

// subset reports whether got (present tells whether the field exists at
// all) satisfies want at path.
func subset(path []string, want, got any, present bool) bool {
	if !present || got == nil {
		// The server drops empty optional fields; an empty desired value
		// and an absent live one mean the same.
		return isEmpty(want)
	}
	switch w := want.(type) {
	case nil:
		return false
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !subset(append(path, k), wv, gv, ok) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !subset(append(path, "[]"), w[i], g[i], true) {
				return false
			}
		}
		return true
	default:
		return sameScalar(path, want, got)
	}
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	if f, ok := toFloat(v); ok {
		return f == 0
	}
	return false
}

// sameScalar compares two scalars the way the server may have normalized
// them: numbers by value whatever their JSON form (1 and 1.0, 8080 and
// "8080"), and resource quantities by value where the path is one that holds
// quantities ("0.5" and "500m", "1024Mi" and "1Gi").
func sameScalar(path []string, want, got any) bool {
	if want == got {
		return true
	}
	ws, wIsStr := want.(string)
	gs, gIsStr := got.(string)
	if quantityPath(path) {
		wq, ok1 := quantityOf(want)
		gq, ok2 := quantityOf(got)
		if ok1 && ok2 {
			return wq.Cmp(gq) == 0
		}
	}
	switch {
	case wIsStr && gIsStr:
		return false
	case wIsStr:
		wf, err := strconv.ParseFloat(ws, 64)
		gf, ok := toFloat(got)
		return err == nil && ok && wf == gf
	case gIsStr:
		gf, err := strconv.ParseFloat(gs, 64)
		wf, ok := toFloat(want)
		return err == nil && ok && wf == gf
	}
	wi, wok := toInt(want)
	gi, gok := toInt(got)
	if wok && gok {
		return wi == gi
	}
	wf, ok1 := toFloat(want)
	gf, ok2 := toFloat(got)
	return ok1 && ok2 && wf == gf
}

// quantityKeys are the field names under which the Kubernetes API keeps
// resource quantities (container resources, PVC requests, quotas, limit
// ranges, emptyDir size limits, pod overhead).
var quantityKeys = map[string]bool{
	"resources": true, "limits": true, "requests": true, "hard": true,
	"capacity": true, "overhead": true, "sizeLimit": true,
}

func quantityPath(path []string) bool {
	for _, p := range path {
		if quantityKeys[p] {
			return true
		}
	}
	return false
}

func quantityOf(v any) (resource.Quantity, bool) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case int64:
		s = strconv.FormatInt(v, 10)
	case float64:
		s = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return resource.Quantity{}, false
	}
	q, err := resource.ParseQuantity(s)
	return q, err == nil
}

func toInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case int32:
		return int64(v), true
	}
	return 0, false
}

func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	}
	if i, ok := toInt(v); ok {
		return float64(i), true
	}
	return 0, false
}

// NoChange reports whether applying desired over live (as Apply would, for
// stack) would change nothing: the engine's own fast path, replicas left to
// other managers included. The release's plan asks it, so that the plan and
// the engine never disagree about an object. desired must carry the
// namespace it is applied in; any doubt answers false.
func NoChange(desired, live *unstructured.Unstructured, stack string) bool {
	if desired == nil || live == nil {
		return false
	}
	p, err := prepare(desired, stack, desired.GetNamespace() != "", desired.GetNamespace())
	if err != nil {
		return false
	}
	gk := desired.GroupVersionKind().GroupKind()
	if gk == gkDeployment || gk == gkStatefulSet {
		if owners := replicasOwners(live); len(owners) > 0 {
			if q, err := p.without("spec", "replicas"); err == nil {
				p = q
			}
		}
	}
	return unchanged(p, live)
}
