package render

import (
	"errors"
	"fmt"
	"io/fs"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/amroute"
	fluentd1 "github.com/obsctl/obsctl/internal/fluentd"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/promrule"
)

// FromRepo compiles what a render needs from a loaded repo: the
// PrometheusRules, the Alertmanager configuration, the dashboards and the
// Fluentd configuration. The repo should have passed lint: FromRepo
// returns the first compile error it meets.
func FromRepo(r *load.Repo) (Input, error) {
	cfg := r.Config
	in := Input{Config: cfg}
	outs, err := promrule.CompileObjects(r.RuleFiles, promrule.ObjectOptions{
		Stack: cfg.Name, Namespace: cfg.Namespace(), Labels: cfg.Rules.Labels,
	})
	if err != nil {
		return in, err
	}
	for _, o := range outs {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(o.Data, &u.Object); err != nil {
			return in, fmt.Errorf("compiled %s: %w", o.Path, err)
		}
		in.Rules = append(in.Rules, u)
	}
	if cfg.Alerting.Routing() {
		if in.Alertmanager, err = amroute.Compile(cfg); err != nil {
			return in, err
		}
	}
	if len(r.Pipelines) > 0 {
		if in.Fluentd, err = fluentd1.CompileFluentd(r.Pipelines, FluentdOutput(cfg)); err != nil {
			return in, err
		}
	}
	if d, err := fs.Sub(r.FS, "dashboards"); err == nil {
		if _, err := fs.Stat(d, "."); err == nil {
			in.Dashboards = d
		} else if !errors.Is(err, fs.ErrNotExist) {
			return in, err
		}
	}
	return in, nil
}
