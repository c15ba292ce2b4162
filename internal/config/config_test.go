package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/obsctl/obsctl/internal/diag"
	"github.com/obsctl/obsctl/internal/source"
)

func parse(t *testing.T, src string) (*Config, []diag.Finding) {
	t.Helper()
	return Parse(source.NewFile(FileName, []byte(src)))
}

func TestParseGood(t *testing.T) {
	src, err := os.ReadFile("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, fs := parse(t, string(src))
	if len(fs) != 0 {
		t.Fatalf("unexpected findings: %v", fs)
	}
	if c.Name != "prod" || c.ScrapeInterval() != 15*time.Second {
		t.Errorf("name/scrape: %q %v", c.Name, c.ScrapeInterval())
	}
	if got := c.RequiredAnnotations(); strings.Join(got, ",") != "summary,description" {
		t.Errorf("RequiredAnnotations = %v", got)
	}
	r := c.Receiver("team-pager")
	if r == nil || r.Opsgenie == nil || r.Opsgenie.APIKey.Secret.Key != "api-key" {
		t.Fatalf("receiver not decoded: %+v", r)
	}
	if c.Alerting.GroupWait.D != 30*time.Second || c.Alerting.Routes[0].RepeatInterval.D != time.Hour {
		t.Errorf("timing not decoded: %+v %+v", c.Alerting.Timing, c.Alerting.Routes[0].Timing)
	}
	if sp := c.Alerting.Routes[0].Span("receiver"); sp.Start.Line != 26 || sp.Start.Col != 17 {
		t.Errorf("receiver span = %v", sp)
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check string
		line  int
		col   int
		msg   string
	}{
		{"unknown key", "apiVersion: obsctl/v1\nname: x\nalertng: {}\n", CheckSchema, 3, 1, `unknown key "alertng"`},
		{"wrong version", "apiVersion: obsctl/v2\nname: x\n", CheckSchema, 1, 13, "unsupported apiVersion"},
		{"missing name", "apiVersion: obsctl/v1\n", CheckSchema, 1, 1, `missing required key "name"`},
		{"bad duration", "apiVersion: obsctl/v1\nname: x\nprometheus:\n  scrapeInterval: 30 seconds\n", CheckSchema, 4, 19, "invalid duration"},
		{"wrong type", "apiVersion: obsctl/v1\nname: x\nalerting:\n  severities: page\n", CheckSchema, 4, 15, "must be a list"},
		{"literal secret", "apiVersion: obsctl/v1\nname: x\nalerting:\n  receivers:\n  - name: a\n    opsgenie:\n      apiKey: 0123456789abcdef\n", CheckSecretRef, 7, 15, "literal"},
		{"bad env", "apiVersion: obsctl/v1\nname: x\nalerting:\n  receivers:\n  - name: a\n    opsgenie:\n      apiKey: {env: 'A B'}\n", CheckSchema, 7, 21, "environment variable"},
		{"duplicate key", "apiVersion: obsctl/v1\nname: x\nname: y\n", CheckSchema, 3, 1, "written twice"},
		{"empty", "", CheckSchema, 1, 1, "empty"},
		{"syntax", "apiVersion: [\n", "yaml/syntax", 1, 1, "YAML syntax"},
		{"bool", "apiVersion: obsctl/v1\nname: x\nrules:\n  requireRunbookURL: 'yes'\n", CheckSchema, 4, 22, "true or false"},
		{"bad stack name", "apiVersion: obsctl/v1\nname: Prod_1\n", CheckSchema, 2, 7, "invalid stack name"},
		{"duplicate receiver", "apiVersion: obsctl/v1\nname: x\nalerting:\n  receivers:\n  - name: a\n  - name: a\n", CheckSchema, 6, 11, "declared twice"},
		{"merge key", "apiVersion: obsctl/v1\nname: x\nrules: {<<: {}}\n", CheckSchema, 3, 9, "merge keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, fs := parse(t, tt.src)
			for _, f := range fs {
				if f.Check == tt.check && f.Start.Line == tt.line && f.Start.Col == tt.col && strings.Contains(f.Message, tt.msg) {
					return
				}
			}
			t.Errorf("want %s at %d:%d containing %q, got %v", tt.check, tt.line, tt.col, tt.msg, fs)
		})
	}
}

func TestUnknownKeySuggests(t *testing.T) {
	_, fs := parse(t, "apiVersion: obsctl/v1\nname: x\nalerting:\n  recievers: []\n")
	if len(fs) != 1 || fs[0].Hint != `did you mean "receivers"?` {
		t.Fatalf("got %v", fs)
	}
}

func TestLiteralSecretNotEchoed(t *testing.T) {
	_, fs := parse(t, "apiVersion: obsctl/v1\nname: x\nalerting:\n  receivers:\n  - name: a\n    slack:\n      webhookURL: https://hooks.example/T0/B0/s3cr3t\n")
	for _, f := range fs {
		if strings.Contains(f.Message+f.Hint, "s3cr3t") {
			t.Errorf("finding leaks the secret: %v", f)
		}
	}
	if len(fs) == 0 {
		t.Fatal("want a finding")
	}
}
