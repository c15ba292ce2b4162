package compile

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/amroute"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/fluentd"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/promrule"
	"github.com/obsctl/obsctl/internal/source"
)

// Compiled is everything a repo compiles to.
type Compiled struct {
	// Config is the repo's obsctl.yaml.
	Config *config.Config
	// RuleFiles are the Prometheus rule files, one per rule file or
	// PrometheusRule object, under prometheus/rules/.
	RuleFiles []promrule.Output
	// PrometheusRules are the same rules as PrometheusRule objects, one
	// per rule file or object: what the stack ships, and what build writes
	// under prometheusrules/.
	PrometheusRules []RuleObject
	// Alertmanager is the compiled routing; nil when obsctl.yaml declares
	// none (a rules-only repo).
	Alertmanager *amroute.Result
	// Fluentd is fluent.conf compiled from the repo's pipelines; empty
	// when there are none.
	Fluentd []byte
	// Dashboards are the repo's Grafana dashboards (dashboards/*.json), as
	// load read them, sorted by path.
	Dashboards []*source.File
}

// RuleObject is one PrometheusRule object with the file build writes it
// to.
type RuleObject struct {
	// Path is its file under build's output folder:
	// prometheusrules/<set>.yaml.
	Path string
	// Header is the comment that starts the file, naming the source.
	Header string
	// Object is the PrometheusRule. Render copies it before labelling it.
	Object *unstructured.Unstructured
}

// Compile compiles a loaded repo. The repo should have passed lint:
// Compile returns the first compile error it meets, without the position
// lint gives it.
func Compile(r *load.Repo) (*Compiled, error) {
	cfg := r.Config
	c := &Compiled{Config: cfg, Dashboards: r.Dashboards}
	files := newLinks(r).relink(r.RuleFiles)
	var err error
	if c.RuleFiles, err = promrule.CompileRuleFiles(files); err != nil {
		return nil, err
	}
	rules, err := promrule.CompilePrometheusRules(files, RuleObjectOptions(cfg))
	if err != nil {
		return nil, err
	}
	for _, pr := range rules {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(pr.Rule)
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", pr.Path, err)
		}
		c.PrometheusRules = append(c.PrometheusRules, RuleObject{Path: pr.Path, Header: pr.Header, Object: &unstructured.Unstructured{Object: m}})
	}
	if cfg.Alerting.Routing() {
		if c.Alertmanager, err = amroute.Compile(cfg); err != nil {
			return nil, err
		}
	}
	if len(r.Pipelines) > 0 {
		if c.Fluentd, err = fluentd.CompileFluentd(fluentd.Routed(r.Pipelines, cfg.CatchAllOn()), FluentdOutput(cfg)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// RuleObjectOptions says how the repo's PrometheusRules are named and
// labelled: after the stack, in rules.namespace, with rules.labels. Lint
// plans them with the same options.
func RuleObjectOptions(cfg *config.Config) promrule.ObjectOptions {
	return promrule.ObjectOptions{Stack: cfg.Name, Namespace: cfg.Namespace(), Labels: cfg.Rules.Labels}
}

// AlertmanagerPath is where build writes the Alertmanager configuration.
const AlertmanagerPath = "alertmanager/alertmanager.yaml"

// Outputs returns the files obsctl build writes, byte-stable: the rule
// files, the PrometheusRule objects and, when obsctl.yaml routes alerts,
// the Alertmanager configuration.
func (c *Compiled) Outputs() ([]promrule.Output, error) {
	out := make([]promrule.Output, 0, len(c.RuleFiles)+len(c.PrometheusRules)+1)
	out = append(out, c.RuleFiles...)
	for _, r := range c.PrometheusRules {
		data, err := yaml.Marshal(r.Object.Object)
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", r.Path, err)
		}
		out = append(out, promrule.Output{Path: r.Path, Data: append([]byte(r.Header), data...)})
	}
	if c.Alertmanager != nil {
		data := append([]byte(promrule.Header(config.FileName)), c.Alertmanager.YAML...)
		out = append(out, promrule.Output{Path: AlertmanagerPath, Data: data})
	}
	return out, nil
}

// Where the stack's Fluentd writes, which fluent.conf names: the stack's
// Elasticsearch Service, the user whose password Fluentd reads from the
// environment, and the node folder of its buffers and positions. Render
// lays out Elasticsearch and the Fluentd DaemonSet to match.
const (
	ElasticsearchService = "elasticsearch"
	ElasticsearchPort    = 9200
	ElasticsearchUser    = "elastic"
	// FluentdPasswordEnv holds the Elasticsearch password.
	FluentdPasswordEnv = "FLUENT_ELASTICSEARCH_PASSWORD"
	// FluentdStateDir holds position files and buffers; it is a node
	// directory of the stack's own, so that they survive restarts.
	FluentdStateDir = "/var/lib/obsctl-fluentd"
)

// FluentdOutput is where the fluent.conf compiled from the repo's
// pipelines writes: the stack's Elasticsearch, with the password and the
// state folder the Fluentd DaemonSet provides.
func FluentdOutput(c *config.Config) fluentd.ElasticsearchOutput {
	return fluentd.ElasticsearchOutput{
		Host:        ElasticsearchService + "." + c.StackNamespace() + ".svc",
		Port:        ElasticsearchPort,
		Scheme:      "http",
		User:        ElasticsearchUser,
		PasswordEnv: FluentdPasswordEnv,
		BufferPath:  FluentdStateDir,
	}
}
