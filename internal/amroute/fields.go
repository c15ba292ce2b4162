package amroute

import (
	"fmt"
	"slices"

	amconfig "github.com/prometheus/alertmanager/config"
	amcommon "github.com/prometheus/alertmanager/config/common"
	"github.com/prometheus/common/model"
	yamlv2 "gopkg.in/yaml.v2"
)

// Alertmanager's config.Load says what it refuses but not where: its
// messages name no field, and obsctl.yaml's keys are not its keys. The
// checks below give each obsctl.yaml value that Alertmanager validates on
// its own to the library's own type, through the library's own
// unmarshallers, so that a refusal is a RejectedError naming the field;
// blame isolates what remains (a refusal that needs several values) down
// to a receiver, route or inhibition rule.

// validateAs reports whether Alertmanager accepts v as a T: v is
// marshalled to YAML and unmarshalled into a T, whose UnmarshalYAML
// validates it as config.Load does.
func validateAs[T any](v any) error {
	b, err := yamlv2.Marshal(v)
	if err != nil {
		return err
	}
	var t T
	return yamlv2.Unmarshal(b, &t)
}

// routeKeys maps the keys of an Alertmanager route obsctl sets from its
// own keys to those.
var routeKeys = []struct{ am, obsctl string }{
	{"group_by", "groupBy"},
	{"group_wait", "groupWait"},
	{"group_interval", "groupInterval"},
	{"repeat_interval", "repeatInterval"},
}

// checkRoute validates the keys of r that come from obsctl.yaml's route
// at field ("alerting" for the root route) one by one, each in a route of
// its own, and records a RejectedError at the first key refused: at the
// item of groupBy that is refused, or repeated.
func (c *compiler) checkRoute(r *amconfig.Route, field string) {
	values := map[string]any{}
	if r.GroupByStr != nil {
		values["group_by"] = r.GroupByStr
	}
	for k, d := range map[string]*model.Duration{"group_wait": r.GroupWait, "group_interval": r.GroupInterval, "repeat_interval": r.RepeatInterval} {
		if d != nil {
			values[k] = d
		}
	}
	for _, k := range routeKeys {
		v, ok := values[k.am]
		if !ok {
			continue
		}
		err := validateAs[amconfig.Route](map[string]any{k.am: v})
		if err == nil {
			continue
		}
		at := field + "." + k.obsctl
		if k.am == "group_by" {
			at += groupByItem(r.GroupByStr)
		}
		c.fail(&RejectedError{Field: at, Err: err})
	}
}

// groupByItem returns the index, as [i], of the label of groupBy that
// Alertmanager refuses on its own or the first that repeats one before
// it; "" when it is the list as a whole (... with other labels).
func groupByItem(groupBy []string) string {
	for i, l := range groupBy {
		if validateAs[amconfig.Route](map[string]any{"group_by": []string{l}}) != nil {
			return fmt.Sprintf("[%d]", i)
		}
		if l != "..." && slices.Contains(groupBy[:i], l) {
			return fmt.Sprintf("[%d]", i)
		}
	}
	return ""
}

// checkEqual validates the labels of an inhibition rule's equal list at
// field, one by one.
func (c *compiler) checkEqual(equal []string, field string) {
	for i, l := range equal {
		if err := validateAs[amcommon.InhibitRule](map[string]any{"equal": []string{l}}); err != nil {
			c.fail(&RejectedError{Field: fmt.Sprintf("%s[%d]", field, i), Err: err})
		}
	}
}

// checkURL validates a webhook URL as Alertmanager reads it: a URL with
// the http or https scheme and a host, or a template that parses.
func (c *compiler) checkURL(url, field string) {
	if url == "" {
		return // required: reported as incomplete
	}
	if err := validateAs[amcommon.SecretTemplateURL](url); err != nil {
		c.fail(&RejectedError{Field: field, Err: err})
	}
}

// blame returns the obsctl.yaml field of what makes Alertmanager refuse
// am, found by loading each receiver, route and inhibition rule in a
// configuration of its own; "" when none is refused alone.
func (c *compiler) blame(am *amconfig.Config) string {
	refused := func(part *amconfig.Config) bool {
		out, err := encode(part, c.webhookURLs, true)
		if err != nil {
			return false
		}
		_, err = amconfig.Load(string(out))
		return err != nil
	}
	cfg := &c.cfg.Alerting
	for i := range cfg.Receivers {
		for _, r := range am.Receivers {
			if r.Name != cfg.Receivers[i].Name || r.Name == "" {
				continue
			}
			if refused(&amconfig.Config{Route: &amconfig.Route{Receiver: r.Name}, Receivers: []amconfig.Receiver{r}}) {
				return fmt.Sprintf("alerting.receivers[%d]", i)
			}
		}
	}
	root := *am.Route
	root.Routes = nil
	for i, r := range am.Route.Routes {
		alone := root
		alone.Routes = []*amconfig.Route{r}
		if refused(&amconfig.Config{Route: &alone, Receivers: am.Receivers}) {
			return fmt.Sprintf("alerting.routes[%d]", i)
		}
	}
	if refused(&amconfig.Config{Route: &root, Receivers: am.Receivers}) {
		return "alerting.defaultReceiver"
	}
	explicit := len(am.InhibitRules) - len(cfg.Inhibit.Rules)
	for i, r := range am.InhibitRules {
		if !refused(&amconfig.Config{Route: &root, Receivers: am.Receivers, InhibitRules: []amcommon.InhibitRule{r}}) {
			continue
		}
		if i < explicit {
			return "alerting.inhibit"
		}
		return fmt.Sprintf("alerting.inhibit.rules[%d]", i-explicit)
	}
	return ""
}
