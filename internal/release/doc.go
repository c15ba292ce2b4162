// Package release carries one revision of a stack to a cluster: the last
// stage of load -> compile -> render -> release, and the only one that
// changes a cluster.
//
// One plan decides about every object (MakePlan): desired, live and
// inventory objects in; created, configured, unchanged, replaced, pruned,
// kept or conflict out, each with its reason, and the destructive changes
// that need confirming. Apply, its server dry run, Diff and Rollback all
// make that plan and show or carry out what it says, so the three answers
// about an object that the CLI used to give (apply's five keep rules, the
// dry run's none, diff's one) are one answer. The plan is a pure function,
// table-tested without a cluster; Cluster reads the live state into it.
//
// The rules it keeps, each one a lesson of a routine command that lost
// data:
//   - Nothing is deleted that was not asked for. Prune takes only objects
//     of the stack's inventory that still carry its labels; CRDs,
//     Namespaces, PersistentVolumeClaims and generated Secrets only when
//     --prune-protected names them; the stack's own namespace never. A mass
//     prune, a replaced StatefulSet, a profile downgrade or lost volumes
//     need confirming (ConfirmError, exit 7).
//   - Other people's objects are left alone: an existing object obsctl did
//     not create is a conflict unless adopted (--adopt, or its
//     obsctl.dev/adopt annotation); another stack's is never relabelled. A
//     shared CRD has one owner stack and several users, who mark it so its
//     owner does not prune it.
//   - Generated Secrets are created once and keep their values on every
//     path (apply, apply -f of render output, rollback).
//   - A release records its intent in the inventory before it changes the
//     cluster; the next release rolls an interrupted one forward, so an
//     object it created is never left in no inventory.
//
// A release never prints: it reports Events to an Observer and returns a
// Result; the CLI renders them. Its decisions are about objects in general
// (a reference, labels, a live and a desired state), so that the
// Elasticsearch, Kibana and Grafana objects of later stages can be planned,
// dry-run, diffed and pruned by the same rules.
package release
