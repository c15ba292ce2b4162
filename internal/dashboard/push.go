package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/grafana-tools/sdk"

	"github.com/obsctl/obsctl/internal/textdiff"
)

// A Grafana that a team already runs (a company Grafana, Grafana Cloud)
// gets the repo's dashboards through its HTTP API rather than through
// file provisioning: Push puts them there, each in the Grafana folder of
// its repo folder, with the repo's datasources, and keeps them in step
// with the repo as apply keeps the cluster's objects: created,
// configured, unchanged, pruned, or left alone as a conflict.
//
// What is the stack's is said by a tag, StackTag: a dashboard of the
// same uid without it was made by somebody else and is left alone
// (unless adopted), and prune deletes only dashboards that carry it.
// Folders and datasources are never deleted: a folder takes its
// dashboards with it, and a datasource other dashboards may read.

// StackTag returns the tag that marks the dashboards obsctl pushed for
// stack.
func StackTag(stack string) string { return tagPrefix + stack }

const tagPrefix = "obsctl-stack:"

// Board is one dashboard to push.
type Board struct {
	// File is the repo's file, for messages.
	File string
	// Folder is the title of the Grafana folder it goes in.
	Folder string
	// JSON is the dashboard as provisioned (Provision's output).
	JSON []byte
}

// Kinds of what Push changes.
const (
	KindFolder     = "Folder"
	KindDashboard  = "Dashboard"
	KindDatasource = "Datasource"
)

// Change is what became, or would become, of one folder, dashboard or
// datasource in the Grafana.
type Change struct {
	Kind string
	// Name is a folder's title, a dashboard's or datasource's uid.
	Name string
	// Action is created, configured, unchanged, pruned or conflict (the
	// release's words).
	Action string
	// Note says more: why a dashboard was left alone, what it reads that
	// the Grafana lacks.
	Note string
	// Diff is a configured dashboard's change, as a unified diff of its
	// JSON (as Grafana has it, to as the repo has it).
	Diff string
}

// Ref names what changed, for output.
func (c Change) Ref() string { return c.Kind + " " + c.Name }

// Changes reports whether c changes the Grafana (or would).
func (c Change) Changes() bool {
	switch c.Action {
	case "created", "configured", "pruned":
		return true
	}
	return false
}

// PushOptions say how to push.
type PushOptions struct {
	// Stack is the stack whose dashboards these are (StackTag).
	Stack string
	// Datasources are the repo's datasources, their secrets in
	// SecureJSONData.
	Datasources []sdk.Datasource
	// Prune deletes the stack's dashboards the repo no longer has.
	Prune bool
	// Adopt takes over dashboards of the same uid that obsctl did not push.
	Adopt bool
	// DryRun only reads, and says what it would do.
	DryRun bool
	// Yes confirms a mass prune (MassPrune): without it, Push deletes
	// nothing and returns a *MassPruneError.
	Yes bool
}

// A prune of more than MassPruneCount dashboards, or (of 3 or more) of
// more than MassPruneShare of the stack's, needs confirming, as a mass
// prune of the cluster's objects does: an emptied or misplaced dashboards/
// folder would otherwise delete every dashboard the stack pushed.
const (
	MassPruneCount = 10
	MassPruneShare = 0.25
)

// MassPruneError says a prune was not done because it needs confirming.
type MassPruneError struct {
	// Dashboards are the uids that would be pruned.
	Dashboards []string
	// Of is how many dashboards of the stack there would be before it.
	Of int
}

func (e *MassPruneError) Error() string {
	return fmt.Sprintf("pruning %d of the stack's %d dashboards in Grafana needs confirming (--yes): %s", len(e.Dashboards), e.Of, strings.Join(e.Dashboards, ", "))
}

// HTTPError is an answer of Grafana's that is not a success.
type HTTPError struct {
	Status  int
	Message string
}

