package render

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The GitOps tools render can mark objects for (obsctl render --for).
const (
	GitOpsArgoCD = "argocd"
	GitOpsFlux   = "flux"
)

// GitOpsTools are the values of obsctl render --for, for help and
// completion.
var GitOpsTools = []string{GitOpsArgoCD, GitOpsFlux}

// Annotations render --for sets: each is the GitOps tool's own, as its
// documentation spells it.
const (
	// AnnotationArgoCDSyncOptions holds Argo CD's per-object sync options,
	// comma-separated.
	AnnotationArgoCDSyncOptions = "argocd.argoproj.io/sync-options"
	// AnnotationFluxSubstitute set to FluxDisabled keeps the object out of
	// the kustomize-controller's post-build variable substitution.
	AnnotationFluxSubstitute = "kustomize.toolkit.fluxcd.io/substitute"
	// AnnotationFluxSSA is the kustomize-controller's apply policy;
	// IfNotPresent creates the object when it is missing and otherwise
	// leaves it alone.
	AnnotationFluxSSA = "kustomize.toolkit.fluxcd.io/ssa"
	// AnnotationFluxPrune set to FluxDisabled keeps the kustomize-controller
	// from deleting the object when it leaves the source.
	AnnotationFluxPrune = "kustomize.toolkit.fluxcd.io/prune"
	// FluxDisabled is the value that turns a Flux policy off.
	FluxDisabled = "disabled"
)

// lastAppliedLimit is the size the API server allows an object's
// annotations together (metadata.annotations: Too long: must have at most
// 262144 bytes). Client-side apply, Argo CD's default, copies the whole
// object as JSON into the kubectl.kubernetes.io/last-applied-configuration
// annotation, so an object near that size cannot be applied that way.
const lastAppliedLimit = 262144

// lastAppliedSlack leaves room within lastAppliedLimit for the annotation's
// own key and the tracking annotation Argo CD adds.
const lastAppliedSlack = 4096

// GitOpsMarks says what ForGitOps marked, for notes and tests.
type GitOpsMarks struct {
	// ServerSideApply are the objects given Argo CD's ServerSideApply=true
	// sync option: every CustomResourceDefinition, and any other object too
	// large for client-side apply.
	ServerSideApply []string
	// NoSubstitute are the objects opted out of Flux's post-build
	// substitution: each holds ${...} or $$ in text that is another
	// program's (a file or script Grafana, Fluentd, Jaeger or a shell
	// expands, Prometheus's rule templates, an operator's CRD).
	NoSubstitute []string
	// CreateOnly are the Namespaces the stack needs but does not own
	// (AnnotationCreateOnly): the tool creates them and never prunes or
	// deletes them.
	CreateOnly []string
	// Substituted are the objects Flux's substitution still reaches that
	// hold ${...} or $$ elsewhere (a value of obsctl.yaml, such as an
	// external label ${cluster_name}): Flux replaces each ${var} with its
	// variable, or with nothing when the variable is not set.
	Substituted []string
}

