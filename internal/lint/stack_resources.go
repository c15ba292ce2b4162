package lint

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/render"
)

// stackResources reports a stack component whose CPU or memory request is
// above its limit, once the profile's defaults fill in what obsctl.yaml
// leaves out: a memory request of 1Gi for Grafana, whose default limit is
// 512Mi, or a CPU limit of 50m under a default request of 100m. The API
// server refuses such a Deployment, StatefulSet or DaemonSet; for
// Prometheus and Alertmanager it takes the custom resource, and refuses
// the StatefulSet the Prometheus Operator makes of it.
//
// The finding points at the request when obsctl.yaml sets it, else at
// the limit; the message gives both values and says which one is the
// profile's default. Raise the limit with the request, or lower the
// request.
//
// It cannot be disabled: lint.disable, --disable (by name, stack/* or all)
// leave it on, since build, render and apply would otherwise ship what the
// cluster refuses.
type stackResources struct{}

func (stackResources) Name() string { return "stack/resources" }

func (stackResources) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Required: true, Summary: "A component's CPU or memory request is above its limit (after the profile's defaults); Kubernetes refuses it."}
}

func (stackResources) Check(p *Pass) {
	for _, nc := range p.Config.ComponentsByName() {
		if !nc.On() {
			continue
		}
		res, err := render.Resources(p.Config, nc.Name)
		if err != nil {
			continue // a quantity that does not parse: config/schema says where
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, okReq := res.Requests[r]
			lim, okLim := res.Limits[r]
			if !okReq || !okLim || req.Sign() < 0 || lim.Sign() < 0 || req.Cmp(lim) <= 0 {
				continue // negative quantities are config/schema's
			}
			key := string(r)
			reqSet, limSet := nc.Resources.Requests.Has(key), nc.Resources.Limits.Has(key)
			span := stackComponentSpan(p.Config, &nc)
			switch {
			case reqSet:
				span = nc.Resources.Requests.Span(key)
			case limSet:
				span = nc.Resources.Limits.Span(key)
			}
			p.Report(span, "raise limits."+key+" to the request or more, or lower the request",
				"stack.components.%s: the %s request %s%s is above the %s limit %s%s; Kubernetes refuses the container",
				nc.Name, key, req.String(), defaultNote(reqSet), key, lim.String(), defaultNote(limSet))
		}
	}
}

// defaultNote marks a value obsctl.yaml does not set.
func defaultNote(set bool) string {
	if set {
		return ""
	}
	return " (the default)"
}
