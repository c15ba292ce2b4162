package amroute

import (
	"net/url"
	"testing"

	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/common/model"
)

// TestSlackText renders SlackText with Alertmanager's own template engine
// (its default templates loaded, as a notifier has them): each alert's
// summary, description and links, and what stands in for those missing.
func TestSlackText(t *testing.T) {
	tmpl, err := template.FromGlobs(nil)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.ExternalURL, _ = url.Parse("http://alertmanager.example.com")
	alert := func(name string, annotations model.LabelSet) *types.Alert {
		return &types.Alert{Alert: model.Alert{Labels: model.LabelSet{"alertname": model.LabelValue(name)}, Annotations: annotations}}
	}
	data := tmpl.Data("slack-alerts", model.LabelSet{"alertname": "X"}, "",
		alert("KubePodCrashLooping", model.LabelSet{
			"summary":       "A container restarts over and over.",
			"description":   "Container web of pod shop/web-1 restarted 5 times.",
			"runbook_url":   "https://github.com/obsctl/obsctl/blob/v1.4.0/docs/runbooks/workloads.md#kubepodcrashlooping",
			"dashboard_url": "https://grafana.example.com/d/obsctl-workloads?viewPanel=10&var-namespace=shop",
		}),
		alert("OnlyDashboard", model.LabelSet{"summary": "s", "dashboard_url": "https://grafana.example.com/d/a?viewPanel=1"}),
		alert("Bare", nil),
	)
	data.Alerts[2].Status = "resolved"
	got, err := tmpl.ExecuteTextString(SlackText, data)
	if err != nil {
		t.Fatal(err)
	}
	want := "*A container restarts over and over.*\n" +
		"Container web of pod shop/web-1 restarted 5 times.\n" +
		"<https://github.com/obsctl/obsctl/blob/v1.4.0/docs/runbooks/workloads.md#kubepodcrashlooping|Runbook> · " +
		"<https://grafana.example.com/d/obsctl-workloads?viewPanel=10&var-namespace=shop|Dashboard>\n" +
		"*s*\n<https://grafana.example.com/d/a?viewPanel=1|Dashboard>\n" +
		"Resolved: *Bare*\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