func (e *HTTPError) Error() string {
	switch e.Status {
	case 401:
		return "Grafana refused the credentials (401): set OBSCTL_GRAFANA_TOKEN to a service account's token (or grafana.token), or OBSCTL_GRAFANA_USERNAME and OBSCTL_GRAFANA_PASSWORD"
	case 403:
		return "Grafana does not let these credentials do this (403): the service account needs the Editor role (Admin for datasources)"
	}
	if e.Message != "" {
		return fmt.Sprintf("Grafana answered %d: %s", e.Status, e.Message)
	}
	return fmt.Sprintf("Grafana answered %d", e.Status)
}

// sdkHTTPError matches the errors grafana-tools/sdk makes of an answer
// that is not a success: "HTTP error 404: returns {...}".
var sdkHTTPError = regexp.MustCompile(`(?s)^HTTP error (\d+): returns (.*)$`)

// Explain returns err as an *HTTPError when it is Grafana's answer, with
// the message Grafana gave, and as it is otherwise (Grafana unreachable).
func Explain(err error) error {
	var he *HTTPError
	if err == nil || errors.As(err, &he) {
		return err
	}
	m := sdkHTTPError.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	status, _ := strconv.Atoi(m[1])
	return &HTTPError{Status: status, Message: answerMessage(strings.TrimSpace(m[2]))}
}

// answerMessage is the message of a Grafana error answer: its JSON's
// "message", else the answer (cut short).
func answerMessage(body string) string {
	var a struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &a); err == nil && a.Message != "" {
		return a.Message
	}
	if len(body) > 200 {
		body = body[:200] + "..."
	}
	return body
}

// Status returns the HTTP status of a Grafana error answer, 0 for
// another error.
func Status(err error) int {
	var he *HTTPError
	if errors.As(Explain(err), &he) {
		return he.Status
	}
	return 0
}

// statusError makes an error of a StatusMessage that the sdk returned
// without looking at the status (its datasource calls do so): Grafana
// gives an id on success.
func statusError(m sdk.StatusMessage) error {
	if m.ID != nil {
		return nil
	}
	msg := "no answer"
	if m.Message != nil {
		msg = *m.Message
	}
	return errors.New("Grafana refused it: " + msg)
}

// Push makes the Grafana of c hold the boards and datasources: the repo's
// datasources first, then the folders, then each dashboard in its folder,
// tagged as the stack's; with Prune, it deletes the stack's dashboards
// that no board is. With DryRun it only reads. It returns a change per
// datasource, folder and dashboard, in that order, and stops at the first
// request Grafana refuses that is not one dashboard's.
func Push(ctx context.Context, c *sdk.Client, boards []Board, o PushOptions) ([]Change, error) {
	var out []Change
	have, changes, err := pushDatasources(ctx, c, o)
	out = append(out, changes...)
	if err != nil {
		return out, err
	}
	folders, changes, err := pushFolders(ctx, c, boards, o.DryRun)
	out = append(out, changes...)
	if err != nil {
		return out, err
	}
	want := map[string]bool{}
	for _, b := range boards {
		ch, err := pushBoard(ctx, c, b, folders, have, o)
		if err != nil {
			return out, fmt.Errorf("%s: %w", b.File, err)
		}
		want[ch.Name] = true
		out = append(out, ch)
	}
	if !o.Prune {
		return out, nil
	}
	pruned, err := prune(ctx, c, want, o)
	return append(out, pruned...), err
}

