package dashboard

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

var allOn = UIDOf(func(string) bool { return true }, nil)

// A dashboard without __inputs is shipped byte for byte.
func TestProvisionKeepsPlainDashboards(t *testing.T) {
	for _, src := range []string{
		`{"uid":"a","title":"A","panels":[{"datasource":{"type":"prometheus","uid":"prometheus"}}]}`,
		"{\n  \"uid\": \"b\",\n  \"title\": \"$DS_PROMETHEUS is a variable here\"\n}\n",
	} {
		got, err := Provision([]byte(src), allOn)
		if err != nil || string(got) != src {
			t.Errorf("Provision(%s) = %s, %v", src, got, err)
		}
	}
}

// An export's placeholders resolve to the stack's datasources and its
// constants to their values; __inputs, __requires and id go; every other
// field stays, in its order; Grafana's own variables are left alone.
func TestProvisionResolvesAnExport(t *testing.T) {
	src := `{
  "__inputs": [
    {"name": "DS_PROM", "label": "Prometheus", "type": "datasource", "pluginId": "prometheus"},
    {"name": "DS_ES", "type": "datasource", "pluginId": "elasticsearch"},
    {"name": "VAR_JOB", "type": "constant", "value": "node"}
  ],
  "__requires": [{"type": "panel", "id": "timeseries"}],
  "__elements": {},
  "id": 7,
  "uid": "nodes",
  "title": "Nodes <&>",
  "zeta": 1.50,
  "panels": [
    {"datasource": "${DS_PROM}", "targets": [{"expr": "rate(node_cpu_seconds_total{job=\"${VAR_JOB}\"}[$__rate_interval])", "legendFormat": "{{cpu}} $DS_PROM"}]},
    {"datasource": {"type": "elasticsearch", "uid": "${DS_ES}"}, "custom": {"unknownToSdk": [1, 2, {"x": null}]}}
  ],
  "templating": {"list": [{"name": "job", "datasource": "$DS_PROM", "query": "label_values(up, job)"}]}
}`
	got, err := Provision([]byte(src), allOn)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got, []byte("${")) || bytes.Contains(got, []byte("DS_")) {
		t.Errorf("placeholders left:\n%s", got)
	}
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	for _, k := range []string{"__inputs", "__requires", "id"} {
		if _, ok := v[k]; ok {
			t.Errorf("%s kept", k)
		}
	}
	for _, want := range []string{
		`"datasource": {
        "type": "prometheus",
        "uid": "prometheus"
      }`,
		`"expr": "rate(node_cpu_seconds_total{job=\"node\"}[$__rate_interval])"`,
		`"legendFormat": "{{cpu}} prometheus"`,
		`"uid": "logs"`,
		`"title": "Nodes <&>"`,
		`"zeta": 1.50`,
		`"unknownToSdk": [`,
		`"__elements": {}`,
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
	order := []string{`"__elements"`, `"uid": "nodes"`, `"title"`, `"zeta"`, `"panels"`, `"templating"`}
	last := -1
	for _, k := range order {
		i := strings.Index(string(got), k)
		if i < last {
			t.Errorf("%s out of order:\n%s", k, got)
		}
		last = i
	}
}

// An input the stack cannot resolve is refused, with each reason.
func TestProvisionRefusesWhatItCannotResolve(t *testing.T) {
	src := `{"__inputs": [{"name": "DS_LOKI", "type": "datasource", "pluginId": "loki"}, {"name": "X", "type": "textbox"}], "panels": []}`
	_, err := Provision([]byte(src), allOn)
	if err == nil || !strings.Contains(err.Error(), `input DS_LOKI is a "loki" datasource`) || !strings.Contains(err.Error(), `input X is of type "textbox"`) {
		t.Errorf("err = %v", err)
	}
	noES := UIDOf(func(c string) bool { return c != "elasticsearch" }, nil)
	if _, err := Provision([]byte(`{"__inputs": [{"name": "DS_ES", "type": "datasource", "pluginId": "elasticsearch"}]}`), noES); err == nil {
		t.Error("an input of a disabled component's datasource resolved")
	}
}

// Inputs gives each input's place, for lint.
func TestInputsOffsets(t *testing.T) {
	src := "{\n  \"__inputs\": [\n    {\"name\": \"A\"},\n    {\"name\": \"B\"}\n  ]\n}"
	ins, err := Inputs([]byte(src))
	if err != nil || len(ins) != 2 {
		t.Fatalf("%v %v", ins, err)
	}
	for _, in := range ins {
		if !strings.HasPrefix(src[in.Offset:], `{"name": "`+in.Name) {
			t.Errorf("%s at %d: %q", in.Name, in.Offset, src[in.Offset:])
		}
	}
}

// An input of a plugin the stack does not provision resolves to the
// repo's datasource of that plugin.
func TestProvisionResolvesToTheRepoDatasources(t *testing.T) {
	uidOf := UIDOf(func(string) bool { return true }, []Datasource{{UID: "loki-main", Type: "loki"}, {UID: "loki-other", Type: "loki"}})
	got, err := Provision([]byte(`{"__inputs": [{"name": "DS_LOKI", "type": "datasource", "pluginId": "loki"}], "panels": [{"datasource": "${DS_LOKI}"}]}`), uidOf)
	if err != nil || !strings.Contains(string(got), `"uid": "loki-main"`) {
		t.Errorf("%s %v", got, err)
	}
}

// Names as Grafana's exporter makes them (DS_PROMETHEUS-INFRA) resolve;
// a dashboard nested past any real one is refused, not a crash.
func TestProvisionEdges(t *testing.T) {
	got, err := Provision([]byte(`{"__inputs": [{"name": "DS_PROMETHEUS-INFRA", "type": "datasource", "pluginId": "prometheus"}], "panels": [{"datasource": "${DS_PROMETHEUS-INFRA}", "targets": [{"expr": "up{job=~\"${job:regex}\"}"}]}]}`), allOn)
	if err != nil || strings.Contains(string(got), "INFRA") || !strings.Contains(string(got), `${job:regex}`) {
		t.Errorf("%s %v", got, err)
	}
	deep := `{"__inputs": [], "x": ` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`
	if _, err := Provision([]byte(deep), allOn); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("deep: %v", err)
	}
	if _, err := Inputs([]byte(deep)); err == nil {
		t.Error("deep inputs: no error")
	}
}

// An escaped control character stays escaped in what is shipped: the API
// server refuses it raw in a ConfigMap.
func TestProvisionKeepsControlsEscaped(t *testing.T) {
	got, err := Provision([]byte(`{"__inputs": [], "title": "a\u0085b\u007f"}`), allOn)
	if err != nil || !strings.Contains(string(got), `"a\u0085b\u007f"`) {
		t.Errorf("%q %v", got, err)
	}
}
