package dashboard

import (
	"encoding/json"
	"strings"
	"testing"
)

// asGrafanaGives returns src as Grafana's API gives a dashboard back: its
// keys in another order (Grafana's JSON is a Go map's), an id, a version
// and an iteration added, and the schema migrated to Grafana's own.
func asGrafanaGives(t *testing.T, src []byte, edit func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(src, &m); err != nil {
		t.Fatal(err)
	}
	m["id"], m["version"], m["iteration"], m["schemaVersion"] = 42, 7, 1733400000000, 41
	delete(m, "__inputs")
	delete(m, "__requires")
	if edit != nil {
		edit(m)
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const exported = `{
    "__inputs": [
        {"name": "DS_PROM", "type": "datasource", "pluginId": "prometheus"},
        {"name": "VAR_JOB", "type": "constant", "value": "node"}
    ],
    "__requires": [{"type": "grafana", "id": "grafana", "version": "10.4.0"}],
    "uid": "nodes",
    "title": "Nodes",
    "schemaVersion": 39,
    "refresh": "30s",
    "panels": [
        {
            "type": "timeseries",
            "title": "Load",
            "datasource": "${DS_PROM}",
            "fieldConfig": {"defaults": {"min": 0.50}},
            "targets": [
                {"refId": "A", "expr": "node_load1{job=\"${VAR_JOB}\"}", "datasource": {"type": "prometheus", "uid": "${DS_PROM}"}}
            ]
        }
    ]
}
`

// A dashboard pushed as provisioned and pulled back unchanged is the
// repo's file byte for byte; one edit in Grafana is one line of diff.
func TestNormalizeRoundTrip(t *testing.T) {
	shipped, err := Provision([]byte(exported), allOn)
	if err != nil {
		t.Fatal(err)
	}
	// The repo's own layout is Grafana's export's: pull writes the file
	// as obsctl writes JSON, with the repo's indentation.
	repo, err := Normalize(shipped, []byte(exported), allOn)
	if err != nil {
		t.Fatal(err)
	}
	repo, err = Normalize(repo, []byte(exported), allOn)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Normalize(asGrafanaGives(t, shipped, nil), repo, allOn)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(repo) {
		t.Fatalf("pulled back unchanged, it differs:\n%s\nwant\n%s", got, repo)
	}
	for _, want := range []string{`"datasource": "${DS_PROM}"`, `"uid": "${DS_PROM}"`, `job=\"${VAR_JOB}\"`, `"min": 0.50`, `"schemaVersion": 39`, `"__inputs": [`, "\n    \"uid\": \"nodes\""} {
		if !strings.Contains(string(got), want) {
			t.Errorf("lacks %s:\n%s", want, got)
		}
	}
	for _, gone := range []string{`"id": 42`, `"version": 7`, `"iteration"`} {
		if strings.Contains(string(got), gone) {
			t.Errorf("holds %s", gone)
		}
	}

	edited, err := Normalize(asGrafanaGives(t, shipped, func(m map[string]any) { m["refresh"] = "1m" }), repo, allOn)
	if err != nil {
		t.Fatal(err)
	}
	var diff []string
	a, b := strings.Split(string(repo), "\n"), strings.Split(string(edited), "\n")
	if len(a) != len(b) {
		t.Fatalf("an edit changed the line count:\n%s", edited)
	}
	for i := range a {
		if a[i] != b[i] {
			diff = append(diff, a[i]+" => "+b[i])
		}
	}
	if len(diff) != 1 || !strings.Contains(diff[0], `"refresh": "1m"`) {
		t.Errorf("diff %q", diff)
	}
}
