// Package rbac says what Kubernetes permissions obsctl needs, as the
// ClusterRole `obsctl rbac` prints for the identity that runs apply, diff,
// history and rollback (a CI service account, a post-cluster-create hook).
// It sits beside the apply stage of the pipeline: it knows what that stage
// and its bookkeeping (internal/inventory, internal/lock) ask of the API
// server, and reads the objects the stack renders, but talks to no cluster.
//
// The rules, and why each verb:
//
//   - For every kind obsctl manages (Managed, plus the kinds of the objects
//     given): get, list and watch to read the live objects (the unchanged
//     fast path lists each kind once per namespace; the rollout wait reads
//     them again); patch, because every write is a server-side apply; create,
//     because the API server authorizes a server-side apply that creates the
//     object as a create as well as a patch (the cluster test checks this);
//     delete, to prune what a revision no longer has. `obsctl diff` is a
//     server-side apply with dryRun, authorized like the real one.
//   - Secrets get, create and update: the inventory, one Secret per stack,
//     rewritten with update so that a concurrent apply conflicts instead of
//     losing a revision.
//   - Leases (coordination.k8s.io) get, create, update and delete: the lock,
//     one Lease per stack, taken over with update when its holder died.
//   - Events and pods list: to explain a rollout that timed out (recent
//     warning events, pending pods).
//
// The stack creates ClusterRoles, Roles and their bindings for its
// components, and RBAC lets nobody grant a permission they do not hold: to
// create or change a role one must hold every permission in it, or the
// escalate verb on it; to bind a role, the same or the bind verb on it.
// obsctl does not get escalate: with escalate and bind on roles an identity
// can grant itself anything, which would make this ClusterRole as strong as
// cluster-admin. Instead it holds the permissions the stack's own roles
// grant (Options.Objects: every rule of every Role and ClusterRole among
// them, given cluster-wide), which bounds it by what the stack needs. A role
// the stack binds but does not define (system:auth-delegator, say) gets bind
// restricted to its name, which lets obsctl bind that one role and grants
// nothing else. A ClusterRole with an aggregationRule is the exception: the
// API server lets only a holder of every permission (or of escalate on it)
// set one, so it gets escalate and bind restricted to its name, and a
// warning, since those let obsctl grant anything through that one role.
//
// Discovery (/api, /apis) and the OpenAPI documents are open to every
// authenticated user through the system:discovery and
// system:public-info-viewer ClusterRoles every cluster has, so the
// ClusterRole leaves them out.
package rbac
