// The tests of the default dashboards' content: the product's lint, every
// dashboard check on, finds nothing in them, and they keep this project's
// own conventions, which are not checks a user's dashboards need. The
// checks themselves (JSON, datasources, PromQL, variables, rate windows,
// the grid, panel ids, schema version, units, uids and titles) are lint's,
// with fixtures of their own in internal/lint/testdata/dashboards.
//
// The package is dashboards_test: lint loads the embedded repo, and so
// imports this package.
package dashboards_test

import (
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/dashboards"
	"github.com/obsctl/obsctl/internal/dashboard"
	"github.com/obsctl/obsctl/internal/lint"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/slo"
)

// starterDashboards are the files obsctl provisions by default.
var starterDashboards = []string{
	"alerts.json",
	"apiserver.json",
	"autoscaling.json",
	"cluster-overview.json",
	"control-plane.json",
	"coredns.json",
	"logging-pipeline.json",
	"monitoring-stack.json",
	"nodes.json",
	"storage.json",
	"tracing.json",
	"workloads.json",
}

func TestStarterDashboardsEmbedded(t *testing.T) {
	for _, name := range starterDashboards {
		t.Run(name, func(t *testing.T) {
			if _, err := fs.Stat(dashboards.FS, name); err != nil {
				t.Errorf("%s is not in the embedded FS: %v (check the go:embed patterns in embed.go)", name, err)
			}
		})
	}
}

// TestLint lints the embedded repo as obsctl does with no repo of its own,
// with every check on, the optional (house-style) and info ones included,
// and wants no finding about a dashboard, the SLOs' generated one
// included.
func TestLint(t *testing.T) {
	r, err := load.Load(load.Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Embedded() {
		t.Fatal("an empty folder loads the embedded repo")
	}
	var files []string
	for _, f := range r.Dashboards {
		files = append(files, strings.TrimPrefix(f.Path, "dashboards/"))
	}
	// The files of this folder, and the dashboard the SLOs compile into.
	want := append(slices.Clone(starterDashboards), slo.DashboardPath)
	if !slices.Equal(files, want) {
		t.Fatalf("lint loaded the dashboards %q, want %q", files, want)
	}
	l, err := lint.New(lint.Options{Enable: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range l.Run(r) {
		if strings.HasPrefix(f.Check, "dashboards/") || strings.HasPrefix(f.File, "dashboards/") {
			t.Errorf("%s:%d:%d: %s: %s [%s]", f.File, f.Start.Line, f.Start.Col, f.Severity, f.Message, f.Check)
		}
	}
}

// TestConventions holds each dashboard to this project's conventions.
func TestConventions(t *testing.T) {
	uids, titles := map[string]string{}, map[string]string{}
	for _, name := range starterDashboards {
		t.Run(name, func(t *testing.T) {
			src, err := fs.ReadFile(dashboards.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			m, err := dashboard.Parse(src)
			if err != nil {
				t.Fatal(err)
			}
			// Every part is read through the sdk's types: a part kept raw
			// is a field of a type Grafana's older models do not know.
			for _, n := range m.Notes {
				t.Errorf("%s", n)
			}
			b := m.Board
			// The uid is the file name: links between the dashboards and
			// from alerts' annotations are written with it.
			if want := "obsctl-" + strings.TrimSuffix(name, ".json"); b.UID != want {
				t.Errorf("uid is %q, want %q (the file name with the obsctl- prefix)", b.UID, want)
			}
			// The dashboards' link menu lists them by this tag.
			if !slices.Contains(b.Tags, "obsctl") {
				t.Errorf(`tags %q lack "obsctl", which the dashboards' link menu lists them by`, b.Tags)
			}
			// Prometheus has a cluster label only where one is set
			// (several clusters behind one query endpoint), so All must
			// also match series without it.
			found := false
			for _, v := range m.Variables {
				if v.Name() != "cluster" {
					continue
				}
				found = true
				if v.SDK == nil || !v.SDK.IncludeAll || v.SDK.AllValue != ".*" {
					t.Errorf(`variable cluster needs includeAll with allValue ".*", so that All also matches series without a cluster label`)
				}
			}
			if !found {
				t.Error("no cluster variable: every dashboard can be narrowed to one cluster")
			}
			// Every panel names its datasource by uid (lint's
			// dashboards/datasource refuses names): none relies on the
			// default, so a second datasource of a type made default
			// changes nothing here.
			for _, p := range m.Panels {
				if _, ok := p.Field("datasource"); !ok && p.Type() != "row" {
					t.Errorf("panel %q (%s) has no datasource: it would take Grafana's default", p.Title(), p.Path)
				}
			}
			if first, ok := uids[b.UID]; ok {
				t.Errorf("uid %q is already %s's", b.UID, first)
			}
			uids[b.UID] = name
			if first, ok := titles[b.Title]; ok {
				t.Errorf("title %q is already %s's", b.Title, first)
			}
			titles[b.Title] = name
		})
	}
}
