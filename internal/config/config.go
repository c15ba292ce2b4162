package config

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

// APIVersion is the only obsctl.yaml version this obsctl reads.
const APIVersion = "obsctl/v1"

// FileName is the name of the repo's configuration file.
const FileName = "obsctl.yaml"

// Config is the decoded obsctl.yaml.
type Config struct {
	Fields
	// APIVersion must be obsctl/v1.
	APIVersion string `yaml:"apiVersion" obsctl:"required"`
	// Name names the stack; it labels every object obsctl creates.
	Name string `yaml:"name" obsctl:"required"`
	// Prometheus describes the Prometheus that evaluates the rules.
	Prometheus Prometheus `yaml:"prometheus"`
	// Rules says where rules live and what every alert must carry.
	Rules Rules `yaml:"rules"`
	// Alerting declares severities, receivers, routes and inhibition.
	Alerting Alerting `yaml:"alerting"`
	// Lint configures obsctl lint.
	Lint Lint `yaml:"lint"`
	// Tests configures obsctl test.
	Tests Tests `yaml:"tests"`
	// Stack describes the components obsctl apply stands up.
	Stack Stack `yaml:"stack"`
	// Elasticsearch says where obsctl reaches the logs' Elasticsearch.
	Elasticsearch Elasticsearch `yaml:"elasticsearch"`
	// Kibana says where obsctl reaches Kibana.
	Kibana Kibana `yaml:"kibana"`
	// Grafana adds datasources to the stack's Grafana, and says where
	// obsctl reaches a Grafana.
	Grafana Grafana `yaml:"grafana"`
	// Pipelines says how the log pipelines of pipelines/ end.
	Pipelines Pipelines `yaml:"pipelines"`
	// Defaults says which parts of obsctl's default content the repo
	// builds on (all unless it says otherwise).
	Defaults Defaults `yaml:"defaults"`
	// Overrides change the default content item by item.
	Overrides Overrides `yaml:"overrides"`
}

// Pipelines says how the repo's log pipelines end.
type Pipelines struct {
	Fields
	// CatchAll, on unless set to false, routes the logs no pipeline of
	// the repo takes to obsctl's catch-all pipeline, obsctl-unmatched
	// (index logs-unmatched), when none of the repo's takes every log.
	// Off, those logs are dropped, and lint says whose.
	CatchAll *bool `yaml:"catchAll"`
}

// CatchAllOn reports whether obsctl adds its catch-all pipeline after the
// repo's (pipelines.catchAll, default on).
func (c *Config) CatchAllOn() bool {
	return c == nil || c.Pipelines.CatchAll == nil || *c.Pipelines.CatchAll
}

// Kibana is how obsctl reaches the stack's Kibana.
type Kibana struct {
	Fields
	// URL is Kibana outside the cluster or through an ingress, such as
	// https://kibana.example.com; obsctl apply creates the pipelines'
	// index patterns there (--kibana-url wins), as the user of
	// OBSCTL_ELASTICSEARCH_USERNAME and OBSCTL_ELASTICSEARCH_PASSWORD.
	URL string `yaml:"url"`
}

// Elasticsearch is how obsctl reaches the Elasticsearch the logs are in.
type Elasticsearch struct {
	Fields
	// URL is an Elasticsearch outside the cluster, or one reached through
	// an ingress, such as https://logs.example.com:9200; obsctl logs reads
	// it (--elasticsearch-url wins). Credentials are never written here:
	// obsctl reads OBSCTL_ELASTICSEARCH_USERNAME and
	// OBSCTL_ELASTICSEARCH_PASSWORD.
	URL string `yaml:"url"`
}

