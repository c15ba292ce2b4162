package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/obsctl/obsctl/internal/source"
)

// scaleCorpus writes n copies of the rule files under src (YAML, not
// *_test.yaml, hidden folders skipped: what obsctl and the floor read) into
// dir/copy-K/, so that a real collection can stand for a repo n times its
// size. In copy K every group is renamed NAME-K, every PrometheusRule
// NAME-K, and every group gets the label bench_copy: "K": the copies are
// then n teams' rules rather than one team's written n times, which the
// duplicate-name and object-name checks would rightly report on every rule.
// The documents are written back with the YAML library obsctl reads them
// with; what they say is unchanged. Counts are as generateCorpus's.
func scaleCorpus(src, dir string, n int) (corpusStats, error) {
	var st corpusStats
	type file struct {
		rel  string
		docs []*yaml.Node
	}
	var files []file
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != src && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !isRuleFile(p) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		f := file{rel: rel}
		for {
			var doc yaml.Node
			if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			f.docs = append(f.docs, &doc)
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return st, err
	}
	if len(files) == 0 {
		return st, fmt.Errorf("%s holds no rule files", src)
	}
	for k := 1; k <= n; k++ {
		sfx := "-" + strconv.Itoa(k)
		for _, f := range files {
			var b bytes.Buffer
			enc := yaml.NewEncoder(&b)
			enc.SetIndent(2)
			for _, doc := range f.docs {
				c := copyNode(doc)
				rec, alerts := renameCopy(c, sfx, strconv.Itoa(k))
				st.Records += rec
				st.Alerts += alerts
				if err := enc.Encode(c); err != nil {
					return st, fmt.Errorf("%s: %w", f.rel, err)
				}
			}
			if err := enc.Close(); err != nil {
				return st, err
			}
			out := filepath.Join(dir, "copy"+sfx, f.rel)
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return st, err
			}
			if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
				return st, err
			}
			st.Files++
			st.Bytes += int64(b.Len())
		}
	}
	st.Rules = st.Records + st.Alerts
	return st, nil
}

func isRuleFile(name string) bool {
	ext := filepath.Ext(name)
	return (ext == ".yaml" || ext == ".yml") && !strings.HasSuffix(strings.TrimSuffix(name, ext), "_test")
}

// copyNode returns a deep copy of n (aliases point into the copy only
// when their anchor is below n, as in a document).
func copyNode(n *yaml.Node) *yaml.Node {
	seen := map[*yaml.Node]*yaml.Node{}
	var cp func(*yaml.Node) *yaml.Node
	cp = func(n *yaml.Node) *yaml.Node {
		if n == nil {
			return nil
		}
		if c, ok := seen[n]; ok {
			return c
		}
		c := *n
		seen[n] = &c
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, k := range n.Content {
			c.Content[i] = cp(k)
		}
		c.Alias = cp(n.Alias)
		return &c
	}
	return cp(n)
}

// renameCopy renames the groups and the PrometheusRule of document doc for
// one copy and labels its groups, and returns how many recording and
// alerting rules it holds.
func renameCopy(doc *yaml.Node, sfx, copyNum string) (records, alerts int) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return 0, 0
	}
	root := doc.Content[0]
	if md := source.Value(root, "metadata"); md != nil {
		if name := source.Value(md, "name"); name != nil && name.Kind == yaml.ScalarNode {
			name.Value += sfx
		}
	}
	if spec := source.Value(root, "spec"); spec != nil {
		root = spec
	}
	groups := source.Value(root, "groups")
	if groups == nil || groups.Kind != yaml.SequenceNode {
		return 0, 0
	}
	for _, g := range groups.Content {
		if g.Kind != yaml.MappingNode {
			continue
		}
		if name := source.Value(g, "name"); name != nil && name.Kind == yaml.ScalarNode {
			name.Value += sfx
		}
		labels := source.Value(g, "labels")
		if labels == nil {
			labels = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			g.Content = append(g.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "labels"}, labels)
		}
		if labels.Kind == yaml.MappingNode {
			labels.Content = append(labels.Content,
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "bench_copy"},
				&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: copyNum, Style: yaml.DoubleQuotedStyle})
		}
		if rules := source.Value(g, "rules"); rules != nil {
			for _, r := range rules.Content {
				switch {
				case source.Value(r, "record") != nil:
					records++
				case source.Value(r, "alert") != nil:
					alerts++
				}
			}
		}
	}
	return records, alerts
}
