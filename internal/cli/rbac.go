package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/kube"
	"github.com/obsctl/obsctl/internal/manifest"
	"github.com/obsctl/obsctl/internal/rbac"
)

type rbacOptions struct {
	*globalOptions
	name            string
	namespace       string
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
		Short: "Print the roles obsctl needs, for a least-privilege identity",
		Long: `Print what an identity needs to run obsctl apply, diff, history, rollback and
status on the stack, as narrow as the stack allows:

- a ClusterRole: get, list, watch, create, patch and delete on every kind the
  stack renders but Secrets (a server-side apply that creates an object needs
  create as well as patch); patch and delete on Namespaces and
  CustomResourceDefinitions only by the names of the stack's own; listing
  events and pods to explain a rollout that timed out; a SelfSubjectReview
  to record who applied each revision;
- a Role in each of the stack's namespaces: its Secrets (the inventory, the
  generated Secrets, the stack's own) and the lock's Lease there only;
- the stack's namespaces, so that the Roles can be bound before the first
  apply, annotated obsctl.dev/adopt so that the first apply takes them over.
  Apply the output with kubectl, not as an obsctl stack of its own: obsctl
  never takes over a namespace another stack owns.

Kubernetes lets nobody grant permissions they do not hold, and the stack
creates ClusterRoles, Roles and bindings for its components. Rather than
escalate and bind on every role, which would let obsctl grant itself
anything, obsctl holds what the stack's own roles grant: a ClusterRole's
rules cluster-wide (each such broad rule says so, and a warning names those
that read Secrets or delete namespaces), a Role's in its namespace, through
a Role of obsctl's there. A role the stack binds without defining gets bind
on that role alone.

The stack is the repo's (as obsctl render renders it) or, with -f, the
manifests': their kinds are managed too and their roles' rules held; its
namespace is -n, else the namespace of the manifests' release ConfigMap,
else obsctl.yaml's stack.namespace, else monitoring. Print it again when
the stack's namespaces, CustomResourceDefinitions or roles change.

With --service-account, --user or --group a ClusterRoleBinding and
RoleBindings follow. Each rule is printed under a comment saying what it is
for; the output is byte-stable. obsctl rbac reads no cluster.`,
		Example: `  obsctl rbac --service-account monitoring:obsctl | kubectl apply -f -
  obsctl rbac -f rendered/ -n monitoring --name obsctl-ci --user ci-bot
  obsctl rbac -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRBAC(deps, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", rbac.DefaultName, "name of the ClusterRole, the Roles and their bindings")
	f.StringVarP(&o.namespace, "namespace", "n", "", "the stack's namespace, where its lock, inventory and generated Secrets live (default: the manifests' release ConfigMap's with -f, else obsctl.yaml's stack.namespace, else monitoring)")
	f.StringVarP(&o.output, "output", "o", "yaml", "output format: yaml or json")
	f.StringArrayVarP(&o.files, "filename", "f", nil, "manifests obsctl will apply, whose kinds, namespaces, CRDs, Secrets and roles the policy must cover: files, folders or - for standard input (repeatable)")
	f.StringArrayVar(&o.serviceAccounts, "service-account", nil, "bind the ClusterRole and the Roles to this service account, NAMESPACE:NAME (repeatable)")
	f.StringArrayVar(&o.users, "user", nil, "bind the ClusterRole and the Roles to this user (repeatable)")
	f.StringArrayVar(&o.groups, "group", nil, "bind the ClusterRole and the Roles to this group (repeatable)")
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
	opts := rbac.Options{Name: o.name, Namespace: o.namespace, Subjects: subjects}
	if len(o.files) > 0 {
		ms, err := manifest.Read(o.files, manifest.Options{Stdin: deps.Stdin, WorkDir: deps.WorkDir})
		if err != nil {
			return err
		}
		for _, m := range ms {
			opts.Objects = append(opts.Objects, m.Object)
		}
		if opts.Namespace == "" {
			opts.Namespace = releaseNamespace(opts.Objects)
		}
		if opts.Namespace == "" {
			cfg, err := repoConfig(deps, o.globalOptions)
			if err != nil {
				return err
			}
			opts.Namespace = config.DefaultNamespace
			if cfg != nil {
				opts.Namespace = cfg.StackNamespace()
			}
		}
	} else {
		// Both profiles render the same kinds, roles and namespaces.
		r, res, err := renderStack(deps, o.globalOptions, "", "rbac")
		if err != nil {
			return err
		}
		opts.Objects = res.Objects
		if opts.Namespace == "" {
			opts.Namespace = r.Config.StackNamespace()
		}
		for _, g := range res.Generated {
			opts.SecretNamespaces = append(opts.SecretNamespaces, g.AllNamespaces()...)
		}
	}
	if errs := validation.IsDNS1123Label(opts.Namespace); len(errs) > 0 {
		return usagef("namespace %q: %s", opts.Namespace, strings.Join(errs, "; "))
	}
	p, err := rbac.New(opts)
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
		return fmt.Errorf("print the roles: %w", err)
	}
	_, err = deps.Stdout.Write(out)
	return err
}

// labelRelease marks the ConfigMap that carries a rendered stack's identity
// in the stack's namespace.
const labelRelease = kube.LabelRelease

// releaseNamespace returns the namespace of the release ConfigMap among
// objs, which render puts in the stack's namespace; "" when there is none.
func releaseNamespace(objs []*unstructured.Unstructured) string {
	for _, o := range objs {
		if o.GroupVersionKind().GroupKind() == kube.GKConfigMap && o.GetLabels()[labelRelease] != "" {
			return o.GetNamespace()
		}
	}
	return ""
}
