// Package apply is the last stage of the obsctl pipeline (render → apply): it
// takes the rendered Kubernetes objects of a stack to a cluster.
//
// An Applier server-side applies every object with the field manager
// "obsctl", so CustomResourceDefinitions of any size go through (no
// last-applied annotation) and fields owned by other managers are never
// silently overwritten: the engine applies without force first, and a
// conflict names the other managers and their fields. By default
// (Options.Conflicts is ConflictsTake) it then takes the fields back with
// a forced apply and reports them (ObjectResult.TookBack); ConflictsFail
// fails the object instead. Options.ForceConflicts forces at once. One
// field is never fought over: spec.replicas of a Deployment or StatefulSet
// that another manager (kubectl scale, an autoscaler) owns is left to it
// (see replicas.go and ObjectResult.LeftTo).
//
// The guarantees:
//
//   - The caller's objects are never modified; the engine works on copies to
//     which it adds the ownership labels (app.kubernetes.io/managed-by=obsctl
//     and obsctl.dev/stack=<stack>) and the obsctl.dev/applied-hash annotation.
//   - Objects go in waves (see Waves): CustomResourceDefinitions, which are
//     then waited for until Established before anything else goes;
//     Namespaces; ServiceAccounts, Roles and ClusterRoles; their bindings;
//     ConfigMaps and Secrets; Services; workloads; custom resources and
//     everything else. Custom resources of a CRD in the same call work.
//     Within a wave objects go in parallel with bounded concurrency.
//   - A failed object holds back only what depends on it (see
//     depend.go): the objects in a Namespace that failed, the custom
//     resources of a CRD that failed or never became Established, the
//     bindings of a Role or ClusterRole that failed. Those are reported as
//     skipped, naming what held them back; everything else is applied, so
//     that one refused object does not keep, say, the alerting rules of a
//     stack from shipping.
//   - An object the API server will not change in place (a StatefulSet
//     whose volume claim templates changed) is deleted and created again
//     only when Options.Replace names it: that recreates its pods, a
//     decision for the caller. Otherwise it fails with a
//     *ReplaceNeededError, in a server dry run as in the apply.
//   - An unchanged re-apply sends no mutating request: the live objects of
//     the stack are listed once per kind and namespace (not fetched one by
//     one) and an object whose live copy carries the same applied hash and
//     every field the desired object sets is left alone. A caller that
//     has listed already (the release, for its plan) passes what it found
//     as Options.Live, and the engine lists nothing.
//   - With Options.Wait, Apply returns once Deployments, StatefulSets and
//     DaemonSets have rolled out (as `kubectl rollout status` judges them), or
//     a *NotReadyError that says for each object that is not ready why:
//     conditions, the newest warning events, pending pods.
//   - Apply never prints: an Observer hears one Event per object.
//
// The engine decides nothing about a release: what to prune, adopt or ask
// a confirmation for is the release package's (internal/release), which
// tells the engine through Options (Conflicts, Replace, Live) and reads its
// answers (ObjectResult, the errors).
//
// Only this stage and the verify, push and log-search steps touch the network.
// The clients come in from the caller: a dynamic.Interface and a
// meta.RESTMapper (reset after new CRDs when it is a meta.ResettableRESTMapper,
// as client-go's deferred discovery mapper is).
package apply