// Prometheus holds what the checks need to know about the server that
// will load the rules.
type Prometheus struct {
	Fields
	// ScrapeInterval is the scrape interval of the targets the rules
	// query; rate windows shorter than 4x of it are flagged. Unset, lint
	// does not know it and judges no window.
	ScrapeInterval Duration `yaml:"scrapeInterval"`
	// ScrapeIntervals declares, by job, the scrape interval of the jobs
	// scraped at another interval than scrapeInterval: a selector with a
	// job="..." matcher is judged against its job's interval.
	ScrapeIntervals map[string]Duration `yaml:"scrapeIntervals"`
	// EvaluationInterval is how often rule groups are evaluated.
	EvaluationInterval Duration `yaml:"evaluationInterval"`
	// ExternalLabels are added to every alert by Prometheus; routes,
	// templates and inhibition may rely on them.
	ExternalLabels map[string]string `yaml:"externalLabels"`
	// Metrics are the metrics of the repo's own scrape targets (its
	// applications'), which rules and dashboards may select besides those
	// of the stack's programs and the recording rules: names, or regular
	// expressions that match whole names (checkout_.*). The
	// rules/unknown-metric and dashboards/unknown-metric checks read them.
	Metrics []string `yaml:"metrics"`
}

// MetricPatterns compiles Metrics, anchored at both ends; an entry that
// does not compile is left out (validation reports it).
func (p *Prometheus) MetricPatterns() []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, m := range p.Metrics {
		if re, err := regexp.Compile("^(?:" + m + ")$"); err == nil {
			out = append(out, re)
		}
	}
	return out
}

// Rules configures rule loading and the per-alert requirements.
type Rules struct {
	Fields
	// Paths are the folders or files holding rules, relative to the repo.
	Paths []string `yaml:"paths"`
	// RequiredAnnotations every alert must carry.
	RequiredAnnotations []string `yaml:"requiredAnnotations"`
	// RequireRunbookURL makes a runbook a required annotation too (not
	// required when unset).
	RequireRunbookURL *bool `yaml:"requireRunbookURL"`
	// RunbookAnnotations are the annotation names that hold an alert's
	// runbook, any one of which satisfies the requirement (default
	// runbook_url), such as [runbook_url, documentation].
	RunbookAnnotations []string `yaml:"runbookAnnotations"`
	// Namespace receives the PrometheusRule objects built from plain files.
	Namespace string `yaml:"namespace"`
	// Labels are set on every PrometheusRule object obsctl writes, so that
	// the Prometheus rule selector picks them up.
	Labels map[string]string `yaml:"labels"`
}

// Lint holds defaults for obsctl lint; command-line flags override them.
type Lint struct {
	Fields
	// Disable lists checks that never run for this repo.
	Disable []string `yaml:"disable"`
	// Enable lists checks to run even though they are off by default.
	Enable []string `yaml:"enable"`
	// FailOn is the lowest severity that fails lint (default error).
	FailOn string `yaml:"failOn"`
	// StrictMetrics makes every metric a rule or dashboard selects one
	// that lint knows: exposed by a program the stack scrapes, recorded
	// by a rule, or declared in prometheus.metrics. Unset, lint reports
	// only names it can place: in the subsystem of a program the stack
	// installs (kube_deployment_..., node_filesystem_...), or under the
	// job of one.
	StrictMetrics bool `yaml:"strictMetrics"`
}

// Tests configures obsctl test.
type Tests struct {
	Fields
	// Paths are folders or files, relative to the repo, holding rule unit
	// tests and routing tests (*_test.yaml) besides those under the rule
	// paths, such as [tests].
	Paths []string `yaml:"paths"`
	// RequireCoverage makes obsctl test fail (exit 3) unless every alert
	// has a test that makes it fire, asserting its severity and every
	// annotation, and one that shows it silent on input its selectors
	// match, and every recording rule is read by a test; the rules/untested
	// lint check is then on too.
	RequireCoverage bool `yaml:"requireCoverage"`
}

// Alerting is the alert routing of the stack.
type Alerting struct {
	Fields
	// Severities lists the severity label values, highest first. Until it
	// is declared, severities are not checked.
	Severities []string `yaml:"severities"`
	// SilentSeverities are severity values of alerts that are meant to
	// notify nobody, such as a Watchdog's `severity: none` (default
	// [none]): they are neither undeclared nor unrouted.
	SilentSeverities []string `yaml:"silentSeverities"`
	// DefaultReceiver takes alerts no route matches.
	DefaultReceiver string `yaml:"defaultReceiver"`
	// GroupBy is the default grouping of notifications (default
	// alertname, namespace).
	GroupBy []string `yaml:"groupBy"`
	// Timing holds groupWait, groupInterval and repeatInterval.
	Timing
	// Receivers are where notifications go.
	Receivers []Receiver `yaml:"receivers"`
	// Routes send alerts to receivers by severity and optional matchers.
	Routes []Route `yaml:"routes"`
	// Inhibit configures inhibition.
	Inhibit Inhibit `yaml:"inhibit"`
}

