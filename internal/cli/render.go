package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/apply"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/render"
)

type renderOptions struct {
	*globalOptions
	out     string
	profile string
}

func newRenderCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &renderOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "render [-o DIR|-]",
		Short: "Print every object of the stack, sorted and byte-stable, for GitOps",
		Long: `Render the stack obsctl.yaml describes (stack:, with the repo's rules,
dashboards and pipelines) into Kubernetes objects: the same set obsctl apply
applies, sorted in apply order, byte-stable (the same repo always gives the
same bytes), for Argo CD, Flux or a review.

With -o - (the default) the objects go to standard output as one YAML
stream. With -o DIR each object is a file, named <wave>-<kind>-<namespace>-
<name>.yaml so that a sorted listing is the apply order; files a previous
render wrote and this one does not are removed, other files are left alone.

Secrets whose values obsctl generates (Grafana's admin password, the
Elasticsearch credentials) are not rendered: a render holds no secret value.
obsctl apply creates them once; a GitOps setup must provide them (they are
listed on standard error), as it must the receiver Secrets obsctl.yaml's
alerting refers to (listed with the kubectl command that creates each).
The ConfigMap obsctl-release-<stack> carries the stack's identity (name,
namespace, profile and the Secrets above, without values), so that
obsctl apply -f of the output is the same release as obsctl apply. Render
lints first and renders nothing when lint finds errors.`,
		Example: `  obsctl render > stack.yaml
  obsctl render -o deploy/obsctl --profile ha`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRender(deps, o)
		},
	}
	cmd.Flags().StringVarP(&o.out, "output", "o", "-", "folder to write one file per object to, or - for standard output")
	addProfileFlag(cmd, &o.profile)
	return cmd
}

// addProfileFlag adds --profile, which replaces stack.profile.
func addProfileFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "profile", "", "minimal or ha: replaces obsctl.yaml's stack.profile")
}

func runRender(deps *Deps, o *renderOptions) error {
	_, res, err := renderStack(deps, o.globalOptions, o.profile, "render")
	if err != nil {
		return err
	}
	for _, g := range res.Generated {
		how := "which obsctl apply generates"
		if len(g.Env) > 0 {
			var vars []string
			for _, k := range slices.Sorted(maps.Keys(g.Env)) {
				vars = append(vars, g.Env[k])
			}
			how = "which obsctl apply writes from the environment (" + strings.Join(vars, ", ") + ")"
		}
		fmt.Fprintf(deps.Stderr, "obsctl: not rendered: Secret %s/%s (%s; keys %s), %s\n",
			strings.Join(g.AllNamespaces(), ","), g.Name, g.Component, strings.Join(generatedKeys(g), ", "), how)
	}
	for _, q := range res.Requires {
		fmt.Fprintf(deps.Stderr, "obsctl: not rendered: Secret %s/%s (%s; keys %s), which you create: %s\n",
			q.Namespace, q.Name, q.Component, strings.Join(q.Keys, ", "), q.Command())
	}
	if o.out == "-" {
		b, err := renderStream(res.Objects)
		if err != nil {
			return err
		}
		_, err = deps.Stdout.Write(b)
		return err
	}
	dir := o.out
	dir = deps.path(dir)
	n, err := writeRendered(dir, res.Objects)
	if err != nil {
		return err
	}
	fmt.Fprintf(deps.Stdout, "wrote %d objects to %s\n", n, o.out)
	return nil
}

func generatedKeys(g render.GeneratedSecret) []string {
	keys := append([]string(nil), g.Keys...)
	for k := range g.Fixed {
		keys = append(keys, k)
	}
	for k := range g.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// renderStack loads, compiles and lints the repo and renders its stack in
// profile ("" for stack.profile).
func renderStack(deps *Deps, g *globalOptions, profile, what string) (*load.Repo, *render.Result, error) {
	switch profile {
	case "", config.ProfileMinimal, config.ProfileHA:
	default:
		return nil, nil, usagef("--profile %q: want minimal or ha", profile)
	}
	r, c, err := loadCompiled(deps, g, what)
	if err != nil {
		return nil, nil, err
	}
	res, err := render.Render(c, profile)
	if err != nil {
		return nil, nil, err
	}
	return r, res, nil
}

// renderedHeader starts every file render writes; only files that start
// with it are ever removed.
const renderedHeader = "# Rendered by obsctl. Do not edit: change the repo and render again.\n"

// renderStream returns objs as one YAML stream.
func renderStream(objs []*unstructured.Unstructured) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(renderedHeader)
	for _, o := range objs {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("render %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes(), nil
}

// renderedName is the file of an object in a rendered folder.
func renderedName(o *unstructured.Unstructured) string {
	parts := []string{fmt.Sprint(int(apply.WaveOf(o.GroupVersionKind().GroupKind()))), strings.ToLower(o.GetKind())}
	if ns := o.GetNamespace(); ns != "" {
		parts = append(parts, ns)
	}
	return strings.Join(append(parts, o.GetName()), "-") + ".yaml"
}

// writeRendered writes one file per object into dir and removes the files
// an earlier render wrote that this one did not. It returns how many
// objects it wrote.
func writeRendered(dir string, objs []*unstructured.Unstructured) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("render: %w", err)
	}
	want := map[string][]byte{}
	for _, o := range objs {
		y, err := yaml.Marshal(o.Object)
		if err != nil {
			return 0, fmt.Errorf("render %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		name := renderedName(o)
		if _, dup := want[name]; dup {
			return 0, fmt.Errorf("render: two objects would be written to %s", name)
		}
		want[name] = append([]byte(renderedHeader), y...)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("render: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") || want[e.Name()] != nil {
			continue
		}
		p := filepath.Join(dir, e.Name())
		old, err := os.ReadFile(p)
		if err != nil {
			return 0, fmt.Errorf("render: %w", err)
		}
		if bytes.HasPrefix(old, []byte(renderedHeader)) {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return 0, fmt.Errorf("render: %w", err)
			}
		}
	}
	for name, data := range want {
		p := filepath.Join(dir, name)
		if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, data) {
			continue // unchanged: keep its mtime, for tools that watch
		}
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			return 0, fmt.Errorf("render: %w", err)
		}
		if err := os.Rename(tmp, p); err != nil {
			return 0, fmt.Errorf("render: %w", err)
		}
	}
	return len(want), nil
}
