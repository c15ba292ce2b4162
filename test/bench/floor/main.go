// Command floor is the parse-only floor of the lint benchmark
// (test/bench/lintbench): the least work any linter of Prometheus rule
// files has to do.
//
// For every rule file under the folders it is given (YAML, not *_test.yaml,
// hidden folders skipped, as obsctl collects them) it reads the file, decodes
// each of its documents once into a yaml.Node with the YAML library obsctl
// uses, and parses each rule's expr once with Prometheus' PromQL parser
// under default options. A document is a plain rule file (groups:) or a
// PrometheusRule object (spec.groups), the two kinds obsctl reads.
// Nothing else: no positions, no checks, no concurrency, one pass over the
// files. It prints how many files, rules and parse errors it met, and exits 1
// when a file cannot be read or does not parse, since the benchmark corpus
// must be valid.
//
// Usage:
//
//	floor DIR...
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(dirs []string) int {
	if len(dirs) == 0 {
		fmt.Fprintln(os.Stderr, "usage: floor DIR...")
		return 2
	}
	p := parser.NewParser(parser.Options{})
	var files, rules, bad int
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if name != dir && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !isRuleFile(name) {
				return nil
			}
			data, err := os.ReadFile(name)
			if err != nil {
				return err
			}
			files++
			dec := yaml.NewDecoder(bytes.NewReader(data))
			for {
				var doc yaml.Node
				if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
					bad++
					return nil
				}
				for _, expr := range exprs(&doc) {
					rules++
					if _, err := p.ParseExpr(expr); err != nil {
						fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
						bad++
					}
				}
			}
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	fmt.Printf("files %d rules %d errors %d\n", files, rules, bad)
	if bad > 0 {
		return 1
	}
	return 0
}

func isRuleFile(name string) bool {
	ext := filepath.Ext(name)
	return (ext == ".yaml" || ext == ".yml") && !strings.HasSuffix(strings.TrimSuffix(name, ext), "_test")
}

// exprs returns the expr of every rule of a plain rule file
// (groups[].rules[].expr) or of a PrometheusRule (spec.groups[]...).
func exprs(doc *yaml.Node) []string {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	var out []string
	root := doc.Content[0]
	if spec := get(root, "spec"); spec != nil {
		root = spec
	}
	groups := get(root, "groups")
	if groups == nil {
		return nil
	}
	for _, g := range groups.Content {
		rules := get(g, "rules")
		if rules == nil {
			continue
		}
		for _, r := range rules.Content {
			if e := get(r, "expr"); e != nil && e.Kind == yaml.ScalarNode {
				out = append(out, e.Value)
			}
		}
	}
	return out
}

// get returns the value of key in mapping n, or nil.
func get(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}
