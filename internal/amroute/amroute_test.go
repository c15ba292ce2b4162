package amroute

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"

	"github.com/obsctl/obsctl"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/source"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// input returns the obsctl.yaml of a test case: the repo's default for
// "default", else testdata/<name>.obsctl.yaml.
func input(t *testing.T, name string) []byte {
	t.Helper()
	if name == "default" {
		return obsctl.DefaultConfig
	}
	src, err := os.ReadFile(filepath.Join("testdata", name+".obsctl.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// parse decodes obsctl.yaml, failing on any finding: the compile tests
// need valid input.
func parse(t *testing.T, src []byte) *config.Config {
	t.Helper()
	cfg, fds := config.Parse(source.NewFile("obsctl.yaml", src))
	for _, f := range fds {
		t.Errorf("obsctl.yaml: %v", f)
	}
	if t.Failed() {
		t.FailNow()
	}
	return cfg
}

func compile(t *testing.T, name string) *Result {
	t.Helper()
	res, err := Compile(parse(t, input(t, name)))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return res
}

func env(name string) SecretMount {
	return SecretMount{Secret: "shop-alerting-env", Key: name, FromEnv: name}
}

var cases = []struct {
	name    string
	secrets []SecretMount
}{
	{"default", []SecretMount{
		{Secret: "alertmanager-opsgenie", Key: "api-key"},
		{Secret: "alertmanager-pagerduty", Key: "routing-key"},
		{Secret: "alertmanager-slack", Key: "webhook-url"},
	}},
	{"integrations", []SecretMount{
		{Secret: "hook", Key: "token"},
		{Secret: "pd", Key: "routing-key"},
		env("HOOK_PASSWORD"), env("OPSGENIE_API_KEY"), env("SLACK_WEBHOOK_URL"),
		{Secret: "smtp", Key: "password"},
	}},
	{"minimal", []SecretMount{{Secret: "slack", Key: "url"}}},
	{"no-severity-inhibition", nil},
	{"regex-severities", nil},
}

func TestCompileGolden(t *testing.T) {
	// Values that must never reach the output: Compile refers to the
	// variables, it does not read them.
	for _, v := range []string{"OPSGENIE_API_KEY", "SLACK_WEBHOOK_URL", "HOOK_PASSWORD"} {
		t.Setenv(v, "leaked-"+v)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := compile(t, tc.name)
			golden := filepath.Join("testdata", tc.name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, res.YAML, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/amroute -update)", err)
			}
			if !bytes.Equal(res.YAML, want) {
				t.Errorf("YAML differs from %s (run go test ./internal/amroute -update):\n%s", golden, res.YAML)
			}
			if !slices.Equal(res.Secrets, tc.secrets) {
				t.Errorf("Secrets = %v, want %v", res.Secrets, tc.secrets)
			}
			if bytes.Contains(res.YAML, []byte(SecretPlaceholder)) || bytes.Contains(res.YAML, []byte("leaked-")) {
				t.Errorf("YAML holds a secret placeholder or value:\n%s", res.YAML)
			}
			for _, m := range tc.secrets {
				if !bytes.Contains(res.YAML, []byte(m.Path())) {
					t.Errorf("YAML does not read %s", m.Path())
				}
			}
			if res.Config == nil || res.Config.Route == nil {
				t.Fatal("no loaded config")
			}
		})
	}
}

// TestCompileStable checks that compiling gives the same bytes every time
// and that the order receivers are declared in does not matter.
func TestCompileStable(t *testing.T) {
	cfg := parse(t, input(t, "integrations"))
	first, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		again, err := Compile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first.YAML, again.YAML) {
			t.Fatalf("output changed between runs:\n%s\n---\n%s", first.YAML, again.YAML)
		}
	}
	slices.Reverse(cfg.Alerting.Receivers)
	reordered, err := Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.YAML, reordered.YAML) {
		t.Errorf("reordering receivers changed the output:\n%s", reordered.YAML)
	}
}

