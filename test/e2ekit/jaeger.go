package e2ekit

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/cli"
)

// JaegerConfig renders the embedded default stack in a profile and
// returns Jaeger's config.yaml from its ConfigMap.
func JaegerConfig(t testing.TB, profile string) string {
	t.Helper()
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := cli.Run(context.Background(), []string{"render", "-o", out, "--profile", profile}, cli.Deps{
		Stdout: &stdout, Stderr: &stderr, WorkDir: t.TempDir(), Getenv: func(string) string { return "" },
	})
	if code != 0 {
		t.Fatalf("obsctl render --profile %s: exit %d\n%s%s", profile, code, stdout.String(), stderr.String())
	}
	files, err := filepath.Glob(filepath.Join(out, "*-configmap-*-jaeger-config.yaml"))
	if err != nil || len(files) != 1 {
		all, _ := os.ReadDir(out)
		var names []string
		for _, e := range all {
			names = append(names, e.Name())
		}
		t.Fatalf("no single Jaeger ConfigMap in the render (%v): %v", err, names)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if err := yaml.Unmarshal(data, &cm); err != nil {
		t.Fatal(err)
	}
	conf := cm.Data["config.yaml"]
	if conf == "" {
		t.Fatalf("%s has no config.yaml", files[0])
	}
	return conf
}

var anyAddr = regexp.MustCompile(`0\.0\.0\.0:(\d+)`)

// JaegerOnLoopback moves every listen address of the configuration from all
// addresses to a free port of 127.0.0.1, and returns the new ports by the
// rendered ones. The metrics reader's host and port are written apart.
func JaegerOnLoopback(t testing.TB, conf string) (string, map[int]int) {
	t.Helper()
	ports := map[int]int{}
	free := func(port int) int {
		if p, ok := ports[port]; ok {
			return p
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports[port] = l.Addr().(*net.TCPAddr).Port
		return ports[port]
	}
	conf = anyAddr.ReplaceAllStringFunc(conf, func(s string) string {
		port, _ := strconv.Atoi(anyAddr.FindStringSubmatch(s)[1])
		return fmt.Sprintf("127.0.0.1:%d", free(port))
	})
	var m map[string]any
	if err := yaml.Unmarshal([]byte(conf), &m); err != nil {
		t.Fatal(err)
	}
	moved := false
	walk(m, func(node map[string]any) {
		if host, ok := node["host"].(string); ok && host == "0.0.0.0" {
			if port, ok := node["port"].(float64); ok {
				node["host"], node["port"] = "127.0.0.1", free(int(port))
				moved = true
			}
		}
	})
	if !moved {
		t.Fatal("the configuration has no metrics reader with a host and port to move")
	}
	if strings.Contains(fmt.Sprint(m), "0.0.0.0") {
		t.Fatalf("an address on all interfaces is left: %v", m)
	}
	out, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(out), ports
}

func walk(v any, f func(map[string]any)) {
	switch n := v.(type) {
	case map[string]any:
		f(n)
		for _, c := range n {
			walk(c, f)
		}
	case []any:
		for _, c := range n {
			walk(c, f)
		}
	}
}
