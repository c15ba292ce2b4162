package config

import (
	"strings"
	"testing"
)

func TestGrafanaDatasources(t *testing.T) {
	c, fs := parse(t, `apiVersion: obsctl/v1
name: shop
grafana:
  datasources:
    - name: Loki
      type: loki
      uid: loki
      url: http://loki.logging.svc:3100
      basicAuth: {username: grafana, password: {secret: {name: loki-auth, key: password}}}
      jsonData: {maxLines: 1000, timeout: 60, derivedFields: [{name: trace, matcherRegex: "traceID=(\\w+)"}]}
    - name: Thanos
      type: prometheus
      uid: thanos
      url: https://thanos.example.com
      bearerToken: {env: THANOS_TOKEN}
`)
	if len(fs) > 0 {
		t.Fatalf("findings: %v", fs)
	}
	ds := c.Grafana.Datasources
	if len(ds) != 2 || ds[0].BasicAuth.Password.Secret.Name != "loki-auth" || ds[1].BearerToken.Env != "THANOS_TOKEN" {
		t.Fatalf("decoded %+v", ds)
	}
	if ds[0].JSONData["maxLines"] != 1000 || ds[0].JSONData["derivedFields"] == nil {
		t.Errorf("jsonData %v", ds[0].JSONData)
	}

	for _, tc := range []struct{ yaml, want string }{
		{"{name: P, type: prometheus, uid: prometheus, url: 'http://p:9090'}", `uid "prometheus" is the stack's own datasource's`},
		{"{name: Logs, type: loki, uid: loki, url: 'http://l:3100'}", `name "Logs" is already a datasource's`},
		{"{name: L, type: loki, uid: 'lo/ki', url: 'http://l:3100'}", `uid "lo/ki" is not one Grafana takes`},
		{"{name: L, type: loki, uid: loki, url: 'http://user:pw@l:3100'}", `the url of "L" holds credentials`},
		{"{name: L, type: loki, uid: loki, url: 'loki:3100'}", `is not an http or https URL`},
		{"{name: L, type: loki, uid: loki, url: 'admin:hunter2@loki:3100'}", `holds credentials`},
		{"{name: L, type: loki, uid: loki, url: 'http://l:3100', jsonData: {httpHeaderName2: X-Api-Key, httpHeaderValue2: x}}", `jsonData.httpHeaderValue2 would put a secret`},
		{"{name: L, type: loki, uid: loki, url: 'http://l:3100', jsonData: {password: x}}", `jsonData.password would put a secret in a ConfigMap`},
		{"{name: L, type: loki, uid: loki, url: 'http://l:3100', basicAuth: {username: u, password: hunter2}}", `secret written as a literal value`},
		{"{name: L, type: loki, url: 'http://l:3100'}", `uid`},
	} {
		_, fs := parse(t, "apiVersion: obsctl/v1\nname: shop\ngrafana:\n  datasources:\n    - "+tc.yaml+"\n")
		var msgs []string
		for _, f := range fs {
			msgs = append(msgs, f.Message)
		}
		if !strings.Contains(strings.Join(msgs, "\n"), tc.want) {
			t.Errorf("%s: findings %q, want %q", tc.yaml, msgs, tc.want)
		}
		if strings.Contains(strings.Join(msgs, "\n"), "hunter2") || strings.Contains(strings.Join(msgs, "\n"), "pw@") {
			t.Errorf("%s: a secret in the findings: %q", tc.yaml, msgs)
		}
	}
}

// grafana.token names where the push's token lives; a literal is refused
// without being echoed.
func TestGrafanaToken(t *testing.T) {
	c, fs := parse(t, "apiVersion: obsctl/v1\nname: shop\ngrafana:\n  url: https://grafana.example.com\n  token: {secret: {name: grafana-push, key: token}}\n")
	if len(fs) > 0 || c.Grafana.Token == nil || c.Grafana.Token.Secret.Name != "grafana-push" {
		t.Fatalf("findings %v, token %+v", fs, c.Grafana.Token)
	}
	_, fs = parse(t, "apiVersion: obsctl/v1\nname: shop\ngrafana:\n  url: https://grafana.example.com\n  token: glsa_hunter2\n")
	var msgs []string
	for _, f := range fs {
		msgs = append(msgs, f.Message)
	}
	if len(fs) == 0 || strings.Contains(strings.Join(msgs, "\n"), "hunter2") {
		t.Errorf("a literal token: findings %q", msgs)
	}
}

// TestGrafanaBaseURL: where the rules' dashboard links lead, by what the
// repo says of Grafana.
func TestGrafanaBaseURL(t *testing.T) {
	const head = "apiVersion: obsctl/v1\nname: x\n"
	ingress := "stack:\n  ingress:\n    enabled: true\n    hosts: {grafana: grafana.example.com}\n"
	for _, tc := range []struct{ src, want string }{
		{"", ""},
		{"grafana:\n  url: https://grafana.example.com/tools\n", "https://grafana.example.com/tools/"},
		{"grafana:\n  url: https://grafana.example.com/?orgId=2\n", "https://grafana.example.com/"},
		{"grafana:\n  url: https://grafana.example.com/\n" + ingress, "https://grafana.example.com/"},
		{ingress, "http://grafana.example.com/"},
		{strings.Replace(ingress, "enabled: true", "enabled: true\n    tlsSecret: ui-tls", 1), "https://grafana.example.com/"},
		{strings.Replace(ingress, "enabled: true", "enabled: false", 1), ""},
		{ingress + "  components:\n    grafana: {enabled: false}\n", ""},
	} {
		c, fds := parse(t, head+tc.src)
		if len(fds) > 0 {
			t.Fatalf("%s: %v", tc.src, fds)
		}
		if got := c.GrafanaBaseURL(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.src, got, tc.want)
		}
	}
}