// TestPruneKeepsMeaning checks that the keys encode drops are defaults:
// Alertmanager loads the same configuration with and without them.
func TestPruneKeepsMeaning(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &compiler{cfg: parse(t, input(t, tc.name)), secrets: map[SecretMount]bool{}}
			am := c.build()
			if len(c.errs) > 0 {
				t.Fatal(c.errs)
			}
			load := func(prune bool) string {
				b, err := encode(am, c.webhookURLs, prune)
				if err != nil {
					t.Fatal(err)
				}
				cfg, err := amconfig.Load(string(b))
				if err != nil {
					t.Fatalf("prune=%v: %v\n%s", prune, err, b)
				}
				return cfg.String()
			}
			if full, pruned := load(false), load(true); full != pruned {
				t.Errorf("pruning changed the loaded config:\n%s\n---\n%s", full, pruned)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	const head = "apiVersion: obsctl/v1\nname: t\nalerting:\n  severities: [page]\n"
	const sink = "  receivers:\n    - name: sink\n      webhook: {url: 'http://sink/'}\n"
	tests := []struct {
		name  string
		yaml  string
		check func(error) bool
		want  string
	}{
		{"unknown route receiver", head + "  defaultReceiver: sink\n" + sink +
			"  routes:\n    - severity: page\n      receiver: pagr\n",
			isA[*ReceiverError], `alerting.routes[0].receiver: receiver "pagr" is not declared`},
		{"unknown default receiver", head + "  defaultReceiver: nobody\n" + sink,
			isA[*ReceiverError], `alerting.defaultReceiver: receiver "nobody" is not declared`},
		{"no default receiver", head + sink,
			isA[*ReceiverError], `alerting.defaultReceiver: no receiver given`},
		{"bad route matcher", head + "  defaultReceiver: sink\n" + sink +
			"  routes:\n    - matchers: ['alertname=\"a\"', 'team=\"x']\n      receiver: sink\n",
			isA[*MatcherError], `alerting.routes[0].matchers[1]: invalid matcher`},
		{"two matchers in one line", head + "  defaultReceiver: sink\n" + sink +
			"  routes:\n    - matchers: ['a=\"1\",b=\"2\"']\n      receiver: sink\n",
			isA[*MatcherError], `alerting.routes[0].matchers[0]`},
		{"bad inhibit matcher", head + "  defaultReceiver: sink\n" + sink +
			"  inhibit:\n    rules:\n      - source: ['alertname=~\"(\"']\n        target: ['a=\"b\"']\n",
			isA[*MatcherError], `alerting.inhibit.rules[0].source[0]`},
		{"zero group interval", head + "  defaultReceiver: sink\n  groupInterval: 0s\n" + sink,
			isA[*RejectedError], `alerting.groupInterval: alertmanager rejects the value: group_interval cannot be zero`},
		{"bad route group_by", head + "  defaultReceiver: sink\n" + sink +
			"  routes:\n    - receiver: sink\n      groupBy: [not-a-label]\n",
			isA[*RejectedError], `alerting.routes[0].groupBy[0]: alertmanager rejects the value: invalid label name "not-a-label"`},
		{"repeated route group_by label", head + "  defaultReceiver: sink\n" + sink +
			"  routes:\n    - receiver: sink\n    - receiver: sink\n      groupBy: [a, b, a]\n",
			isA[*RejectedError], `alerting.routes[1].groupBy[2]: `},
		{"wildcard and labels", head + "  defaultReceiver: sink\n" + sink +
			"  routes:\n    - receiver: sink\n      groupBy: [..., a]\n",
			isA[*RejectedError], `alerting.routes[0].groupBy: `},
		{"zero route repeat interval", head + "  defaultReceiver: sink\n" + sink +
			"  routes:\n    - receiver: sink\n      repeatInterval: 0s\n",
			isA[*RejectedError], `alerting.routes[0].repeatInterval: `},
		{"bad inhibition equal label", head + "  defaultReceiver: sink\n" + sink +
			"  inhibit:\n    rules:\n      - source: ['a=\"b\"']\n        target: ['c=\"d\"']\n        equal: [x, y-z]\n",
			isA[*RejectedError], `alerting.inhibit.rules[0].equal[1]: `},
		{"webhook url scheme", head + "  defaultReceiver: sink\n" + sink + "    - name: ftp\n      webhook: {url: 'ftp://x/'}\n",
			isA[*RejectedError], `alerting.receivers[1].webhook.url: alertmanager rejects the value: invalid URL: unsupported scheme "ftp"`},
		{"webhook url template", head + "  defaultReceiver: sink\n  receivers:\n    - name: sink\n      webhook: {url: 'http://x/{{ .A'}\n",
			isA[*RejectedError], `alerting.receivers[0].webhook.url: alertmanager rejects the value: invalid template syntax`},
		// Refused only as a whole: narrowed down to the receiver.
		{"two webhook authentications", head + "  defaultReceiver: sink\n" + sink + "    - name: both\n      webhook:\n        url: http://x/\n" +
			"        basicAuth: {username: u, password: {env: P}}\n        bearerToken: {env: T}\n",
			isA[*RejectedError], `alerting.receivers[1]: alertmanager rejects the value`},
		{"smarthost without port", head + "  defaultReceiver: mail\n  receivers:\n    - name: mail\n" +
			"      email: {to: a@example.com, from: b@example.com, smarthost: smtp.example.com}\n",
			isA[*RejectedError], `alerting.receivers[0].email.smarthost`},
		{"bad pagerduty url", head + "  defaultReceiver: pd\n  receivers:\n    - name: pd\n      pagerduty: {routingKey: {env: K}, url: 'not a url'}\n",
			isA[*RejectedError], `alerting.receivers[0].pagerduty.url: alertmanager rejects the value: unsupported scheme`},
		{"bad webhook url", head + "  defaultReceiver: sink\n  receivers:\n    - name: sink\n      webhook: {url: 'not a url'}\n",
			isA[*RejectedError], `alerting.receivers[0].webhook.url: alertmanager rejects the value: invalid URL`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Compile(parse(t, []byte(tc.yaml)))
			if err == nil {
				t.Fatalf("no error; YAML:\n%s", res.YAML)
			}
			if !tc.check(err) {
				t.Errorf("error %v (%T) is not of the expected type", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "compile alerting: ") {
				t.Errorf("error %q lacks context", err)
			}
		})
	}
}

// A PagerDuty receiver's url (the EU service region, a proxy) reaches
// the compiled configuration; without it Alertmanager's default applies.
func TestPagerDutyURL(t *testing.T) {
	const cfg = "apiVersion: obsctl/v1\nname: t\nalerting:\n  severities: [page]\n  defaultReceiver: pd\n  receivers:\n" +
		"    - name: pd\n      pagerduty: {routingKey: {env: K}, url: 'https://events.eu.pagerduty.com/v2/enqueue'}\n" +
		"    - name: us\n      pagerduty: {routingKey: {env: K}}\n"
	res, err := Compile(parse(t, []byte(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(res.YAML), "url: https://events.eu.pagerduty.com/v2/enqueue"); n != 1 {
		t.Errorf("the EU url appears %d times in:\n%s", n, res.YAML)
	}
}

func isA[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// TestIncomplete checks the problems obsctl.yaml's schema check reports:
// Compile refuses them without producing YAML.
func TestIncomplete(t *testing.T) {
	cfg := parse(t, input(t, "minimal"))
	cfg.Alerting.Receivers[0].Slack.WebhookURL = config.SecretRef{}
	_, err := Compile(cfg)
	var ie *IncompleteError
	if !errors.As(err, &ie) || ie.Field != "alerting.receivers[0].slack.webhookURL" {
		t.Fatalf("got %v", err)
	}
}

var routing = []struct {
	config string
	labels model.LabelSet
	want   []string
}{
	{"default", model.LabelSet{"severity": "page", "alertname": "NodeDown"}, []string{"oncall-pager"}},
	{"default", model.LabelSet{"severity": "critical"}, []string{"oncall-pagerduty"}},
	{"default", model.LabelSet{"alertname": "Watchdog", "severity": "none"}, []string{"heartbeat"}},
	{"default", model.LabelSet{"severity": "warning"}, []string{"slack-alerts"}},
	{"default", model.LabelSet{"severity": "info"}, []string{"slack-info"}},
	{"default", model.LabelSet{"severity": "unknown"}, []string{"slack-alerts"}},
	{"default", model.LabelSet{"alertname": "NoSeverity"}, []string{"slack-alerts"}},
	{"integrations", model.LabelSet{"severity": "critical", "team": "shop", "namespace": "shop-prod", "env": "prod", "alertname": "Down"},
		[]string{"pager", "pagerduty"}},
	{"integrations", model.LabelSet{"severity": "critical", "team": "shop", "namespace": "shop-prod", "env": "prod", "alertname": "TestDown"},
		[]string{"pagerduty"}},
	{"integrations", model.LabelSet{"severity": "warning", "team": "db"}, []string{"chat"}},
	{"integrations", model.LabelSet{"severity": "info", "team": "db"}, []string{"hook-basic"}},
	{"integrations", model.LabelSet{"source": "batch"}, []string{"hook-bearer"}},
	{"integrations", model.LabelSet{"severity": "info"}, []string{"mail"}},
	{"regex-severities", model.LabelSet{"severity": "sev.1"}, []string{"sink"}},
}

func labelArgs(ls model.LabelSet) []string {
	var out []string
	for k, v := range ls {
		out = append(out, string(k)+"="+string(v))
	}
	slices.Sort(out)
	return out
}

// TestRouting checks where alerts go with Alertmanager's own dispatcher.
func TestRouting(t *testing.T) {
	results := map[string]*Result{}
	for _, tc := range routing {
		t.Run(tc.config+"/"+strings.Join(labelArgs(tc.labels), ","), func(t *testing.T) {
			res := results[tc.config]
			if res == nil {
				res = compile(t, tc.config)
				results[tc.config] = res
			}
			var got []string
			for _, r := range dispatch.NewRoute(res.Config.Route, nil).Match(tc.labels) {
				got = append(got, r.RouteOpts.Receiver)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("receivers %v, want %v", got, tc.want)
			}
		})
	}
}

// TestInhibition checks the severity inhibition rules: a higher severity
// silences every lower one, and values are matched literally.
func TestInhibition(t *testing.T) {
	res := compile(t, "regex-severities")
	rules := res.Config.InhibitRules
	if len(rules) != 2 {
		t.Fatalf("%d inhibit rules, want 2:\n%s", len(rules), res.YAML)
	}
	for _, tc := range []struct {
		rule     int
		severity string
		source   bool
		target   bool
	}{
		{0, "sev.1", true, false},
		{0, "sev.2", false, true},
		{0, "sev+3", false, true},
		{0, "sevX2", false, false}, // the dot is not a wildcard
		{1, "sev.2", true, false},
		{1, "sev+3", false, true},
		{1, "sev.1", false, false},
	} {
		ls := model.LabelSet{"severity": model.LabelValue(tc.severity)}
		r := rules[tc.rule]
		if got := labels.Matchers(r.SourceMatchers).Matches(ls); got != tc.source {
			t.Errorf("rule %d source matches %s = %v", tc.rule, tc.severity, got)
		}
		if got := labels.Matchers(r.TargetMatchers).Matches(ls); got != tc.target {
			t.Errorf("rule %d target matches %s = %v", tc.rule, tc.severity, got)
		}
		if !slices.Equal(r.Equal, []string{"alertname", "namespace"}) {
			t.Errorf("rule %d equal = %v", tc.rule, r.Equal)
		}
	}
	if n := len(compile(t, "no-severity-inhibition").Config.InhibitRules); n != 1 {
		t.Errorf("bySeverity false: %d inhibit rules, want the 1 explicit rule", n)
	}
}

// amtool returns the path of the amtool binary, the oracle for what a
// released Alertmanager accepts. CI must have it; elsewhere the oracle
// tests are skipped.
func amtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("amtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("amtool is not on PATH; CI must run the oracle tests")
		}
		t.Skip("amtool is not on PATH")
	}
	return p
}

func writeYAML(t *testing.T, dir string, res *Result) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "alertmanager.yaml")
	if err := os.WriteFile(p, res.YAML, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAmtoolCheckConfig checks every golden configuration with amtool.
func TestAmtoolCheckConfig(t *testing.T) {
	bin := amtool(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := exec.Command(bin, "check-config", writeYAML(t, t.TempDir(), compile(t, tc.name))).CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("SUCCESS")) {
				t.Errorf("amtool check-config: %v\n%s", err, out)
			}
		})
	}
}

// TestAmtoolRoutes checks that amtool routes the test alerts as the
// dispatcher does in TestRouting.
func TestAmtoolRoutes(t *testing.T) {
	bin := amtool(t)
	dir := t.TempDir() // outlives the subtests, which share the files
	files := map[string]string{}
	for _, tc := range routing {
		t.Run(tc.config+"/"+strings.Join(labelArgs(tc.labels), ","), func(t *testing.T) {
			if files[tc.config] == "" {
				files[tc.config] = writeYAML(t, filepath.Join(dir, tc.config), compile(t, tc.config))
			}
			args := append([]string{"config", "routes", "test", "--config.file=" + files[tc.config]}, labelArgs(tc.labels)...)
			cmd := exec.Command(bin, args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("amtool %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
			}
			if got, want := strings.TrimSpace(string(out)), strings.Join(tc.want, ","); got != want {
				t.Errorf("amtool routes to %q, want %q", got, want)
			}
		})
	}
}
