package cli

import (
	"encoding/json"
	"io"
	"time"

	"github.com/obsctl/obsctl/internal/inventory"
)

// historyJSON is a revision in -o json.
type historyJSON struct {
	Revision         int                   `json:"revision"`
	Time             time.Time             `json:"time"`
	RunID            string                `json:"runID,omitempty"`
	State            string                `json:"state,omitempty"`
	User             string                `json:"user,omitempty"`
	Host             string                `json:"host,omitempty"`
	KubeUser         string                `json:"kubeUser,omitempty"`
	KubeGroups       []string              `json:"kubeGroups,omitempty"`
	Repo             string                `json:"repo,omitempty"`
	Git              *inventory.GitInfo    `json:"git,omitempty"`
	Message          string                `json:"message,omitempty"`
	Profile          string                `json:"profile,omitempty"`
	ObsctlVersion    string                `json:"obsctlVersion,omitempty"`
	RollbackOf       int                   `json:"rollbackOf,omitempty"`
	Summary          inventory.Summary     `json:"summary"`
	Objects          int                   `json:"objects"`
	Changes          *changesJSON          `json:"changes"`
	Rollbackable     bool                  `json:"rollbackable"`
	ManifestsDropped string                `json:"manifestsDropped,omitempty"`
	ObjectRefs       []inventory.ObjectRef `json:"objectRefs,omitempty"`
}

// changesJSON is inventory.Changes in -o json; null when the previous
// revision is no longer kept.
type changesJSON struct {
	Added   []inventory.ObjectRef `json:"added"`
	Removed []inventory.ObjectRef `json:"removed"`
	// Changed is null when the manifests could not be compared.
	Changed []inventory.ObjectRef `json:"changed"`
}

func (e historyEntry) json(withObjects bool) historyJSON {
	r := e.rev
	out := historyJSON{
		Revision: r.Number, Time: r.Time.UTC(), RunID: r.RunID, State: r.State, User: r.User, Host: r.Host,
		KubeUser: r.KubeUser, KubeGroups: r.KubeGroups, Repo: r.Repo, Git: r.Git, Message: r.Message, Profile: r.Profile,
		ObsctlVersion: r.ObsctlVersion, RollbackOf: r.RollbackOf, Summary: r.Summary, Objects: len(r.Entries),
		Rollbackable: r.HasManifests(), ManifestsDropped: r.ManifestsDropped,
	}
	if c := e.changes; c != nil {
		nonNil := func(refs []inventory.ObjectRef) []inventory.ObjectRef {
			if refs == nil {
				return []inventory.ObjectRef{}
			}
			return refs
		}
		out.Changes = &changesJSON{Added: nonNil(c.Added), Removed: nonNil(c.Removed)}
		if c.Compared {
			out.Changes.Changed = nonNil(c.Changed)
		}
	}
	if withObjects {
		out.ObjectRefs = r.Refs()
	}
	return out
}

func historyEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func writeHistoryJSON(w io.Writer, inv *inventory.Inventory) error {
	entries, err := historyEntries(inv)
	if err != nil {
		return err
	}
	out := struct {
		Stack     string        `json:"stack"`
		Namespace string        `json:"namespace"`
		Revisions []historyJSON `json:"revisions"`
		// Pending is the intent of a run that has not committed.
		Pending *historyJSON `json:"pending,omitempty"`
	}{Stack: inv.Stack(), Namespace: inv.Namespace(), Revisions: make([]historyJSON, len(entries))}
	for i, e := range entries {
		out.Revisions[i] = e.json(false)
	}
	if p := inv.Pending(); p != nil {
		j := historyEntry{rev: *p}.json(false)
		j.State = "pending"
		out.Pending = &j
	}
	return historyEncode(w, out)
}
