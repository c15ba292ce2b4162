package fluentd

import (
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/obsctl/obsctl/internal/diag"
)

// repoFS returns a file system holding the given pipelines/ files.
func repoFS(files map[string]string) fstest.MapFS {
	m := fstest.MapFS{}
	for name, src := range files {
		m[Dir+"/"+name] = &fstest.MapFile{Data: []byte(src)}
	}
	return m
}

func loadSrc(t *testing.T, src string) ([]*Pipeline, []diag.Finding) {
	t.Helper()
	return Load(repoFS(map[string]string{"p.yaml": src}), Dir)
}

const readmeExample = `apiVersion: obsctl/v1
kind: Pipeline
name: payments
description: The payments team's services
match:
  namespaces: [payments, payments-batch]
  excludeNamespaces: []
  podLabels: {team: payments}
  containers: []
decorate:
  podLabels:
    app.kubernetes.io/name: app
  namespaceLabels:
    cost-center: cost_center
  namespaceFields: [name]
  static: {cluster: prod, replicas: 3}
parse:
  format: regexp
  regexp: '^(?<time>[^ ]+) (?<level>[A-Z]+) (?<message>.*)$'
  timeKey: time
  timeFormat: '%Y-%m-%dT%H:%M:%S.%NZ'
  keepOriginal: true
output:
  index: logs-payments
  dateSuffix: true
`

func TestLoadGood(t *testing.T) {
	ps, fds := loadSrc(t, readmeExample)
	if len(fds) != 0 {
		t.Fatalf("unexpected findings: %v", fds)
	}
	if len(ps) != 1 {
		t.Fatalf("got %d pipelines", len(ps))
	}
	p := ps[0]
	if p.Name != "payments" || p.Path() != "pipelines/p.yaml" || p.CatchAll() {
		t.Errorf("pipeline: name %q path %q catch-all %v", p.Name, p.Path(), p.CatchAll())
	}
	if got := values(p.Match.Namespaces); !slices.Equal(got, []string{"payments", "payments-batch"}) {
		t.Errorf("namespaces = %v", got)
	}
	if sp := p.Match.Namespaces[1].Span; sp.Start != (diag.Pos{Line: 6, Col: 26}) || sp.End != (diag.Pos{Line: 6, Col: 40}) {
		t.Errorf("namespace span = %+v", sp)
	}
	if v, ok := p.Match.PodLabels.Get("team"); !ok || v != "payments" {
		t.Errorf("podLabels = %+v", p.Match.PodLabels)
	}
	kv := p.Decorate.PodLabels[0]
	if kv.Key != "app.kubernetes.io/name" || kv.KeySpan.Start != (diag.Pos{Line: 12, Col: 5}) || kv.ValueSpan.Start != (diag.Pos{Line: 12, Col: 29}) {
		t.Errorf("decorate pod label = %+v", kv)
	}
	if v, _ := p.Decorate.Static.Get("replicas"); v != "3" {
		t.Errorf("a number is taken as written: %q", v)
	}
	var names []string
	for _, f := range p.RecordFields() {
		names = append(names, f.Name)
	}
	if want := []string{"app", "cost_center", "namespace", "cluster", "replicas"}; !slices.Equal(names, want) {
		t.Errorf("RecordFields = %v, want %v", names, want)
	}
	if p.Parse.EffectiveFormat() != FormatRegexp || !p.Parse.KeepOriginal || p.Parse.TimeKey != "time" {
		t.Errorf("parse = %+v", p.Parse)
	}
	if !p.Output.Dated() || p.Output.IndexPattern() != "logs-payments-*" {
		t.Errorf("output = %+v", p.Output)
	}
	if sp := p.Output.Span("index"); sp.File != "pipelines/p.yaml" || sp.Start != (diag.Pos{Line: 24, Col: 10}) {
		t.Errorf("index span = %+v", sp)
	}
	if sp := p.NameSpan(); sp.Start != (diag.Pos{Line: 3, Col: 7}) {
		t.Errorf("name span = %+v", sp)
	}
}

