package amroute

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"path"
	"regexp"
	"slices"
	"strings"

	amconfig "github.com/prometheus/alertmanager/config"
	amcommon "github.com/prometheus/alertmanager/config/common"
	"github.com/prometheus/alertmanager/matcher/compat"
	"github.com/prometheus/alertmanager/notify/webhook"
	"github.com/prometheus/alertmanager/pkg/labels"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/obsctl/obsctl/internal/config"
)

// SecretDir is where the Prometheus Operator mounts the Secrets listed in
// an Alertmanager's spec.secrets: Secret NAME appears as the folder
// SecretDir/NAME with one file per key.
const SecretDir = "/etc/alertmanager/secrets"

// Result is a compiled Alertmanager configuration.
type Result struct {
	// Config is the configuration as loaded back by Alertmanager's
	// config.Load from YAML, defaults filled in.
	Config *amconfig.Config
	// YAML is alertmanager.yaml: byte-stable (the same input gives the
	// same bytes) and free of secret values.
	YAML []byte
	// Secrets are the Kubernetes Secrets and keys Alertmanager must mount
	// under SecretDir, sorted and without duplicates.
	Secrets []SecretMount
}

// SecretMount is one key of a Kubernetes Secret that the configuration
// reads from a file.
type SecretMount struct {
	// Secret is the name of the Kubernetes Secret.
	Secret string
	// Key is the key within the Secret, which is the file name.
	Key string
	// FromEnv names the environment variable whose value obsctl stores
	// under Key of the Secret EnvSecretName at apply time; it is empty
	// for Secrets that the user manages.
	FromEnv string
}

// Path returns the file Alertmanager reads the secret from.
func (m SecretMount) Path() string { return path.Join(SecretDir, m.Secret, m.Key) }

// EnvSecretName returns the name of the Secret that obsctl creates at apply
// time from the environment variables that stack's config refers to.
func EnvSecretName(stack string) string { return stack + "-alerting-env" }

// MatcherError reports a matcher string that does not parse.
type MatcherError struct {
	// Field is the matcher's place in obsctl.yaml, such as
	// alerting.routes[0].matchers[1].
	Field   string
	Matcher string
	Err     error
}

func (e *MatcherError) Error() string {
	return fmt.Sprintf("%s: invalid matcher %q: %v", e.Field, e.Matcher, e.Err)
}

func (e *MatcherError) Unwrap() error { return e.Err }

// ReceiverError reports a route that names no declared receiver, a
// missing defaultReceiver or a receiver declared twice.
type ReceiverError struct {
	// Field is the place in obsctl.yaml, such as alerting.routes[2].receiver.
	Field string
	// Name is the receiver name; empty when none was given.
	Name string
	// Duplicate is set when the receiver is declared more than once.
	Duplicate bool
}

func (e *ReceiverError) Error() string {
	switch {
	case e.Duplicate:
		return fmt.Sprintf("%s: receiver %q is declared twice", e.Field, e.Name)
	case e.Name == "":
		return fmt.Sprintf("%s: no receiver given", e.Field)
	}
	return fmt.Sprintf("%s: receiver %q is not declared", e.Field, e.Name)
}

// IncompleteError reports a required value that obsctl.yaml leaves out,
// such as a webhook URL or a secret reference that names neither a Secret
// key nor an environment variable. The schema checks of obsctl.yaml report
// the same problems with their positions.
type IncompleteError struct {
	// Field is the place in obsctl.yaml, such as alerting.receivers[0].webhook.url.
	Field string
}

func (e *IncompleteError) Error() string {
	return e.Field + ": required value missing"
}

// RejectedError reports a configuration that Alertmanager refuses: a value
// its types cannot hold, or YAML that its config.Load does not load.
type RejectedError struct {
	// Field is the place in obsctl.yaml when known, else empty.
	Field string
	Err   error
}

func (e *RejectedError) Error() string {
	if e.Field == "" {
		return "alertmanager rejects the configuration: " + e.Err.Error()
	}
	return fmt.Sprintf("%s: alertmanager rejects the value: %v", e.Field, e.Err)
}

func (e *RejectedError) Unwrap() error { return e.Err }

// ParseMatcher parses one matcher as Alertmanager parses the lines of a
// matchers list in its configuration, for example severity="page" or
// team=~"db|storage". A line holding several matchers is refused: obsctl
// wants one matcher per list item.
func ParseMatcher(s string) (*labels.Matcher, error) {
	return compat.Matcher(s, "obsctl.yaml")
}

