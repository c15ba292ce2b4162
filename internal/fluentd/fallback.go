package fluentd

import (
	"strconv"
	"strings"
)

// FallbackConf is fluent.conf for a repo without pipelines: every
// container's log lines, with their Kubernetes metadata, to the daily
// index logs-default-YYYY.MM.DD, and the Prometheus metrics the
// logging-pipeline dashboard reads. Fluentd's own log lines are left out
// so that a failing output does not feed itself. agentNS is the
// namespace Fluentd runs in, stateDir the host folder of its positions
// and buffers.
func FallbackConf(agentNS, stateDir string) string {
	return strings.NewReplacer(
		"@AGENT_NS@", agentNS,
		"@STATE@", stateDir,
		"@PORT@", strconv.Itoa(MetricsPort),
	).Replace(fallbackTemplate)
}

const fallbackTemplate = `# Rendered by obsctl: the repo has no pipelines, so every container's log
# lines go to the index logs-default-YYYY.MM.DD.

<label @FLUENT_LOG>
  <match **>
    @type null
  </match>
</label>

<source>
  @type prometheus
  @id in_prometheus
  bind 0.0.0.0
  port @PORT@
  metrics_path /metrics
</source>

<source>
  @type prometheus_output_monitor
  @id in_prometheus_output_monitor
  interval 10
</source>

<source>
  @type tail
  @id in_containers
  path /var/log/containers/*.log
  exclude_path ["/var/log/containers/fluentd-*_@AGENT_NS@_fluentd-*.log"]
  pos_file @STATE@/containers.log.pos
  tag kubernetes.*
  read_from_head true
  <parse>
    @type cri
  </parse>
</source>

<filter kubernetes.**>
  @type kubernetes_metadata
  @id filter_kubernetes_metadata
</filter>

# Label keys with dots (app and app.kubernetes.io/name) would conflict in
# the index's mapping: the metadata filter's own de_dot is gone since its
# v3.0.0, so the image's dedot filter does it.
<filter kubernetes.**>
  @type dedot
  @id filter_dedot
  de_dot true
  de_dot_separator _
  de_dot_nested true
</filter>

<match kubernetes.**>
  @type elasticsearch
  @id out_elasticsearch
  host "#{ENV['FLUENT_ELASTICSEARCH_HOST']}"
  port "#{ENV['FLUENT_ELASTICSEARCH_PORT']}"
  scheme "#{ENV['FLUENT_ELASTICSEARCH_SCHEME']}"
  user "#{ENV['FLUENT_ELASTICSEARCH_USER']}"
  password "#{ENV['FLUENT_ELASTICSEARCH_PASSWORD']}"
  logstash_format true
  logstash_prefix logs-default
  logstash_dateformat %Y.%m.%d
  suppress_type_name true
  # The Service's address, not the nodes' own ones sniffed from the cluster.
  reload_connections false
  reconnect_on_error true
  request_timeout 30s
  <buffer>
    @type file
    path @STATE@/buffer/elasticsearch
    flush_mode interval
    flush_interval 5s
    flush_thread_count 2
    chunk_limit_size 8MB
    total_limit_size 512MB
    overflow_action block
    retry_type exponential_backoff
    retry_max_interval 60s
    retry_forever true
  </buffer>
</match>
`
