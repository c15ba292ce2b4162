package fluentd

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/obsctl/obsctl/pipelines"
)

var update = flag.Bool("update", false, "rewrite testdata/fluent.conf.golden from the current output")

// testOutput is the Elasticsearch the compile tests write to.
var testOutput = ElasticsearchOutput{
	Host:        "elasticsearch-es-http.monitoring.svc",
	Port:        9200,
	Scheme:      "https",
	User:        "elastic",
	PasswordEnv: "FLUENT_ELASTICSEARCH_PASSWORD",
	CAFile:      "/etc/fluentd/elasticsearch-ca/ca.crt",
	BufferPath:  "/var/lib/obsctl-fluentd",
}

// starter loads the embedded starter pipelines as a repo's pipelines/
// folder, failing on any finding.
func starter(t *testing.T) []*Pipeline {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(pipelines.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(pipelines.FS, p)
		m[Dir+"/"+p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	ps, fds := Load(m, Dir)
	for _, f := range fds {
		t.Errorf("starter pipelines: %v", f)
	}
	if t.Failed() {
		t.FailNow()
	}
	return ps
}

// TestCompileGolden compares the configuration compiled from the starter
// pipelines with testdata/fluent.conf.golden; `go test
// ./internal/fluentd -run TestCompileGolden -update` refreshes it.
func TestCompileGolden(t *testing.T) {
	got, err := CompileFluentd(starter(t), testOutput)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "fluent.conf.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("fluent.conf differs from %s (run with -update and review the diff)", golden)
	}
	again, err := CompileFluentd(starter(t), testOutput)
	if err != nil || !bytes.Equal(again, got) {
		t.Errorf("a second compile gives other bytes (err %v)", err)
	}
}

// TestCompileShape checks what the alerts, the datasource and the
// routing rely on, in the compiled starter configuration.
func TestCompileShape(t *testing.T) {
	b, err := CompileFluentd(starter(t), testOutput)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, want := range []string{
		"@type prometheus\n", "port 24231\n", "metrics_path /metrics\n", "@type prometheus_output_monitor\n",
		"@type kubernetes_metadata\n", "skip_namespace_metadata false\n", // apps reads a namespace label
		"@type rewrite_tag_filter\n", "exclude_path [\"/var/log/containers/*_*_fluentd*.log\"]\n",
		"@id es-apps\n", "logstash_prefix 'logs-apps'\n", "path '/var/lib/obsctl-fluentd/apps'\n",
		"retry_type exponential_backoff\n", `password "#{ENV['FLUENT_ELASTICSEARCH_PASSWORD']}"` + "\n",
		`else "apps" end}'`,             // the catch-all is the fallback
		"remove_key_name_field false\n", // apps keeps the original line
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("configuration lacks %q", want)
		}
	}
	if strings.Contains(conf, "unrouted") {
		t.Error("with a catch-all, nothing is unrouted")
	}
	if n := strings.Count(conf, "#{"); n != 4 {
		t.Errorf("embedded Ruby appears %d times, want 4 (the password of each output)", n)
	}
	checkStructure(t, conf)
}

func pipelineFor(name string, match Match, index string) *Pipeline {
	return &Pipeline{APIVersion: APIVersion, Kind: Kind, Name: name, Match: match, Output: Output{Index: index}}
}

func TestCompileWithoutCatchAll(t *testing.T) {
	ps := []*Pipeline{pipelineFor("web", Match{Containers: []Str{{Value: "nginx"}}}, "logs-web")}
	b, err := CompileFluentd(ps, ElasticsearchOutput{Host: "10.0.0.1", Port: 9200, Scheme: "http", BufferPath: "/buf"})
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, want := range []string{
		`else "_unrouted" end}'`, "<match obsctl._unrouted>\n", "@id unrouted\n",
		"skip_namespace_metadata true\n", "scheme http\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("configuration lacks %q", want)
		}
	}
	for _, absent := range []string{"password", "user ", "ssl_verify", "@type parser"} {
		if strings.Contains(conf, absent) {
			t.Errorf("configuration has %q", absent)
		}
	}
	checkStructure(t, conf)
}

