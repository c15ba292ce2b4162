package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// corpusStats describes a generated corpus.
type corpusStats struct {
	Files, Rules, Records, Alerts int
	Bytes                         int64
}

// team owns a namespace and a few services; each rule file belongs to one
// service of one team, and lands in the team's folder.
type team struct {
	name     string
	services []string
}

var teams = []team{
	{"payments", []string{"checkout", "billing", "ledger", "refunds", "invoicing"}},
	{"search", []string{"indexer", "query", "ranking", "suggest"}},
	{"catalog", []string{"inventory", "pricing", "product", "media"}},
	{"identity", []string{"auth", "sessions", "accounts", "tokens"}},
	{"logistics", []string{"shipping", "tracking", "routing", "warehouse"}},
	{"messaging", []string{"notifier", "mailer", "push", "webhooks"}},
	{"platform", []string{"gateway", "config", "scheduler", "registry"}},
	{"data", []string{"ingest", "etl", "reporting", "exports"}},
}

// components tell apart the jobs of one service, so that a file can hold
// the same kind of alert for several of its jobs without two alerts
// sharing a name.
var components = []string{"api", "worker", "gateway", "scheduler", "indexer", "sync", "admin", "edge"}

// rule is one generated rule, in the order its fields are written.
type rule struct {
	record, alert string
	expr          string
	forDur        string
	labels        [][2]string
	annotations   [][2]string
}

// job is what a block of rules is about: one job of the file's service.
type job struct {
	name  string // Prometheus job label, e.g. checkout-17-api
	camel string // the same in UpperCamelCase, the alert name prefix
	ns    string
	team  string
	svc   string
}

// fileGen builds the rules of one file.
type fileGen struct {
	rng     *rand.Rand
	team    team
	svc     string // service name, unique in the corpus
	records []rule
	// alerts per group suffix, kept in a fixed order.
	alerts map[string][]rule
	// uses counts how often each block kind was used, to pick the job.
	uses map[string]int
}

// alert groups, in the order they are written.
var alertGroups = []string{"availability", "latency", "saturation", "capacity"}

// block is a kind of rule block: a few recording rules and the alerts
// that read them, or one standalone alert.
type block struct {
	kind   string
	weight int
	// add appends the block's rules and returns how many it added; it adds
	// nothing (and returns 0) when the block would exceed room.
	add func(g *fileGen, j job, room int) int
}

var blocks = []block{
	{"http-errors", 2, (*fileGen).httpErrors},
	{"latency-record", 2, (*fileGen).latencyRecorded},
	{"grpc-errors", 1, (*fileGen).grpcErrors},
	{"kafka-lag", 1, (*fileGen).kafkaLag},
	{"cpu", 1, (*fileGen).cpuSaturation},
	{"latency", 3, (*fileGen).latencyDirect},
	{"absent", 3, (*fileGen).absent},
	{"targets-down", 2, (*fileGen).targetsDown},
	{"disk", 2, (*fileGen).diskFill},
	{"restarts", 2, (*fileGen).restarts},
	{"memory", 3, (*fileGen).memory},
	{"cert", 2, (*fileGen).certExpiry},
	{"cronjob", 1, (*fileGen).cronjob},
	{"replicas", 1, (*fileGen).replicas},
}

var totalWeight = func() int {
	n := 0
	for _, b := range blocks {
		n += b.weight
	}
	return n
}()

// generateCorpus writes n rules into dir, 10 to 30 per file, one file at a
// time so that memory stays flat whatever n is. The same seed and n give
// the same files.
func generateCorpus(dir string, n int, seed uint64) (corpusStats, error) {
	var st corpusStats
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	for fi := 0; st.Rules < n; fi++ {
		left := n - st.Rules
		size := left
		if left > 30 {
			size = 10 + rng.IntN(min(30, left-10)-10+1)
		}
		t := teams[fi%len(teams)]
		svc := t.services[rng.IntN(len(t.services))] + "-" + strconv.Itoa(fi)
		g := &fileGen{rng: rng, team: t, svc: svc, alerts: map[string][]rule{}, uses: map[string]int{}}
		g.fill(size)
		path := filepath.Join(dir, t.name, svc+".yaml")
		written, err := g.write(path)
		if err != nil {
			return st, err
		}
		st.Files++
		st.Bytes += written
		st.Records += len(g.records)
		for _, rs := range g.alerts {
			st.Alerts += len(rs)
		}
		st.Rules = st.Records + st.Alerts
	}
	return st, nil
}

