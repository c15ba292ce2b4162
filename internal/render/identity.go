package render

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/kube"
)

// LabelRelease marks the ConfigMap that carries a render's stack identity;
// its value is the stack's name.
const LabelRelease = kube.LabelRelease

// IdentityName is the name of the identity ConfigMap of stack.
func IdentityName(stack string) string { return "obsctl-release-" + stack }

// The keys of the identity ConfigMap.
const (
	identityStack     = "stack"
	identityNamespace = "namespace"
	identityProfile   = "profile"
	identityGenerated = "generated.json"
	identityRequires  = "requires.json"
)

// Identity is what a set of rendered objects says about the stack it is:
// carried by a ConfigMap among the objects, so that obsctl apply -f of
// render's output is the same release as obsctl apply of the repo (the
// same stack, generated Secrets created, requirements checked) rather than
// loose manifests. It holds no secret value: the generated Secrets' specs
// (names, keys, the environment variables they are read from), never
// their values.
type Identity struct {
	// Stack is the stack's name.
	Stack string
	// Namespace is the stack's namespace: its lock and inventory live
	// there.
	Namespace string
	// Profile is the profile the objects were rendered in.
	Profile string
	// Generated are the Secrets apply generates (or writes from the
	// environment), sorted by namespace and name.
	Generated []GeneratedSecret
	// Requires are the Secrets the user manages that the stack needs,
	// sorted by namespace and name.
	Requires []Requirement
}

// Requirement is a Secret the user manages that the stack needs, such as
// a receiver's key that obsctl.yaml's alerting refers to as {secret:
// {name, key}}. Without it the pods that mount it never start, so a
// release checks it before applying.
type Requirement struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Keys are the keys the stack reads, sorted.
	Keys []string `json:"keys"`
	// Component names the component that reads it, for messages.
	Component string `json:"component"`
}

// Command is the kubectl command that creates the Secret, with ... where
// each value goes.
func (r Requirement) Command() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kubectl create secret generic %s -n %s", r.Name, r.Namespace)
	for _, k := range r.Keys {
		fmt.Fprintf(&b, " --from-literal=%s=...", k)
	}
	return b.String()
}

// require records that the stack needs key of the user's Secret name.
func (b *builder) require(r *resolved, namespace, name, key string) {
	for i, q := range b.requires {
		if q.Namespace == namespace && q.Name == name {
			if !slices.Contains(q.Keys, key) {
				b.requires[i].Keys = append(q.Keys, key)
				slices.Sort(b.requires[i].Keys)
			}
			return
		}
	}
	b.requires = append(b.requires, Requirement{Namespace: namespace, Name: name, Keys: []string{key}, Component: r.title})
}

// identity adds the ConfigMap that carries the stack's identity: in the
// stack's namespace, named and labelled for the stack, so that two
// stacks' identities never collide. It runs after the components, when
// the generated and required Secrets are known.
func identity(b *builder) error {
	sortSecrets(b.generated, func(g GeneratedSecret) (string, string) { return g.Namespace, g.Name })
	for i := range b.generated {
		// Empty is nil, as the JSON reads back: the Result and the
		// identity read from the output are then the same value.
		g := &b.generated[i]
		g.Also, g.Keys = nilIfEmpty(g.Also), nilIfEmpty(g.Keys)
		if len(g.Fixed) == 0 {
			g.Fixed = nil
		}
		if len(g.Env) == 0 {
			g.Env = nil
		}
	}
	sortSecrets(b.requires, func(r Requirement) (string, string) { return r.Namespace, r.Name })
	gen, err := json.MarshalIndent(nonNil(b.generated), "", "  ")
	if err != nil {
		return fmt.Errorf("render identity: %w", err)
	}
	req, err := json.MarshalIndent(nonNil(b.requires), "", "  ")
	if err != nil {
		return fmt.Errorf("render identity: %w", err)
	}
	b.add(&corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: IdentityName(b.stack), Namespace: b.ns, Labels: map[string]string{
			LabelName:      "obsctl",
			LabelComponent: "release",
			LabelRelease:   b.stack,
		}},
		Data: map[string]string{
			identityStack:     b.stack,
			identityNamespace: b.ns,
			identityProfile:   b.profile,
			identityGenerated: string(gen) + "\n",
			identityRequires:  string(req) + "\n",
		},
	})
	return nil
}

func sortSecrets[T any](s []T, key func(T) (string, string)) {
	slices.SortFunc(s, func(x, y T) int {
		xn, xs := key(x)
		yn, ys := key(y)
		return cmp.Or(cmp.Compare(xn, yn), cmp.Compare(xs, ys))
	})
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// IdentityOf finds the identity ConfigMap among objs (files given to
// obsctl apply -f, say) and reads it back. ok is false when there is none:
// the objects are loose manifests, not a render of a stack. More than one
// identity, or one that does not read back, is an error.
func IdentityOf(objs []*unstructured.Unstructured) (id *Identity, ok bool, err error) {
	var found *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() != "ConfigMap" || o.GroupVersionKind().Group != "" {
			continue
		}
		if _, has := o.GetLabels()[LabelRelease]; !has {
			continue
		}
		if found != nil {
			return nil, false, fmt.Errorf("two stack identities: ConfigMaps %s/%s and %s/%s; apply one stack's render at a time",
				found.GetNamespace(), found.GetName(), o.GetNamespace(), o.GetName())
		}
		found = o
	}
	if found == nil {
		return nil, false, nil
	}
	where := "ConfigMap " + found.GetNamespace() + "/" + found.GetName()
	var cm corev1.ConfigMap
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(found.Object, &cm); err != nil {
		return nil, false, fmt.Errorf("stack identity %s: %w", where, err)
	}
	id = &Identity{Stack: cm.Data[identityStack], Namespace: cm.Data[identityNamespace], Profile: cm.Data[identityProfile]}
	switch {
	case id.Stack == "" || id.Namespace == "":
		return nil, false, fmt.Errorf("stack identity %s: no stack or namespace", where)
	case cm.Labels[LabelRelease] != id.Stack || cm.Name != IdentityName(id.Stack) || cm.Namespace != id.Namespace:
		return nil, false, fmt.Errorf("stack identity %s: its name, label and namespace do not agree with its data (stack %q, namespace %q)", where, id.Stack, id.Namespace)
	case cm.Labels[apply.LabelStack] != "" && cm.Labels[apply.LabelStack] != id.Stack:
		return nil, false, fmt.Errorf("stack identity %s: labelled for stack %q, says %q", where, cm.Labels[apply.LabelStack], id.Stack)
	case id.Profile != config.ProfileMinimal && id.Profile != config.ProfileHA:
		return nil, false, fmt.Errorf("stack identity %s: unknown profile %q", where, id.Profile)
	}
	if err := json.Unmarshal([]byte(cm.Data[identityGenerated]), &id.Generated); err != nil {
		return nil, false, fmt.Errorf("stack identity %s: %s: %w", where, identityGenerated, err)
	}
	if err := json.Unmarshal([]byte(cm.Data[identityRequires]), &id.Requires); err != nil {
		return nil, false, fmt.Errorf("stack identity %s: %s: %w", where, identityRequires, err)
	}
	return id, true, nil
}
