package secret

import (
	"strconv"
	"strings"
	"testing"
)

func TestScanLine(t *testing.T) {
	tests := []struct {
		line string
		want []string // "kind=token" for each hit, in order
	}{
		{`apiKey: 0a1b2c3d4e5f`, []string{"API key=0a1b2c3d4e5f"}},
		{`  - "api_key": "0a1b2c3d4e5f",`, []string{"API key=0a1b2c3d4e5f"}},
		{`basicAuth: {username: u, password: s3cr3t-pw}`, []string{"password=s3cr3t-pw"}},
		{`auth_password: 's3cr3t-pw' # comment`, []string{"password=s3cr3t-pw"}},
		{`routing_key: 0123456789abcdef0123456789abcdef`, []string{"PagerDuty integration key=0123456789abcdef0123456789abcdef"}},
		{`serviceKey: short-key-1`, []string{"integration key=short-key-1"}},
		{`url: https://u:pa55word@h.example.com/x`, []string{"password in a URL=pa55word"}},
		{`x: https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx`, []string{"Slack webhook URL=https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx"}},
		{`token: xoxb-1234567890-abcdefghijkl`, []string{"Slack token=xoxb-1234567890-abcdefghijkl"}},
		{`id AKIAIOSFODNN7EXAMPLE.`, []string{"AWS access key id=AKIAIOSFODNN7EXAMPLE"}},
		{`t: ghp_0123456789abcdefghijABCDEFGHIJ012345`, []string{"GitHub token=ghp_0123456789abcdefghijABCDEFGHIJ012345"}},
		{`Authorization: Bearer abcdef0123456789ABCDEF`, []string{"bearer token=abcdef0123456789ABCDEF"}},
		{`h: "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig"`, []string{"JWT=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig"}},
		{`https://x.example.com/?a=1&access_token=abcd1234efgh#top`, []string{"token=abcd1234efgh"}},
		{`-----BEGIN OPENSSH PRIVATE KEY-----`, []string{"private key=-----BEGIN OPENSSH PRIVATE KEY-----"}},
		{`# password: hunter2!`, []string{"password=hunter2!"}},

		// The shapes issue 10 found missed.
		{`curl -H 'PRIVATE-TOKEN: glpat-Z3bsctlFake7okZ3bsc' https://gitlab`, []string{"GitLab token=glpat-Z3bsctlFake7okZ3bsc"}},
		{`# runner glrt-R0bsctlFakeRunnerR0bsctlF`, []string{"GitLab token=glrt-R0bsctlFakeRunnerR0bsctlF"}},
		{`"url": "https://maps.googleapis.com/maps/api/staticmap?key=AIzaSyDx0bsctlFakeMapsKeyx0bsctlFakeMap"`, []string{"Google API key=AIzaSyDx0bsctlFakeMapsKeyx0bsctlFakeMap"}},
		{`# secret GOCSPX-k0bsctlFakeClientSecretk0bs`, []string{"Google OAuth client secret=GOCSPX-k0bsctlFakeClientSecretk0bs"}},
		{`--api-key sk_live_51Hx0bsctlFake51Hx0bsct`, []string{"Stripe key=sk_live_51Hx0bsctlFake51Hx0bsct"}},
		{`(reads with rk_live_51Hy0bsctlFake51Hy0bsct)`, []string{"Stripe key=rk_live_51Hy0bsctlFake51Hy0bsct"}},
		{`# webhook signing: whsec_W0bsctlFakeHookW0bsctlFakeHookW0`, []string{"Stripe webhook secret=whsec_W0bsctlFakeHookW0bsctlFakeHookW0"}},
		{`# forwarded with DD_API_KEY=0b5c71fa4e9d0b5c71fa4e9d0b5c71fa DD_SITE=datadoghq.eu`, []string{"API key=0b5c71fa4e9d0b5c71fa4e9d0b5c71fa"}},
		{`"description": "mirrors it (DD-APPLICATION-KEY: 0b5c71fa4e9d0b5c71fa4e9d0b5c71fa4e9d0b5c)",`, []string{"application key=0b5c71fa4e9d0b5c71fa4e9d0b5c71fa4e9d0b5c"}},
		{`  application_key: 0b5c71fa4e9d0b5c71fa4e9d0b5c71fa4e9d0b5c`, []string{"application key=0b5c71fa4e9d0b5c71fa4e9d0b5c71fa4e9d0b5c"}},
		{`curl -H 'Authorization: GenieKey 1f0e8b2c-0b5c-4f1a-9d6e-0b5c71fa4e00' https://api.opsgenie.com`, []string{"Opsgenie key=1f0e8b2c-0b5c-4f1a-9d6e-0b5c71fa4e00"}},
		{`curl -H 'Authorization: Basic b3BzOjBic2N0bC1mYWtlLXB3' https://x`, []string{"basic credentials=b3BzOjBic2N0bC1mYWtlLXB3"}},
		{`# DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=MGJzY3RsLWZha2UtYXp1cmU=;EndpointSuffix=core.windows.net`, []string{"Azure key=MGJzY3RsLWZha2UtYXp1cmU="}},
		{`"url": "https://acme.blob.core.windows.net/x?sv=2022-11-02&sp=rl&sig=Wm9ic2N0bEZha2VTaWduYXR1cmUw%3D"`, []string{"signature=Wm9ic2N0bEZha2VTaWduYXR1cmUw%3D"}},
		{`webhook: {url: "https://alerts:pa#ss0bsctl@hooks.acme.internal/x"}`, []string{"password in a URL=pa#ss0bsctl"}},
		{`        - bot_token_file: x # bot 123456789:AAHx0bsctlFakeBotTokx0bsctlFakeBot`, []string{"Telegram bot token=123456789:AAHx0bsctlFakeBotTokx0bsctlFakeBot"}},
		{`- webhook_url: https://discord.com/api/webhooks/112233445566778899/Qzx0bsctlFakeDiscordTok_-x0bsctlFakeDiscordTok_-x0bsctlFakeDisco`, []string{"Discord webhook URL=https://discord.com/api/webhooks/112233445566778899/Qzx0bsctlFakeDiscordTok_-x0bsctlFakeDiscordTok_-x0bsctlFakeDisco"}},
		{`mattermost_webhook_url: https://chat.acme.internal/hooks/k3x0bsctlfakemmhook0000001`, []string{"webhook URL=https://chat.acme.internal/hooks/k3x0bsctlfakemmhook0000001"}},
		{`  - user_key: uq0bsctlfakeuserq0bsctlfakeuse`, []string{"user key=uq0bsctlfakeuserq0bsctlfakeuse"}},
		{`    token_id: Rc0bsctlFakeIdc0bs`, []string{"token=Rc0bsctlFakeIdc0bs"}},
		{`X-Api-Key: {secrets: [hkx0bsctlFakeHeaderKeyx0bsctlF]}`, []string{"secret=hkx0bsctlFakeHeaderKeyx0bsctlF"}},
		{`# socket mode: xapp-1-A0B5C71FA4E-0b5c71fa4e9d0-0b5c71fa4e9d0b5c71fa4e9d`, []string{"Slack token=xapp-1-A0B5C71FA4E-0b5c71fa4e9d0-0b5c71fa4e9d0b5c71fa4e9d"}},
		{`{"note":"api glsa_gS0bsctlFakeGrafanaS0bsctlFakeGr_0b5c71fa"}`, []string{"Grafana token=glsa_gS0bsctlFakeGrafanaS0bsctlFakeGr_0b5c71fa"}},

		// References, placeholders and look-alikes.
		{`apiKey: {secret: {name: opsgenie, key: api-key}}`, nil},
		{`webhookURL: {env: SLACK_URL}`, nil},
		{`password: ${DB_PASSWORD}`, nil},
		{`password: "$DB_PASSWORD"`, nil},
		{`token: "{{ .Values.token }}"`, nil},
		{`api_key: <your-api-key>`, nil},
		{`password: ""`, nil},
		{`password:`, nil},
		{`password: |`, nil},
		{`secret: true`, nil},
		{`password: changeme`, nil},
		{`token: xxxxxxxxxxxx`, nil},
		{`token: '********'`, nil},
		{`apiKey: your_api_key_here`, nil},
		{`description: rotate the token: it expires soon`, nil},
		{`summary: "API token: expired"`, nil},
		{`summary: 'see token: abc123def'`, nil},
		{`secret_name: api-credentials`, nil},
		{`token_ttl: 3600`, nil},
		{`password_file: /etc/alertmanager/pw`, nil},
		{`x: https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX`, nil},
		{`url: https://user:${PASSWORD}@h.example.com/`, nil},
		{`url: https://runbooks.example.com/a:b@c`, nil},
		{`expr: rate(auth_token_requests_total{secret="x"}[5m]) > 0`, nil},
		{`record: job:token:rate5m`, nil},
		{`-----BEGIN CERTIFICATE-----`, nil},
		{`summary: "Bearer {{ $labels.token }}"`, nil},
		{`alert: GitHubTokenExpiring`, nil},

		// Look-alikes issue 10 found alarmed on, and more.
		{`    tlsSecret: grafana-tls-2024`, nil},
		{`  "existingSecret": "grafana-admin-credentials",`, nil},
		{`description: "Basic authentication-required endpoints, Bearer authentication-required APIs fail"`, nil},
		{`description: "token_type=bearer api_key_rotations=0"`, nil},
		{`#   bot_token: 123456789:XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX`, nil},
		{`note: "Basic aGVsbG8gd29ybGQ= is hello world"`, nil},
		{`checkout uses pk_live_51Hz0bsctlPublic51Hz0bs`, nil},
		{`see sk_live_xxxxxxxxxxxxxxxxxxxxxxxx in the docs`, nil},
		{`# quay.io/prometheus/prometheus@sha256:0b5c71fa4e9d0b5c71fa4e9d0b5c71fa4e9d0b5c71fa4e9d0b5c71fa4e9d0b5c`, nil},
		{`build_id: 0b5c71fa4e9d0b5c71fa4e9d0b5c71fa`, nil},
		{`ratio: "1234567890:12"`, nil},
		{`# AccountName=acmelogs;EndpointSuffix=core.windows.net AccountKey=<storage-key> AccountKey=${AZURE_KEY}`, nil},
		{`h1: "Authorization: GenieKey {{ .Values.opsgenie.key }}", h2: "Authorization: Basic $BASIC_AUTH"`, nil},
		{`discord: "https://discord.com/api/webhooks/{id}/{token}", gitlab: "glpat-xxxxxxxxxxxxxxxxxxxx"`, nil},
		{`expr: sum(rate(requests_total{token="anonymous", password_reset="true"}[5m]))`, nil},
		{`description: "DD_API_KEY is read from the datadog-secret; DD_APP_KEY=${DD_APP_KEY}"`, nil},
		{`#   webhook_url_file: /etc/alertmanager/secrets/teams`, nil},
		{`#   client_secret_ref: vault/oauth/alertmanager`, nil},
		{`# deploy key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH0bsctlPublicKeyMaterial ops@acme`, nil},
		{`"tags": ["0b5c71fa-4e9d-4f1a-9d6e-0b5c71fa4e00"]`, nil},
		{`panel: eyJ0aXRsZSI6Ik5vZGVzIiwicGFuZWxzIjpbXX0=`, nil},
		{`c: "https://grafana.acme.internal:3000/d/abc:def/@home?x=a:b@c#frag"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			var got []string
			for _, h := range Scan([]byte(tt.line)) {
				got = append(got, h.Kind+"="+string(h.Text[h.Start:h.End]))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestScanVictorOpsRoutingKey: a VictorOps routing_key names a route, like
// a team; the api_key beside it, and a PagerDuty routing_key anywhere, are
// credentials.
func TestScanVictorOpsRoutingKey(t *testing.T) {
	src := `receivers:
- name: ops
  victorops_configs:
  - api_key: 0a1b2c3d-4e5f-0a1b-2c3d-4e5f0a1b2c3d
    routing_key: team-ops
  - routing_key: 0123456789abcdef0123456789abcdef
    # a comment at the list's indentation keeps the section open
    message_type: CRITICAL
- name: pager
  pagerduty_configs:
  - routing_key: fedcba9876543210fedcba9876543210
- name: inline
  victorops_configs: [{routing_key: team-db, api_key: 9f8e7d6c5b4a}]
  webhook_configs:
  - url: http://x.example/hook
    http_config: {authorization: {credentials: s3cr3t-t0ken}}
spec:
  receivers:
  - name: crd
    victoropsConfigs:
    - routingKey: team-web
    pagerdutyConfigs:
    - routingKey: short-pd-key
`
	var got []string
	for _, h := range Scan([]byte(src)) {
		got = append(got, strconv.Itoa(h.Line)+":"+h.Kind+"="+string(h.Text[h.Start:h.End]))
	}
	want := []string{
		"4:API key=0a1b2c3d-4e5f-0a1b-2c3d-4e5f0a1b2c3d",
		"11:PagerDuty integration key=fedcba9876543210fedcba9876543210",
		"13:API key=9f8e7d6c5b4a",
		"16:credentials=s3cr3t-t0ken",
		"23:integration key=short-pd-key",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
