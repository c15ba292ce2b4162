package lint

import (
	"bytes"
	"slices"
	"unicode/utf8"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/parallel"
	"github.com/obsctl/obsctl/internal/promrule"
)

// plaintextSecret reports credentials written into the repo: in
// obsctl.yaml, in rule files, in comments too. It looks for
//
//   - Slack incoming-webhook URLs (hooks.slack.com/services/...) and
//     Slack tokens (xoxb-..., xoxp-...);
//   - PagerDuty integration keys (32 characters in a routing, service or
//     integration key field);
//   - literal values of fields named like a credential: api_key, apiKey,
//     api-key, token, secret, password and the like (`authPassword`,
//     `bearer_token`, `client_secret`), also in URL query strings;
//   - URLs with a password (https://user:password@host);
//   - PEM private keys (-----BEGIN ... PRIVATE KEY-----);
//   - AWS access key ids (AKIA..., ASIA...), GitHub tokens (ghp_...,
//     github_pat_...), bearer tokens and JWTs (eyJ....eyJ....sig).
//
// A secret in git is readable by everyone with access to the repo, its
// forks and its history, and stays there after it is deleted. Whoever
// holds a webhook URL or an integration key can page the on-call or
// resolve their alerts; whoever holds an API key can do what it allows.
// Move the value out of the repo, into a Kubernetes Secret referenced as
// `{secret: {name: NAME, key: KEY}}` in obsctl.yaml (or an environment
// variable, `{env: VARIABLE}`), and rotate it: removing it from the file
// does not remove it from the history.
//
// References and obvious placeholders are not reported: empty values,
// `${VAR}`, `$VAR`, `{{ ... }}`, `<your key>`, `xxxx`, `changeme`,
// values with spaces. Findings never quote the value they found; their
// span marks it so that reporters hide it too. In obsctl.yaml a literal
// receiver secret is reported by config/secret-ref as well.
//
// Silence a false positive on its line with a comment,
// `# obsctl:disable secrets/plaintext -- why`, or for a whole rule or
// rule file with the usual disable comments.
type plaintextSecret struct{}

func (plaintextSecret) Name() string { return "secrets/plaintext" }

func (plaintextSecret) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeRepo, Summary: "A file holds what looks like a credential (API key, token, webhook URL, password, private key)."}
}

const (
	secretHint = "move it to a Kubernetes Secret ({secret: {name: NAME, key: KEY}}) or an environment variable ({env: VARIABLE}), and rotate it: it stays in the git history"
	secretMsg  = "%s written in plain text"
)

func (plaintextSecret) Check(p *Pass) {
	if p.Repo == nil {
		return
	}
	srcs := p.Repo.Sources()
	paths := make([]string, 0, len(srcs))
	for path, sf := range srcs {
		if sf != nil {
			paths = append(paths, path)
		}
	}
	slices.Sort(paths)
	// The scan reads every byte of the repo, so it runs on all cores;
	// the findings are reported afterwards, in path order.
	hits := make([][]secretHit, len(paths))
	parallel.Each(len(paths), func(i int) { hits[i] = scanSecrets(srcs[paths[i]].Src, nil) })

	var ruleFiles map[string]*promrule.File
	for i, path := range paths {
		if len(hits[i]) == 0 {
			continue
		}
		sf := srcs[path]
		var f *promrule.File
		var lines *secretLines
		if sf != p.Repo.ConfigFile {
			if ruleFiles == nil {
				ruleFiles = make(map[string]*promrule.File, len(p.Repo.RuleFiles))
				for _, rf := range p.Repo.RuleFiles {
					ruleFiles[rf.Path] = rf
				}
			}
			if f = ruleFiles[path]; f != nil {
				lines = newSecretLines(f)
			}
		}
		for _, h := range hits[i] {
			if lineDisables(h.text, "secrets/plaintext") {
				continue
			}
			span := diag.Span{File: path,
				Start: diag.Pos{Line: h.line, Col: 1 + utf8.RuneCount(h.text[:h.start])},
				End:   diag.Pos{Line: h.line, Col: 1 + utf8.RuneCount(h.text[:h.end])}}
			var r *promrule.Rule
			if lines != nil {
				r = lines.rule(h.line)
			}
			p.ReportSecret(f, r, span, secretHint, secretMsg, h.kind)
		}
	}
}

// secretLines maps lines of a rule file to the rule written there, so
// that a rule's disable comments apply to secrets inside it.
type secretLines struct {
	starts []int
	rules  []*promrule.Rule // nil for lines of a group or object header
}

func newSecretLines(f *promrule.File) *secretLines {
	type entry struct {
		line int
		rule *promrule.Rule
	}
	var es []entry
	for _, o := range f.Objects {
		es = append(es, entry{o.Span.Start.Line, nil})
	}
	for _, g := range f.Groups {
		es = append(es, entry{g.Span.Start.Line, nil})
		for _, r := range g.Rules {
			es = append(es, entry{r.Span.Start.Line, r})
		}
	}
	slices.SortStableFunc(es, func(a, b entry) int { return a.line - b.line })
	sl := &secretLines{starts: make([]int, len(es)), rules: make([]*promrule.Rule, len(es))}
	for i, e := range es {
		sl.starts[i], sl.rules[i] = e.line, e.rule
	}
	return sl
}

// rule returns the rule that line belongs to, or nil.
func (sl *secretLines) rule(line int) *promrule.Rule {
	i, found := slices.BinarySearch(sl.starts, line)
	if !found {
		i--
	}
	// Several entries may start on one line (a group and its first rule
	// in flow style); the last one is the innermost.
	for i+1 < len(sl.starts) && sl.starts[i+1] == line {
		i++
	}
	if i < 0 {
		return nil
	}
	return sl.rules[i]
}

// lineDisables reports whether line carries an obsctl:disable comment
// naming check, its area or all.
func lineDisables(line []byte, check string) bool {
	const mark = "obsctl:disable "
	i := bytes.Index(line, []byte(mark))
	if i < 0 {
		return false
	}
	rest := line[i+len(mark):]
	if j := bytes.Index(rest, []byte("--")); j >= 0 {
		rest = rest[:j]
	}
	for _, name := range bytes.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		n := string(name)
		if n == check || n == "all" || n == area(check)+"/*" {
			return true
		}
	}
	return false
}