// Compile returns the Alertmanager configuration for cfg.
//
// The errors it returns wrap one or more of *MatcherError,
// *ReceiverError, *IncompleteError and *RejectedError, for errors.As.
func Compile(cfg *config.Config) (*Result, error) {
	c := &compiler{cfg: cfg, secrets: map[SecretMount]bool{}}
	am := c.build()
	if len(c.errs) > 0 {
		return nil, fmt.Errorf("compile alerting: %w", errors.Join(c.errs...))
	}
	out, err := encode(am, c.webhookURLs, true)
	if err != nil {
		return nil, fmt.Errorf("compile alerting: %w", err)
	}
	loaded, err := amconfig.Load(string(out))
	if err != nil {
		return nil, fmt.Errorf("compile alerting: %w", &RejectedError{Field: c.blame(am), Err: err})
	}
	res := &Result{Config: loaded, YAML: out}
	for m := range c.secrets {
		res.Secrets = append(res.Secrets, m)
	}
	slices.SortFunc(res.Secrets, func(a, b SecretMount) int {
		return cmp.Or(cmp.Compare(a.Secret, b.Secret), cmp.Compare(a.Key, b.Key), cmp.Compare(a.FromEnv, b.FromEnv))
	})
	return res, nil
}

type compiler struct {
	cfg     *config.Config
	secrets map[SecretMount]bool
	errs    []error
	// webhookURLs maps receiver name to its webhook URL, which the
	// library marshals as a secret placeholder.
	webhookURLs map[string]string
}

func (c *compiler) fail(err error) { c.errs = append(c.errs, err) }

func (c *compiler) build() *amconfig.Config {
	a := &c.cfg.Alerting
	am := &amconfig.Config{}

	declared := map[string]bool{}
	for i := range a.Receivers {
		r := &a.Receivers[i]
		field := fmt.Sprintf("alerting.receivers[%d]", i)
		if declared[r.Name] {
			c.fail(&ReceiverError{Field: field + ".name", Name: r.Name, Duplicate: true})
			continue
		}
		declared[r.Name] = true
		am.Receivers = append(am.Receivers, c.receiver(r, field))
	}
	slices.SortFunc(am.Receivers, func(x, y amconfig.Receiver) int { return cmp.Compare(x.Name, y.Name) })

	checkReceiver := func(field, name string) {
		if name == "" || !declared[name] {
			c.fail(&ReceiverError{Field: field, Name: name})
		}
	}
	checkReceiver("alerting.defaultReceiver", a.DefaultReceiver)
	root := &amconfig.Route{Receiver: a.DefaultReceiver, GroupByStr: slices.Clone(c.cfg.GroupBy())}
	setTiming(root, a.Timing)
	c.checkRoute(root, "alerting")
	for i := range a.Routes {
		r := &a.Routes[i]
		field := fmt.Sprintf("alerting.routes[%d]", i)
		if r.Receiver != "" { // else the schema check reports the missing key
			checkReceiver(field+".receiver", r.Receiver)
		}
		root.Routes = append(root.Routes, c.route(r, field))
	}
	am.Route = root

	if c.cfg.SeverityInhibition() {
		c.checkEqual(c.cfg.InhibitEqual(), "alerting.inhibit.equal")
		sev := a.Severities
		for i := 0; i+1 < len(sev); i++ {
			lower := make([]string, 0, len(sev)-i-1)
			for _, s := range sev[i+1:] {
				lower = append(lower, regexp.QuoteMeta(s))
			}
			am.InhibitRules = append(am.InhibitRules, amcommon.InhibitRule{
				SourceMatchers: matchers(mustMatcher(labels.MatchEqual, "severity", sev[i])),
				TargetMatchers: matchers(mustMatcher(labels.MatchRegexp, "severity", strings.Join(lower, "|"))),
				Equal:          slices.Clone(c.cfg.InhibitEqual()),
			})
		}
	}
	for i, r := range a.Inhibit.Rules {
		field := fmt.Sprintf("alerting.inhibit.rules[%d]", i)
		c.checkEqual(r.Equal, field+".equal")
		am.InhibitRules = append(am.InhibitRules, amcommon.InhibitRule{
			SourceMatchers: c.parseMatchers(field+".source", r.Source),
			TargetMatchers: c.parseMatchers(field+".target", r.Target),
			Equal:          slices.Clone(r.Equal),
		})
	}
	return am
}

