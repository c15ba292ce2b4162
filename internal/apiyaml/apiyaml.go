// Package apiyaml says which text Kubernetes' YAML reader refuses. The API
// server reads a server-side apply body (the apply stage's) as YAML, and
// the Prometheus Operator writes a PrometheusRule's rule file through the
// same reader (sigs.k8s.io/yaml, JSON read back as YAML): JSON leaves a
// few control characters as they are, which that reader refuses. Lint
// reports them in what obsctl would render; the render stage never sees
// them in a repo that lints clean.
package apiyaml

// Refused returns the first character of s that Kubernetes' YAML reader
// refuses once s is written as JSON (DEL, the C1 controls but NEL, U+FFFE,
// U+FFFF), and whether there is one. JSON escapes the C0 controls, which
// are fine.
func Refused(s string) (rune, bool) {
	for _, r := range s {
		if r == 0x7f || r >= 0x80 && r <= 0x9f && r != 0x85 || r == 0xfffe || r == 0xffff {
			return r, true
		}
	}
	return 0, false
}
