package rules

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/dashboard"
)

type group struct {
	Rules []struct {
		Alert       string            `yaml:"alert"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"rules"`
}

const runbookBase = "https://github.com/obsctl/obsctl/blob/main/docs/runbooks/"

// TestRunbooksExist follows every default alert's runbook_url into
// docs/runbooks: the file exists and has a section of the alert's name, so
// that the link an on-call person opens lands on what to do. Every alert
// also links the dashboard panel to open next, under dashboard.LinkBase:
// lint's rules/dashboard-link, on in TestEmbeddedHouseStyle, holds the
// links to the dashboards' panels and variables.
func TestRunbooksExist(t *testing.T) {
	files, err := fs.Glob(FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]map[string]bool{} // runbook file -> anchors
	anchors := func(file string) map[string]bool {
		if a, ok := sections[file]; ok {
			return a
		}
		a := map[string]bool{}
		data, err := os.ReadFile(filepath.Join("..", "docs", "runbooks", file))
		if err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if h, ok := strings.CutPrefix(line, "## "); ok {
					a[strings.ToLower(strings.TrimSpace(h))] = true
				}
			}
		}
		sections[file] = a
		return a
	}
	alerts := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.yaml") {
			continue
		}
		data, err := fs.ReadFile(FS, f)
		if err != nil {
			t.Fatal(err)
		}
		// A plain rule file, or a PrometheusRule (spec.groups).
		var doc struct {
			Groups []group `yaml:"groups"`
			Spec   struct {
				Groups []group `yaml:"groups"`
			} `yaml:"spec"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range append(doc.Groups, doc.Spec.Groups...) {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				alerts++
				if l, ok := dashboard.ParseLink(r.Annotations[dashboard.LinkAnnotation], dashboard.LinkBase); !ok || l.Panel == "" {
					t.Errorf("%s: %s: dashboard_url %q is not %sd/UID?viewPanel=ID", f, r.Alert, r.Annotations[dashboard.LinkAnnotation], dashboard.LinkBase)
				}
				url := r.Annotations["runbook_url"]
				rest, ok := strings.CutPrefix(url, runbookBase)
				file, anchor, hasAnchor := strings.Cut(rest, "#")
				switch {
				case !ok || !hasAnchor:
					t.Errorf("%s: %s: runbook_url %q is not %sFILE.md#ANCHOR", f, r.Alert, url, runbookBase)
				case len(anchors(file)) == 0:
					t.Errorf("%s: %s: docs/runbooks/%s does not exist or has no section", f, r.Alert, file)
				case anchor != strings.ToLower(r.Alert) || !anchors(file)[anchor]:
					t.Errorf("%s: %s: docs/runbooks/%s has no section %q (## %s)", f, r.Alert, file, anchor, r.Alert)
				}
			}
		}
	}
	if alerts == 0 {
		t.Fatal("no alerts read")
	}
	t.Logf("%d alerts, each with its runbook section and dashboard panel", alerts)
}