func (c *compiler) route(r *config.Route, field string) *amconfig.Route {
	var ms []*labels.Matcher
	for _, l := range []struct{ name, value string }{
		{"severity", r.Severity}, {"team", r.Team}, {"namespace", r.Namespace},
	} {
		if l.value != "" {
			ms = append(ms, mustMatcher(labels.MatchEqual, l.name, l.value))
		}
	}
	ms = append(ms, c.parseMatchers(field+".matchers", r.Matchers)...)
	out := &amconfig.Route{
		Receiver:   r.Receiver,
		GroupByStr: slices.Clone(r.GroupBy),
		Matchers:   matchers(ms...),
		Continue:   r.Continue,
	}
	setTiming(out, r.Timing)
	c.checkRoute(out, field)
	return out
}

// setTiming sets the timers that obsctl.yaml sets; the others inherit.
func setTiming(r *amconfig.Route, t config.Timing) {
	d := func(du config.Duration) *model.Duration {
		if !du.Set {
			return nil
		}
		md := model.Duration(du.D)
		return &md
	}
	r.GroupWait, r.GroupInterval, r.RepeatInterval = d(t.GroupWait), d(t.GroupInterval), d(t.RepeatInterval)
}

func (c *compiler) parseMatchers(field string, lines []string) []*labels.Matcher {
	var out []*labels.Matcher
	for i, s := range lines {
		m, err := ParseMatcher(s)
		if err != nil {
			c.fail(&MatcherError{Field: fmt.Sprintf("%s[%d]", field, i), Matcher: s, Err: err})
			continue
		}
		out = append(out, m)
	}
	return out
}

// matchers returns ms in the order Alertmanager sorts them when it loads a
// configuration, so that the YAML does not change on a round trip.
func matchers(ms ...*labels.Matcher) amcommon.Matchers {
	if len(ms) == 0 {
		return nil
	}
	out := amcommon.Matchers(slices.Clone(ms))
	slices.SortStableFunc(out, func(a, b *labels.Matcher) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Value, b.Value), cmp.Compare(a.Type, b.Type))
	})
	return out
}

func mustMatcher(t labels.MatchType, name, value string) *labels.Matcher {
	m, err := labels.NewMatcher(t, name, value)
	if err != nil {
		panic(fmt.Sprintf("amroute: matcher %s%s%q: %v", name, t, value, err)) // values are regex-quoted
	}
	return m
}

