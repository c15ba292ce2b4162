package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/obsctl/obsctl/internal/release"
)

// actionChecked is a client dry run's action: read and checked.
const actionChecked release.Action = "checked"

// applyReport is the result -o json prints.
type applyReport struct {
	Stack     string `json:"stack"`
	Namespace string `json:"namespace"`
	// DryRun is "client" or "server" for a dry run.
	DryRun string `json:"dryRun,omitempty"`
	// Revision is the inventory revision the run recorded; 0 when it
	// recorded none.
	Revision int `json:"revision,omitempty"`
	// RollbackOf is the revision a rollback re-applied.
	RollbackOf int            `json:"rollbackOf,omitempty"`
	Counts     reportCounts   `json:"counts"`
	Requests   reportRequests `json:"requests"`
	Objects    []reportObject `json:"objects"`
	// Confirm lists the destructive changes, confirmed or not.
	Confirm  []string `json:"destructive,omitempty"`
	Duration float64  `json:"durationSeconds"`
	// ExitCode is the exit code obsctl exits with.
	ExitCode int    `json:"exitCode"`
	Error    string `json:"error,omitempty"`

	start  time.Time
	output string
}

type reportCounts struct {
	Created    int `json:"created"`
	Configured int `json:"configured"`
	Unchanged  int `json:"unchanged"`
	Replaced   int `json:"replaced"`
	Pruned     int `json:"pruned"`
	Kept       int `json:"kept"`
	Conflict   int `json:"conflict"`
	Failed     int `json:"failed"`
	Skipped    int `json:"skipped"`
}

func (c *reportCounts) add(a release.Action) {
	switch a {
	case release.Created:
		c.Created++
	case release.Configured:
		c.Configured++
	case release.Unchanged:
		c.Unchanged++
	case release.Replaced:
		c.Replaced++
	case release.Pruned:
		c.Pruned++
	case release.Kept:
		c.Kept++
	case release.Conflict:
		c.Conflict++
	case release.Failed:
		c.Failed++
	case release.Skipped:
		c.Skipped++
	}
}

// reportRequests counts the apply engine's API requests (discovery, the
// lock, the inventory and prune not included): an unchanged re-apply sends
// no patch.
type reportRequests struct {
	Patches int `json:"patches"`
	Total   int `json:"total"`
}

type reportObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// Action is created, configured, unchanged, replaced, pruned, kept,
	// conflict, failed or skipped; checked for a client dry run.
	Action string `json:"action"`
	// Note says more: the reason for the action, fields taken back, why
	// a dry run could not check an object.
	Note string `json:"note,omitempty"`
	// Destructive says what data the change loses.
	Destructive string  `json:"destructive,omitempty"`
	Error       string  `json:"error,omitempty"`
	Duration    float64 `json:"durationSeconds"`
}

func reportObjectOf(o release.ObjectResult) reportObject {
	ro := reportObject{
		APIVersion: o.Ref.APIVersion(), Kind: o.Ref.Kind, Namespace: o.Ref.Namespace, Name: o.Ref.Name,
		Action: string(o.Action), Note: o.Note, Destructive: o.Destructive, Duration: o.Duration.Seconds(),
	}
	if o.Err != nil {
		ro.Error = reason(o.Ref, o.Err)
	}
	return ro
}

func newApplyReport(o *applyOptions, start time.Time) *applyReport {
	rep := &applyReport{Objects: []reportObject{}, start: start, output: o.output}
	if o.dryRun != "none" {
		rep.DryRun = o.dryRun
	}
	rep.Stack, rep.Namespace = o.cluster.stack, o.cluster.namespace
	return rep
}

// add takes in the release's result.
func (rep *applyReport) add(res *release.Result) {
	if res == nil {
		return
	}
	rep.Stack, rep.Namespace = res.Stack, res.Namespace
	rep.Revision, rep.RollbackOf, rep.Confirm = res.Revision, res.RollbackOf, res.Confirm
	rep.Requests = reportRequests{Patches: res.Patches, Total: res.Requests}
	for _, o := range res.Objects {
		rep.Objects = append(rep.Objects, reportObjectOf(o))
		rep.Counts.add(o.Action)
	}
}

// print closes the run: the summary line, or the JSON result for -o
// json. It returns err, the run's error.
func (rep *applyReport) print(deps *Deps, out *printer, err error) error {
	out.flush()
	if rep.output == "json" {
		rep.Duration = time.Since(rep.start).Seconds()
		rep.ExitCode = exitCode(err, io.Discard)
		if err != nil {
			rep.Error = err.Error()
		}
		enc := json.NewEncoder(deps.Stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(rep); werr != nil && err == nil {
			return werr
		}
		return err
	}
	if err == nil && rep.DryRun != "client" {
		what := "no revision (nothing changed)"
		switch {
		case rep.DryRun == "server":
			what = "server dry run"
		case rep.Revision > 0 && rep.RollbackOf > 0:
			what = fmt.Sprintf("revision %d (rollback to revision %d)", rep.Revision, rep.RollbackOf)
		case rep.Revision > 0:
			what = fmt.Sprintf("revision %d", rep.Revision)
		}
		c := rep.Counts
		out.note(fmt.Sprintf("obsctl: stack %s %s: %d created, %d configured, %d unchanged, %d pruned in %s",
			rep.Stack, what, c.Created, c.Configured, c.Unchanged, c.Pruned, formatDuration(time.Since(rep.start))))
	}
	return err
}
