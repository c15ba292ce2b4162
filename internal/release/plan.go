package release

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/kube"
)

// Action is what a release does, or would do, to one object. Apply, its
// server dry run and diff all report these words, so that one fixture gives
// one answer per object whichever command looked.
type Action string

// The actions. The first four apply an object; Pruned deletes one; Kept and
// Conflict leave one alone, each with a reason; Failed and Skipped are what
// became of an object the engine could not apply.
const (
	Created    Action = "created"
	Configured Action = "configured"
	Unchanged  Action = "unchanged"
	// Replaced objects are deleted and created again: a field that cannot
	// change did (a StatefulSet's volume claims, selector or service).
	Replaced Action = "replaced"
	Pruned   Action = "pruned"
	// Kept objects are the stack's but are not applied or pruned: a
	// protected kind, a namespace that holds others' objects, a CRD
	// another stack owns.
	Kept Action = "kept"
	// Conflict objects exist and are not the stack's: obsctl neither
	// adopts nor changes them unless asked (--adopt).
	Conflict Action = "conflict"
	Failed   Action = "failed"
	// Skipped objects were not applied: what they depend on failed, or the
	// run ended first.
	Skipped Action = "skipped"
)

// Labels and annotations the release reads. The labels are those the apply
// engine writes on every object it applies.
const (
	LabelManagedBy = kube.LabelManagedBy
	LabelStack     = kube.LabelStack
	managedBy      = kube.ManagedBy
	// LabelGenerated marks the Secrets whose values obsctl generated:
	// created once, never changed, never pruned by a routine command.
	LabelGenerated = kube.LabelGenerated
	// AnnotationAdopt, set to "true" on an existing object, lets the stack
	// take it over without --adopt.
	AnnotationAdopt = kube.AnnotationAdopt
	// AnnotationCreateOnly, on a desired object, says the stack needs it to
	// exist but does not own it: it is created when missing and otherwise
	// left alone (the namespace of a rule the stack ships).
	AnnotationCreateOnly = kube.AnnotationCreateOnly
	// AnnotationUsedByPrefix, followed by a stack's name, marks a shared
	// cluster-scoped object (a CRD) another stack owns as used by that
	// stack: its owner does not prune it while the mark is there.
	AnnotationUsedByPrefix = kube.AnnotationUsedByPrefix
)

// Protected kinds are never pruned by a routine apply: deleting them loses
// data that is nowhere else (every custom resource of a CRD, everything in a
// namespace, a volume, a generated credential).
type Protected string

// The protected kinds, as --prune-protected names them.
const (
	ProtectCRDs       Protected = "crds"
	ProtectNamespaces Protected = "namespaces"
	ProtectVolumes    Protected = "volumes"
	ProtectSecrets    Protected = "secrets"
)

// AllProtected lists every protected kind, in the order help prints them.
var AllProtected = []Protected{ProtectCRDs, ProtectNamespaces, ProtectVolumes, ProtectSecrets}

// Thresholds past which a prune is destructive and needs confirming: more
// than MassPruneCount objects, or more than MassPruneShare of the stack.
const (
	MassPruneCount = 10
	MassPruneShare = 0.25
	// massPruneMin is the fewest prunes the share rule counts: removing
	// one or two objects from a small stack is an edit, not a mass prune.
	massPruneMin = 3
)

// Change is the plan's decision about one object, with its reason.
type Change struct {
	Ref    kube.Ref // with the namespace the object lives in
	Action Action
	// Reason says why, in words a user reads after the action: "adopted
	// (--adopt)", "owned by stack blue".
	Reason string
	// Destructive, when set, says what data the change loses; such a
	// change needs confirming (--yes).
	Destructive string
	// Desired is the object to apply; nil for prunes and keeps of objects
	// the set no longer has.
	Desired *unstructured.Unstructured
	// Live is the object in the cluster; nil when there is none.
	Live *unstructured.Unstructured
	// Forget drops the object from the inventory: it is gone, or no
	// longer the stack's.
	Forget bool
	// UseShared marks a desired CRD another stack owns: the stack records
	// itself as a user instead of applying it.
	UseShared bool
}