func (c *compiler) receiver(r *config.Receiver, field string) amconfig.Receiver {
	out := amconfig.Receiver{Name: r.Name}
	c.require(field+".name", r.Name)
	if o := r.Opsgenie; o != nil {
		oc := &amconfig.OpsGenieConfig{
			NotifierConfig: amcommon.NotifierConfig{VSendResolved: true},
			APIKeyFile:     c.secretFile(o.APIKey, field+".opsgenie.apiKey"),
			Priority:       o.Priority,
			Tags:           o.Tags,
		}
		oc.APIURL = c.endpoint(o.APIURL, field+".opsgenie.apiURL")
		out.OpsGenieConfigs = append(out.OpsGenieConfigs, oc)
	}
	if p := r.PagerDuty; p != nil {
		out.PagerdutyConfigs = append(out.PagerdutyConfigs, &amconfig.PagerdutyConfig{
			NotifierConfig: amcommon.NotifierConfig{VSendResolved: true},
			RoutingKeyFile: c.secretFile(p.RoutingKey, field+".pagerduty.routingKey"),
			Severity:       p.Severity,
			URL:            c.endpoint(p.URL, field+".pagerduty.url"),
		})
	}
	if s := r.Slack; s != nil {
		out.SlackConfigs = append(out.SlackConfigs, &amconfig.SlackConfig{
			NotifierConfig: amcommon.NotifierConfig{VSendResolved: true},
			APIURLFile:     c.secretFile(s.WebhookURL, field+".slack.webhookURL"),
			Channel:        s.Channel,
			Title:          s.Title,
			Text:           cmp.Or(s.Text, SlackText),
		})
	}
	if e := r.Email; e != nil {
		ec := &amconfig.EmailConfig{
			// Mail about every resolved alert doubles the mail; the
			// other integrations update the incident they opened.
			NotifierConfig: amcommon.NotifierConfig{VSendResolved: false},
			To:             e.To,
			From:           e.From,
			AuthUsername:   e.AuthUsername,
			RequireTLS:     e.RequireTLS,
		}
		c.require(field+".email.to", e.To)
		c.require(field+".email.from", e.From)
		c.require(field+".email.smarthost", e.Smarthost)
		if e.AuthPassword != nil {
			ec.AuthPasswordFile = c.secretFile(*e.AuthPassword, field+".email.authPassword")
		}
		if e.Smarthost != "" {
			host, port, err := net.SplitHostPort(e.Smarthost)
			if err == nil && port == "" {
				err = errors.New("port cannot be empty")
			}
			if err != nil {
				c.fail(&RejectedError{Field: field + ".email.smarthost", Err: err})
			}
			ec.Smarthost = amconfig.HostPort{Host: host, Port: port}
		}
		out.EmailConfigs = append(out.EmailConfigs, ec)
	}
	if w := r.Webhook; w != nil {
		c.require(field+".webhook.url", w.URL)
		c.checkURL(w.URL, field+".webhook.url")
		wc := &webhook.WebhookConfig{
			NotifierConfig: amcommon.NotifierConfig{VSendResolved: true},
			URL:            amcommon.SecretTemplateURL(w.URL),
		}
		if w.BasicAuth != nil || w.BearerToken != nil {
			hc := commoncfg.DefaultHTTPClientConfig
			if b := w.BasicAuth; b != nil {
				c.require(field+".webhook.basicAuth.username", b.Username)
				hc.BasicAuth = &commoncfg.BasicAuth{
					Username:     b.Username,
					PasswordFile: c.secretFile(b.Password, field+".webhook.basicAuth.password"),
				}
			}
			if t := w.BearerToken; t != nil {
				hc.Authorization = &commoncfg.Authorization{
					Type:            "Bearer",
					CredentialsFile: c.secretFile(*t, field+".webhook.bearerToken"),
				}
			}
			wc.HTTPConfig = &hc
		}
		if c.webhookURLs == nil {
			c.webhookURLs = map[string]string{}
		}
		c.webhookURLs[r.Name] = w.URL
		out.WebhookConfigs = append(out.WebhookConfigs, wc)
	}
	return out
}

// endpoint parses an integration's API endpoint override (Opsgenie's
// apiURL, PagerDuty's url): nil, Alertmanager's default, when unset.
func (c *compiler) endpoint(raw, field string) *amcommon.URL {
	if raw == "" {
		return nil
	}
	u, err := amcommon.ParseURL(raw)
	if err != nil {
		c.fail(&RejectedError{Field: field, Err: err})
	}
	return u
}

// require records an IncompleteError when a required value is empty.
func (c *compiler) require(field, v string) {
	if v == "" {
		c.fail(&IncompleteError{Field: field})
	}
}

// secretFile returns the file Alertmanager reads ref from and records the
// Secret key to mount there.
func (c *compiler) secretFile(ref config.SecretRef, field string) string {
	var m SecretMount
	switch {
	case ref.Secret != nil && ref.Secret.Name != "" && ref.Secret.Key != "":
		m = SecretMount{Secret: ref.Secret.Name, Key: ref.Secret.Key}
	case ref.Secret == nil && ref.Env != "" && c.cfg.Name != "":
		m = SecretMount{Secret: EnvSecretName(c.cfg.Name), Key: ref.Env, FromEnv: ref.Env}
	default:
		c.fail(&IncompleteError{Field: field})
		return ""
	}
	c.secrets[m] = true
	return m.Path()
}

// SlackText is the body of a Slack message when the receiver gives none:
// for each alert its summary (else its name), its description and links
// to its runbook and to the dashboard panel to open next; an alert of the
// group that has resolved says so. Alertmanager's
// own default body is empty: a message would name the alerts and say
// nothing of them.
const SlackText = `{{ range .Alerts }}{{ if eq .Status "resolved" }}Resolved: {{ end }}*{{ or .Annotations.summary .Labels.alertname }}*` +
	`{{ with .Annotations.description }}` + "\n" + `{{ . }}{{ end }}` +
	`{{ if or .Annotations.runbook_url .Annotations.dashboard_url }}` + "\n" +
	`{{ with .Annotations.runbook_url }}<{{ . }}|Runbook>{{ end }}` +
	`{{ if and .Annotations.runbook_url .Annotations.dashboard_url }} · {{ end }}` +
	`{{ with .Annotations.dashboard_url }}<{{ . }}|Dashboard>{{ end }}{{ end }}` + "\n" +
	`{{ end }}`
