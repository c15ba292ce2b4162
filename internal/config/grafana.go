package config

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/diag"
)

// Grafana is what the repo adds to the stack's Grafana, and where obsctl
// reaches a Grafana.
type Grafana struct {
	Fields
	// URL is a Grafana outside the cluster, such as
	// https://grafana.example.com: obsctl apply pushes the repo's
	// dashboards and datasources there and obsctl dashboards pull reads
	// it (--grafana-url wins), as OBSCTL_GRAFANA_TOKEN (a service
	// account's token), else Token, else OBSCTL_GRAFANA_USERNAME and
	// OBSCTL_GRAFANA_PASSWORD. The alerts' dashboard links lead there too
	// (else to the stack's Grafana host under stack.ingress).
	URL string `yaml:"url"`
	// Token is the service account's token obsctl reaches URL with, by
	// reference: an environment variable, or a key of a Secret in the
	// stack's namespace.
	Token *SecretRef `yaml:"token"`
	// Datasources are provisioned beside the stack's own (prometheus,
	// alertmanager, logs, jaeger): a Loki, a Tempo, a Thanos, a second
	// Prometheus. Dashboards refer to them by uid, and an exported
	// dashboard's input of their type resolves to them.
	Datasources []GrafanaDatasource `yaml:"datasources"`
}

// GrafanaDatasource is one datasource Grafana is provisioned with.
type GrafanaDatasource struct {
	Fields
	// Name is what Grafana shows.
	Name string `yaml:"name" obsctl:"required"`
	// Type is the datasource plugin: prometheus, loki, tempo, ...
	Type string `yaml:"type" obsctl:"required"`
	// UID is what dashboards refer to it by: letters, digits, - and _, at
	// most 40.
	UID string `yaml:"uid" obsctl:"required"`
	// URL is where Grafana's server reaches it.
	URL string `yaml:"url" obsctl:"required"`
	// BasicAuth authenticates Grafana to it.
	BasicAuth *BasicAuth `yaml:"basicAuth"`
	// BearerToken is sent as Authorization: Bearer.
	BearerToken *SecretRef `yaml:"bearerToken"`
	// JSONData is the plugin's settings (Grafana's jsonData), as written.
	JSONData JSONData `yaml:"jsonData"`
}

// JSONData is a mapping of any YAML values.
type JSONData map[string]any

func (j *JSONData) decodeNode(d *decoder, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "", "jsonData must be a mapping, not %s", kindName(n))
		return
	}
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		d.errorf(n, "", "jsonData: %v", err)
		return
	}
	*j = m
}

// CheckGrafanaURL says what is wrong with a Grafana URL, or "".
func CheckGrafanaURL(raw string) string {
	why := CheckElasticsearchURL(raw)
	if strings.HasPrefix(why, "credentials") {
		return "credentials in the URL: give them in OBSCTL_GRAFANA_TOKEN, or OBSCTL_GRAFANA_USERNAME and OBSCTL_GRAFANA_PASSWORD"
	}
	return why
}

// BuiltinDatasources are the uids and names of the datasources the stack
// provisions itself, which the repo's cannot take.
var BuiltinDatasources = map[string]string{"prometheus": "Prometheus", "alertmanager": "Alertmanager", "logs": "Logs", "jaeger": "Jaeger"}

var datasourceUIDRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,40}$`)

// secretJSONKeyRE matches the jsonData keys that hold secrets: Grafana
// keeps them under secureJsonData (passwords, tokens, keys, custom
// headers' values).
var secretJSONKeyRE = regexp.MustCompile(`(?i)(password|secret|token|apikey|api_key|credential|privatekey|httpheadervalue\d*)`)

// validateGrafana checks the repo's datasources: uids Grafana takes, none
// the stack's own or written twice, names not taken, URLs Grafana can
// reach.
func validateGrafana(d *decoder, report reportFunc, c *Config) {
	if u := c.Grafana.URL; u != "" {
		if why := CheckGrafanaURL(u); why != "" {
			report(c.Grafana.Span("url"), "an http or https URL with a host, such as https://grafana.example.com, and no credentials", "grafana.url: %s", why)
		}
	}
	uids, names := map[string]bool{}, map[string]bool{}
	for _, name := range BuiltinDatasources {
		names[name] = true
	}
	for i := range c.Grafana.Datasources {
		ds := &c.Grafana.Datasources[i]
		switch {
		case ds.UID == "":
		case !datasourceUIDRE.MatchString(ds.UID):
			report(ds.Span("uid"), "letters, digits, - and _, at most 40", "grafana.datasources: uid %q is not one Grafana takes", ds.UID)
		case BuiltinDatasources[ds.UID] != "":
			report(ds.Span("uid"), "choose another uid: the stack provisions prometheus, alertmanager, logs and jaeger itself", "grafana.datasources: uid %q is the stack's own datasource's", ds.UID)
		case uids[ds.UID]:
			report(ds.Span("uid"), "", "grafana.datasources: uid %q is written twice", ds.UID)
		}
		uids[ds.UID] = true
		if ds.Name != "" && names[ds.Name] {
			report(ds.Span("name"), "datasource names are unique in Grafana", "grafana.datasources: name %q is already a datasource's", ds.Name)
		}
		names[ds.Name] = true
		if ds.URL != "" {
			// The URL is not quoted: it may hold credentials.
			u, err := url.Parse(ds.URL)
			switch {
			case strings.Contains(ds.URL, "@") && (err != nil || u.User != nil || u.Host == ""):
				// Credentials, or what may be: not quoted, not excerpted.
				d.findings = append(d.findings, diag.Finding{Check: CheckSecretRef, Severity: diag.Error, Span: ds.Span("url"), Secret: true,
					Message: fmt.Sprintf("grafana.datasources: the url of %q holds credentials, which would be in a ConfigMap", ds.Name),
					Hint:    "give them under basicAuth or bearerToken, by reference, and rotate them"})
			case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
				report(ds.Span("url"), "an http or https URL with a host", "grafana.datasources: the url of %q is not an http or https URL with a host", ds.Name)
			case u.User != nil:
				// Secret: the excerpt of the line is not shown either.
				d.findings = append(d.findings, diag.Finding{Check: CheckSecretRef, Severity: diag.Error, Span: ds.Span("url"), Secret: true,
					Message: fmt.Sprintf("grafana.datasources: the url of %q holds credentials, which would be in a ConfigMap", ds.Name),
					Hint:    "give them under basicAuth or bearerToken, by reference, and rotate them"})
			}
		}
		if ds.BasicAuth != nil && ds.BearerToken != nil {
			report(ds.Span("bearerToken"), "choose one", "grafana.datasources: %s has both basicAuth and bearerToken", ds.Name)
		}
		for _, k := range slices.Sorted(maps.Keys(ds.JSONData)) {
			if secretJSONKeyRE.MatchString(k) {
				report(ds.Span("jsonData"), "give secrets under basicAuth or bearerToken, by reference", "grafana.datasources: jsonData.%s would put a secret in a ConfigMap", k)
			}
		}
	}
}

// GrafanaBaseURL returns where people open the repo's dashboards, ending
// in /: grafana.url (a Grafana of the team's own, which obsctl apply fills)
// when set, else the stack's Grafana under stack.ingress when it has a
// host there, else "" (not known: a kubectl port-forward reaches it).
func (c *Config) GrafanaBaseURL() string {
	if u := c.Grafana.URL; u != "" && CheckGrafanaURL(u) == "" {
		if p, err := url.Parse(u); err == nil {
			p.RawQuery, p.Fragment = "", "" // an ?orgId= of the URL given is not a base
			u = p.String()
		}
		return strings.TrimSuffix(u, "/") + "/"
	}
	in := &c.Stack.Ingress
	if in.Enabled && in.Hosts.Grafana != "" && c.Stack.Components.Grafana.On() {
		return in.URL(in.Hosts.Grafana)
	}
	return ""
}
