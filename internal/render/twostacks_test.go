package render

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/kube"
)

// TestTwoStacksOnOneCluster renders two stacks with different names and
// namespaces, as two teams would put on one cluster: no object of one is
// an object of the other, the CRDs aside (one owner stack, several users)
// and the create-only Namespaces (created by whichever comes first, left
// alone by the other). Every cluster-scoped object carries its stack's
// name. Their node-exporters collide on the nodes' port 9100 unless one
// takes another port.
func TestTwoStacksOnOneCluster(t *testing.T) {
	for _, profile := range profiles {
		t.Run(profile, func(t *testing.T) {
			stack := func(name, ns, extra string) *Result {
				res, _ := renderRepo(t, "  profile: "+profile+"\n  namespace: "+ns+"\n"+extra, func(c *config.Config) {
					c.Name = name
					c.Rules.Namespace = "shared-rules" // both stacks' rules in one namespace
				})
				return res
			}
			a := stack("team-a", "mon-a", "")
			b := stack("team-b", "mon-b", "  components: {nodeExporter: {port: 9101}}\n")

			id := func(o *unstructured.Unstructured) string {
				return o.GroupVersionKind().GroupKind().String() + " " + o.GetNamespace() + "/" + o.GetName()
			}
			inA := map[string]bool{}
			for _, o := range a.Objects {
				inA[id(o)] = true
			}
			shared := 0
			for _, o := range b.Objects {
				if !inA[id(o)] {
					continue
				}
				switch {
				case o.GetKind() == "CustomResourceDefinition":
					shared++
				case o.GetKind() == "Namespace" && o.GetAnnotations()[AnnotationCreateOnly] == "true":
				default:
					t.Errorf("both stacks render %s", id(o))
				}
			}
			if shared == 0 {
				t.Error("the stacks share no CRD: the test checks less than it says")
			}
			for _, res := range []*Result{a, b} {
				stackName := res.Identity.Stack
				for _, o := range res.Objects {
					namespaced, known := kube.Namespaced(o.GroupVersionKind().GroupKind())
					if !known {
						t.Errorf("%s: a kind the kinds table does not know", id(o))
					}
					if namespaced != (o.GetNamespace() != "") {
						t.Errorf("%s: namespaced %v, yet its namespace is %q", id(o), namespaced, o.GetNamespace())
					}
					if namespaced || o.GetKind() == "CustomResourceDefinition" {
						continue
					}
					if o.GetKind() == "Namespace" {
						continue // named by the configuration, checked above
					}
					if !strings.Contains(o.GetName(), stackName) {
						t.Errorf("cluster-scoped %s does not carry the stack's name %s", id(o), stackName)
					}
				}
			}
			if err := checkHostPorts(append(append([]*unstructured.Unstructured(nil), a.Objects...), b.Objects...)); err != nil {
				t.Errorf("with ports 9100 and 9101: %v", err)
			}
			same := stack("team-c", "mon-c", "")
			err := checkHostPorts(append(append([]*unstructured.Unstructured(nil), a.Objects...), same.Objects...))
			if err == nil || !strings.Contains(err.Error(), "host port 9100") {
				t.Errorf("two node-exporters on port 9100: %v", err)
			}
		})
	}
}

func TestCheckHostPorts(t *testing.T) {
	ds := func(name string, hostNetwork bool, ports ...map[string]any) *unstructured.Unstructured {
		var ps []any
		for _, p := range ports {
			ps = append(ps, p)
		}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "DaemonSet",
			"metadata": map[string]any{"name": name, "namespace": "agents"},
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
				"hostNetwork": hostNetwork,
				"containers":  []any{map[string]any{"name": "c", "ports": ps}},
			}}},
		}}
	}
	port := func(container, host int64, proto string) map[string]any {
		m := map[string]any{"containerPort": container}
		if host > 0 {
			m["hostPort"] = host
		}
		if proto != "" {
			m["protocol"] = proto
		}
		return m
	}
	for _, tc := range []struct {
		name string
		objs []*unstructured.Unstructured
		bad  bool
	}{
		{"host network ports", []*unstructured.Unstructured{ds("a", true, port(9100, 0, "")), ds("b", true, port(9100, 0, "TCP"))}, true},
		{"hostPort", []*unstructured.Unstructured{ds("a", false, port(8080, 9100, "")), ds("b", true, port(9100, 0, ""))}, true},
		{"pod network", []*unstructured.Unstructured{ds("a", false, port(9100, 0, "")), ds("b", false, port(9100, 0, ""))}, false},
		{"other protocol", []*unstructured.Unstructured{ds("a", true, port(9100, 0, "UDP")), ds("b", true, port(9100, 0, ""))}, false},
		{"other port", []*unstructured.Unstructured{ds("a", true, port(9100, 0, "")), ds("b", true, port(9101, 0, ""))}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkHostPorts(tc.objs); (err != nil) != tc.bad {
				t.Errorf("checkHostPorts = %v, want an error: %v", err, tc.bad)
			}
		})
	}
}
