// Package inventory records what obsctl applied to a stack, revision by
// revision. It sits in the release stage of the pipeline: a run loads the
// inventory under the stack's lock, rolls forward the intent of a run that
// was interrupted (RollForward), records its own intent before it changes
// the cluster (Begin), prunes only what the previous revision had and its
// own does not (Prune), and commits its revision (Commit). `obsctl history`
// lists the revisions and `obsctl rollback` re-applies the manifests of one
// of them.
//
// # Storage (format 2)
//
// The index is one Secret per stack, obsctl-inventory-<stack> in the
// stack's namespace, of type obsctl.dev/inventory. Its index.json.gz holds
// every revision's metadata (number, time, run, who, Kubernetes identity,
// repo and git commit, message, profile, obsctl version, summary) and
// entries (object reference and the digest of the stored object), the
// pending intent, and which pack holds which digest.
//
// The objects themselves are content-addressed: each distinct object, as
// stored (see below), is kept once under its sha256, in pack Secrets of
// type obsctl.dev/inventory-pack named obsctl-inventory-<stack>-r<N>-<hash>
// (N is the revision that first had the objects), each under MaxPackSize.
// A CRD that did not change costs nothing in later revisions, so a stack
// whose CRDs take most of its bytes keeps DefaultKeep revisions it can
// roll back to. Everything is gzip-compressed JSON with sorted keys and
// sorted objects, so the same inventory always encodes to the same bytes.
//
// Format 1 (every revision's manifests in the index Secret) is still read,
// and written as format 2 on the next save.
//
// # Secrets
//
// Secrets are never stored with their values: a stored Secret keeps its
// metadata and type, loses data and stringData, and carries the sha256 of
// its data and its key names in annotations (see Redacted and
// SecretDigest), so a rollback knows to render it again from its source.
//
// # Saving
//
// Save writes the packs first and the index last, with the resourceVersion
// it loaded, so that a concurrent writer makes it fail with a
// *ConflictError instead of losing a revision, and a run killed at any
// point leaves an index that names only packs that exist; packs no longer
// needed are deleted after the index is written. Save retries transient API
// errors within its context and recognises its own write when an earlier
// attempt landed without an answer. It keeps the last Keep revisions and
// stays within MaxIndexSize and MaxPacks packs: it drops the manifests of
// the oldest revisions first, keeping their entries and saying so in
// ManifestsDropped.
package inventory