// head is the first three lines of a pipeline named p; cases add from
// line 4.
const head = "apiVersion: obsctl/v1\nkind: Pipeline\nname: p\n"

// out is a valid output section.
const out = "output: {index: logs-p}\n"

// idx returns a pipeline whose index (written as YAML) is on line 5,
// column 10.
func idx(yamlValue string) string { return head + "output:\n  index: " + yamlValue + "\n" }

func TestFindings(t *testing.T) {
	long := strings.Repeat("a", 240)
	tests := []struct {
		name  string
		src   string            // pipelines/p.yaml, or
		files map[string]string // several files
		// The one finding expected.
		check     string
		sev       diag.Severity
		file      string // default pipelines/p.yaml
		line, col int
		msg       string
	}{
		// pipelines/schema
		{name: "misspelt top-level key", src: head + "decorte: {}\n" + out,
			check: CheckSchema, sev: diag.Error, line: 4, col: 1, msg: `unknown key "decorte" in pipeline`},
		{name: "unknown match key", src: head + "match:\n  namespace: [a]\n" + out,
			check: CheckSchema, sev: diag.Error, line: 5, col: 3, msg: `unknown key "namespace" in pipeline.match`},
		{name: "missing output", src: head,
			check: CheckSchema, sev: diag.Error, line: 1, col: 1, msg: `missing required key "output"`},
		{name: "output without a value", src: head + "output:\n",
			check: CheckSchema, sev: diag.Error, line: 4, col: 8, msg: `pipeline.output: missing required key "index"`},
		{name: "apiVersion", src: "apiVersion: obsctl/v2\nkind: Pipeline\nname: p\n" + out,
			check: CheckSchema, sev: diag.Error, line: 1, col: 13, msg: `unsupported apiVersion "obsctl/v2"`},
		{name: "kind", src: "apiVersion: obsctl/v1\nkind: Pipe\nname: p\n" + out,
			check: CheckSchema, sev: diag.Error, line: 2, col: 7, msg: `kind is "Pipe", not Pipeline`},
		{name: "pipeline name", src: "apiVersion: obsctl/v1\nkind: Pipeline\nname: My_Pipe\n" + out,
			check: CheckSchema, sev: diag.Error, line: 3, col: 7, msg: `invalid pipeline name "My_Pipe"`},
		{name: "namespaces not a list", src: head + "match:\n  namespaces: kube-system\n" + out,
			check: CheckSchema, sev: diag.Error, line: 5, col: 15, msg: `pipeline.match.namespaces must be a list, not "kube-system"`},
		{name: "bool as text", src: head + "parse:\n  format: json\n  keepOriginal: 'yes'\n" + out,
			check: CheckSchema, sev: diag.Error, line: 6, col: 17, msg: "must be true or false"},
		{name: "label value a list", src: head + "match:\n  podLabels: {team: [a]}\n" + out,
			check: CheckSchema, sev: diag.Error, line: 5, col: 21, msg: `pipeline.match.podLabels "team" must be a string, not a list`},
		{name: "two documents", src: head + out + "---\n" + head + out,
			check: CheckSchema, sev: diag.Error, line: 6, col: 1, msg: "a pipeline file holds one pipeline, found 2"},
		{name: "empty file", src: "# nothing\n",
			check: CheckSchema, sev: diag.Error, line: 1, col: 1, msg: "pipeline file is empty"},
		{name: "root is a list", src: "- a\n",
			check: CheckSchema, sev: diag.Error, line: 1, col: 1, msg: "a pipeline must be a mapping, not a list"},
		{name: "matched and excluded", src: head + "match:\n  namespaces: [a, b]\n  excludeNamespaces: [b]\n" + out,
			check: CheckSchema, sev: diag.Error, line: 6, col: 23, msg: `namespace "b" is both matched and excluded`},
		{name: "namespace twice", src: head + "match:\n  namespaces: [a, a]\n" + out,
			check: CheckSchema, sev: diag.Error, line: 5, col: 19, msg: `namespace "a" is listed twice in namespaces`},
		{name: "unknown format", src: head + "parse: {format: xml}\n" + out,
			check: CheckSchema, sev: diag.Error, line: 4, col: 17, msg: `unknown parse format "xml"`},
		{name: "timeKey with plain", src: head + "parse:\n  format: plain\n  timeKey: ts\n" + out,
			check: CheckSchema, sev: diag.Error, line: 6, col: 12, msg: "timeKey has no effect with format plain"},
		{name: "timeFormat without timeKey", src: head + "parse:\n  format: json\n  timeFormat: '%s'\n" + out,
			check: CheckSchema, sev: diag.Error, line: 6, col: 15, msg: "timeFormat needs timeKey"},
		{name: "keepOriginal with plain", src: head + "parse:\n  keepOriginal: true\n" + out,
			check: CheckSchema, sev: diag.Warning, line: 5, col: 17, msg: "keepOriginal has no effect with format plain"},
		{name: "unknown namespace field", src: head + "decorate:\n  namespaceFields: [name, labels]\n" + out,
			check: CheckSchema, sev: diag.Error, line: 5, col: 27, msg: `unknown namespace field "labels"`},
		{name: "YAML syntax", src: head + "match: [\n",
			check: CheckSyntax, sev: diag.Fatal, line: 4, col: 1, msg: "YAML syntax"},

		// pipelines/kubernetes-name
		{name: "namespace upper case", src: head + "match:\n  namespaces: [Payments]\n" + out,
			check: CheckKubernetesName, sev: diag.Error, line: 5, col: 16, msg: `"Payments" is not a valid Kubernetes namespace`},
		{name: "excluded namespace too long", src: head + "match:\n  excludeNamespaces: [" + strings.Repeat("n", 64) + "]\n" + out,
			check: CheckKubernetesName, sev: diag.Error, line: 5, col: 23, msg: "is not a valid Kubernetes namespace"},
		{name: "container name", src: head + "match:\n  containers: [web_1]\n" + out,
			check: CheckKubernetesName, sev: diag.Error, line: 5, col: 16, msg: `"web_1" is not a valid Kubernetes container name`},
		{name: "match label key", src: head + "match:\n  podLabels: {team!: a}\n" + out,
			check: CheckKubernetesName, sev: diag.Error, line: 5, col: 15, msg: `pod label key "team!" is not a valid Kubernetes label key`},
		{name: "match label value", src: head + "match:\n  podLabels: {team: 'a b'}\n" + out,
			check: CheckKubernetesName, sev: diag.Error, line: 5, col: 21, msg: `"a b" is not a valid label value`},
		{name: "decorate label key", src: head + "decorate:\n  namespaceLabels: {'example.com/': team}\n" + out,
			check: CheckKubernetesName, sev: diag.Error, line: 5, col: 21, msg: `namespace label key "example.com/" is not a valid Kubernetes label key`},

		// pipelines/field-name
		{name: "reserved field", src: head + "decorate:\n  podLabels: {app: log}\n" + out,
			check: CheckFieldName, sev: diag.Error, line: 5, col: 20, msg: `record field "log" (from pod label "app") is reserved: it holds the raw log line`},
		{name: "reserved @timestamp", src: head + "decorate:\n  static: {'@timestamp': now}\n" + out,
			check: CheckFieldName, sev: diag.Error, line: 5, col: 12, msg: `record field "@timestamp" (from static value) is reserved`},
		{name: "reserved kubernetes", src: head + "decorate:\n  namespaceLabels: {team: kubernetes}\n" + out,
			check: CheckFieldName, sev: diag.Error, line: 5, col: 27, msg: `record field "kubernetes" (from namespace label "team") is reserved`},
		{name: "dotted field", src: head + "decorate:\n  podLabels: {app: app.name}\n" + out,
			check: CheckFieldName, sev: diag.Error, line: 5, col: 20, msg: `invalid record field name "app.name"`},
		{name: "underscore field", src: head + "decorate:\n  static: {_id: x}\n" + out,
			check: CheckFieldName, sev: diag.Error, line: 5, col: 12, msg: `invalid record field name "_id"`},
		{name: "field set twice", src: head + "decorate:\n  podLabels: {team: team}\n  static: {team: x}\n" + out,
			check: CheckFieldName, sev: diag.Error, line: 6, col: 12, msg: `record field "team" is set from both pod label "team" (line 5) and static value`},
		{name: "namespace field collides", src: head + "decorate:\n  podLabels: {ns: namespace}\n  namespaceFields: [name]\n" + out,
			check: CheckFieldName, sev: diag.Error, line: 6, col: 21, msg: `record field "namespace" is set from both pod label "ns" (line 5) and namespace name`},

		// pipelines/index-name
		{name: "index upper case", src: idx("logs-Apps"),
			check: CheckIndexName, sev: diag.Error, line: 5, col: 10, msg: `index "logs-Apps" has upper-case letters; Elasticsearch index names are lowercase only`},
		{name: "index dot", src: idx("'.'"),
			check: CheckIndexName, sev: diag.Error, line: 5, col: 10, msg: `index name "." is not allowed`},
		{name: "index dot dot", src: idx("'..'"),
			check: CheckIndexName, sev: diag.Error, line: 5, col: 10, msg: `index name ".." is not allowed`},
		{name: "index hidden", src: idx(".logs-apps"),
			check: CheckIndexName, sev: diag.Error, line: 5, col: 10, msg: "Elasticsearch keeps dot-prefixed names for hidden and system indices"},
		{name: "index leading dash", src: idx("-logs"),
			check: CheckIndexName, sev: diag.Error, line: 5, col: 10, msg: `index "-logs" starts with "-"`},
		{name: "index leading underscore", src: idx("_logs"),
			check: CheckIndexName, sev: diag.Error, line: 5, col: 10, msg: `starts with "_"`},
		{name: "index leading plus", src: idx("+logs"),
			check: CheckIndexName, sev: diag.Error, line: 5, col: 10, msg: `starts with "+"`},
		{name: "index colon", src: idx("'logs:apps'"),
			check: CheckIndexName, sev: diag.Error, line: 5, col: 10, msg: "contains ':', which Elasticsearch refuses"},
		{name: "index placeholder", src: idx("'logs-${tag}'"),
			check: CheckIndexName, sev: diag.Error, line: 5, col: 10, msg: "would read as a placeholder"},
		{name: "index strftime", src: idx("logs-%d"),
			check: CheckIndexName, sev: diag.Error, line: 5, col: 10, msg: `contains "%"`},
		{name: "index empty", src: idx("''"),
			check: CheckIndexName, sev: diag.Error, line: 5, col: 10, msg: "index name is empty"},
		{name: "index control character", src: idx(`"logs-a\tb"`),
			check: CheckIndexName, sev: diag.Error, line: 5, col: 10, msg: "control character"},
		{name: "index too long with date", src: idx("logs-" + long),
			check: CheckIndexName, sev: diag.Error, line: 5, col: 10, msg: "index name is 245 bytes; with the date suffix -YYYY.MM.DD (11 bytes) it exceeds Elasticsearch's 255-byte limit"},
		{name: "index too long", src: head + "output:\n  index: logs-" + long + strings.Repeat("a", 11) + "\n  dateSuffix: false\n",
			check: CheckIndexName, sev: diag.Error, line: 5, col: 10, msg: "index name is 256 bytes, over Elasticsearch's 255-byte limit"},

		// pipelines/index-prefix
		{name: "index outside logs-*", src: idx("app-logs"),
			check: CheckIndexPrefix, sev: diag.Warning, line: 5, col: 10, msg: "the Grafana Elasticsearch datasource reads logs-*"},

		// pipelines/regexp
		{name: "regexp format without regexp", src: head + "parse:\n  format: regexp\n" + out,
			check: CheckRegexp, sev: diag.Error, line: 5, col: 11, msg: "format regexp needs a regexp"},
		{name: "regexp with json", src: head + "parse:\n  format: json\n  regexp: '(?<a>.)'\n" + out,
			check: CheckRegexp, sev: diag.Error, line: 6, col: 11, msg: "regexp is only used with format regexp, not json"},
		{name: "regexp with default format", src: head + "parse:\n  regexp: '(?<a>.)'\n" + out,
			check: CheckRegexp, sev: diag.Error, line: 5, col: 11, msg: "not plain"},
		{name: "regexp does not compile", src: head + "parse:\n  format: regexp\n  regexp: '(?<a>[a-'\n" + out,
			check: CheckRegexp, sev: diag.Error, line: 6, col: 11, msg: "regexp does not compile: error parsing regexp: missing closing ]"},
		{name: "regexp lookbehind", src: head + "parse:\n  format: regexp\n  regexp: '(?<=x)(?<a>y)'\n" + out,
			check: CheckRegexp, sev: diag.Error, line: 6, col: 11, msg: "regexp does not compile"},
		{name: "regexp without named group", src: head + "parse:\n  format: regexp\n  regexp: '^(.*)$'\n" + out,
			check: CheckRegexp, sev: diag.Error, line: 6, col: 11, msg: "regexp has no named group"},
		{name: "regexp with Go named group", src: head + "parse:\n  format: regexp\n  regexp: '(?P<a>.)'\n" + out,
			check: CheckRegexp, sev: diag.Error, line: 6, col: 11, msg: "(?P<name>...), which Ruby does not accept"},
		{name: "regexp group starting with a digit", src: head + "parse:\n  format: regexp\n  regexp: '(?<1a>.)'\n" + out,
			check: CheckRegexp, sev: diag.Error, line: 6, col: 11, msg: `named group "1a" starts with a digit`},
		{name: "regexp with a line break", src: head + "parse:\n  format: regexp\n  regexp: \"(?<a>.)\\n\"\n" + out,
			check: CheckRegexp, sev: diag.Error, line: 6, col: 11, msg: "line break"},
		{name: "timeKey not a group", src: head + "parse:\n  format: regexp\n  regexp: '(?<ts>\\S+) (?<msg>.*)'\n  timeKey: time\n" + out,
			check: CheckRegexp, sev: diag.Error, line: 7, col: 12, msg: `timeKey "time" is not a named group of the regexp`},

		// pipelines/duplicate-name
		{name: "duplicate name", files: map[string]string{
			"a.yaml": head + "match: {namespaces: [a]}\n" + out,
			"b.yaml": "# same name\n" + head + "match: {namespaces: [b]}\n" + out,
		}, check: CheckDuplicateName, sev: diag.Error, file: "pipelines/b.yaml", line: 4, col: 7,
			msg: `pipeline name "p" is already used by pipelines/a.yaml:3:7`},

		// pipelines/catch-all
		{name: "two catch-alls", files: map[string]string{
			"a.yaml": "apiVersion: obsctl/v1\nkind: Pipeline\nname: a\n" + out,
			"b.yaml": "apiVersion: obsctl/v1\nkind: Pipeline\nname: b\n" + out,
		}, check: CheckCatchAll, sev: diag.Error, file: "pipelines/b.yaml", line: 3, col: 7,
			msg: `pipeline "b" has no match constraints, like "a" (pipelines/a.yaml:3:7): only one pipeline can be the catch-all`},
		{name: "two catch-alls, one with an empty match", files: map[string]string{
			"a.yaml": "apiVersion: obsctl/v1\nkind: Pipeline\nname: a\n" + out,
			"b.yaml": "apiVersion: obsctl/v1\nkind: Pipeline\nname: b\nmatch: {namespaces: []}\n" + out,
		}, check: CheckCatchAll, sev: diag.Error, file: "pipelines/b.yaml", line: 4, col: 8, msg: "only one pipeline can be the catch-all"},

		// pipelines/overlap
		{name: "same namespace", files: map[string]string{
			"a.yaml": "apiVersion: obsctl/v1\nkind: Pipeline\nname: a\nmatch: {namespaces: [x, y]}\n" + out,
			"b.yaml": "apiVersion: obsctl/v1\nkind: Pipeline\nname: b\nmatch:\n  namespaces: [y, z]\n" + out,
		}, check: CheckOverlap, sev: diag.Warning, file: "pipelines/b.yaml", line: 5, col: 3,
			msg: `pipelines "a" and "b" can both take logs from namespace "y"; "a" comes first in routing order (by name), so "b" never receives them`},
		{name: "namespace list and exclusions", files: map[string]string{
			"a.yaml": "apiVersion: obsctl/v1\nkind: Pipeline\nname: a\nmatch: {excludeNamespaces: [x]}\n" + out,
			"b.yaml": "apiVersion: obsctl/v1\nkind: Pipeline\nname: b\nmatch: {namespaces: [x, y], podLabels: {team: t}}\n" + out,
		}, check: CheckOverlap, sev: diag.Warning, file: "pipelines/b.yaml", line: 4, col: 8,
			msg: `can both take logs from namespace "y", pods labelled team=t`},
		{name: "two open selectors", files: map[string]string{
			"a.yaml": "apiVersion: obsctl/v1\nkind: Pipeline\nname: a\nmatch: {containers: [web], excludeNamespaces: [x]}\n" + out,
			"b.yaml": "apiVersion: obsctl/v1\nkind: Pipeline\nname: b\nmatch: {podLabels: {app: api}}\n" + out,
		}, check: CheckOverlap, sev: diag.Warning, file: "pipelines/b.yaml", line: 4, col: 8,
			msg: `from a namespace neither excludes, container "web", pods labelled app=api`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := tt.files
			if files == nil {
				files = map[string]string{"p.yaml": tt.src}
			}
			file := tt.file
			if file == "" {
				file = "pipelines/p.yaml"
			}
			_, fds := Load(repoFS(files), Dir)
			if len(fds) != 1 {
				t.Fatalf("want one finding, got %d:\n%s", len(fds), findingLines(fds))
			}
			f := fds[0]
			if f.Check != tt.check || f.Severity != tt.sev || f.File != file || f.Start.Line != tt.line || f.Start.Col != tt.col {
				t.Errorf("got %v\nwant %s:%d:%d: %s [%s]", f, file, tt.line, tt.col, tt.sev, tt.check)
			}
			if !strings.Contains(f.Message, tt.msg) {
				t.Errorf("message %q does not contain %q", f.Message, tt.msg)
			}
		})
	}
}

