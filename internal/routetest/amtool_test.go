package routetest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"

	obsctl "github.com/obsctl/obsctl"
	"github.com/obsctl/obsctl/internal/amroute"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/source"
	"github.com/obsctl/obsctl/rules"
)

// TestAmtoolAgrees holds Router.Receivers to amtool config routes test on
// the same compiled configuration, for every case of the embedded
// default's routing tests and the label sets of TestReceivers. amtool is
// the oracle (one process per case); CI must have it, elsewhere the test
// is skipped.
func TestAmtoolAgrees(t *testing.T) {
	bin, err := exec.LookPath("amtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("amtool is not on PATH; CI must run the oracle tests")
		}
		t.Skip("amtool is not on PATH")
	}
	src, err := rules.FS.ReadFile("routing_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, fds := Parse(source.NewFile("rules/routing_test.yaml", src))
	if len(fds) > 0 {
		t.Fatal(fds)
	}
	var defaultCases []model.LabelSet
	for _, c := range f.Cases {
		defaultCases = append(defaultCases, c.Labels)
	}
	var teamCases []model.LabelSet
	for _, s := range []string{"", "severity=critical", "severity=critical team=db", "alertname=AuditLog severity=critical team=db", "alertname=AuditLog", "severity=info"} {
		ls, err := ParseLabels(strings.Fields(s))
		if err != nil {
			t.Fatal(err)
		}
		teamCases = append(teamCases, ls)
	}
	for _, set := range []struct {
		name, config string
		cases        []model.LabelSet
	}{
		{"default", string(obsctl.DefaultConfig), defaultCases},
		{"team", teamConfig, teamCases},
	} {
		cfg, _ := config.Parse(source.NewFile("obsctl.yaml", []byte(set.config)))
		res, err := amroute.Compile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "alertmanager.yaml")
		if err := os.WriteFile(file, res.YAML, 0o600); err != nil {
			t.Fatal(err)
		}
		r := router(t, set.config)
		for _, ls := range set.cases {
			t.Run(set.name+"/"+ls.String(), func(t *testing.T) {
				args := []string{"config", "routes", "test", "--config.file=" + file}
				for _, n := range slices.Sorted(func(yield func(string) bool) {
					for k := range ls {
						if !yield(string(k)) {
							return
						}
					}
				}) {
					args = append(args, n+"="+string(ls[model.LabelName(n)]))
				}
				var stderr bytes.Buffer
				cmd := exec.Command(bin, args...)
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("amtool %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
				}
				if got, want := strings.Join(r.Receivers(ls), ","), strings.TrimSpace(string(out)); got != want {
					t.Errorf("receivers = %s, amtool says %s", got, want)
				}
			})
		}
	}
}
