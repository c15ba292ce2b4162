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
	// forTool is --for: the GitOps tool that applies the output.
	forTool string
	// set says which flags the command line gave, so that Argo CD's
	// settings fill only the others.
	set func(name string) bool
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
lints first and renders nothing when lint finds errors. For a GitOps tool,
obsctl secrets writes the generated Secrets once, to seal or encrypt.

--for argocd or --for flux marks the objects for the GitOps tool that
applies them (docs/gitops.md has both set-ups): for Argo CD, the
CustomResourceDefinitions (and any object too large for client-side
apply) get the sync option ServerSideApply=true; for Flux, every object
whose ${...} or $$ are another program's (dashboards, Grafana's
datasources, Fluentd's and Jaeger's configuration, shell in probes and
jobs, rule templates, the operator's CRDs) gets
kustomize.toolkit.fluxcd.io/substitute: disabled, so that post-build
substitution leaves them alone; a ${var} obsctl.yaml puts elsewhere (an
external label, say) stays Flux's to substitute. Namespaces the stack creates but does not
own are never pruned by either. With --for argocd, as Argo CD's config
management plugin runs it, the Application's plugin env OBSCTL_PROFILE
and OBSCTL_REPO (ARGOCD_ENV_OBSCTL_PROFILE, ARGOCD_ENV_OBSCTL_REPO)
stand for --profile and --repo when those are not given.`,
		Example: `  obsctl render > stack.yaml
  obsctl render -o deploy/obsctl --profile ha
  obsctl render --for flux -o clusters/prod/obsctl
  ARGOCD_ENV_OBSCTL_PROFILE=ha obsctl render --for argocd`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.set = func(name string) bool { return cmd.Flags().Changed(name) }
			return runRender(deps, o)
		},
	}
	cmd.Flags().StringVarP(&o.out, "output", "o", "-", "folder to write one file per object to, or - for standard output")
	cmd.Flags().StringVar(&o.forTool, "for", "", "GitOps tool that applies the output: "+strings.Join(render.GitOpsTools, " or "))
	addProfileFlag(cmd, &o.profile)
	return cmd
}

// argoCDEnvPrefix is what Argo CD puts before the name of each variable
// of an Application's spec.source.plugin.env when it runs a config
// management plugin.
const argoCDEnvPrefix = "ARGOCD_ENV_"

// argoCDSettings are the plugin env settings render --for argocd reads,
// by their name in the Application (without argoCDEnvPrefix), with the
// flag each stands for.
var argoCDSettings = map[string]string{
	"OBSCTL_PROFILE": "profile",
	"OBSCTL_REPO":    "repo",
}

// readArgoCDSettings fills --profile and --repo from the Application's
// plugin env, where the command line did not give them. An OBSCTL_
// setting obsctl does not know is a usage error, so that a misspelt one
// fails the sync rather than rendering something else; a repo folder must
// lie inside the Application's path (the plugin's working folder).
func readArgoCDSettings(deps *Deps, o *renderOptions) error {
	if deps.Environ != nil {
		for _, kv := range deps.Environ() {
			name, _, _ := strings.Cut(kv, "=")
			setting, ok := strings.CutPrefix(name, argoCDEnvPrefix)
			if !ok || !strings.HasPrefix(setting, "OBSCTL_") {
				continue
			}
			if _, known := argoCDSettings[setting]; !known {
				return usagef("%s: the Application's plugin env %s is not an obsctl setting: want %s",
					name, setting, strings.Join(slices.Sorted(maps.Keys(argoCDSettings)), " or "))
			}
		}
	}
	if v := deps.Getenv(argoCDEnvPrefix + "OBSCTL_PROFILE"); v != "" && !o.set(argoCDSettings["OBSCTL_PROFILE"]) {
		switch v {
		case config.ProfileMinimal, config.ProfileHA:
		default:
			return usagef("%sOBSCTL_PROFILE=%q: want %s or %s", argoCDEnvPrefix, v, config.ProfileMinimal, config.ProfileHA)
		}
		o.profile = v
	}
	if v := deps.Getenv(argoCDEnvPrefix + "OBSCTL_REPO"); v != "" && !o.set(argoCDSettings["OBSCTL_REPO"]) {
		if !filepath.IsLocal(v) {
			return usagef("%sOBSCTL_REPO=%q: want a folder inside the Application's path", argoCDEnvPrefix, v)
		}
		o.repo = v
	}
	return nil
}

// addProfileFlag adds --profile, which replaces stack.profile.
func addProfileFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "profile", "", "minimal or ha: replaces obsctl.yaml's stack.profile")
}

func runRender(deps *Deps, o *renderOptions) error {
	switch o.forTool {
	case "", render.GitOpsFlux:
	case render.GitOpsArgoCD:
		if o.set == nil {
			o.set = func(string) bool { return false }
		}
		if err := readArgoCDSettings(deps, o); err != nil {
			return err
		}
	default:
		return usagef("--for %q: want %s", o.forTool, strings.Join(render.GitOpsTools, " or "))
	}
	r, res, err := renderStack(deps, o.globalOptions, o.profile, "render")
	if err != nil {
		return err
	}
	if o.forTool != "" && r.Embedded() {
		// A GitOps tool pointed at the wrong folder (an Application's
		// path, a repo moved into a subfolder) would sync the embedded
		// default in place of the team's stack, and prune the team's.
		return usagef("--for %s: no obsctl.yaml here or above: a GitOps tool would apply the embedded default stack in place of the repo's; give the repo with --repo (or ARGOCD_ENV_OBSCTL_REPO)", o.forTool)
	}
	if o.forTool != "" {
		marks, err := render.ForGitOps(res.Objects, o.forTool)
		if err != nil {
			return err
		}
		printGitOpsMarks(deps, o.forTool, marks)
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

// printGitOpsMarks says on standard error what --for marked, and where
// Flux's substitution still reaches a ${...}.
func printGitOpsMarks(deps *Deps, tool string, m render.GitOpsMarks) {
	if n := len(m.ServerSideApply); n > 0 {
		fmt.Fprintf(deps.Stderr, "obsctl: --for %s: %d objects synced server-side (%s=ServerSideApply=true): the CustomResourceDefinitions and any object too large for client-side apply\n",
			tool, n, render.AnnotationArgoCDSyncOptions)
	}
	if n := len(m.NoSubstitute); n > 0 {
		fmt.Fprintf(deps.Stderr, "obsctl: --for %s: %d objects kept from post-build substitution (%s: %s): their ${...} and $$ are Grafana's, Fluentd's, Jaeger's, a shell's, Prometheus's or the operator's\n",
			tool, n, render.AnnotationFluxSubstitute, render.FluxDisabled)
	}
	for _, id := range m.CreateOnly {
		fmt.Fprintf(deps.Stderr, "obsctl: --for %s: %s is created if missing and never pruned or deleted: the stack needs it but does not own it\n", tool, id)
	}
	for _, id := range m.Substituted {
		fmt.Fprintf(deps.Stderr, "obsctl: --for %s: Flux substitutes the ${...} in %s: set each variable in the Kustomization's postBuild (an unset one becomes empty)\n", tool, id)
	}
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
