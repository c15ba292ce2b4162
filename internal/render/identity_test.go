package render

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/config"
)

// throughYAML writes objs as render's output does and reads them back as
// apply -f does.
func throughYAML(t *testing.T, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(b, &u.Object); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func TestIdentityRoundTrip(t *testing.T) {
	for _, profile := range profiles {
		t.Run(profile, func(t *testing.T) {
			res, _ := renderRepo(t, "  profile: "+profile+"\n", func(c *config.Config) { c.Name = "shop" })
			cm := mustFind(t, res, "ConfigMap", "monitoring", "obsctl-release-shop")
			if l := cm.GetLabels(); l[LabelRelease] != "shop" || l[apply.LabelStack] != "shop" || l[apply.LabelManagedBy] != apply.FieldManager {
				t.Errorf("identity labels %v", l)
			}
			if res.Identity.Stack != "shop" || res.Identity.Namespace != "monitoring" || res.Identity.Profile != profile {
				t.Errorf("identity %+v", res.Identity)
			}
			if len(res.Identity.Generated) == 0 || len(res.Identity.Requires) == 0 {
				t.Fatalf("the default repo has generated and required Secrets: %+v", res.Identity)
			}
			for name, objs := range map[string][]*unstructured.Unstructured{"objects": res.Objects, "apply -f of the YAML": throughYAML(t, res.Objects)} {
				id, ok, err := IdentityOf(objs)
				if err != nil || !ok {
					t.Fatalf("%s: IdentityOf = %v, %v", name, ok, err)
				}
				if !reflect.DeepEqual(id, res.Identity) {
					t.Errorf("%s: read back\n%+v\nrendered\n%+v", name, id, res.Identity)
				}
			}
		})
	}
}

// TestIdentityHoldsNoSecretValue: the identity's data is the specs alone;
// decoded strictly, it has no field a value could hide in, and the fixed
// keys are user names.
func TestIdentityHoldsNoSecretValue(t *testing.T) {
	res, _ := renderRepo(t, "", nil)
	cm := mustFind(t, res, "ConfigMap", "monitoring", "obsctl-release-obsctl")
	data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	if strings.Join(sorted(keys), ",") != "generated.json,namespace,profile,requires.json,stack" {
		t.Errorf("identity keys %v", keys)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(data["generated.json"])))
	dec.DisallowUnknownFields()
	var gen []GeneratedSecret
	if err := dec.Decode(&gen); err != nil {
		t.Fatal(err)
	}
	for _, g := range gen {
		for k := range g.Fixed {
			if k != "username" {
				t.Errorf("Secret %s: fixed key %s: only user names are fixed", g.Name, k)
			}
		}
	}
	for _, k := range []string{"password", "secret-key", "tls.key"} {
		if strings.Contains(data["generated.json"], `"`+k+`":`) {
			t.Errorf("generated.json has a value for %s", k)
		}
	}
}

// TestRequires: the receiver keys obsctl.yaml refers to as {secret: ...}
// are required, one entry per Secret with its keys; {env: ...} ones are
// generated from the environment instead.
func TestRequires(t *testing.T) {
	res, in := renderRepo(t, "", nil)
	want := map[string][]string{}
	for _, m := range in.Alertmanager.Secrets {
		if m.FromEnv == "" {
			want[m.Secret] = append(want[m.Secret], m.Key)
		}
	}
	if len(res.Requires) != len(want) || len(want) < 2 {
		t.Fatalf("requires %+v, want %v", res.Requires, want)
	}
	for i, r := range res.Requires {
		if i > 0 && res.Requires[i-1].Name >= r.Name {
			t.Errorf("requires not sorted: %s after %s", r.Name, res.Requires[i-1].Name)
		}
		if r.Namespace != "monitoring" || r.Component != "Alertmanager" || strings.Join(r.Keys, ",") != strings.Join(sorted(want[r.Name]), ",") {
			t.Errorf("requirement %+v, want keys %v", r, want[r.Name])
		}
	}
	r := Requirement{Namespace: "monitoring", Name: "alertmanager-slack", Keys: []string{"a", "webhook-url"}}
	if got := r.Command(); got != "kubectl create secret generic alertmanager-slack -n monitoring --from-literal=a=... --from-literal=webhook-url=..." {
		t.Errorf("Command() = %q", got)
	}

	env, _ := renderRepo(t, "", func(c *config.Config) {
		for i := range c.Alerting.Receivers {
			if s := c.Alerting.Receivers[i].Slack; s != nil {
				s.WebhookURL = config.SecretRef{Env: "SLACK_URL"}
			}
		}
	})
	for _, r := range env.Requires {
		if r.Name == "alertmanager-slack" {
			t.Errorf("a Secret read from the environment is required of the user: %+v", r)
		}
	}
	if len(env.Requires) != len(res.Requires)-1 {
		t.Errorf("requires %+v", env.Requires)
	}
}

func TestIdentityOf(t *testing.T) {
	res, _ := renderRepo(t, "", nil)
	var loose []*unstructured.Unstructured
	var id *unstructured.Unstructured
	for _, o := range res.Objects {
		if _, ok := o.GetLabels()[LabelRelease]; ok {
			id = o
			continue
		}
		loose = append(loose, o)
	}
	if id == nil {
		t.Fatal("no identity rendered")
	}
	if got, ok, err := IdentityOf(loose); got != nil || ok || err != nil {
		t.Errorf("loose manifests: %v %v %v", got, ok, err)
	}
	other := id.DeepCopy()
	other.SetName("obsctl-release-other")
	if _, _, err := IdentityOf(append(res.Objects, other)); err == nil || !strings.Contains(err.Error(), "two stack identities") {
		t.Errorf("two identities: %v", err)
	}
	for name, edit := range map[string]func(u *unstructured.Unstructured){
		"renamed":         func(u *unstructured.Unstructured) { u.SetName("obsctl-release-x") },
		"other namespace": func(u *unstructured.Unstructured) { u.SetNamespace("elsewhere") },
		"bad json": func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, "{", "data", "generated.json")
		},
		"bad profile": func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, "large", "data", "profile")
		},
		"no stack": func(u *unstructured.Unstructured) { unstructured.RemoveNestedField(u.Object, "data", "stack") },
		"stack label": func(u *unstructured.Unstructured) {
			u.SetLabels(map[string]string{LabelRelease: "obsctl", apply.LabelStack: "x"})
		},
	} {
		bad := id.DeepCopy()
		edit(bad)
		if _, ok, err := IdentityOf(append(slicesClone(loose), bad)); err == nil || ok {
			t.Errorf("%s: no error", name)
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func slicesClone(s []*unstructured.Unstructured) []*unstructured.Unstructured {
	return append([]*unstructured.Unstructured(nil), s...)
}