// ForGitOps annotates objs, in place, for tool (GitOpsArgoCD or
// GitOpsFlux), so that the tool applies them as obsctl apply would:
//
//   - Argo CD: CustomResourceDefinitions, and objects too large for the
//     last-applied annotation, get ServerSideApply=true (Argo CD applies
//     client-side by default, and the Prometheus Operator's larger CRDs
//     exceed the annotation limit); create-only Namespaces get
//     Prune=false,Delete=false.
//   - Flux: an object holding ${...} or $$ in text that is another
//     program's (see templated: dashboards, Grafana's datasources,
//     Fluentd's and Jaeger's configuration, shell in probes and jobs,
//     Prometheus's rule templates, the operator's CRDs) gets
//     kustomize.toolkit.fluxcd.io/substitute: disabled, because Flux's
//     post-build substitution rewrites the whole object: every ${var},
//     an unset one to nothing, and every $$ to $. Create-only Namespaces
//     get ssa: IfNotPresent and prune: disabled. Flux applies server-side
//     already.
//
// Other fields stay open to Flux's substitution, so that obsctl.yaml may
// carry a variable of the Flux Kustomization (GitOpsMarks.Substituted
// lists where).
func ForGitOps(objs []*unstructured.Unstructured, tool string) (GitOpsMarks, error) {
	var m GitOpsMarks
	if !slices.Contains(GitOpsTools, tool) {
		return m, fmt.Errorf("render: unknown GitOps tool %q: want one of %s", tool, strings.Join(GitOpsTools, ", "))
	}
	for _, o := range objs {
		id := objectID(o)
		createOnly := o.GetAnnotations()[AnnotationCreateOnly] == "true"
		switch tool {
		case GitOpsArgoCD:
			var opts []string
			big, err := tooLargeForClientSide(o)
			if err != nil {
				return m, err
			}
			if o.GetKind() == "CustomResourceDefinition" || big {
				opts = append(opts, "ServerSideApply=true")
				m.ServerSideApply = append(m.ServerSideApply, id)
			}
			if createOnly {
				opts = append(opts, "Prune=false", "Delete=false")
				m.CreateOnly = append(m.CreateOnly, id)
			}
			if len(opts) > 0 {
				annotate(o, AnnotationArgoCDSyncOptions, strings.Join(opts, ","))
			}
		case GitOpsFlux:
			if createOnly {
				annotate(o, AnnotationFluxSSA, "IfNotPresent")
				annotate(o, AnnotationFluxPrune, FluxDisabled)
				m.CreateOnly = append(m.CreateOnly, id)
			}
			switch {
			case fluxExpands(templated(o)):
				annotate(o, AnnotationFluxSubstitute, FluxDisabled)
				m.NoSubstitute = append(m.NoSubstitute, id)
			case fluxExpands(o.Object):
				m.Substituted = append(m.Substituted, id)
			}
		}
	}
	return m, nil
}

// objectID names an object for messages: Kind namespace/name.
func objectID(o *unstructured.Unstructured) string {
	if ns := o.GetNamespace(); ns != "" {
		return o.GetKind() + " " + ns + "/" + o.GetName()
	}
	return o.GetKind() + " " + o.GetName()
}

func annotate(o *unstructured.Unstructured, k, v string) {
	a := o.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[k] = v
	o.SetAnnotations(a)
}

// tooLargeForClientSide reports whether the last-applied annotation of
// client-side apply would not fit beside o's own annotations.
func tooLargeForClientSide(o *unstructured.Unstructured) (bool, error) {
	b, err := json.Marshal(o.Object)
	if err != nil {
		return false, fmt.Errorf("render %s: %w", objectID(o), err)
	}
	n := len(b) + lastAppliedSlack
	for k, v := range o.GetAnnotations() {
		n += len(k) + len(v)
	}
	return n > lastAppliedLimit, nil
}

// templated returns the parts of o whose text is another program's: a
// ConfigMap's data (dashboards, Grafana's datasources, Fluentd's and
// Jaeger's configuration), a Secret's stringData (Flux never decodes
// base64, so binaryData and a Secret's data are out of its reach), a
// workload's pod template (shell in commands and probes), a
// PrometheusRule's groups (Prometheus's templates), and the whole of a
// CustomResourceDefinition (the operator's schema, copied verbatim).
func templated(o *unstructured.Unstructured) []any {
	gk := o.GroupVersionKind().GroupKind()
	switch {
	case gk.Group == "" && gk.Kind == "ConfigMap":
		return []any{o.Object["data"]}
	case gk.Group == "" && gk.Kind == "Secret":
		return []any{o.Object["stringData"]}
	case gk.Group == "apiextensions.k8s.io" && gk.Kind == "CustomResourceDefinition":
		return []any{o.Object}
	case gk.Group == "monitoring.coreos.com" && gk.Kind == "PrometheusRule":
		return []any{o.Object["spec"]}
	}
	var parts []any
	for _, path := range [][]string{{"spec", "template"}, {"spec", "jobTemplate"}} {
		if v, ok, _ := unstructured.NestedFieldNoCopy(o.Object, path...); ok {
			parts = append(parts, v)
		}
	}
	return parts
}

// fluxExpands reports whether any string in v, or any key, holds what
// Flux's envsubst (github.com/fluxcd/pkg/envsubst) changes: "${", a
// variable, and "$$", its escape, which it reduces to "$" (so a
// Kubernetes "$$(VAR)" or an operator's description would change too).
func fluxExpands(v any) bool {
	switch v := v.(type) {
	case string:
		return strings.Contains(v, "${") || strings.Contains(v, "$$")
	case map[string]any:
		for k, e := range v {
			if fluxExpands(k) || fluxExpands(e) {
				return true
			}
		}
	case []any:
		return slices.ContainsFunc(v, fluxExpands)
	}
	return false
}
