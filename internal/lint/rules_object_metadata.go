package lint

import (
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/diag"
)

// objectMetadata reports metadata of a PrometheusRule object in a rule
// file that Kubernetes refuses: a metadata.namespace that is not a DNS
// label of at most 63 characters (the API server refuses the object, and
// the Namespace obsctl would create for it), a label key that is not a
// qualified name (at most 63 characters, with an optional DNS prefix and
// one /), or a label value over 63 characters or with characters other
// than letters, digits, -, _ and . (or not starting and ending with a
// letter or digit). It also reports a namespace Kubernetes reserves
// (default, kube-system, kube-public, kube-node-lease), which
// rules.namespace may not be either: obsctl would create, label and prune
// rules there among the control plane's objects.
//
// The finding points at the namespace or label. rules.labels, which every
// PrometheusRule gets, is config/schema's.
//
// It cannot be disabled: lint.disable, --disable (by name, rules/* or
// all) and obsctl:disable comments leave it on, since build, render and
// apply would otherwise ship what the cluster refuses.
type objectMetadata struct{}

func (objectMetadata) Name() string { return "rules/object-metadata" }

func (objectMetadata) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Required: true, Summary: "A PrometheusRule object's namespace or labels are ones Kubernetes refuses, or a reserved namespace."}
}

// Check does nothing at repo scope: checkFile checks each file's objects.
func (objectMetadata) Check(*Pass) {}

func (objectMetadata) checkFile(p *Pass) {
	{
		f := p.File
		for _, obj := range f.Objects {
			if ns := obj.Namespace; ns != "" {
				if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
					p.ReportRule(f, nil, obj.NamespaceSpan, "a namespace is lower-case letters, digits and dashes, at most 63 characters",
						"PrometheusRule %s: invalid namespace %q: %s", obj.Name, ns, errs[0])
				} else if config.ReservedNamespace(ns) {
					p.ReportRule(f, nil, obj.NamespaceSpan, "put the rules in a namespace of the stack's own, such as monitoring",
						"PrometheusRule %s: namespace %q is reserved for Kubernetes itself", obj.Name, ns)
				}
			}
			for _, kv := range obj.LabelKVs {
				ks, vs := kv.KeySpan(), kv.ValueSpan()
				span := diag.Span{File: ks.File, Start: ks.Start, End: vs.End}
				if errs := validation.IsQualifiedName(kv.Key); len(errs) > 0 {
					p.ReportRule(f, nil, span, "a label key is a name of at most 63 letters, digits, '-', '_' and '.', with an optional DNS prefix and '/'",
						"PrometheusRule %s: invalid label key %q: %s", obj.Name, kv.Key, errs[0])
				}
				if errs := validation.IsValidLabelValue(kv.Value); len(errs) > 0 {
					p.ReportRule(f, nil, span, "a label value is at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
						"PrometheusRule %s: invalid value %q of label %s: %s", obj.Name, kv.Value, kv.Key, errs[0])
				}
			}
		}
	}
}
