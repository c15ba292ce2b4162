package compile

import (
	"regexp"
	"slices"
	"strings"

	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/version"
)

// DefaultRunbooks is the base of the runbook links the default content
// writes (rules/*.yaml): obsctl's source on GitHub, at main.
const DefaultRunbooks = "https://github.com/obsctl/obsctl/blob/main/docs/runbooks/"

// releaseRE matches the version of a released obsctl: a tag, not a
// pseudo-version (v0.0.0-20261206...-abcdef) nor a dirty or dev build.
var releaseRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-(alpha|beta|rc)(\.[0-9]+)?)?$`)

// RunbookBase returns where the default content's runbook links lead in
// what the repo compiles to: overrides.runbookBaseURL when the repo says,
// else obsctl's source at the tag of this obsctl (the runbooks that go
// with its alerts), else DefaultRunbooks (a development build).
func RunbookBase(cfg *config.Config, obsctlVersion string) string {
	if b := cfg.Overrides.RunbookBaseURL; b != "" {
		return strings.TrimSuffix(b, "/") + "/"
	}
	if releaseRE.MatchString(obsctlVersion) {
		return strings.Replace(DefaultRunbooks, "/blob/main/", "/blob/"+obsctlVersion+"/", 1)
	}
	return DefaultRunbooks
}

// relinkRunbooks points the runbook_url annotations that lead under
// DefaultRunbooks at base instead, in copies: the loaded rules keep what
// their files say (lint, test and the release's digests read those).
func relinkRunbooks(files []*promrule.File, base string) []*promrule.File {
	if base == DefaultRunbooks {
		return files
	}
	out := make([]*promrule.File, len(files))
	for i, f := range files {
		out[i] = f
		if !slices.ContainsFunc(f.Rules(), func(r *promrule.Rule) bool { return runbookLink(r) >= 0 }) {
			continue
		}
		fc := *f
		fc.Groups = make([]*promrule.Group, len(f.Groups))
		for j, g := range f.Groups {
			gc := *g
			gc.File = &fc
			gc.Rules = make([]*promrule.Rule, len(g.Rules))
			for k, r := range g.Rules {
				rc := *r
				rc.Group = &gc
				if kvs := relinked(r, base); kvs != nil {
					rc.Annotations = kvs
				}
				gc.Rules[k] = &rc
			}
			fc.Groups[j] = &gc
		}
		out[i] = &fc
	}
	return out
}

// runbookLink returns the index of r's runbook_url annotation when it
// leads under DefaultRunbooks, else -1.
func runbookLink(r *promrule.Rule) int {
	return slices.IndexFunc(r.Annotations, func(kv promrule.KV) bool {
		return kv.Key == "runbook_url" && strings.HasPrefix(kv.Value, DefaultRunbooks)
	})
}

// relinked returns r's annotations with its runbook link under base, or
// nil when it has none under DefaultRunbooks.
func relinked(r *promrule.Rule, base string) []promrule.KV {
	i := runbookLink(r)
	if i < 0 {
		return nil
	}
	kvs := slices.Clone(r.Annotations)
	kvs[i].Value = base + strings.TrimPrefix(kvs[i].Value, DefaultRunbooks)
	return kvs
}

// obsctlVersion is the running obsctl's version (a variable for tests).
var obsctlVersion = func() string { return version.Get().Version }
