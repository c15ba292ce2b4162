package lint

import (
	"bytes"
	"slices"
	"unicode/utf8"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/parallel"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/secret"
)

// plaintextSecret reports credentials written into the repo: in
// obsctl.yaml, rule files, dashboards and pipelines, in comments too. It
// looks for
//
//   - webhook URLs that are the credential: Slack
//     (hooks.slack.com/services/...), Discord (/api/webhooks/ID/TOKEN),
//     Teams (webhook.office.com/...), and any literal value of a
//     webhook_url or slack_api_url field (Mattermost, Teams workflows);
//   - tokens by their shape: Slack (xoxb-..., xapp-...), GitHub (ghp_...,
//     github_pat_...), GitLab (glpat-, glrt-, gldt-... and runner
//     registration tokens), Google API keys (AIza...) and OAuth client
//     secrets (GOCSPX-...), Stripe keys (sk_live_, rk_live_, whsec_),
//     AWS access key ids (AKIA..., ASIA...), Telegram bot tokens
//     (ID:AA...), Grafana service account tokens and API keys, JWTs;
//   - what follows an authorization scheme: Bearer tokens, GenieKey
//     (Opsgenie) keys, Basic credentials (base64 of user:password);
//   - literal values of fields named like a credential: api_key, apiKey,
//     api-key, token, secret, password and the like (`authPassword`,
//     `bearer_token`, `client_secret`, `app_key`, `user_key`, `token_id`),
//     which covers the credential fields of every Alertmanager
//     integration and of http_config; in YAML and JSON, in headers
//     quoted in prose ("PRIVATE-TOKEN: ..."), in URL queries (also sig=),
//     in shell and env lines (DD_API_KEY=...), in connection strings
//     (;AccountKey=..., SharedAccessKey=...), in block scalars and in
//     http_headers' secrets lists;
//   - PagerDuty integration keys (32 characters in a routing, service or
//     integration key field), and any other literal routing key except
//     a VictorOps one (under victorops_configs), which names a route,
//     like a team, and is not a credential;
//   - URLs with a password (https://user:password@host), also one that
//     holds a '#' or a ':';
//   - PEM private keys (-----BEGIN ... PRIVATE KEY-----).
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
// values with spaces, *_file fields, fields that name a Secret
// (`tlsSecret`, `existingSecret`), public keys and certificates. Findings
// never quote the value they found; their span marks it so that reporters
// hide it too, and every report masks what this check finds in the source
// lines and messages of any other finding, even with this check disabled.
// In obsctl.yaml a literal receiver secret is reported by
// config/secret-ref as well.
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
	ruleFiles := make(map[string]bool, len(p.Repo.RuleFiles))
	for _, rf := range p.Repo.RuleFiles {
		ruleFiles[rf.Path] = true // checkFile scanned it
	}
	paths := make([]string, 0, len(srcs))
	for path, sf := range srcs {
		if sf != nil && !ruleFiles[path] {
			paths = append(paths, path)
		}
	}
	slices.Sort(paths)
	// The scan reads every byte of the repo, so it runs on all cores;
	// the findings are reported afterwards, in path order.
	hits := make([][]secret.Hit, len(paths))
	parallel.Each(len(paths), func(i int) { hits[i] = secret.Scan(srcs[paths[i]].Src) })

	for i, path := range paths {
		reportSecrets(p, path, hits[i], nil)
	}
}

// checkFile scans the rule file in hand.
func (plaintextSecret) checkFile(p *Pass) {
	if hits := secret.Scan(p.File.Src); len(hits) > 0 {
		reportSecrets(p, p.File.Path, hits, p.File)
	}
}

// reportSecrets reports the hits of the scan of the file at path, which
// is the rule file f or, when f is nil, another file of the repo.
func reportSecrets(p *Pass, path string, hits []secret.Hit, f *promrule.File) {
	{
		var lines *secretLines
		if f != nil {
			lines = newSecretLines(f)
		}
		for _, h := range hits {
			if h.Cont || lineDisables(h.Text, "secrets/plaintext") {
				continue // the rest of a secret already reported
			}
			span := diag.Span{File: path,
				Start: diag.Pos{Line: h.Line, Col: 1 + utf8.RuneCount(h.Text[:h.Start])},
				End:   diag.Pos{Line: h.Line, Col: 1 + utf8.RuneCount(h.Text[:h.End])}}
			var r *promrule.Rule
			if lines != nil {
				r = lines.rule(h.Line)
			}
			p.ReportSecret(f, r, span, secretHint, secretMsg, h.Kind)
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