func TestCompileRefuses(t *testing.T) {
	good := func() []*Pipeline {
		return []*Pipeline{pipelineFor("a", Match{Namespaces: []Str{{Value: "a"}}}, "logs-a"), pipelineFor("b", Match{}, "logs-b")}
	}
	tests := []struct {
		name   string
		edit   func(ps []*Pipeline, o *ElasticsearchOutput) []*Pipeline
		target error
		msg    string
	}{
		{"host", func(ps []*Pipeline, o *ElasticsearchOutput) []*Pipeline { o.Host = "es'\n<match **>"; return ps }, ErrInvalidOutput, "is not a host name"},
		{"port", func(ps []*Pipeline, o *ElasticsearchOutput) []*Pipeline { o.Port = 0; return ps }, ErrInvalidOutput, "port 0"},
		{"scheme", func(ps []*Pipeline, o *ElasticsearchOutput) []*Pipeline { o.Scheme = "ftp"; return ps }, ErrInvalidOutput, `scheme "ftp"`},
		{"password variable", func(ps []*Pipeline, o *ElasticsearchOutput) []*Pipeline {
			o.PasswordEnv = "X']} + `id` + ENV['Y"
			return ps
		}, ErrInvalidOutput, "is not a variable name"},
		{"password without user", func(ps []*Pipeline, o *ElasticsearchOutput) []*Pipeline { o.User = ""; return ps }, ErrInvalidOutput, "needs a user"},
		{"user with a line break", func(ps []*Pipeline, o *ElasticsearchOutput) []*Pipeline { o.User = "a\nb"; return ps }, ErrInvalidOutput, "control character"},
		{"relative CA file", func(ps []*Pipeline, o *ElasticsearchOutput) []*Pipeline { o.CAFile = "ca.crt"; return ps }, ErrInvalidOutput, "not an absolute path"},
		{"buffer path", func(ps []*Pipeline, o *ElasticsearchOutput) []*Pipeline { o.BufferPath = "/var/../log"; return ps }, ErrInvalidOutput, "not a clean absolute path"},
		{"catch-all first", func(ps []*Pipeline, _ *ElasticsearchOutput) []*Pipeline { return []*Pipeline{ps[1], ps[0]} }, ErrInvalidPipeline, "not the last pipeline"},
		{"duplicate name", func(ps []*Pipeline, _ *ElasticsearchOutput) []*Pipeline { ps[1].Name = "a"; return ps }, ErrInvalidPipeline, "used twice"},
		{"invalid name", func(ps []*Pipeline, _ *ElasticsearchOutput) []*Pipeline { ps[0].Name = "a</label>"; return ps }, ErrInvalidPipeline, "invalid name"},
		{"no index", func(ps []*Pipeline, _ *ElasticsearchOutput) []*Pipeline { ps[0].Output.Index = ""; return ps }, ErrInvalidPipeline, "index name is empty"},
		{"index with a hash", func(ps []*Pipeline, _ *ElasticsearchOutput) []*Pipeline {
			ps[0].Output.Index = "logs-#{`id`}"
			return ps
		}, ErrInvalidPipeline, "which Elasticsearch refuses"},
		{"field name", func(ps []*Pipeline, _ *ElasticsearchOutput) []*Pipeline {
			ps[0].Decorate.Static = Pairs{{Key: "a' '${`id`}'", Value: "x"}}
			return ps
		}, ErrInvalidPipeline, "invalid record field name"},
		{"label key", func(ps []*Pipeline, _ *ElasticsearchOutput) []*Pipeline {
			ps[0].Decorate.PodLabels = Pairs{{Key: `a"] + ` + "`id`", Value: "x"}}
			return ps
		}, ErrInvalidPipeline, "not a valid Kubernetes label key"},
		{"nil pipeline", func(ps []*Pipeline, _ *ElasticsearchOutput) []*Pipeline { return append(ps, nil) }, ErrInvalidPipeline, "is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOutput
			ps := tt.edit(good(), &o)
			b, err := CompileFluentd(ps, o)
			if !errors.Is(err, tt.target) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.target, tt.msg)
			}
			if b != nil {
				t.Error("a refused compile returns no configuration")
			}
		})
	}
	if _, err := CompileFluentd(good(), testOutput); err != nil {
		t.Errorf("the unedited pipelines compile: %v", err)
	}
}

// The pinned image's fluent-plugin-kubernetes_metadata_filter is a 3.x,
// which dropped de_dot (v3.0.0): given to it, the option is ignored, label
// keys keep their dots, every decoration that reads app_kubernetes_io/...
// is null, and a pod labelled both app and app.kubernetes.io/name gives
// Elasticsearch a mapping conflict. The image's fluent-plugin-dedot_filter
// does it instead, into the nested labels hash, after the metadata is
// added and before anything reads it.
func TestCompileDedotsWithTheDedotFilter(t *testing.T) {
	b, err := CompileFluentd(starter(t), testOutput)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	meta := section(t, conf, "@type kubernetes_metadata\n")
	if strings.Contains(meta, "de_dot") {
		t.Errorf("kubernetes_metadata is given de_dot, which its 3.x ignores:\n%s", meta)
	}
	dedot := section(t, conf, "@type dedot\n")
	for _, want := range []string{"de_dot true\n", "de_dot_separator _\n", "de_dot_nested true\n"} {
		if !strings.Contains(dedot, want) {
			t.Errorf("the dedot filter lacks %q:\n%s", want, dedot)
		}
	}
	at := func(s string) int { return strings.Index(conf, s) }
	if !(at("@type kubernetes_metadata\n") < at("@type dedot\n") && at("@type dedot\n") < at("@id route\n")) {
		t.Error("the dedot filter is not between the metadata filter and the routing that reads the labels")
	}
}

// section returns the <filter> or <match> section of conf that holds
// marker.
func section(t *testing.T, conf, marker string) string {
	t.Helper()
	i := strings.Index(conf, marker)
	if i < 0 {
		t.Fatalf("no section with %q", strings.TrimSpace(marker))
	}
	start := strings.LastIndex(conf[:i], "\n  <") + 1
	end := i + strings.Index(conf[i:], "</")
	return conf[start:end]
}
