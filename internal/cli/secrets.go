package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/manifest"
	"github.com/obsctl/obsctl/internal/release"
)

type secretsOptions struct {
	*globalOptions
	out     string
	profile string
}

func newSecretsCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &secretsOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "secrets -o DIR",
		Short: "Write the Secrets obsctl generates, once, for GitOps secret tooling",
		Long: `Write the Secrets obsctl apply generates for the stack (Grafana's admin
credentials, Elasticsearch's, Kibana's encryption keys, Elasticsearch's
transport CA in the ha profile) as manifests into DIR, one file each,
readable by their owner only.

For teams whose GitOps tool (Argo CD, Flux) applies obsctl render's output
and never runs obsctl against the cluster: seal or encrypt these files
with the team's secret tooling (Sealed Secrets, SOPS, an external secret
store) and commit the result, not the files. Run it again and the Secrets
already in DIR keep their values: a credential is generated once. The
Secrets carry obsctl's labels, so a later obsctl apply keeps their values
too. Secrets given in obsctl.yaml as {env: VAR} are left out.

The values are written to DIR only, never printed.`,
		Example: `  obsctl secrets -o secrets/
  obsctl secrets -o secrets/ --profile ha && kubeseal --format yaml < secrets/obsctl-grafana-admin.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSecrets(deps, o)
		},
	}
	cmd.Flags().StringVarP(&o.out, "output", "o", "", "folder to write the Secrets into (required)")
	addProfileFlag(cmd, &o.profile)
	return cmd
}

func runSecrets(deps *Deps, o *secretsOptions) error {
	if o.out == "" || o.out == "-" {
		return usagef("-o DIR is required: the Secrets are written to files, never printed")
	}
	r, res, err := renderStack(deps, o.globalOptions, o.profile, "secrets")
	if err != nil {
		return err
	}
	dir := o.out
	dir = deps.path(dir)
	var existing []*unstructured.Unstructured
	if _, err := os.Stat(dir); err == nil {
		ms, err := manifest.Read([]string{dir}, manifest.Options{WorkDir: deps.WorkDir})
		if err != nil {
			return fmt.Errorf("read the Secrets written before: %w", err)
		}
		existing = manifest.Objects(ms)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	objs, _, err := release.GeneratedSecrets(res.Generated, r.Config.Name, existing)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	kept := 0
	for _, obj := range objs {
		b, err := yaml.Marshal(obj.Object)
		if err != nil {
			return fmt.Errorf("write Secret %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
		}
		p := filepath.Join(dir, obj.GetNamespace()+"."+obj.GetName()+".yaml")
		if old, err := os.ReadFile(p); err == nil && string(old) == string(b) {
			kept++
			continue
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return err
		}
	}
	fmt.Fprintf(deps.Stdout, "wrote %d Secrets to %s (%d already there, kept)\n", len(objs)-kept, o.out, kept)
	return nil
}
