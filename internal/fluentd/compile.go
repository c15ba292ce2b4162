package fluentd

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"path"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/obsctl/obsctl/internal/diag"
)

// Image is the Fluentd image the compiled configuration is written for,
// by a tag that does not move (v1.19-debian-elasticsearch7-1 follows each
// v1.19.x build): its Gemfile.lock pins fluentd 1.19.3,
// kubernetes_metadata_filter 3.8.0, dedot_filter 1.0.0, elasticsearch
// 5.2.5, prometheus 2.2.2, rewrite-tag-filter 2.4.0, concat 2.6.2 and
// multi-format-parser 1.0.0. render pins the same (a test holds them
// together).
const Image = "fluent/fluentd-kubernetes-daemonset:v1.19.3-debian-elasticsearch7-1.1"

// MetricsPort is where Fluentd serves its Prometheus metrics, on /metrics.
const MetricsPort = 24231

// SelfContainer is the container name of the Fluentd DaemonSet: log files
// of containers whose name starts with it are not tailed, so that Fluentd
// does not ship (and loop on) its own logs.
const SelfContainer = "fluentd"

// Errors CompileFluentd wraps.
var (
	ErrInvalidPipeline = errors.New("invalid pipeline")
	ErrInvalidOutput   = errors.New("invalid Elasticsearch output")
)

// ElasticsearchOutput says where every pipeline writes.
type ElasticsearchOutput struct {
	// Host is the Elasticsearch host name or IP address.
	Host string
	// Port is the HTTP port, such as 9200.
	Port int
	// Scheme is http or https (default https).
	Scheme string
	// User is the basic-auth user; empty for no authentication.
	User string
	// PasswordEnv names the environment variable of the Fluentd container
	// that holds User's password. The configuration refers to it as
	// "#{ENV['...']}"; the password never appears in it.
	PasswordEnv string
	// CAFile is the path of the CA bundle that signs Elasticsearch's
	// certificate (optional; https only).
	CAFile string
	// BufferPath is the folder (a hostPath, so that buffers survive
	// restarts) holding each pipeline's file buffer, BufferPath/<pipeline>,
	// and in_tail's position file.
	BufferPath string
}

