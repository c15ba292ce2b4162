package render

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/obsctl/obsctl/internal/compile"
)

// TestResourcesAsRendered: Resources, which lint's stack/resources reads,
// says what the main container of each component's workload gets.
func TestResourcesAsRendered(t *testing.T) {
	res := render(t, "  components:\n    grafana:\n      resources: {requests: {memory: 300Mi}, limits: {cpu: 2}}\n")
	cfg := defaultConfig(t, "  components:\n    grafana:\n      resources: {requests: {memory: 300Mi}, limits: {cpu: 2}}\n")
	for _, w := range []struct{ key, kind, ns, name string }{
		{"grafana", "Deployment", "monitoring", "grafana"},
		{"kubeStateMetrics", "Deployment", "monitoring", "kube-state-metrics"},
		{"nodeExporter", "DaemonSet", "monitoring-agents", "node-exporter"},
		{"elasticsearch", "StatefulSet", "monitoring", "elasticsearch"},
	} {
		want, err := Resources(cfg, w.key)
		if err != nil {
			t.Fatal(err)
		}
		o := mustFind(t, res, w.kind, w.ns, w.name)
		var tpl struct {
			Spec struct {
				Template corev1.PodTemplateSpec `json:"template"`
			} `json:"spec"`
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &tpl); err != nil {
			t.Fatal(err)
		}
		got := tpl.Spec.Template.Spec.Containers[0].Resources
		if !reflect.DeepEqual(fmt.Sprint(got), fmt.Sprint(want)) {
			t.Errorf("%s: rendered %v, Resources says %v", w.key, got, want)
		}
	}
	if _, err := Resources(cfg, "nope"); err == nil {
		t.Error("Resources of an unknown component: no error")
	}
}

// TestUnparsableQuantity: a quantity that does not parse fails the render
// (lint's config/schema says where) instead of panicking.
func TestUnparsableQuantity(t *testing.T) {
	for _, q := range []string{"resources: {requests: {cpu: 1.5.5}}", "resources: {limits: {memory: 512MB}}", "storage: {size: lots}"} {
		src := defaultConfigSource("  components:\n    grafana:\n      " + q + "\n")
		cfg := parseLoosely(t, src)
		_, err := Render(&compile.Compiled{Config: cfg}, "")
		if err == nil || !strings.Contains(err.Error(), "stack.components.grafana") {
			t.Errorf("%s: render error %v, want one naming stack.components.grafana", q, err)
		}
	}
}

// TestAgentNamespaceUsed: config's AgentNamespaceUsed, by which lint
// checks the derived agents' namespace, says when Render makes it.
func TestAgentNamespaceUsed(t *testing.T) {
	for _, off := range [][]string{nil, {"nodeExporter"}, {"elasticsearch", "kibana", "fluentd"}, {"nodeExporter", "fluentd"}, {"nodeExporter", "elasticsearch", "kibana", "fluentd"}, {"nodeExporter", "elasticsearch"}} {
		var b strings.Builder
		b.WriteString("  components:\n")
		for _, c := range off {
			fmt.Fprintf(&b, "    %s: {enabled: false}\n", c)
		}
		cfg := defaultConfig(t, b.String())
		res, err := Render(&compile.Compiled{Config: cfg}, "")
		if err != nil {
			t.Fatal(err)
		}
		made := find(res, "Namespace", "", cfg.StackAgentNamespace()) != nil
		if made != cfg.AgentNamespaceUsed() {
			t.Errorf("%v off: the agents' namespace rendered %v, AgentNamespaceUsed %v", off, made, cfg.AgentNamespaceUsed())
		}
	}
}