// Routing reports whether the section declares any routing at all
// (receivers, routes or a default receiver). A repo without routing only
// keeps rules: there is no Alertmanager configuration to build or check.
func (a *Alerting) Routing() bool {
	return len(a.Receivers) > 0 || len(a.Routes) > 0 || a.DefaultReceiver != ""
}

// Timing are the notification timers of a route.
type Timing struct {
	// GroupWait is how long to wait before the first notification of a new
	// group, to batch alerts that fire together.
	GroupWait Duration `yaml:"groupWait"`
	// GroupInterval is how long to wait before notifying about alerts added
	// to a group already notified.
	GroupInterval Duration `yaml:"groupInterval"`
	// RepeatInterval is how long to wait before repeating a notification
	// for alerts still firing.
	RepeatInterval Duration `yaml:"repeatInterval"`
}

// Route sends the alerts it matches to one receiver.
type Route struct {
	Fields
	// Severity matches the severity label; empty matches any severity.
	Severity string `yaml:"severity"`
	// Team matches the team label.
	Team string `yaml:"team"`
	// Namespace matches the namespace label.
	Namespace string `yaml:"namespace"`
	// Matchers are extra Alertmanager matchers such as alertname="Watchdog".
	Matchers []string `yaml:"matchers"`
	// Receiver receives the matched alerts.
	Receiver string `yaml:"receiver" obsctl:"required"`
	// GroupBy overrides alerting.groupBy.
	GroupBy []string `yaml:"groupBy"`
	Timing  `yaml:",inline"`
	// Continue lets alerts matched by this route go on to match later routes.
	Continue bool `yaml:"continue"`
}

// Inhibit configures which alerts silence which.
type Inhibit struct {
	Fields
	// BySeverity makes an alert silence alerts of lower severities with the
	// same Equal labels (default true).
	BySeverity *bool `yaml:"bySeverity"`
	// Equal are the labels that must match for severity inhibition
	// (default alertname, namespace).
	Equal []string `yaml:"equal"`
	// Rules are extra inhibition rules.
	Rules []InhibitRule `yaml:"rules"`
}

// InhibitRule is one explicit inhibition rule.
type InhibitRule struct {
	Fields
	// Source are matchers selecting the alerts that silence others.
	Source []string `yaml:"source" obsctl:"required"`
	// Target are matchers selecting the alerts that get silenced.
	Target []string `yaml:"target" obsctl:"required"`
	// Equal are labels whose values source and target must share.
	Equal []string `yaml:"equal"`
}

// Receiver is a named set of integrations.
type Receiver struct {
	Fields
	// Name is what routes refer to.
	Name string `yaml:"name" obsctl:"required"`
	// Opsgenie creates Opsgenie alerts.
	Opsgenie *Opsgenie `yaml:"opsgenie"`
	// PagerDuty triggers PagerDuty incidents.
	PagerDuty *PagerDuty `yaml:"pagerduty"`
	// Slack posts to a Slack channel.
	Slack *Slack `yaml:"slack"`
	// Email sends mail.
	Email *Email `yaml:"email"`
	// Webhook posts alerts as JSON to a URL.
	Webhook *Webhook `yaml:"webhook"`
}

// Integrations returns how many integrations the receiver has; a receiver
// with none drops what it receives.
func (r *Receiver) Integrations() int {
	n := 0
	for _, set := range []bool{r.Opsgenie != nil, r.PagerDuty != nil, r.Slack != nil, r.Email != nil, r.Webhook != nil} {
		if set {
			n++
		}
	}
	return n
}

