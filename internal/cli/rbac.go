package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/manifest"
	"github.com/obsctl/obsctl/internal/rbac"
)

type rbacOptions struct {
	*globalOptions
	name            string
	output          string
	files           []string
	serviceAccounts []string
	users           []string
	groups          []string
}

func newRBACCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &rbacOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "rbac",
		Short: "Print the ClusterRole obsctl needs, for a least-privilege identity",
		Long: `Print the ClusterRole an identity needs to run obsctl apply, diff, history and
rollback: get, list, watch, create, patch and delete on every kind the stack
renders (a server-side apply that creates an object needs create as well as
patch), the inventory Secret and the lock Lease, and listing events and pods
to explain a rollout that timed out.

Kubernetes lets nobody grant permissions they do not hold, and the stack
creates ClusterRoles and bindings for its components. Rather than escalate
and bind on every role, which would let obsctl grant itself anything, the
ClusterRole holds what the stack's own roles grant: the kinds of the repo's
stack (as obsctl render renders it) or, with -f, of the manifests are
managed too, their Roles' and ClusterRoles' rules are held, and a role they
bind without defining gets bind on that role alone.

With --service-account, --user or --group a ClusterRoleBinding follows.
Each rule is printed under a comment saying what it is for; the output is
byte-stable. obsctl rbac reads no cluster.`,
		Example: `  obsctl rbac --service-account monitoring:obsctl | kubectl apply -f -
  obsctl rbac -f manifests/ --name obsctl-ci --user ci-bot
  obsctl rbac -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRBAC(deps, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", rbac.DefaultName, "name of the ClusterRole and of its binding")
	f.StringVarP(&o.output, "output", "o", "yaml", "output format: yaml or json")
	f.StringArrayVarP(&o.files, "filename", "f", nil, "manifests obsctl will apply, whose kinds and roles the ClusterRole must cover: files, folders or - for standard input (repeatable)")
	f.StringArrayVar(&o.serviceAccounts, "service-account", nil, "bind the ClusterRole to this service account, NAMESPACE:NAME (repeatable)")
	f.StringArrayVar(&o.users, "user", nil, "bind the ClusterRole to this user (repeatable)")
	f.StringArrayVar(&o.groups, "group", nil, "bind the ClusterRole to this group (repeatable)")
	return cmd
}

func runRBAC(deps *Deps, o *rbacOptions) error {
	if o.output != "yaml" && o.output != "json" {
		return usagef("unknown output format %q (want yaml or json)", o.output)
	}
	if o.name == "" {
		return usagef("--name is empty")
	}
	var subjects []rbacv1.Subject
	for _, s := range o.serviceAccounts {
		sa, err := rbac.ServiceAccount(s)
		if err != nil {
			return usagef("--service-account: %v", err)
		}
		subjects = append(subjects, sa)
	}
	for _, u := range o.users {
		subjects = append(subjects, rbac.User(u))
	}
	for _, g := range o.groups {
		subjects = append(subjects, rbac.Group(g))
	}
	var objs []*unstructured.Unstructured
	if len(o.files) > 0 {
		ms, err := manifest.Read(o.files, manifest.Options{Stdin: deps.Stdin, WorkDir: deps.WorkDir})
		if err != nil {
			return err
		}
		for _, m := range ms {
			objs = append(objs, m.Object)
		}
	} else {
		// Both profiles render the same kinds and roles.
		_, res, err := renderStack(deps, o.globalOptions, "", "rbac")
		if err != nil {
			return err
		}
		objs = res.Objects
	}
	p, err := rbac.New(rbac.Options{Name: o.name, Objects: objs, Subjects: subjects})
	if err != nil {
		return err
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(deps.Stderr, "obsctl: warning: %s\n", w)
	}
	out, err := p.YAML()
	if o.output == "json" {
		out, err = p.JSON()
	}
	if err != nil {
		return fmt.Errorf("print the ClusterRole: %w", err)
	}
	_, err = deps.Stdout.Write(out)
	return err
}
