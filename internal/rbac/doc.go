// Package rbac says what Kubernetes permissions obsctl needs, as the objects
// `obsctl rbac` prints for the identity that runs apply, diff, history,
// rollback and status (a CI service account, a post-cluster-create hook).
// It sits beside the release stage of the pipeline: it knows what that
// stage and its bookkeeping (internal/inventory, internal/lock) ask of the
// API server, and reads the objects the stack renders, but talks to no
// cluster.
//
// The rules are as narrow as the stack allows. What obsctl does in every
// namespace or to cluster-scoped objects is in one ClusterRole; what it
// does in one namespace only is in a Role there. Each rule is printed under
// a comment saying what obsctl needs it for and, for a broad one, why it is
// not narrower.
//
// The ClusterRole:
//
//   - For every kind obsctl manages (kube.Kinds' Managed kinds, plus the
//     kinds of the objects given) but Secrets, Namespaces and
//     CustomResourceDefinitions: get, list and watch to read the live
//     objects (the unchanged fast path lists each kind once per namespace;
//     status lists them across namespaces; the rollout wait reads them
//     again); patch, because every write is a server-side apply; create,
//     because the API server authorizes a server-side apply that creates
//     the object as a create as well as a patch (the cluster test checks
//     this); delete, to prune what a revision no longer has. `obsctl diff`
//     is a server-side apply with dryRun, authorized like the real one.
//     These are cluster-wide: the repo chooses the namespaces its objects go
//     to, and one role keeps working when it adds one.
//   - Namespaces: get, list, watch and create anywhere (Kubernetes cannot
//     narrow create by name: a create is authorized before the name in its
//     body is read); patch only on the namespaces the stack renders, and
//     delete only on those it owns (not the create-only ones it merely
//     needs, nor its own namespace, which holds the lock and inventory and
//     is never pruned).
//   - CustomResourceDefinitions: get, list, watch and create anywhere;
//     patch (server-side apply, the used-by annotation of a CRD another
//     stack owns) and delete only on the stack's CRDs, by name.
//   - Events and pods list, to explain a rollout that timed out, in
//     whichever namespace the workload runs.
//   - SelfSubjectReviews create, to record the identity that applied a
//     revision; system:basic-user grants it in most clusters, not all.
//
// A Role in each namespace where obsctl needs more:
//
//   - Secrets, in the stack's namespaces only: its own namespace (the
//     inventory index and packs, the generated Secrets, the receiver
//     Secrets apply checks; with update, which the inventory's index is
//     rewritten with so that a concurrent apply conflicts instead of
//     losing a revision), the namespaces it owns (the copies of generated
//     Secrets), the namespaces of the Secrets among the objects, and
//     Options.SecretNamespaces. No rule of obsctl's own reads a Secret
//     anywhere else.
//   - The lock's Lease (get, create, update, delete), in the stack's
//     namespace.
//   - list on every kind in each namespace obsctl may delete: the prune of
//     a namespace first checks that nothing the stack did not make lives
//     in it.
//
// The first apply and the namespaces. A Role can only be created, and
// bound, in a namespace that exists, but the stack's namespaces are what
// its first apply creates. So the policy includes the stack's namespaces
// that hold a Role (its own, the agents' namespace, those of the Secrets
// given) as Namespace objects, printed before the Roles so that `kubectl
// apply -f` creates them first. A Namespace the stack renders is annotated
// obsctl.dev/adopt: "true": obsctl takes over no existing object it did not
// create unless asked, and the annotation is that ask, for the namespace
// alone, so that the first apply adopts it (labels and all) as if it had
// created it. The stack's own namespace, when the objects do not render
// it, is printed without the annotation: obsctl never applies it, only
// keeps its lock and inventory there. Namespaces the stack does not render
// (kube-system, for a Role the operator needs there) must exist already,
// as they would for the stack's own objects. Whoever applies the policy
// should do so with kubectl (or another plain apply), not as an obsctl
// stack of its own: a Namespace labelled as another stack's is never
// taken over.
//
// Held grants. The stack creates ClusterRoles, Roles and their bindings for
// its components, and RBAC lets nobody grant a permission they do not
// hold: to create or change a role one must hold every permission in it, or
// the escalate verb on it; to bind a role, the same or the bind verb on
// it. obsctl does not get escalate: with escalate and bind on roles an
// identity can grant itself anything, which would make it as strong as
// cluster-admin. Instead it holds the permissions the stack's own roles
// grant, which bounds it by what the stack needs: a ClusterRole's rules
// cluster-wide (the API server checks a ClusterRole against what one holds
// cluster-wide), a Role's only in that Role's namespace. These are the
// broad rules that obsctl's own needs would not give it, the Prometheus
// Operator's ClusterRole first among them; each is printed as broad, and a
// warning names a ClusterRole that makes obsctl read every Secret or delete
// any namespace, so that narrowing that ClusterRole narrows obsctl. A role
// the stack binds but does not define (system:auth-delegator, say) gets
// bind restricted to its name, in the binding's namespace for a
// RoleBinding, which lets obsctl bind that one role and grants nothing
// else. A ClusterRole with an aggregationRule is the exception: the API
// server lets only a holder of every permission (or of escalate on it) set
// one, so it gets escalate and bind restricted to its name, and a warning,
// since those let obsctl grant anything through that one role.
//
// The names in resourceNames are those of the stack as printed: print the
// policy again when the stack's namespaces or CustomResourceDefinitions
// change. A namespace or CRD the stack no longer renders is no longer
// obsctl's to delete, which is the point; pruning one with
// --prune-protected then needs the previous policy or an administrator.
//
// Discovery (/api, /apis) and the OpenAPI documents are open to every
// authenticated user through the system:discovery and
// system:public-info-viewer ClusterRoles every cluster has, so the
// ClusterRole leaves them out.
package rbac
