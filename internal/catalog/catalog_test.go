package catalog

import (
	"strings"
	"testing"
)

func TestScrapedIsFormatted(t *testing.T) {
	c, err := Parse(scrapedText, true)
	if err != nil {
		t.Fatal(err)
	}
	var header []string
	for _, line := range strings.Split(scrapedText, "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		header = append(header, strings.TrimPrefix(strings.TrimPrefix(line, "#"), " "))
	}
	if got := string(Format(header, c.Sources)); got != scrapedText {
		t.Error("scraped.txt is not as Format writes it: run make generate rather than edit it")
	}
}

func TestDocumentedSourcesSayWhere(t *testing.T) {
	c, err := Parse(documentedText, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range c.Sources {
		if len(s.Docs) == 0 {
			t.Errorf("documented source %s names no documentation", s.Name)
		}
		if len(s.Families) == 0 {
			t.Errorf("documented source %s has no families", s.Name)
		}
	}
}

func TestDefault(t *testing.T) {
	c := Default()
	for name, want := range map[string]string{
		"kube_deployment_status_replicas_available":       "kube-state-metrics",
		"node_cpu_seconds_total":                          "node-exporter",
		"prometheus_http_request_duration_seconds_bucket": "prometheus",
		"alertmanager_notifications_failed_total":         "alertmanager",
		"up":                                 "prometheus-server",
		"container_memory_working_set_bytes": "cadvisor",
		"apiserver_request_total":            "kube-apiserver",
	} {
		srcs := c.Produces(name)
		if len(srcs) == 0 || srcs[0].Name != want {
			t.Errorf("Produces(%q) = %v, want %s", name, srcs, want)
		}
	}
	for name, want := range map[string]string{
		"kube_deployment_status_replicas_availble": "kube-state-metrics",
		"node_filesystem_free":                     "node-exporter",
		"node_memory_Foo_bytes":                    "", // named after /proc/meminfo's fields
		"otelcol_receiver_accepted_spans":          "", // every OpenTelemetry Collector's
		"apiserver_request_count":                  "", // the cluster's version, not the stack's
		"go_goroutines":                            "", // every Go program's
		"checkout_requests_total":                  "",
	} {
		got := ""
		if s := c.Owner(name); s != nil {
			got = s.Name
		}
		if got != want {
			t.Errorf("Owner(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for text, want := range map[string]string{
		"x gauge\n":                "line 1: a family before any source",
		"source a\n":               "line 1: want `source NAME VERSION JOB`",
		"source a v1 a\nx gaugy\n": "line 2: want `NAME TYPE LABEL...`",
	} {
		if _, err := Parse(text, true); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): %v, want %q", text, err, want)
		}
	}
}

func TestSubsystemAndSeries(t *testing.T) {
	for name, want := range map[string]string{"kube_pod_info": "kube_pod", "up": "", "node_load1": "", "a:b_c_d": ""} {
		if got := Subsystem(name); got != want {
			t.Errorf("Subsystem(%q) = %q, want %q", name, got, want)
		}
	}
	h := Family{Name: "x_seconds", Type: "histogram"}
	if got := strings.Join(h.Series(), " "); got != "x_seconds x_seconds_bucket x_seconds_sum x_seconds_count" {
		t.Errorf("histogram series: %s", got)
	}
}