// Applies reports whether the engine applies the change's object.
func (c Change) Applies() bool {
	switch c.Action {
	case Created, Configured, Unchanged, Replaced:
		return c.Desired != nil && !c.UseShared
	}
	return false
}

// Plan is what a release does to a stack: one decision per object, in
// apply order for the objects of the set and in prune order (the reverse)
// for the rest.
type Plan struct {
	Stack, Namespace string
	Changes          []Change
	// Confirm lists the destructive changes, one sentence each; a release
	// with any needs --yes.
	Confirm []string
	// Profile is the profile the release records; ProfileChange says how
	// it differs from the one the stack was last applied with ("" when it
	// does not).
	Profile, ProfileChange string
}

// Conflicts returns the changes that stop the release: objects in the way
// that are not the stack's.
func (p *Plan) Conflicts() []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Action == Conflict {
			out = append(out, c)
		}
	}
	return out
}

// Count returns how many changes have action a.
func (p *Plan) Count(a Action) int {
	n := 0
	for _, c := range p.Changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// PlanInput is everything the plan decides from. It holds no client: the
// release reads the cluster into it, so the decisions are table-tested
// without one.
type PlanInput struct {
	Stack, Namespace string
	// Desired are the objects of the set, with their namespaces resolved
	// (cluster-scoped ones have none).
	Desired []*unstructured.Unstructured
	// Live maps a reference's ID (kube.Ref.ID) to the live object, for
	// every desired object and every object of Previous; a missing key
	// means the object does not exist.
	Live map[kube.Ref]*unstructured.Unstructured
	// Previous are the objects the stack's inventory holds: the latest
	// revision's and an interrupted run's.
	Previous []kube.Ref
	// Adopt takes over existing objects obsctl did not create (--adopt).
	Adopt bool
	// Prune deletes the objects of Previous the set no longer has; without
	// it they stay the stack's, for a later prune.
	Prune bool
	// PruneProtected lists the protected kinds a prune may delete.
	PruneProtected []Protected
	// NeedsReplace maps the IDs of desired objects whose unchangeable
	// fields changed to the API server's words (a server dry run told).
	NeedsReplace map[kube.Ref]string
	// Unchanged reports whether applying desired over live would change
	// nothing (the engine's fast path); nil treats every owned object as
	// configured.
	Unchanged func(desired, live *unstructured.Unstructured) bool
	// Holders maps a namespace the plan may prune to the objects in it
	// that are not the stack's (deleting the namespace would delete them);
	// CustomResources maps a CRD's name to its custom resources. Both are
	// read only for prune candidates that may be deleted (see Candidates);
	// a key with a nil value means the reading failed.
	Holders, CustomResources map[string][]string
	// Profile is the profile of this release; PreviousProfile the one the
	// stack was last applied with ("" when unknown); ProfileNamed says
	// that the user named it (--profile), so a change of profile is meant.
	Profile, PreviousProfile string
	ProfileNamed             bool
	// Owner says whose a live object is: whether obsctl manages it, and
	// for which stack. Nil reads the Kubernetes labels (LabelManagedBy,
	// LabelStack). A target whose objects carry no labels (an
	// Elasticsearch index template, a Grafana dashboard, whose owner is
	// in a _meta field or a tag) gives its own, and the rest of the plan
	// is the same.
	Owner func(live *unstructured.Unstructured) (managed bool, stack string)
}

func (in *PlanInput) protects(p Protected) bool { return !slices.Contains(in.PruneProtected, p) }

// ProfileError says a release would change the stack's profile without the
// user naming it: forgetting --profile ha must not downgrade a stack.
type ProfileError struct {
	Stack, Previous, Profile string
}

func (e *ProfileError) Error() string {
	return fmt.Sprintf("stack %s was last applied with profile %s, and this release would make it %s: name the profile to say which you mean (--profile %s keeps it, --profile %s changes it)",
		e.Stack, e.Previous, e.Profile, e.Previous, e.Profile)
}

// MakePlan decides what a release does to each object. It is the one
// place these decisions are made: apply, its server dry run, diff and
// rollback all show and carry out what it returns. A *ProfileError is the
// only error.
func MakePlan(in PlanInput) (*Plan, error) {
	p := &Plan{Stack: in.Stack, Namespace: in.Namespace, Profile: in.Profile}
	if in.PreviousProfile != "" && in.Profile != "" && in.Profile != in.PreviousProfile {
		if !in.ProfileNamed {
			return nil, &ProfileError{Stack: in.Stack, Previous: in.PreviousProfile, Profile: in.Profile}
		}
		p.ProfileChange = in.PreviousProfile + " -> " + in.Profile
		if in.Profile == "minimal" && in.PreviousProfile == "ha" {
			p.Confirm = append(p.Confirm, "the profile goes down from ha to minimal: fewer replicas, no disruption budgets, volumes replaced by empty ones")
		}
	}
	desired := make(map[kube.Ref]bool, len(in.Desired))
	for _, obj := range in.Desired {
		c := decideDesired(&in, obj)
		desired[c.Ref.ID()] = true
		p.Changes = append(p.Changes, c)
	}
	var prunes []Change
	for _, ref := range dedupe(in.Previous) {
		if desired[ref.ID()] {
			continue
		}
		if c, ok := decidePrevious(&in, ref); ok {
			prunes = append(prunes, c)
		}
	}
	slices.SortStableFunc(prunes, func(a, b Change) int {
		return cmp.Or(cmp.Compare(kube.WaveOf(b.Ref.GroupKind()), kube.WaveOf(a.Ref.GroupKind())), a.Ref.Compare(b.Ref))
	})
	p.Changes = append(p.Changes, prunes...)

	n := 0
	for _, c := range p.Changes {
		if c.Destructive != "" {
			p.Confirm = append(p.Confirm, fmt.Sprintf("%s %s: %s", c.Ref, c.Action, c.Destructive))
		}
		if c.Action == Pruned {
			n++
		}
	}
	size := max(len(dedupe(in.Previous)), 1)
	if n > MassPruneCount || n >= massPruneMin && float64(n) > MassPruneShare*float64(size) {
		p.Confirm = append(p.Confirm, fmt.Sprintf("%d of the stack's %d objects would be pruned", n, size))
	}
	return p, nil
}

// dedupe returns refs without repeated IDs, keeping the first.
func dedupe(refs []kube.Ref) []kube.Ref {
	seen := make(map[kube.Ref]bool, len(refs))
	out := make([]kube.Ref, 0, len(refs))
	for _, r := range refs {
		if !seen[r.ID()] {
			seen[r.ID()] = true
			out = append(out, r)
		}
	}
	return out
}

// owner says whose an object is.
type owner int

const (
	ownerNone   owner = iota // no object
	ownerStack               // this stack's
	ownerOther               // another stack's
	ownerNobody              // exists, made by someone other than obsctl
)

// labelOwner is PlanInput.Owner for Kubernetes objects: their labels.
func labelOwner(live *unstructured.Unstructured) (bool, string) {
	l := live.GetLabels()
	return l[LabelManagedBy] == managedBy, l[LabelStack]
}

func ownerOf(live *unstructured.Unstructured, stack string) (owner, string) {
	return ownerBy(labelOwner, live, stack)
}

func ownerBy(owned func(*unstructured.Unstructured) (bool, string), live *unstructured.Unstructured, stack string) (owner, string) {
	if live == nil {
		return ownerNone, ""
	}
	managed, s := owned(live)
	switch {
	case !managed || s == "":
		return ownerNobody, ""
	case s == stack:
		return ownerStack, stack
	default:
		return ownerOther, s
	}
}

func (in *PlanInput) owner(live *unstructured.Unstructured) (owner, string) {
	if in.Owner != nil {
		return ownerBy(in.Owner, live, in.Stack)
	}
	return ownerOf(live, in.Stack)
}

func decideDesired(in *PlanInput, obj *unstructured.Unstructured) Change {
	ref := kube.RefOf(obj)
	live := in.Live[ref.ID()]
	c := Change{Ref: ref, Desired: obj, Live: live}
	createOnly := obj.GetAnnotations()[AnnotationCreateOnly] == "true"
	who, other := in.owner(live)
	if live != nil && live.GetDeletionTimestamp() != nil {
		c.Action, c.Reason = Conflict, "it is being deleted; apply again once it is gone"
		return c
	}
	switch who {
	case ownerNone:
		c.Action = Created
		if createOnly {
			c.Reason = "the stack's objects need it"
		}
		return c
	case ownerOther:
		if ref.GroupKind() == kube.GKCRD {
			c.Action, c.UseShared = Kept, true
			c.Reason = "owned by stack " + other + ", used by this one"
			return c
		}
		c.Action = Conflict
		c.Reason = "it belongs to stack " + other
		return c
	case ownerNobody:
		switch {
		case createOnly:
			c.Action, c.Reason = Unchanged, "exists and is not the stack's: left alone"
			c.Desired = nil
			return c
		case in.Adopt:
			c.Action, c.Reason = Configured, "adopted (--adopt)"
			return c
		case live.GetAnnotations()[AnnotationAdopt] == "true":
			c.Action, c.Reason = Configured, "adopted (its "+AnnotationAdopt+" annotation)"
			return c
		}
		c.Action = Conflict
		c.Reason = "it exists and obsctl did not create it; --adopt takes it over"
		return c
	}
	// The stack's own object.
	switch {
	case createOnly:
		c.Action = Unchanged
		c.Desired = nil
		return c
	case isGenerated(live):
		// Its values were read from the cluster into the desired object;
		// nothing else about it is the release's to change.
		c.Action = Unchanged
		if in.Unchanged != nil && !in.Unchanged(obj, live) {
			c.Action = Configured
		}
		return c
	}
	if why, ok := in.NeedsReplace[ref.ID()]; ok {
		c.Action, c.Reason = Replaced, why
		c.Destructive = "deleted and created again; its pods restart"
		return c
	}
	c.Action = Configured
	if in.Unchanged != nil && in.Unchanged(obj, live) {
		c.Action = Unchanged
	}
	return c
}

func isGenerated(obj *unstructured.Unstructured) bool {
	return obj != nil && obj.GetLabels()[LabelGenerated] == "true" && obj.GroupVersionKind().GroupKind() == kube.GKSecret
}

// decidePrevious decides about an object of the inventory that the set no
// longer has. ok is false when there is nothing to say: it is gone.
func decidePrevious(in *PlanInput, ref kube.Ref) (Change, bool) {
	live := in.Live[ref.ID()]
	c := Change{Ref: ref, Live: live}
	if live == nil {
		return c, false
	}
	if v := live.GroupVersionKind().Version; v != "" {
		c.Ref.Version = v
	}
	who, other := in.owner(live)
	switch who {
	case ownerOther:
		c.Action, c.Forget = Kept, true
		c.Reason = "it now belongs to stack " + other
		return c, true
	case ownerNobody:
		c.Action, c.Forget = Kept, true
		c.Reason = fmt.Sprintf("it no longer carries the labels %s=%s and %s=%s", LabelManagedBy, managedBy, LabelStack, in.Stack)
		return c, true
	}
	if live.GetDeletionTimestamp() != nil {
		c.Action, c.Reason = Pruned, "already being deleted"
		return c, true
	}
	gk := ref.GroupKind()
	if !in.Prune {
		c.Action, c.Reason = Kept, "--prune=false"
		return c, true
	}
	if gk == kube.GKNamespace && ref.Name == in.Namespace {
		c.Action, c.Reason = Kept, "it is the stack's namespace, which holds its lock and inventory"
		return c, true
	}
	for _, p := range protections {
		if !p.is(ref, live) {
			continue
		}
		if in.protects(p.kind) {
			c.Action, c.Reason = Kept, fmt.Sprintf("%s are pruned only with --prune-protected=%s: %s", p.what, p.kind, p.why)
			return c, true
		}
		if p.blocked != nil {
			if why := p.blocked(in, ref, live); why != "" {
				c.Action, c.Reason = Kept, why
				return c, true
			}
		}
		c.Destructive = p.loses
		break
	}
	c.Action = Pruned
	return c, true
}

// protection is one protected kind: what it is, why a routine prune
// keeps it, what pruning it loses, and what keeps it even when named.
type protection struct {
	kind    Protected
	what    string
	is      func(ref kube.Ref, live *unstructured.Unstructured) bool
	why     string
	loses   string
	blocked func(in *PlanInput, ref kube.Ref, live *unstructured.Unstructured) string
}

// protections are the protected kinds, in one table: the rule that a
// routine apply never deletes data that is nowhere else.
var protections = []protection{
	{
		kind: ProtectNamespaces, what: "namespaces",
		is:    func(ref kube.Ref, _ *unstructured.Unstructured) bool { return ref.GroupKind() == kube.GKNamespace },
		why:   "deleting one deletes everything in it",
		loses: "everything in the namespace is deleted with it",
		blocked: func(in *PlanInput, ref kube.Ref, _ *unstructured.Unstructured) string {
			return blockedBy(in.Holders, ref.Name, "whether it holds objects outside the stack", "it holds objects outside the stack, which deleting it would delete: ")
		},
	},
	{
		kind: ProtectCRDs, what: "CustomResourceDefinitions",
		is:    func(ref kube.Ref, _ *unstructured.Unstructured) bool { return ref.GroupKind() == kube.GKCRD },
		why:   "deleting one deletes all its custom resources",
		loses: "the kind is gone from the cluster",
		blocked: func(in *PlanInput, ref kube.Ref, live *unstructured.Unstructured) string {
			if users := usersOf(live, in.Stack); len(users) > 0 {
				return "stack " + strings.Join(users, ", ") + " uses it"
			}
			return blockedBy(in.CustomResources, ref.Name, "whether custom resources of it exist", "custom resources of it exist, which deleting it would delete: ")
		},
	},
	{
		kind: ProtectVolumes, what: "volumes",
		is:    func(ref kube.Ref, _ *unstructured.Unstructured) bool { return ref.GroupKind() == kube.GKPVC },
		why:   "their data is lost",
		loses: "the volume's data is lost",
	},
	{
		kind: ProtectSecrets, what: "generated Secrets",
		is:    func(_ kube.Ref, live *unstructured.Unstructured) bool { return isGenerated(live) },
		why:   "their values are nowhere else",
		loses: "its generated values are lost",
	},
}

// blockedBy says why a read (what lives in a namespace, the custom
// resources of a CRD) keeps an object: the read failed (a key with a nil
// value), or found something.
func blockedBy(reads map[string][]string, key, unknown, found string) string {
	got, read := reads[key]
	switch {
	case read && got == nil:
		return "cannot tell " + unknown
	case len(got) > 0:
		return found + strings.Join(got, ", ")
	}
	return ""
}

// usersOf returns the other stacks that marked a shared object as used.
func usersOf(obj *unstructured.Unstructured, stack string) []string {
	var out []string
	for k := range obj.GetAnnotations() {
		if s, ok := strings.CutPrefix(k, AnnotationUsedByPrefix); ok && s != stack && s != "" {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// Candidates returns the namespaces and CRDs the plan may prune, so the
// release reads what lives in them (PlanInput.Holders and
// CustomResources) only when it matters: a protected kind the user did
// not name is kept without looking.
func Candidates(in PlanInput) (namespaces, crds []string) {
	desired := make(map[kube.Ref]bool, len(in.Desired))
	for _, obj := range in.Desired {
		desired[kube.RefOf(obj).ID()] = true
	}
	if !in.Prune {
		return nil, nil
	}
	for _, ref := range dedupe(in.Previous) {
		if desired[ref.ID()] {
			continue
		}
		live := in.Live[ref.ID()]
		if who, _ := in.owner(live); who != ownerStack || live.GetDeletionTimestamp() != nil {
			continue
		}
		switch gk := ref.GroupKind(); {
		case gk == kube.GKNamespace && ref.Name != in.Namespace && !in.protects(ProtectNamespaces):
			namespaces = append(namespaces, ref.Name)
		case gk == kube.GKCRD && !in.protects(ProtectCRDs):
			crds = append(crds, ref.Name)
		}
	}
	return namespaces, crds
}