// Opsgenie sends to the Opsgenie alert API.
type Opsgenie struct {
	Fields
	// APIKey is the Opsgenie API integration key.
	APIKey SecretRef `yaml:"apiKey" obsctl:"required"`
	// APIURL overrides the API endpoint (for example the EU instance).
	APIURL string `yaml:"apiURL"`
	// Priority is the Opsgenie priority, P1 to P5.
	Priority string `yaml:"priority"`
	// Tags are comma-separated Opsgenie tags.
	Tags string `yaml:"tags"`
}

// PagerDuty sends to PagerDuty Events API v2.
type PagerDuty struct {
	Fields
	// RoutingKey is the Events API v2 integration key.
	RoutingKey SecretRef `yaml:"routingKey" obsctl:"required"`
	// Severity is the PagerDuty event severity: critical, error, warning or info.
	Severity string `yaml:"severity"`
	// URL overrides the Events API endpoint (for example the EU service
	// region, https://events.eu.pagerduty.com/v2/enqueue).
	URL string `yaml:"url"`
}

// Slack posts to a Slack incoming webhook.
type Slack struct {
	Fields
	// WebhookURL is the incoming webhook URL, itself a secret.
	WebhookURL SecretRef `yaml:"webhookURL" obsctl:"required"`
	// Channel overrides the webhook's channel, such as '#alerts'.
	Channel string `yaml:"channel"`
	// Title is the message title template.
	Title string `yaml:"title"`
	// Text is the message body template. Default: for each alert its
	// summary, its description and links to its runbook and dashboard
	// panel (Alertmanager's own default body is empty).
	Text string `yaml:"text"`
}

// Email sends mail through a smarthost.
type Email struct {
	Fields
	// To is the recipient address.
	To string `yaml:"to" obsctl:"required"`
	// From is the sender address.
	From string `yaml:"from" obsctl:"required"`
	// Smarthost is the SMTP server as host:port.
	Smarthost string `yaml:"smarthost" obsctl:"required"`
	// AuthUsername is the SMTP user.
	AuthUsername string `yaml:"authUsername"`
	// AuthPassword is the SMTP password.
	AuthPassword *SecretRef `yaml:"authPassword"`
	// RequireTLS requires STARTTLS (default true).
	RequireTLS *bool `yaml:"requireTLS"`
}

// Webhook posts to a generic webhook. The URL is configuration, not a
// secret: credentials go in BasicAuth or BearerToken.
type Webhook struct {
	Fields
	// URL receives the POST; it must not embed credentials.
	URL string `yaml:"url" obsctl:"required"`
	// BasicAuth authenticates with a user and password.
	BasicAuth *BasicAuth `yaml:"basicAuth"`
	// BearerToken authenticates with an Authorization: Bearer header.
	BearerToken *SecretRef `yaml:"bearerToken"`
}

// BasicAuth is HTTP basic authentication with a referenced password.
type BasicAuth struct {
	Fields
	// Username is the basic-auth user.
	Username string `yaml:"username" obsctl:"required"`
	// Password is the basic-auth password.
	Password SecretRef `yaml:"password" obsctl:"required"`
}

// SecretRef names where a secret value lives: a key of a Kubernetes Secret
// or an environment variable read at apply time. Literal values are refused.
type SecretRef struct {
	Fields
	// Secret names a key of a Kubernetes Secret.
	Secret *SecretKey `yaml:"secret"`
	// Env names an environment variable read at apply time.
	Env string `yaml:"env"`
}

// SecretKey is one key of a Kubernetes Secret in the stack's namespace.
type SecretKey struct {
	Fields
	// Name is the Secret's name.
	Name string `yaml:"name" obsctl:"required"`
	// Key is the key within the Secret.
	Key string `yaml:"key" obsctl:"required"`
}

// CheckSecretRef names findings about secret references.
const CheckSecretRef = "config/secret-ref"

var (
	envNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	k8sNameRE   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)
	secretKeyRE = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
)