// pushDatasources creates the repo's datasources the Grafana lacks and
// configures those that differ; it returns the uids of the datasources
// the Grafana has (or, with DryRun, would have).
func pushDatasources(ctx context.Context, c *sdk.Client, o PushOptions) (map[string]bool, []Change, error) {
	live, err := c.GetAllDatasources(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list datasources: %w", Explain(err))
	}
	have := map[string]bool{}
	for _, d := range live {
		have[d.UID] = true
	}
	var out []Change
	for _, want := range o.Datasources {
		want.JSONData = withOwner(want.JSONData, o.Stack)
		ch := Change{Kind: KindDatasource, Name: want.UID, Action: "created"}
		var cur *sdk.Datasource
		for i := range live {
			switch {
			case live[i].UID == want.UID:
				cur = &live[i]
			case live[i].Name == want.Name:
				ch.Action, ch.Note = "conflict", fmt.Sprintf("Grafana has a datasource named %q of uid %q: rename one of them", want.Name, live[i].UID)
			}
		}
		owner := ""
		if cur != nil {
			owner = datasourceOwner(cur.JSONData)
		}
		switch {
		case ch.Action == "conflict":
		case cur != nil && owner == "" && !o.Adopt:
			ch.Action, ch.Note = "conflict", "a datasource of this uid exists that obsctl did not push: left alone (--adopt takes it over)"
		case cur != nil && owner != "" && owner != o.Stack:
			ch.Action, ch.Note = "conflict", "owned by stack "+owner
		case cur != nil && sameDatasource(want, *cur):
			ch.Action = "unchanged"
		case cur != nil:
			ch.Action = "configured"
			if owner == "" {
				ch.Note = "adopted (--adopt)"
			}
			if !o.DryRun {
				want.ID = cur.ID
				m, err := c.UpdateDatasource(ctx, want)
				if err == nil {
					err = statusError(m)
				}
				if err != nil {
					return have, out, fmt.Errorf("datasource %s: %w", want.UID, Explain(err))
				}
			}
		default:
			if !o.DryRun {
				m, err := c.CreateDatasource(ctx, want)
				if err == nil {
					err = statusError(m)
				}
				if err != nil {
					return have, out, fmt.Errorf("datasource %s: %w", want.UID, Explain(err))
				}
			}
			have[want.UID] = true
		}
		out = append(out, ch)
	}
	return have, out, nil
}

// ownerKey is the jsonData key that says which stack pushed a datasource:
// Grafana's datasources have no tags, and jsonData keeps what it is given.
const ownerKey = "obsctlStack"

// withOwner returns jsonData (a map, or nil) with the stack's mark added,
// as a new map.
func withOwner(jsonData any, stack string) map[string]any {
	out := map[string]any{}
	if m, ok := jsonData.(map[string]any); ok {
		for k, v := range m {
			out[k] = v
		}
	}
	out[ownerKey] = stack
	return out
}

// datasourceOwner returns the stack that pushed a datasource, "" for none.
func datasourceOwner(jsonData any) string {
	m, _ := jsonData.(map[string]any)
	s, _ := m[ownerKey].(string)
	return s
}

// sameDatasource compares what the repo says of a datasource with what
// Grafana has. Its secrets cannot be compared, since Grafana never gives
// them back: they are sent when the datasource is created or configured.
func sameDatasource(want, live sdk.Datasource) bool {
	flag := func(b *bool) bool { return b != nil && *b }
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	return want.Name == live.Name && want.Type == live.Type && want.URL == live.URL && want.Access == live.Access &&
		flag(want.BasicAuth) == flag(live.BasicAuth) && str(want.BasicAuthUser) == str(live.BasicAuthUser) &&
		sameJSONData(want.JSONData, live.JSONData)
}