func findingLines(fds []diag.Finding) string {
	var b strings.Builder
	for _, f := range fds {
		b.WriteString("  " + f.String() + " hint: " + f.Hint + "\n")
	}
	return b.String()
}

// TestNoOverlap holds selectors the overlap check must find disjoint.
func TestNoOverlap(t *testing.T) {
	tests := []struct{ name, a, b string }{
		{"different namespaces", "{namespaces: [x]}", "{namespaces: [y]}"},
		{"excluded", "{namespaces: [x]}", "{excludeNamespaces: [x]}"},
		{"conflicting labels", "{podLabels: {team: a}}", "{podLabels: {team: b}}"},
		{"different containers", "{containers: [web]}", "{containers: [db], excludeNamespaces: [q]}"},
		{"same namespace, conflicting labels", "{namespaces: [x], podLabels: {a: b}}", "{namespaces: [x], podLabels: {a: c}}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, fds := Load(repoFS(map[string]string{
				"a.yaml": "apiVersion: obsctl/v1\nkind: Pipeline\nname: a\nmatch: " + tt.a + "\n" + out,
				"b.yaml": "apiVersion: obsctl/v1\nkind: Pipeline\nname: b\nmatch: " + tt.b + "\n" + out,
			}), Dir)
			if len(ps) != 2 {
				t.Fatalf("got %d pipelines", len(ps))
			}
			for _, f := range fds {
				t.Errorf("unexpected finding %v", f)
			}
		})
	}
}