func (s *SecretRef) decodeNode(d *decoder, n *yaml.Node) {
	if n.Kind == yaml.ScalarNode {
		// Say it without echoing the value: it may be a real secret.
		d.findings = append(d.findings, diag.Finding{
			Check: CheckSecretRef, Severity: diag.Error, Span: d.span(n), Secret: true,
			Message: "secret written as a literal value",
			Hint:    "refer to it instead: {secret: {name: NAME, key: KEY}} or {env: VARIABLE}, and rotate the exposed secret",
		})
		return
	}
	type plain SecretRef // no decodeNode: decode the fields normally
	d.decode(n, reflectValue((*plain)(s)), "secret reference")
	switch {
	case s.Secret == nil && s.Env == "":
		d.errorf(n, "", "secret reference needs secret: or env:")
	case s.Secret != nil && s.Env != "":
		d.errorf(n, "", "secret reference has both secret: and env:; choose one")
	case s.Env != "" && !envNameRE.MatchString(s.Env):
		d.errorf(nodeFor(n, "env"), "", "%q is not an environment variable name", s.Env)
	case s.Secret != nil && s.Secret.Name != "" && !k8sNameRE.MatchString(s.Secret.Name):
		d.errorf(nodeFor(n, "secret"), "", "%q is not a valid Secret name", s.Secret.Name)
	case s.Secret != nil && s.Secret.Key != "" && !secretKeyRE.MatchString(s.Secret.Key):
		d.errorf(nodeFor(n, "secret"), "", "%q is not a valid Secret key", s.Secret.Key)
	}
}

// nodeFor returns the value node of key in mapping n, or n itself.
func nodeFor(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return n
}

// String describes the reference without any secret value.
func (s SecretRef) String() string {
	if s.Secret != nil {
		return fmt.Sprintf("secret %s/%s", s.Secret.Name, s.Secret.Key)
	}
	return "env " + s.Env
}

// Duration is a Prometheus-style duration such as 30s, 5m or 1h30m.
type Duration struct {
	D   time.Duration
	Set bool
}

func (du *Duration) decodeNode(d *decoder, n *yaml.Node) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "", "duration must be a string such as 30s or 5m, not %s", kindName(n))
		return
	}
	md, err := model.ParseDuration(n.Value)
	if err != nil {
		d.errorf(n, "use a number and a unit: ms, s, m, h, d, w or y (for example 90s or 1h30m)", "invalid duration %q", n.Value)
		return
	}
	*du = Duration{D: time.Duration(md), Set: true}
}

// Or returns du when it was set and def otherwise.
func (du Duration) Or(def time.Duration) time.Duration {
	if du.Set {
		return du.D
	}
	return def
}

// Defaults used when obsctl.yaml leaves a field out.
const (
	DefaultScrapeInterval = 30 * time.Second
	DefaultEvalInterval   = 30 * time.Second
	DefaultNamespace      = "monitoring"
)

// ScrapeInterval returns the configured scrape interval or the default,
// for what obsctl renders (Grafana's data source interval). Lint judges
// only against an interval the repo declares: see KnownScrapeInterval.
func (c *Config) ScrapeInterval() time.Duration {
	return c.Prometheus.ScrapeInterval.Or(DefaultScrapeInterval)
}

// KnownScrapeInterval returns the scrape interval of job as obsctl.yaml
// declares it: prometheus.scrapeIntervals[job] when job is one of its
// keys, else prometheus.scrapeInterval; false when neither is written.
// job is "" when the selector names no single job.
func (c *Config) KnownScrapeInterval(job string) (time.Duration, bool) {
	if d, ok := c.Prometheus.ScrapeIntervals[job]; ok && job != "" && d.Set {
		return d.D, true
	}
	if c.Prometheus.ScrapeInterval.Set {
		return c.Prometheus.ScrapeInterval.D, true
	}
	return 0, false
}

// RunbookAnnotation is the annotation the runbook requirement asks for
// when rules.runbookAnnotations does not name others.
const RunbookAnnotation = "runbook_url"