// fill adds blocks until the file holds size rules.
func (g *fileGen) fill(size int) {
	for room := size; room > 0; {
		w := g.rng.IntN(totalWeight)
		var b block
		for _, b = range blocks {
			if w < b.weight {
				break
			}
			w -= b.weight
		}
		k := g.uses[b.kind]
		comp := components[k%len(components)]
		if k >= len(components) {
			comp += strconv.Itoa(k / len(components))
		}
		name := g.svc + "-" + comp
		j := job{name: name, camel: upperCamel(name), ns: g.team.name, team: g.team.name, svc: g.svc}
		if added := b.add(g, j, room); added > 0 {
			g.uses[b.kind]++
			room -= added
		}
	}
}

func upperCamel(s string) string {
	var b strings.Builder
	for w := range strings.SplitSeq(s, "-") {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

func (g *fileGen) record(j job, name, expr string) {
	g.records = append(g.records, rule{record: name, expr: expr, labels: [][2]string{{"service", j.name}}})
}

// alert adds an alerting rule to group grp; desc is the description and
// may use templates.
func (g *fileGen) alert(grp string, j job, name, expr, forDur, severity, summary, desc string) {
	r := rule{alert: name, expr: expr, forDur: forDur}
	r.labels = append(r.labels, [2]string{"severity", severity})
	if g.rng.IntN(3) == 0 {
		r.labels = append(r.labels, [2]string{"team", j.team})
	}
	r.annotations = [][2]string{
		{"summary", summary},
		{"description", desc},
		{"runbook_url", "https://runbooks.example.com/" + j.team + "/" + j.svc + "#" + strings.ToLower(name)},
	}
	g.alerts[grp] = append(g.alerts[grp], r)
}

func (g *fileGen) pick(xs ...string) string { return xs[g.rng.IntN(len(xs))] }

// httpErrors records request and 5xx rates and alerts on their ratio at
// two thresholds, and sometimes on a multi-window burn rate.
func (g *fileGen) httpErrors(j job, room int) int {
	burn := g.rng.IntN(2) == 0
	n := 4
	if burn {
		n = 5
	}
	if n > room {
		return 0
	}
	reqs, errs := "namespace_job:http_requests:rate5m", "namespace_job:http_requests_errors:rate5m"
	g.record(j, reqs, fmt.Sprintf(`sum by (namespace, job) (rate(http_requests_total{job=%q}[5m]))`, j.name))
	g.record(j, errs, fmt.Sprintf(`sum by (namespace, job) (rate(http_requests_total{job=%q, code=~"5.."}[5m]))`, j.name))
	ratio := fmt.Sprintf("%s{service=%q}\n  / on (namespace, job)\n%s{service=%q}", errs, j.name, reqs, j.name)
	desc := "{{ $value | humanizePercentage }} of the requests to {{ $labels.namespace }}/{{ $labels.job }}\nfailed with a 5xx status over the last 5 minutes."
	g.alert("availability", j, j.camel+"HighErrorRate", ratio+"\n> 0.02", "15m", "warning",
		"{{ $labels.job }} answers more than 2% of requests with errors", desc)
	g.alert("availability", j, j.camel+"HighErrorRate", ratio+"\n> 0.1", "5m", g.pick("critical", "page"),
		"{{ $labels.job }} answers more than 10% of requests with errors", desc)
	if burn {
		expr := fmt.Sprintf("(\n  %s{service=%q}\n    / on (namespace, job)\n  %s{service=%q}\n) > (14.4 * 0.001)\nand on (namespace, job)\n(\n"+
			"  sum by (namespace, job) (rate(http_requests_total{job=%q, code=~\"5..\"}[1h]))\n    / on (namespace, job)\n"+
			"  sum by (namespace, job) (rate(http_requests_total{job=%q}[1h]))\n) > (14.4 * 0.001)",
			errs, j.name, reqs, j.name, j.name, j.name)
		g.alert("availability", j, j.camel+"ErrorBudgetBurn", expr, "2m", "page",
			"{{ $labels.job }} burns its error budget 14 times too fast",
			"{{ $labels.namespace }}/{{ $labels.job }} fails {{ $value | humanizePercentage }} of requests over both 5m and 1h;\nat this rate the 30-day error budget is gone in two days.")
	}
	return n
}

// latencyRecorded records a latency histogram's bucket rates and alerts
// on quantiles computed from the recorded series.
func (g *fileGen) latencyRecorded(j job, room int) int {
	n := 2 + g.rng.IntN(2)
	if n > room {
		return 0
	}
	rec := "namespace_job_le:http_request_duration_seconds_bucket:rate5m"
	g.record(j, rec, fmt.Sprintf("sum by (namespace, job, le) (\n  rate(http_request_duration_seconds_bucket{job=%q, route!~\"/healthz|/readyz|/metrics\"}[5m])\n)", j.name))
	g.alert("latency", j, j.camel+"HighLatencyP99", fmt.Sprintf(`histogram_quantile(0.99, %s{service=%q}) > 0.75`, rec, j.name), "10m", "warning",
		"{{ $labels.job }} is slow at the 99th percentile",
		"The 99th percentile latency of {{ $labels.job }} in {{ $labels.namespace }} is {{ $value | humanizeDuration }}.")
	if n == 3 {
		g.alert("latency", j, j.camel+"HighLatencyP50", fmt.Sprintf(`histogram_quantile(0.5, %s{service=%q}) > 0.25`, rec, j.name), "30m", "info",
			"{{ $labels.job }} is slow for the median request",
			"The median latency of {{ $labels.job }} is {{ $value | humanizeDuration }}; most users notice.")
	}
	return n
}

// grpcErrors records per-method gRPC rates and alerts on the failing share
// of methods with real traffic.
func (g *fileGen) grpcErrors(j job, room int) int {
	if room < 3 {
		return 0
	}
	all := "namespace_job_grpc_method:grpc_server_handled:rate5m"
	bad := "namespace_job_grpc_method:grpc_server_handled_errors:rate5m"
	g.record(j, all, fmt.Sprintf(`sum by (namespace, job, grpc_method) (rate(grpc_server_handled_total{job=%q}[5m]))`, j.name))
	g.record(j, bad, fmt.Sprintf("sum by (namespace, job, grpc_method) (\n  rate(grpc_server_handled_total{job=%q, grpc_code=~\"Unavailable|Internal|DeadlineExceeded|Unknown\"}[5m])\n)", j.name))
	g.alert("availability", j, j.camel+"GrpcErrors",
		fmt.Sprintf("%s{service=%q}\n  / on (namespace, job, grpc_method)\n%s{service=%q}\n> 0.05\nand on (namespace, job, grpc_method)\n%s{service=%q} > 1",
			bad, j.name, all, j.name, all, j.name),
		"10m", g.pick("critical", "warning"),
		"gRPC method {{ $labels.grpc_method }} of {{ $labels.job }} is failing",
		"{{ $value | humanizePercentage }} of calls to {{ $labels.grpc_method }} on {{ $labels.namespace }}/{{ $labels.job }} fail.")
	return 3
}

// kafkaLag records consumer lag per topic and alerts when it is high and
// still growing.
func (g *fileGen) kafkaLag(j job, room int) int {
	if room < 2 {
		return 0
	}
	rec := "namespace_consumergroup_topic:kafka_consumergroup_lag:sum"
	g.record(j, rec, fmt.Sprintf(`sum by (namespace, consumergroup, topic) (kafka_consumergroup_lag{namespace=%q, consumergroup=%q})`, j.ns, j.name))
	g.alert("saturation", j, j.camel+"ConsumerLagGrowing",
		fmt.Sprintf("%s{service=%q} > 10000\nand\nderiv(%s{service=%q}[15m]) > 0", rec, j.name, rec, j.name),
		"30m", "warning",
		"Consumer group {{ $labels.consumergroup }} falls behind on {{ $labels.topic }}",
		"{{ $labels.consumergroup }} is {{ $value | humanize }} messages behind on topic {{ $labels.topic }}, and the lag keeps growing.")
	return 2
}

// cpuSaturation records CPU use per pod and alerts on use against the
// limit, naming the deployment with label_replace.
func (g *fileGen) cpuSaturation(j job, room int) int {
	if room < 2 {
		return 0
	}
	rec := "namespace_pod:container_cpu_usage_seconds:rate5m"
	g.record(j, rec, fmt.Sprintf(`sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{namespace=%q, pod=~"%s-.*", container!=""}[5m]))`, j.ns, j.name))
	g.alert("saturation", j, j.camel+"CPUSaturated",
		fmt.Sprintf("label_replace(\n  %s{service=%q},\n  \"deployment\", \"$1\", \"pod\", \"(.+)-[a-z0-9]+-[a-z0-9]+\"\n)\n  / on (namespace, pod) group_left ()\n"+
			"sum by (namespace, pod) (kube_pod_container_resource_limits{namespace=%q, pod=~\"%s-.*\", resource=\"cpu\"})\n> 0.9",
			rec, j.name, j.ns, j.name),
		"15m", "warning",
		"Pod {{ $labels.pod }} uses nearly all of its CPU limit",
		"Pod {{ $labels.pod }} of deployment {{ $labels.deployment }} uses {{ $value | humanizePercentage }} of its CPU limit.")
	return 2
}

func (g *fileGen) latencyDirect(j job, _ int) int {
	g.alert("latency", j, j.camel+"SlowRoutes",
		fmt.Sprintf("histogram_quantile(0.95,\n  sum by (namespace, job, route, le) (\n    rate(http_request_duration_seconds_bucket{job=%q, route!~\"/healthz|/readyz|/metrics\"}[10m])\n  )\n) > 2", j.name),
		"15m", "warning",
		"Route {{ $labels.route }} of {{ $labels.job }} is slow",
		"The 95th percentile latency of {{ $labels.route }} on {{ $labels.namespace }}/{{ $labels.job }} is {{ $value | humanizeDuration }}.")
	return 1
}

func (g *fileGen) absent(j job, _ int) int {
	if g.rng.IntN(2) == 0 {
		forDur := g.pick("10m", "15m")
		g.alert("availability", j, j.camel+"TargetMissing",
			fmt.Sprintf(`absent(up{job=%q, namespace=%q})`, j.name, j.ns), forDur, "critical",
			"Prometheus has no target for {{ $labels.job }}",
			"No target of job {{ $labels.job }} in {{ $labels.namespace }} has been discovered for "+forDur+".")
		return 1
	}
	g.alert("availability", j, j.camel+"MetricsAbsent",
		fmt.Sprintf(`absent_over_time(%s{job=%q}[10m])`, g.pick("process_start_time_seconds", "up"), j.name), "5m", "warning",
		"{{ $labels.job }} reports no metrics",
		"Job {{ $labels.job }} has not reported metrics for 15 minutes.")
	return 1
}

func (g *fileGen) targetsDown(j job, _ int) int {
	g.alert("availability", j, j.camel+"TargetsDown",
		fmt.Sprintf("count by (namespace, job) (up{job=%q} == 0)\n  /\ncount by (namespace, job) (up{job=%q})\n> 0.1", j.name, j.name),
		"5m", g.pick("warning", "critical"),
		"Targets of {{ $labels.job }} are down",
		"{{ $value | humanizePercentage }} of the {{ $labels.job }} targets in {{ $labels.namespace }} are down.")
	return 1
}

func (g *fileGen) diskFill(j job, _ int) int {
	sel := fmt.Sprintf(`{job="node-exporter", instance=~"%s-db-[0-9]+.*", fstype!~"tmpfs|overlay|squashfs"}`, j.name)
	g.alert("capacity", j, j.camel+"DiskWillFillIn4h",
		fmt.Sprintf("predict_linear(node_filesystem_avail_bytes%s[6h], 4 * 3600) < 0\nand\nnode_filesystem_avail_bytes%s\n  / node_filesystem_size_bytes%s\n< 0.25", sel, sel, sel),
		"1h", "warning",
		"Disk {{ $labels.mountpoint }} on {{ $labels.instance }} fills up within 4 hours",
		"{{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} left and is filling up.")
	return 1
}

func (g *fileGen) restarts(j job, _ int) int {
	g.alert("availability", j, j.camel+"PodRestarting",
		fmt.Sprintf(`increase(kube_pod_container_status_restarts_total{namespace=%q, pod=~"%s-.+"}[1h]) > 3`, j.ns, j.name),
		g.pick("5m", "10m"), "warning",
		"Container {{ $labels.container }} of {{ $labels.pod }} restarts",
		"Container {{ $labels.container }} of pod {{ $labels.namespace }}/{{ $labels.pod }} restarted {{ $value | humanize }} times in the last hour.")
	return 1
}

func (g *fileGen) memory(j job, _ int) int {
	g.alert("saturation", j, j.camel+"MemoryNearLimit",
		fmt.Sprintf("max by (namespace, pod, container) (container_memory_working_set_bytes{namespace=%q, pod=~\"%s-.*\", container!=\"\"})\n"+
			"  / on (namespace, pod, container)\nmax by (namespace, pod, container) (kube_pod_container_resource_limits{namespace=%q, pod=~\"%s-.*\", resource=\"memory\"})\n> 0.9",
			j.ns, j.name, j.ns, j.name),
		"15m", "warning",
		"Container {{ $labels.container }} of {{ $labels.pod }} is close to its memory limit",
		"Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} uses {{ $value | humanizePercentage }} of its memory limit.")
	return 1
}

func (g *fileGen) certExpiry(j job, _ int) int {
	g.alert("capacity", j, j.camel+"CertificateExpiring",
		fmt.Sprintf(`probe_ssl_earliest_cert_expiry{job="blackbox", instance=~"https://%s\\.example\\.com.*"} - time() < 14 * 86400`, j.name),
		"1h", g.pick("info", "warning"),
		"The TLS certificate of {{ $labels.instance }} expires soon",
		"The certificate served at {{ $labels.instance }} expires in {{ $value | humanizeDuration }}.")
	return 1
}

func (g *fileGen) cronjob(j job, _ int) int {
	g.alert("availability", j, j.camel+"NightlyJobLate",
		fmt.Sprintf("time() - max by (namespace, cronjob) (\n  kube_cronjob_status_last_successful_time{namespace=%q, cronjob=\"%s-nightly\"}\n) > 26 * 3600", j.ns, j.name),
		"10m", "warning",
		"CronJob {{ $labels.cronjob }} has not succeeded for a day",
		"{{ $labels.namespace }}/{{ $labels.cronjob }} last succeeded {{ $value | humanizeDuration }} ago.")
	return 1
}

func (g *fileGen) replicas(j job, _ int) int {
	g.alert("capacity", j, j.camel+"ReplicasMismatch",
		fmt.Sprintf("kube_deployment_spec_replicas{namespace=%q, deployment=%q}\n  != kube_deployment_status_replicas_available{namespace=%q, deployment=%q}\n"+
			"unless on (namespace, deployment)\nchanges(kube_deployment_status_observed_generation{namespace=%q, deployment=%q}[10m]) > 0",
			j.ns, j.name, j.ns, j.name, j.ns, j.name),
		"30m", "info",
		"Deployment {{ $labels.deployment }} runs fewer replicas than desired",
		"{{ $labels.namespace }}/{{ $labels.deployment }} has run {{ $value | humanize }} desired replicas without all of them available for 30 minutes.")
	return 1
}

// write writes the file and returns its size.
func (g *fileGen) write(path string) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := &countingWriter{w: bufio.NewWriterSize(f, 64<<10)}
	fmt.Fprintf(w, "# Rules of the %s service, owned by team %s.\n# Generated by lintbench: a performance corpus.\ngroups:\n", g.svc, g.team.name)
	if len(g.records) > 0 {
		writeGroup(w, g.svc+".recording", "1m", g.records)
	}
	for _, name := range alertGroups {
		if rs := g.alerts[name]; len(rs) > 0 {
			writeGroup(w, g.svc+"."+name, "", rs)
		}
	}
	err = w.w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	return w.n, nil
}

func writeGroup(w *countingWriter, name, interval string, rs []rule) {
	fmt.Fprintf(w, "\n  - name: %s\n", name)
	if interval != "" {
		fmt.Fprintf(w, "    interval: %s\n", interval)
	}
	fmt.Fprintf(w, "    rules:\n")
	for i, r := range rs {
		if i > 0 {
			w.WriteString("\n")
		}
		if r.record != "" {
			fmt.Fprintf(w, "      - record: %s\n", r.record)
		} else {
			fmt.Fprintf(w, "      - alert: %s\n", r.alert)
		}
		writeScalar(w, "        ", "expr", r.expr, '|')
		if r.forDur != "" {
			fmt.Fprintf(w, "        for: %s\n", r.forDur)
		}
		writeMap(w, "labels", r.labels, 0)
		writeMap(w, "annotations", r.annotations, '>')
	}
}

func writeMap(w *countingWriter, key string, kvs [][2]string, block byte) {
	if len(kvs) == 0 {
		return
	}
	fmt.Fprintf(w, "        %s:\n", key)
	for _, kv := range kvs {
		writeScalar(w, "          ", kv[0], kv[1], block)
	}
}

// writeScalar writes key: value at indent: plain when that is safe, single
// quoted when the value is one line, and as a block scalar otherwise
// (literal for expressions, folded for prose).
func writeScalar(w *countingWriter, indent, key, value string, block byte) {
	switch {
	case strings.Contains(value, "\n"):
		if block == '>' {
			// Folded: a single line break folds to a space, so write
			// the paragraph's lines as they are.
			fmt.Fprintf(w, "%s%s: >-\n", indent, key)
		} else {
			fmt.Fprintf(w, "%s%s: |-\n", indent, key)
		}
		for line := range strings.SplitSeq(value, "\n") {
			fmt.Fprintf(w, "%s  %s\n", indent, line)
		}
	case plainSafe(value):
		fmt.Fprintf(w, "%s%s: %s\n", indent, key, value)
	default:
		fmt.Fprintf(w, "%s%s: '%s'\n", indent, key, strings.ReplaceAll(value, "'", "''"))
	}
}

// plainSafe reports whether s can be written as a plain YAML scalar and
// read back as the same string.
func plainSafe(s string) bool {
	if s == "" || strings.Contains(s, ": ") || strings.Contains(s, " #") || strings.HasSuffix(s, ":") ||
		strings.TrimSpace(s) != s {
		return false
	}
	c := s[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '(') {
		return false
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "y", "n":
		return false
	}
	return true
}

// countingWriter counts what it writes, for the corpus size; write
// errors are kept by the bufio.Writer and returned by its Flush.
type countingWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) WriteString(s string) (int, error) {
	n, err := c.w.WriteString(s)
	c.n += int64(n)
	return n, err
}