var (
	hostRE    = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$`)
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func (o *ElasticsearchOutput) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidOutput, fmt.Sprintf(format, args...))
	}
	switch {
	case !hostRE.MatchString(o.Host) && net.ParseIP(o.Host) == nil:
		return bad("host %q is not a host name or IP address", o.Host)
	case o.Port < 1 || o.Port > 65535:
		return bad("port %d is not between 1 and 65535", o.Port)
	case o.Scheme != "" && o.Scheme != "http" && o.Scheme != "https":
		return bad("scheme %q is neither http nor https", o.Scheme)
	case o.PasswordEnv != "" && o.User == "":
		return bad("a password (from %s) needs a user", o.PasswordEnv)
	case o.User != "" && !envNameRE.MatchString(o.PasswordEnv):
		// The name is written inside embedded Ruby: it must be a plain
		// identifier, never quoted text.
		return bad("password environment variable %q is not a variable name", o.PasswordEnv)
	case hasControl(o.User):
		return bad("user contains a line break or control character")
	case o.CAFile != "" && (!path.IsAbs(o.CAFile) || hasControl(o.CAFile)):
		return bad("CA file %q is not an absolute path", o.CAFile)
	case o.CAFile != "" && o.Scheme == "http":
		return bad("a CA file needs scheme https")
	case !path.IsAbs(o.BufferPath) || path.Clean(o.BufferPath) != o.BufferPath || hasControl(o.BufferPath):
		return bad("buffer path %q is not a clean absolute path", o.BufferPath)
	}
	return nil
}

// CompileFluentd returns one complete fluent.conf that routes each
// container log to exactly one of ps and writes it to Elasticsearch. ps
// must be in routing order (as Load and Sort return them: the first
// pipeline whose selector takes a log wins, and a catch-all can only be
// last). Pipelines are validated again: one with an error-level finding, a
// duplicate name or a misplaced catch-all is refused with
// ErrInvalidPipeline, and a bad out with ErrInvalidOutput. The output is
// byte-stable: the same input gives the same bytes.
func CompileFluentd(ps []*Pipeline, out ElasticsearchOutput) ([]byte, error) {
	if out.Scheme == "" {
		out.Scheme = "https"
	}
	if err := out.check(); err != nil {
		return nil, err
	}
	if err := checkForCompile(ps); err != nil {
		return nil, err
	}
	c := &compiler{ps: ps, out: out}
	c.header()
	c.sources()
	c.route()
	for _, p := range ps {
		c.pipeline(p)
	}
	c.sinks()
	if c.err != nil {
		return nil, c.err
	}
	return c.b.Bytes(), nil
}

func checkForCompile(ps []*Pipeline) error {
	bad := func(p *Pipeline, format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidPipeline, p.Name, fmt.Sprintf(format, args...))
	}
	for i, p := range ps {
		if p == nil {
			return fmt.Errorf("%w: pipeline %d is nil", ErrInvalidPipeline, i)
		}
	}
	seen := map[string]bool{}
	for i, p := range ps {
		if errs := validation.IsDNS1123Label(p.Name); len(errs) > 0 {
			return bad(p, "invalid name: %s", errs[0])
		}
		if seen[p.Name] {
			return bad(p, "the name is used twice")
		}
		seen[p.Name] = true
		if p.CatchAll() && i != len(ps)-1 {
			return bad(p, "it is a catch-all (no match constraints) but not the last pipeline, so %q would never receive logs", ps[i+1].Name)
		}
		if msg, _ := indexProblem(p.Output.Index, p.Output.Dated()); msg != "" {
			return bad(p, "%s", msg)
		}
		for _, f := range Validate(p) {
			if f.Severity >= diag.Error {
				return bad(p, "%s [%s]", f.Message, f.Check)
			}
		}
	}
	return nil
}

// compiler writes the configuration. Values from pipelines go through
// str (quoted) or are built from validated names; err keeps the first
// quoting failure, which validation makes unreachable.
type compiler struct {
	ps    []*Pipeline
	out   ElasticsearchOutput
	b     bytes.Buffer
	depth int
	err   error
}

func (c *compiler) line(s string) {
	if s != "" {
		c.b.WriteString(strings.Repeat("  ", c.depth))
	}
	c.b.WriteString(s)
	c.b.WriteByte('\n')
}

func (c *compiler) comment(s string) { c.line("# " + commentText(s)) }

func (c *compiler) open(name, arg string) {
	if arg != "" {
		name += " " + arg
	}
	c.line("<" + name + ">")
	c.depth++
}

func (c *compiler) close(name string) {
	c.depth--
	c.line("</" + name + ">")
}

// param writes a parameter whose value obsctl chose or validated to a
// character set that needs no quoting.
func (c *compiler) param(key, value string) { c.line(key + " " + value) }

// str writes a parameter whose value is text, single-quoted.
func (c *compiler) str(key, value string) {
	q, err := fluentQuote(value)
	if err != nil && c.err == nil {
		c.err = fmt.Errorf("%w: %s: %v", ErrInvalidPipeline, key, err)
	}
	c.line(key + " " + q)
}

// Names the configuration uses for its own parts.
const (
	routeLabel    = "@obsctl-route"
	routeField    = "_obsctl_pipeline"
	unrouted      = "_unrouted"
	pipelineLabel = "@obsctl-"
	tagPrefix     = "obsctl."
	noTimeKey     = "_obsctl_no_time_key"
	containerLogs = "/var/log/containers"
)

func (c *compiler) catchAll() *Pipeline {
	if n := len(c.ps); n > 0 && c.ps[n-1].CatchAll() {
		return c.ps[n-1]
	}
	return nil
}

func (c *compiler) header() {
	for _, s := range []string{
		"fluent.conf for " + Image + ",",
		"generated by obsctl from the pipelines/ folder. Do not edit: change the",
		"pipelines and build again.",
		"",
		"How a log line travels:",
		"1. in_tail reads " + containerLogs + "/*.log (Docker JSON or CRI lines) and tags",
		"   each record kubernetes.<file path>. Files of containers named " + SelfContainer + "* are",
		"   not read, so that Fluentd does not ship its own logs.",
		"2. concat joins the parts of a long line the CRI runtime split (logtag P).",
		"3. In label " + routeLabel + ", kubernetes_metadata adds pod and namespace",
		"   metadata, and dedot replaces the dots of label keys with '_', so the",
		"   label app.kubernetes.io/name is read as app_kubernetes_io/name.",
		"4. A record_transformer sets " + routeField + " to the name of the FIRST",
		"   pipeline below whose match selector takes the record; a catch-all is",
		"   always last. So each record goes to exactly one pipeline.",
		"5. rewrite_tag_filter re-tags the record " + tagPrefix + "<pipeline>, and a relabel",
		"   sends it to the label " + pipelineLabel + "<pipeline>, which parses the log field,",
		"   lifts the decoration fields and writes to Elasticsearch.",
	} {
		c.line(strings.TrimRight("# "+s, " "))
	}
	if c.catchAll() == nil {
		c.comment("There is no catch-all: records no pipeline takes are counted by the null")
		c.comment("output \"unrouted\" and dropped.")
	}
	c.comment("Error events (records a plugin could not process) are counted by the null")
	c.comment("output \"error-events\" and dropped. Metrics: fluentd_output_status_* on")
	c.comment(fmt.Sprintf(":%d/metrics, per plugin id.", MetricsPort))
	c.line("#")
	c.comment("Routing order:")
	if len(c.ps) == 0 {
		c.comment("  (no pipelines)")
	}
	width := 0
	for _, p := range c.ps {
		width = max(width, len(p.Name))
	}
	for i, p := range c.ps {
		index := p.Output.Index
		if p.Output.Dated() {
			index += "-YYYY.MM.DD"
		}
		file := p.RelPath()
		if file == "" {
			file = "(added by obsctl)"
		}
		kind := ""
		if p.CatchAll() {
			kind = " (catch-all)"
		}
		c.comment(fmt.Sprintf("  %d. %-*s  %s -> %s%s", i+1, width, p.Name, file, index, kind))
	}
	c.line("")
}

func (c *compiler) sources() {
	c.open("source", "")
	c.param("@type", "tail")
	c.param("@id", "in-tail-containers")
	c.param("path", containerLogs+"/*.log")
	// Pod, namespace and container names hold no '_', so the third
	// '_'-separated part of the file name is the container's name.
	c.param("exclude_path", `["`+containerLogs+`/*_*_`+SelfContainer+`*.log"]`)
	c.str("pos_file", path.Join(c.out.BufferPath, "containers.pos"))
	c.param("tag", "kubernetes.*")
	c.param("read_from_head", "true")
	c.param("follow_inodes", "true")
	c.open("parse", "")
	c.param("@type", "multi_format")
	c.comment("Docker's json-file driver: {\"log\":\"...\",\"stream\":\"stdout\",\"time\":\"...\"}")
	c.open("pattern", "")
	c.param("format", "json")
	c.param("time_key", "time")
	c.param("time_format", "%Y-%m-%dT%H:%M:%S.%NZ")
	c.close("pattern")
	c.comment("CRI (containerd, CRI-O): <time> <stream> <logtag> <log>")
	c.open("pattern", "")
	c.param("format", "regexp")
	c.param("expression", `/^(?<time>[^ ]+) (?<stream>stdout|stderr) (?<logtag>[FP])(?::[^ ]*)? ?(?<log>.*)$/`)
	c.param("time_format", "%Y-%m-%dT%H:%M:%S.%N%:z")
	c.close("pattern")
	c.close("parse")
	c.close("source")
	c.line("")

	c.open("source", "")
	c.param("@type", "prometheus")
	c.param("@id", "in-prometheus")
	c.param("bind", "0.0.0.0")
	c.param("port", strconv.Itoa(MetricsPort))
	c.param("metrics_path", "/metrics")
	c.close("source")
	c.line("")
	c.open("source", "")
	c.param("@type", "prometheus_output_monitor")
	c.param("@id", "in-prometheus-output-monitor")
	c.param("interval", "10")
	c.close("source")
	c.line("")

	c.comment("Records without logtag (Docker) pass through; a split CRI line is held")
	c.comment("until its last part (F), or for flush_interval, then sent on.")
	c.open("filter", "kubernetes.**")
	c.param("@type", "concat")
	c.param("@id", "concat-cri-lines")
	c.param("key", "log")
	c.param("partial_key", "logtag")
	c.param("partial_value", "P")
	c.param("stream_identity_key", "stream")
	c.param("separator", `""`)
	c.param("flush_interval", "5")
	c.param("timeout_label", routeLabel)
	c.close("filter")
	c.line("")
	c.open("match", "kubernetes.**")
	c.param("@type", "relabel")
	c.param("@label", routeLabel)
	c.close("match")
	c.line("")
}

// needsNamespaceMetadata reports whether any pipeline reads namespace
// labels or the namespace uid, which the metadata filter must then fetch.
func (c *compiler) needsNamespaceMetadata() bool {
	for _, p := range c.ps {
		d := &p.Decorate
		if len(d.NamespaceLabels) > 0 {
			return true
		}
		for _, s := range d.NamespaceFields {
			if s.Value == "uid" {
				return true
			}
		}
	}
	return false
}

func (c *compiler) route() {
	c.open("label", routeLabel)
	c.open("filter", "kubernetes.**")
	c.param("@type", "kubernetes_metadata")
	c.param("@id", "kubernetes-metadata")
	c.param("skip_master_url", "true")
	if c.needsNamespaceMetadata() {
		c.comment("A pipeline lifts namespace labels or the namespace uid.")
		c.param("skip_namespace_metadata", "false")
	} else {
		c.comment("No pipeline reads namespace metadata beyond its name.")
		c.param("skip_namespace_metadata", "true")
	}
	c.close("filter")
	c.line("")
	// kubernetes_metadata_filter dropped its de_dot in v3.0.0; the image
	// bundles a 3.x and fluent-plugin-dedot_filter, whose filter does it.
	c.comment("Dots in label and annotation keys become '_' (nested: the labels hash).")
	c.open("filter", "kubernetes.**")
	c.param("@type", "dedot")
	c.param("@id", "dedot")
	c.param("de_dot", "true")
	c.param("de_dot_separator", "_")
	c.param("de_dot_nested", "true")
	c.close("filter")
	c.line("")
	c.comment("First match wins, in routing order.")
	c.open("filter", "kubernetes.**")
	c.param("@type", "record_transformer")
	c.param("@id", "route")
	c.param("enable_ruby", "true")
	// With auto_typecast, a value that is one ${...} is evaluated as Ruby
	// as it stands, rather than spliced into a string.
	c.param("auto_typecast", "true")
	c.open("record", "")
	c.str(routeField, "${"+c.routeCode()+"}")
	c.close("record")
	c.close("filter")
	c.line("")
	c.open("match", "kubernetes.**")
	c.param("@type", "rewrite_tag_filter")
	c.param("@id", "route-tag")
	c.open("rule", "")
	c.param("key", routeField)
	c.param("pattern", `/^([-_a-z0-9]+)$/`)
	c.param("tag", tagPrefix+"$1")
	c.close("rule")
	c.close("match")
	for _, p := range c.ps {
		c.line("")
		c.open("match", tagPrefix+p.Name)
		c.param("@type", "relabel")
		c.param("@id", "route-"+p.Name)
		c.param("@label", pipelineLabel+p.Name)
		c.close("match")
	}
	if c.catchAll() == nil {
		c.line("")
		c.open("match", tagPrefix+unrouted)
		c.param("@type", "null")
		c.param("@id", "unrouted")
		c.close("match")
	}
	c.close("label")
	c.line("")
}

// routeCode returns the Ruby expression naming the pipeline that takes a
// record. Every literal in it comes from rubyString; the rest is fixed.
func (c *compiler) routeCode() string {
	fallback := unrouted
	if ca := c.catchAll(); ca != nil {
		fallback = ca.Name
	}
	var specific []*Pipeline
	for _, p := range c.ps {
		if !p.CatchAll() {
			specific = append(specific, p)
		}
	}
	if len(specific) == 0 {
		return rubyString(fallback)
	}
	var needNS, needLabels, needContainer bool
	for _, p := range specific {
		m := &p.Match
		needNS = needNS || len(m.Namespaces)+len(m.ExcludeNamespaces) > 0
		needLabels = needLabels || len(m.PodLabels) > 0
		needContainer = needContainer || len(m.Containers) > 0
	}
	var b strings.Builder
	b.WriteString(`k = record["kubernetes"]; k = {} unless k.is_a?(Hash); `)
	if needNS {
		b.WriteString(`ns = k["namespace_name"]; `)
	}
	if needContainer {
		b.WriteString(`c = k["container_name"]; `)
	}
	if needLabels {
		b.WriteString(`l = k["labels"]; l = {} unless l.is_a?(Hash); `)
	}
	for i, p := range specific {
		if i == 0 {
			b.WriteString("if ")
		} else {
			b.WriteString(" elsif ")
		}
		b.WriteString(matchCode(&p.Match))
		b.WriteString(" then ")
		b.WriteString(rubyString(p.Name))
	}
	b.WriteString(" else " + rubyString(fallback) + " end")
	return b.String()
}

func matchCode(m *Match) string {
	var parts []string
	if len(m.Namespaces) > 0 {
		parts = append(parts, rubyArray(values(m.Namespaces))+".include?(ns)")
	}
	if len(m.ExcludeNamespaces) > 0 {
		parts = append(parts, "!"+rubyArray(values(m.ExcludeNamespaces))+".include?(ns)")
	}
	for _, kv := range m.PodLabels {
		parts = append(parts, "l["+rubyString(deDot(kv.Key))+"] == "+rubyString(kv.Value))
	}
	if len(m.Containers) > 0 {
		parts = append(parts, rubyArray(values(m.Containers))+".include?(c)")
	}
	return strings.Join(parts, " && ")
}

// deDot returns a label key as the metadata filter stores it.
func deDot(key string) string { return strings.ReplaceAll(key, ".", "_") }

func (c *compiler) pipeline(p *Pipeline) {
	tag := tagPrefix + p.Name
	c.open("label", pipelineLabel+p.Name)
	c.comment(p.Name + " (" + orBuiltIn(p.RelPath()) + ")")
	if p.Description != "" {
		c.comment(p.Description)
	}
	c.parseFilter(p, tag)
	c.decorateFilter(p, tag)
	c.output(p, tag)
	c.close("label")
	c.line("")
}

func orBuiltIn(file string) string {
	if file == "" {
		return "built in code"
	}
	return file
}

func (c *compiler) parseFilter(p *Pipeline, tag string) {
	ps := &p.Parse
	format := ps.EffectiveFormat()
	if format == FormatPlain {
		c.comment("format plain: the log field is kept as it is.")
		return
	}
	c.open("filter", tag)
	c.param("@type", "parser")
	c.param("@id", "parse-"+p.Name)
	c.param("key_name", "log")
	c.comment("A line that does not parse passes on unchanged.")
	c.param("reserve_data", "true")
	c.param("emit_invalid_record_to_error", "false")
	c.param("remove_key_name_field", strconv.FormatBool(!ps.KeepOriginal))
	c.param("reserve_time", strconv.FormatBool(ps.TimeKey == ""))
	c.open("parse", "")
	c.param("@type", format)
	if format == FormatRegexp {
		// The slashes make Fluentd read the value as a regexp literal even
		// when the regexp itself starts with '/'.
		c.str("expression", "/"+ps.Regexp+"/")
	}
	if ps.TimeKey == "" {
		c.comment("No timeKey: the runtime's timestamp is kept, and time_key names a")
		c.comment("field no log has, so that the parser reads and removes no field.")
		c.param("time_key", noTimeKey)
	} else {
		c.str("time_key", ps.TimeKey)
		if ps.TimeFormat != "" {
			c.str("time_format", ps.TimeFormat)
		}
		c.param("keep_time_key", "false")
	}
	c.close("parse")
	c.close("filter")
}

func (c *compiler) decorateFilter(p *Pipeline, tag string) {
	c.open("filter", tag)
	c.param("@type", "record_transformer")
	c.param("@id", "decorate-"+p.Name)
	fields := p.RecordFields()
	if len(fields) > 0 {
		c.comment("Each value is one Ruby expression; a missing label gives null.")
		c.param("enable_ruby", "true")
		c.param("auto_typecast", "true")
	}
	c.param("remove_keys", routeField+",logtag")
	if len(fields) > 0 {
		c.open("record", "")
		d := &p.Decorate
		for _, kv := range d.PodLabels {
			c.str(kv.Value, "${"+digCode("labels", deDot(kv.Key))+"}")
		}
		for _, kv := range d.NamespaceLabels {
			c.str(kv.Value, "${"+digCode("namespace_labels", deDot(kv.Key))+"}")
		}
		for _, s := range d.NamespaceFields {
			switch s.Value {
			case "name":
				c.str(NamespaceFieldNames[s.Value], "${"+digCode("namespace_name")+"}")
			case "uid":
				c.str(NamespaceFieldNames[s.Value], "${"+digCode("namespace_id")+"}")
			}
		}
		for _, kv := range d.Static {
			c.str(kv.Key, "${"+rubyString(kv.Value)+"}")
		}
		c.close("record")
	}
	c.close("filter")
}

// digCode reads record["kubernetes"][keys...] without failing: a missing
// key or a value of the wrong type gives nil.
func digCode(keys ...string) string {
	args := []string{rubyString("kubernetes")}
	for _, k := range keys {
		args = append(args, rubyString(k))
	}
	return "record.dig(" + strings.Join(args, ", ") + ") rescue nil"
}

func (c *compiler) output(p *Pipeline, tag string) {
	o := &c.out
	c.open("match", tag)
	c.param("@type", "elasticsearch")
	c.param("@id", "es-"+p.Name)
	c.str("host", o.Host)
	c.param("port", strconv.Itoa(o.Port))
	c.param("scheme", o.Scheme)
	if o.Scheme == "https" {
		c.param("ssl_verify", "true")
		if o.CAFile != "" {
			c.str("ca_file", o.CAFile)
		}
	}
	if o.User != "" {
		c.str("user", o.User)
		// The one embedded Ruby of the file, evaluated when Fluentd reads
		// it; PasswordEnv is checked to be a plain variable name.
		c.param("password", `"#{ENV['`+o.PasswordEnv+`']}"`)
	}
	if p.Output.Dated() {
		c.param("logstash_format", "true")
		c.str("logstash_prefix", p.Output.Index)
		c.param("logstash_prefix_separator", "-")
		c.param("logstash_dateformat", "%Y.%m.%d")
	} else {
		c.param("logstash_format", "false")
		c.str("index_name", p.Output.Index)
		c.param("include_timestamp", "true")
	}
	c.param("suppress_type_name", "true")
	c.param("reconnect_on_error", "true")
	c.param("reload_on_failure", "true")
	c.param("reload_connections", "false")
	c.param("request_timeout", "30s")
	c.param("log_es_400_reason", "true")
	c.open("buffer", "")
	c.param("@type", "file")
	c.str("path", path.Join(o.BufferPath, p.Name))
	c.param("flush_mode", "interval")
	c.param("flush_interval", "5s")
	c.param("flush_thread_count", "2")
	c.param("chunk_limit_size", "8MB")
	c.param("total_limit_size", "1GB")
	c.param("overflow_action", "block")
	c.param("retry_type", "exponential_backoff")
	c.param("retry_wait", "1s")
	c.param("retry_exponential_backoff_base", "2")
	c.param("retry_max_interval", "60s")
	c.param("retry_timeout", "72h")
	c.close("buffer")
	c.close("match")
}

func (c *compiler) sinks() {
	c.comment("Records a plugin could not process.")
	c.open("label", "@ERROR")
	c.open("match", "**")
	c.param("@type", "null")
	c.param("@id", "error-events")
	c.close("match")
	c.close("label")
	c.line("")
	c.comment("Fluentd's own log events; they are on the container's stdout too.")
	c.open("label", "@FLUENT_LOG")
	c.open("match", "fluent.**")
	c.param("@type", "null")
	c.param("@id", "fluentd-log")
	c.close("match")
	c.close("label")
}