// RequiredAnnotations returns the annotations every alert must carry. The
// runbook, when required (rules.requireRunbookURL: true), is listed as
// RunbookAnnotation; any of RunbookAnnotations satisfies it.
func (c *Config) RequiredAnnotations() []string {
	req := c.Rules.RequiredAnnotations
	if !c.Rules.Fields.Has("requiredAnnotations") {
		req = []string{"summary", "description"}
	}
	if c.Rules.RequireRunbookURL != nil && *c.Rules.RequireRunbookURL && !slices.Contains(req, RunbookAnnotation) {
		req = append(req[:len(req):len(req)], RunbookAnnotation)
	}
	return req
}

// RunbookAnnotations returns the annotation names that hold a runbook,
// RunbookAnnotation first.
func (c *Config) RunbookAnnotations() []string {
	if len(c.Rules.RunbookAnnotations) == 0 {
		return []string{RunbookAnnotation}
	}
	if slices.Contains(c.Rules.RunbookAnnotations, RunbookAnnotation) {
		return c.Rules.RunbookAnnotations
	}
	return append([]string{RunbookAnnotation}, c.Rules.RunbookAnnotations...)
}

// SilentSeverities returns the severities of alerts meant to notify
// nobody: alerting.silentSeverities, [none] when it is not written.
func (c *Config) SilentSeverities() []string {
	if !c.Alerting.Fields.Has("silentSeverities") {
		return []string{"none"}
	}
	return c.Alerting.SilentSeverities
}

// SilentSeverity reports whether severity s is one of SilentSeverities.
func (c *Config) SilentSeverity(s string) bool { return slices.Contains(c.SilentSeverities(), s) }

// RulePaths returns the folders or files holding rules.
func (c *Config) RulePaths() []string {
	if len(c.Rules.Paths) == 0 {
		return []string{"rules"}
	}
	return c.Rules.Paths
}

// Namespace returns where namespaced objects go.
func (c *Config) Namespace() string {
	if c.Rules.Namespace == "" {
		return DefaultNamespace
	}
	return c.Rules.Namespace
}

// SeverityBySeverityInhibition reports whether higher severities silence lower ones.
func (c *Config) SeverityInhibition() bool {
	return c.Alerting.Inhibit.BySeverity == nil || *c.Alerting.Inhibit.BySeverity
}

// InhibitEqual returns the labels severity inhibition compares.
func (c *Config) InhibitEqual() []string {
	if len(c.Alerting.Inhibit.Equal) == 0 {
		return []string{"alertname", "namespace"}
	}
	return c.Alerting.Inhibit.Equal
}

// GroupBy returns the root route's grouping.
func (c *Config) GroupBy() []string {
	if len(c.Alerting.GroupBy) == 0 {
		return []string{"alertname", "namespace"}
	}
	return c.Alerting.GroupBy
}

// Receiver returns the receiver called name, or nil.
func (c *Config) Receiver(name string) *Receiver {
	for i := range c.Alerting.Receivers {
		if c.Alerting.Receivers[i].Name == name {
			return &c.Alerting.Receivers[i]
		}
	}
	return nil
}

// Parse decodes obsctl.yaml from f. It always returns a Config (possibly
// partly filled) together with every finding about the file.
func Parse(f *source.File) (*Config, []diag.Finding) {
	cfg := &Config{}
	docs, fd := f.ParseYAML("yaml/syntax")
	if fd != nil {
		return cfg, []diag.Finding{*fd}
	}
	d := &decoder{file: f}
	switch len(docs) {
	case 0:
		d.findings = append(d.findings, diag.Finding{Check: CheckSchema, Severity: diag.Error, Span: f.Whole(),
			Message: "obsctl.yaml is empty", Hint: "start with: apiVersion: " + APIVersion})
		return cfg, d.findings
	case 1:
	default:
		d.errorf(docs[1], "", "obsctl.yaml must hold one YAML document, found %d", len(docs))
	}
	root := docs[0]
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	d.decode(root, reflectValue(cfg), "obsctl.yaml")
	validate(d, cfg, root)
	for i := range d.findings {
		if d.findings[i].File == "" {
			// About a section the file does not have: at its start.
			d.findings[i].Span = f.Whole()
		}
	}
	return cfg, d.findings
}
