package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"github.com/obsctl/obsctl/internal/fluentd"
)

// KindIndexPattern is a Kibana index pattern, for Change.
const KindIndexPattern = "IndexPattern"

// Kibana is a client of Kibana 7.17's saved objects API, for index
// patterns: no library wraps it, and three calls are all obsctl makes.
type Kibana struct {
	URL            string
	User, Password string
	HTTP           *http.Client
}

// Patterns returns the index patterns of the stack's pipelines, one for
// each and one for all of their records: ids obsctl-<stack>-<pipeline>
// and obsctl-<stack>-all-logs, so that obsctl knows its own.
func Patterns(stack string, pipelines []*fluentd.Pipeline) []Object {
	var out []Object
	var all []string
	for _, p := range pipelines {
		all = append(all, p.Output.IndexPattern())
		out = append(out, pattern("obsctl-"+stack+"-"+p.Name, p.Output.IndexPattern()))
	}
	slices.Sort(all)
	if len(all) > 0 {
		out = append(out, pattern("obsctl-"+stack+"-all-logs", strings.Join(slices.Compact(all), ",")))
	}
	return out
}

func pattern(id, title string) Object {
	return Object{Kind: KindIndexPattern, Name: id, Body: map[string]any{"title": title, "timeFieldName": TimeField}}
}

// SetupKibana puts the index patterns that differ and, with prune, deletes
// the stack's ones no pipeline wants; with dryRun it only reads.
func SetupKibana(ctx context.Context, k *Kibana, stack string, desired []Object, prune, dryRun bool) ([]Change, error) {
	live, err := k.find(ctx, "obsctl-"+stack+"-")
	if err != nil {
		return nil, err
	}
	var out []Change
	want := map[string]bool{}
	for _, o := range desired {
		want[o.Name] = true
		ch := Change{Object: o, Action: "created"}
		if cur, ok := live[o.Name]; ok {
			ch.Action = "configured"
			if cur["title"] == o.Body["title"] && cur["timeFieldName"] == o.Body["timeFieldName"] {
				ch.Action = "unchanged"
			}
		}
		if ch.Action != "unchanged" && !dryRun {
			if err := k.put(ctx, o); err != nil {
				return out, err
			}
		}
		out = append(out, ch)
	}
	if prune {
		for _, id := range slices.Sorted(func(yield func(string) bool) {
			for id := range live {
				if !yield(id) {
					return
				}
			}
		}) {
			if want[id] {
				continue
			}
			o := Object{Kind: KindIndexPattern, Name: id, Body: live[id]}
			if !dryRun {
				if err := k.do(ctx, http.MethodDelete, "/api/saved_objects/index-pattern/"+url.PathEscape(id), nil, nil); err != nil {
					return out, err
				}
			}
			out = append(out, Change{Object: o, Action: "deleted"})
		}
	}
	return out, nil
}

// find returns the attributes of the index patterns whose ids start with
// prefix.
func (k *Kibana) find(ctx context.Context, prefix string) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	for page := 1; ; page++ {
		var res struct {
			Total        int `json:"total"`
			SavedObjects []struct {
				ID         string         `json:"id"`
				Attributes map[string]any `json:"attributes"`
			} `json:"saved_objects"`
		}
		q := url.Values{"type": {"index-pattern"}, "per_page": {"100"}, "page": {fmt.Sprint(page)}, "fields": {"title", "timeFieldName"}}
		if err := k.do(ctx, http.MethodGet, "/api/saved_objects/_find?"+q.Encode(), nil, &res); err != nil {
			return nil, err
		}
		for _, o := range res.SavedObjects {
			if strings.HasPrefix(o.ID, prefix) {
				out[o.ID] = o.Attributes
			}
		}
		if len(res.SavedObjects) == 0 || page*100 >= res.Total {
			return out, nil
		}
	}
}

func (k *Kibana) put(ctx context.Context, o Object) error {
	return k.do(ctx, http.MethodPost, "/api/saved_objects/index-pattern/"+url.PathEscape(o.Name)+"?overwrite=true",
		map[string]any{"attributes": o.Body}, nil)
}

// do calls Kibana, decoding a JSON answer into out (when not nil), and
// turns an error answer into what to do about it.
func (k *Kibana) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(k.URL, "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("kbn-xsrf", "obsctl")
	req.Header.Set("Content-Type", "application/json")
	if k.User != "" {
		req.SetBasicAuth(k.User, k.Password)
	}
	hc := k.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return fmt.Errorf("cannot reach kibana: %v", ue.Err)
		}
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(data, &e)
		if resp.StatusCode == http.StatusUnauthorized {
			return fmt.Errorf("kibana refused the credentials (401 %s): give a user allowed to manage index patterns (OBSCTL_ELASTICSEARCH_USERNAME, OBSCTL_ELASTICSEARCH_PASSWORD)", e.Message)
		}
		return fmt.Errorf("kibana answered %d to %s %s: %s", resp.StatusCode, method, strings.SplitN(path, "?", 2)[0], e.Message)
	}
	if out != nil && !reflect.ValueOf(out).IsNil() {
		return json.Unmarshal(data, out)
	}
	return nil
}