func TestLoadOrder(t *testing.T) {
	p := func(name, match string) string {
		return "apiVersion: obsctl/v1\nkind: Pipeline\nname: " + name + "\n" + match + "output: {index: logs-" + name + "}\n"
	}
	ps, fds := Load(repoFS(map[string]string{
		"0-all.yaml":  p("all", ""),
		"1-zeta.yml":  p("zeta", "match: {namespaces: [z]}\n"),
		"2-beta.yaml": p("beta", "match: {namespaces: [b]}\n"),
		"README.md":   "# not a pipeline",
		"notes.txt":   "not yaml",
	}), Dir)
	if len(fds) != 0 {
		t.Fatalf("findings:\n%s", findingLines(fds))
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if want := []string{"beta", "zeta", "all"}; !slices.Equal(names, want) {
		t.Errorf("order = %v, want %v", names, want)
	}
}

func TestLoadFolder(t *testing.T) {
	if ps, fds := Load(fstest.MapFS{}, Dir); ps != nil || fds != nil {
		t.Errorf("a missing folder holds no pipelines: %v %v", ps, fds)
	}
	_, fds := Load(errFS{}, Dir)
	if len(fds) != 1 || fds[0].Check != CheckRead || fds[0].Severity != diag.Fatal || !strings.Contains(fds[0].Message, "permission denied") {
		t.Errorf("unreadable folder: %v", fds)
	}
	big := strings.Repeat("# padding\n", 4<<20)
	_, fds = Load(repoFS(map[string]string{"big.yaml": big}), Dir)
	if len(fds) != 1 || fds[0].Check != CheckSyntax || !strings.Contains(fds[0].Message, "byte limit") {
		t.Errorf("oversized file: %v", fds)
	}
}

// errFS fails every operation.
type errFS struct{}

func (errFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
}

func TestIndexLimits(t *testing.T) {
	for _, tt := range []struct {
		name  string
		dated bool
		ok    bool
	}{
		{"logs-" + strings.Repeat("a", 239), true, true}, // 244 + 11 = 255
		{"logs-" + strings.Repeat("a", 240), true, false},
		{"logs-" + strings.Repeat("a", 250), false, true}, // 255
		{"logs-" + strings.Repeat("a", 251), false, false},
		{"logs-é", true, true},
	} {
		msg, _ := indexProblem(tt.name, tt.dated)
		if (msg == "") != tt.ok {
			t.Errorf("indexProblem(%d bytes, dated %v) = %q, want ok %v", len(tt.name), tt.dated, msg, tt.ok)
		}
	}
	for _, c := range []string{`\`, "/", "*", "?", `"`, "<", ">", "|", ",", "#", " "} {
		msg, hint := indexProblem("logs"+c+"x", false)
		if !strings.Contains(msg, "which Elasticsearch refuses in index names") || hint == "" {
			t.Errorf("index with %q: %q (hint %q)", c, msg, hint)
		}
	}
}

func TestGoRegexp(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`(?<a>x)`, `(?P<a>x)`},
		{`\(?<a>x`, `\(?<a>x`},
		{`[(?<a>]`, `[(?<a>]`},
		{`[]](?<a>x)`, `[]](?P<a>x)`},
		{`[[:alpha:]](?<a>x)`, `[[:alpha:]](?P<a>x)`},
		{`(?<=x)(?<!y)`, `(?<=x)(?<!y)`},
	} {
		if got, _ := goRegexp(tt.in); got != tt.want {
			t.Errorf("goRegexp(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
