// Package inventory records what obsctl applied to a stack, revision by
// revision. It sits in the apply stage of the pipeline: apply loads the
// inventory under the stack's lock, prunes only what the previous revision
// had and the new one does not (Prune), appends the new revision and saves
// it; `obsctl history` lists the revisions and `obsctl rollback` re-applies
// the manifests of one of them.
//
// The inventory is one Secret per stack, obsctl-inventory-<stack> in the
// stack's namespace, of type obsctl.dev/inventory. Its index.json.gz holds
// every revision's number, time, user, host, obsctl version, summary and
// sorted object references; manifests.<n>.json.gz holds the objects
// revision n applied, for rollback. Both are gzip-compressed JSON with sorted
// keys and sorted objects, so the same inventory always encodes to the same
// bytes.
//
// Secrets are never stored with their values: a stored Secret keeps its
// metadata and type, loses data and stringData, and carries the sha256 of its
// data and its key names in annotations (see Redacted and SecretDigest), so
// a rollback knows to render it again from its source.
//
// Save keeps the last Keep revisions and stays within the 1 MiB a Secret may
// hold: it drops the manifests of the oldest revisions first, keeping their
// references and summaries and saying so in ManifestsDropped. It writes with
// the resourceVersion it loaded, so a concurrent writer makes it fail with a
// *ConflictError instead of losing a revision.
package inventory