// sameJSONData compares jsonData as JSON: what the repo wrote (YAML's
// ints) and what Grafana gives back (JSON's numbers) alike.
func sameJSONData(a, b any) bool {
	norm := func(v any) any {
		data, err := json.Marshal(v)
		if err != nil {
			return v
		}
		var out any
		_ = json.Unmarshal(data, &out)
		if m, ok := out.(map[string]any); ok && len(m) == 0 {
			return nil
		}
		return out
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// FolderUID returns the uid obsctl gives the Grafana folder of title when
// it creates it.
func FolderUID(title string) string {
	var b strings.Builder
	b.WriteString("obsctl")
	if title != "obsctl" {
		b.WriteString("-")
		for _, r := range strings.ToLower(title) {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
				b.WriteRune(r)
			} else {
				b.WriteRune('-')
			}
		}
	}
	s := b.String()
	if len(s) > 40 {
		s = s[:40]
	}
	return s
}

// pushFolders finds or creates the folders the boards go in, by title, and
// returns their ids (-1 for one a dry run would create).
func pushFolders(ctx context.Context, c *sdk.Client, boards []Board, dryRun bool) (map[string]int, []Change, error) {
	live, err := c.GetAllFolders(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list folders: %w", Explain(err))
	}
	ids := map[string]int{}
	for _, f := range live {
		ids[f.Title] = f.ID
	}
	var titles []string
	for _, b := range boards {
		if !slices.Contains(titles, b.Folder) {
			titles = append(titles, b.Folder)
		}
	}
	slices.Sort(titles)
	var out []Change
	for _, t := range titles {
		ch := Change{Kind: KindFolder, Name: t, Action: "unchanged"}
		if _, ok := ids[t]; !ok {
			ch.Action, ids[t] = "created", -1
			if !dryRun {
				f, err := c.CreateFolder(ctx, sdk.Folder{UID: FolderUID(t), Title: t})
				if err != nil {
					return ids, out, fmt.Errorf("folder %s: %w", t, Explain(err))
				}
				ids[t] = f.ID
			}
		}
		out = append(out, ch)
	}
	return ids, out, nil
}

// pushBoard creates or configures one dashboard, or leaves it.
func pushBoard(ctx context.Context, c *sdk.Client, b Board, folders map[string]int, have map[string]bool, o PushOptions) (Change, error) {
	desired, uid, refs, err := tagged(b.JSON, StackTag(o.Stack))
	if err != nil {
		return Change{}, err
	}
	ch := Change{Kind: KindDashboard, Name: uid, Action: "created"}
	var missing []string
	for _, r := range refs {
		if !have[r] && !slices.Contains(missing, r) {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		ch.Note = fmt.Sprintf("reads datasource %s, which this Grafana does not have: its panels will say the datasource was not found (create one of that uid in this Grafana; the stack's own datasources are not pushed, their URLs being the cluster's)", strings.Join(missing, ", "))
	}
	folder := folders[b.Folder]
	live, meta, err := c.GetRawDashboardByUID(ctx, uid)
	switch {
	case Status(err) == 404:
	case err != nil:
		return ch, fmt.Errorf("dashboard %s: %w", uid, Explain(err))
	default:
		owner, err := ownerOf(live, o.Stack)
		if err != nil {
			return ch, fmt.Errorf("dashboard %s as Grafana has it: %w", uid, err)
		}
		switch {
		case owner == "" && !o.Adopt:
			ch.Action, ch.Note = "conflict", "a dashboard of this uid exists that obsctl did not push: left alone (--adopt takes it over)"
			return ch, nil
		case owner != "" && owner != o.Stack:
			ch.Action, ch.Note = "conflict", "owned by stack "+owner
			return ch, nil
		}
		now, err := Normalize(live, desired, noInputs)
		if err != nil {
			return ch, err
		}
		if bytes.Equal(now, desired) && meta.FolderID == folder {
			ch.Action = "unchanged"
			return ch, nil
		}
		ch.Action = "configured"
		if owner == "" {
			ch.Note = join(ch.Note, "adopted (--adopt)")
		}
		if meta.FolderID != folder {
			ch.Note = join(ch.Note, fmt.Sprintf("moved from folder %q", folderName(meta.FolderTitle)))
		}
		ch.Diff = textdiff.Unified("grafana/"+uid, b.File, string(now), string(desired))
	}
	if o.DryRun {
		return ch, nil
	}
	req := sdk.RawBoardRequest{Dashboard: desired, Parameters: sdk.SetDashboardParams{FolderID: folder}}
	if live != nil {
		// Based on the version read: a save made in Grafana since then
		// is not overwritten unseen (412), as an apply based on an older
		// resourceVersion is refused.
		if req.Dashboard, err = basedOn(desired, live); err != nil {
			return ch, fmt.Errorf("dashboard %s as Grafana has it: %w", uid, err)
		}
		req.Parameters.PreserveId = true
	}
	if err = setDashboard(ctx, c, req); err != nil {
		if Status(err) == 412 && strings.Contains(err.Error(), "changed by someone else") {
			return ch, fmt.Errorf("dashboard %s was changed in Grafana while obsctl applied it (412), and was left as it is: apply again to see the change in diff and take it back", uid)
		}
		return ch, fmt.Errorf("dashboard %s: %w", uid, Explain(err))
	}
	return ch, nil
}

// setDashboard saves a dashboard through the sdk, which reads Grafana's
// message out of an error answer without looking whether it has one: an
// answer without one (a proxy's JSON error in front of Grafana) would be
// a panic inside the sdk, and is an error here.
func setDashboard(ctx context.Context, c *sdk.Client, req sdk.RawBoardRequest) (err error) {
	defer func() {
		// Only the sdk's nil dereference; any other panic is a bug to see.
		if r := recover(); r != nil {
			if re, ok := r.(runtime.Error); !ok || !strings.Contains(re.Error(), "nil pointer dereference") {
				panic(r)
			}
			err = errors.New("Grafana, or a proxy in front of it, refused the dashboard with an answer that says nothing")
		}
	}()
	_, err = c.SetRawDashboardWithParam(ctx, req)
	return err
}

// basedOn returns desired with the id and version of live, the dashboard
// as Grafana had it when read, so that Grafana refuses the save when
// another was made since.
func basedOn(desired, live []byte) ([]byte, error) {
	var meta struct {
		ID      json.Number `json:"id"`
		Version json.Number `json:"version"`
	}
	dec := json.NewDecoder(bytes.NewReader(live))
	dec.UseNumber()
	if err := dec.Decode(&meta); err != nil {
		return nil, err
	}
	root, err := decode(desired)
	if err != nil {
		return nil, err
	}
	obj := root.(*object) // tagged made it, an object
	if meta.ID != "" {
		obj.set("id", meta.ID)
	}
	if meta.Version != "" {
		obj.set("version", meta.Version)
	}
	var b bytes.Buffer
	if err := encode(&b, obj, ""); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func folderName(title string) string {
	if title == "" {
		return "General"
	}
	return title
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// prune deletes the stack's dashboards that want does not hold.
func prune(ctx context.Context, c *sdk.Client, want map[string]bool, o PushOptions) ([]Change, error) {
	const limit = 1000
	var stale []string
	for page := uint(1); ; page++ {
		found, err := c.Search(ctx, sdk.SearchType(sdk.SearchTypeDashboard), sdk.SearchTag(StackTag(o.Stack)), sdk.SearchLimit(limit), sdk.SearchPage(page))
		if err != nil {
			return nil, fmt.Errorf("search the stack's dashboards: %w", Explain(err))
		}
		for _, f := range found {
			// Search matches tags as Grafana folds them; the tag itself
			// is what says a dashboard is the stack's.
			if !want[f.UID] && slices.Contains(f.Tags, StackTag(o.Stack)) && !slices.Contains(stale, f.UID) {
				stale = append(stale, f.UID)
			}
		}
		if len(found) < limit {
			break
		}
	}
	slices.Sort(stale)
	kept := len(want)
	if n := len(stale); !o.Yes && (n > MassPruneCount || n >= 3 && float64(n) > MassPruneShare*float64(n+kept)) {
		if o.DryRun {
			var out []Change
			for _, uid := range stale {
				out = append(out, Change{Kind: KindDashboard, Name: uid, Action: "pruned", Note: "a mass prune: apply needs --yes"})
			}
			return out, nil
		}
		return nil, &MassPruneError{Dashboards: stale, Of: n + kept}
	}
	var out []Change
	for _, uid := range stale {
		if !o.DryRun {
			if _, err := c.DeleteDashboardByUID(ctx, uid); err != nil {
				return out, fmt.Errorf("dashboard %s: %w", uid, Explain(err))
			}
			// The sdk does not look at the delete's status: the
			// dashboard is gone when Grafana no longer has it.
			if _, _, err := c.GetRawDashboardByUID(ctx, uid); Status(err) != 404 {
				if err == nil {
					err = errors.New("Grafana still has it after deleting it")
				}
				return out, fmt.Errorf("dashboard %s: %w", uid, Explain(err))
			}
		}
		out = append(out, Change{Kind: KindDashboard, Name: uid, Action: "pruned"})
	}
	return out, nil
}

// tagged returns the dashboard src with the stack's tag added (and no
// id: Grafana's ids are its own), as Push sends it, its uid, and the
// uids of the datasources it reads by uid.
func tagged(src []byte, tag string) ([]byte, string, []string, error) {
	root, err := decode(src)
	if err != nil {
		return nil, "", nil, err
	}
	obj, ok := root.(*object)
	if !ok {
		return nil, "", nil, errors.New("the dashboard is not a JSON object")
	}
	uid := obj.str("uid")
	if uid == "" {
		return nil, "", nil, errors.New("the dashboard has no uid: a Grafana it is pushed to would make one up, and the next push would make another (give it one)")
	}
	tags, _ := obj.get("tags").(*array)
	if tags == nil {
		tags = &array{}
	}
	if !slices.ContainsFunc(tags.items, func(v any) bool { return v == tag }) {
		tags.items = append(tags.items, tag)
	}
	obj.set("tags", tags)
	obj.del("id")
	var refs []string
	walkRefs(obj, &refs)
	slices.Sort(refs)
	var b bytes.Buffer
	if err := encode(&b, obj, ""); err != nil {
		return nil, "", nil, err
	}
	b.WriteString("\n")
	return b.Bytes(), uid, slices.Compact(refs), nil
}

// walkRefs gathers the uids that "datasource" objects name, but for
// variables (${ds}) and Grafana's built-in datasources.
func walkRefs(v any, refs *[]string) {
	switch v := v.(type) {
	case *object:
		for _, f := range v.fields {
			if ds, ok := f.value.(*object); ok && f.key == "datasource" {
				if uid := ds.str("uid"); uid != "" && !strings.Contains(uid, "$") && !builtinDatasource(uid) {
					*refs = append(*refs, uid)
				}
				continue
			}
			walkRefs(f.value, refs)
		}
	case *array:
		for _, x := range v.items {
			walkRefs(x, refs)
		}
	}
}

// builtinDatasource reports the uids of Grafana's own datasources, which
// every Grafana has.
func builtinDatasource(uid string) bool {
	switch uid {
	case "grafana", "-- Grafana --", "-- Mixed --", "-- Dashboard --":
		return true
	}
	return false
}

// noInputs resolves no input: a provisioned dashboard has none left.
func noInputs(string) (string, bool) { return "", false }

// ownerOf returns the stack whose tag the dashboard carries, stack when
// it carries stack's among others, "" for none.
func ownerOf(live []byte, stack string) (string, error) {
	var d struct {
		Tags []any `json:"tags"`
	}
	if err := json.Unmarshal(live, &d); err != nil {
		return "", err
	}
	var owners []string
	for _, t := range d.Tags {
		if s, ok := t.(string); ok {
			if stack, ok := strings.CutPrefix(s, tagPrefix); ok {
				owners = append(owners, stack)
			}
		}
	}
	switch {
	case len(owners) == 0:
		return "", nil
	case slices.Contains(owners, stack):
		return stack, nil
	}
	slices.Sort(owners)
	return owners[0], nil
}
