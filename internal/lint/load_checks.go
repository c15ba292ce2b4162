package lint

import "github.com/obsctl/obsctl/internal/diag"

// The checks below report through the loaders: a file that does not parse
// cannot be checked further, so the loader that reads it says why. They
// are registered so that they can be explained and listed in the README
// and SARIF like any other check. The syntax and schema checks cannot be
// disabled: without them a file obsctl cannot read would compile to
// nothing (an empty PrometheusRule) and every command would pass.

// loadFile reports a file of the repo that obsctl does not read: a link
// that leads out of the repo (to /proc/self/environ, /etc/shadow, another
// checkout), a device (/dev/zero), a named pipe (FIFO), a socket, a folder
// where a file is expected (or a file where a folder is), a dangling link,
// a loop of links, a file over 32 MiB, a file whose name holds a control
// character. A repo is written by whoever opens a pull request, and lint
// runs where secrets are: such a file is never opened, and nothing of it
// is printed. A link that stays inside the repo is followed. The finding
// is at the file, or at the rules.paths entry that names it.
type loadFile struct{}

func (loadFile) Name() string { return "load/file" }

func (loadFile) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Summary: "A file of the repo is not a regular file inside it (a link out, a device, a pipe), or is too large: it is not read."}
}

func (loadFile) Check(*Pass) {}

// yamlSyntax reports files that are not valid YAML: bad indentation, a tab
// used for indentation, an unclosed quote or bracket, a key with no value
// separator. It also reports files that are not UTF-8 text (a stray binary
// or a file with NUL bytes), at the first byte that is not text, and
// quotes nothing of such a file. Nothing else in such a file can be
// checked; the other files still are.
//
// It cannot be disabled: lint.disable, --disable (by name, yaml/* or all)
// and obsctl:disable comments leave it on, since a file obsctl cannot read
// would otherwise compile to nothing and build, render and apply would
// ship that.
type yamlSyntax struct{}

func (yamlSyntax) Name() string { return "yaml/syntax" }

func (yamlSyntax) Meta() Meta {
	return Meta{Severity: diag.Fatal, Scope: ScopeLoad, Required: true, Summary: "A file is not valid YAML (or not UTF-8 text)."}
}

func (yamlSyntax) Check(*Pass) {}

// rulesSchema reports rule files that are valid YAML but not the shape
// Prometheus reads: an unknown or misspelt key (`annotation:` for
// `annotations:`), a wrong type (`labels:` as a list), a bad duration
// (`for: 5 minutes`), a rule with neither or both of alert and record, a
// recording rule with `for` or annotations, a group without a name, or a
// PrometheusRule object without a name, with the wrong apiVersion, holding
// another kind, or defined twice in one file. Prometheus refuses the whole file for any of these.
//
// It cannot be disabled: lint.disable, --disable (by name, rules/* or all)
// and obsctl:disable comments leave it on.
type rulesSchema struct{}

func (rulesSchema) Name() string { return "rules/schema" }

func (rulesSchema) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Required: true, Summary: "A rule file or PrometheusRule object does not have the shape Prometheus reads."}
}

func (rulesSchema) Check(*Pass) {}

// configSchema reports problems with obsctl.yaml's shape: an unknown or
// misspelt key (with the closest valid key as a hint), a wrong type, a bad
// duration, a missing required key, an unsupported apiVersion, an invalid
// stack name, or a receiver declared twice. obsctl decodes the file
// strictly so that a typo never silently turns a setting off.
//
// It also reports the values Kubernetes would refuse in what obsctl
// renders from the file, at the field that causes them: a negative or
// malformed quantity (requests, limits, storage sizes); a namespace that
// is not a DNS label of at most 63 characters, stack.namespace or
// rules.namespace included, and the node agents' namespace derived from
// them (<namespace>-agents, which a 57-character namespace already makes
// too long: set stack.agentNamespace then); a namespace Kubernetes
// reserves (default, kube-system, kube-public, kube-node-lease) for the
// stack, its agents or the rules; a rules.labels key that is not a
// qualified name or value that is not a label value (63 characters at
// most); a nodeSelector value, toleration key or value Kubernetes refuses,
// a toleration without a key whose operator is not Exists; an ingress
// host that is an IP address; a control character Kubernetes' YAML reader
// refuses (DEL, a C1 control, written as an escape such as "\x7f"), in
// any key or value (the message names the character, never the value).
//
// It cannot be disabled: lint.disable, --disable (by name, config/* or
// all) leave it on.
type configSchema struct{}

func (configSchema) Name() string { return "config/schema" }

func (configSchema) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Required: true, Summary: "obsctl.yaml has an unknown key, a wrong type or an invalid value."}
}

func (configSchema) Check(*Pass) {}

// configSecretRef reports receiver secrets (Opsgenie API key, PagerDuty
// routing key, Slack webhook URL, passwords, bearer tokens) written in
// obsctl.yaml as literal values. A secret in git is readable by everyone
// with the repo, forever. Refer to it instead, as a Kubernetes Secret key
// (`{secret: {name: alertmanager-opsgenie, key: api-key}}`) or an
// environment variable read at apply time (`{env: OPSGENIE_API_KEY}`), and
// rotate the exposed value. The finding never repeats the value.
type configSecretRef struct{}

func (configSecretRef) Name() string { return "config/secret-ref" }

func (configSecretRef) Meta() Meta {
	return Meta{Severity: diag.Error, Scope: ScopeLoad, Summary: "A receiver secret in obsctl.yaml is a literal instead of a Secret or env reference."}
}

func (configSecretRef) Check(*Pass) {}
