package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// source is one public repository the corpus takes files from, at a pinned
// commit, so that a judgement keeps meaning the same content.
type source struct {
	repo   string // owner/name on GitHub
	commit string
	// collections maps each of the source's files to the collection and
	// the path inside it that it is written to; nil skips the file.
	collections func(name string) []target
}

// target is where a file of a source lands in the corpus. A file may be
// transformed first (a ConfigMap's dashboards taken out of it).
type target struct {
	collection string
	path       string
	extract    func(data []byte) (map[string][]byte, error)
}

// sources are the corpus: rule collections, dashboards and Alertmanager
// configs that public projects ship, nobody here wrote, and nobody here
// may copy into the repo. The corpus is built outside the repo.
var sources = []source{
	{
		// grafana.com's most used dashboards as their author keeps them:
		// exports for sharing (__inputs, ${DS_...}) and dashboards that
		// name their datasource by a variable.
		repo: "rfmoz/grafana-dashboards", commit: "4b1729d13b610d449b1055659b070d28c19a9699",
		collections: func(name string) []target {
			if strings.HasPrefix(name, "prometheus/") && strings.HasSuffix(name, ".json") {
				return []target{{collection: "rfmoz-dashboards", path: "dashboards/" + path.Base(name)}}
			}
			return nil
		},
	},
	{
		repo: "prometheus-operator/kube-prometheus", commit: "4d719f1dea8853540b3823ab1fbe6be74a9953b3",
		collections: func(name string) []target {
			base := path.Base(name)
			switch {
			case path.Dir(name) != "manifests":
				return nil
			case strings.HasSuffix(base, "-prometheusRule.yaml"):
				return []target{{collection: "kube-prometheus", path: "rules/" + base}}
			case base == "grafana-dashboardDefinitions.yaml":
				return []target{{collection: "kube-prometheus", path: "dashboards", extract: configMapFiles(".json")}}
			case base == "alertmanager-secret.yaml":
				return []target{{collection: "kube-prometheus", path: "alerting", extract: secretFiles(".yaml")}}
			}
			return nil
		},
	},
	{
		repo: "samber/awesome-prometheus-alerts", commit: "a8533189af0246de5e21a6d8d25bd37816894f07",
		collections: func(name string) []target {
			if rest, ok := strings.CutPrefix(name, "dist/rules/"); ok && (strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".yaml")) {
				return []target{{collection: "awesome-prometheus-alerts", path: "rules/" + rest}}
			}
			return nil
		},
	},
	{
		repo: "thanos-io/thanos", commit: "e103a81bd5943697394afcb4fb592b6ffa806c30",
		collections: func(name string) []target {
			switch {
			case name == "examples/alerts/alerts.yaml" || name == "examples/alerts/rules.yaml":
				return []target{{collection: "thanos", path: "rules/" + path.Base(name)}}
			case name == "examples/alerts/tests.yaml":
				// A promtool rule test file: named as obsctl names them.
				return []target{{collection: "thanos", path: "rules/alerts_test.yaml"}}
			case path.Dir(name) == "examples/dashboards" && strings.HasSuffix(name, ".json"):
				return []target{{collection: "thanos", path: "dashboards/" + path.Base(name)}}
			}
			return nil
		},
	},
	{
		// The compiled monitoring mixins: each mixin is its own collection
		// (its rules and the dashboards that read them).
		repo: "monitoring-mixins/website", commit: "f901a79157f44b141be219b8887a34e4a96212fa",
		collections: func(name string) []target {
			parts := strings.Split(name, "/")
			if len(parts) < 3 || parts[0] != "assets" {
				return nil
			}
			coll := "mixins/" + parts[1]
			switch {
			case len(parts) == 3 && (parts[2] == "alerts.yaml" || parts[2] == "rules.yaml"):
				return []target{{collection: coll, path: "rules/" + parts[2]}}
			case len(parts) == 4 && parts[2] == "dashboards" && strings.HasSuffix(parts[3], ".json"):
				return []target{{collection: coll, path: "dashboards/" + parts[3]}}
			}
			return nil
		},
	},
	{
		// Alertmanager's own example configurations, at the release obsctl
		// deploys and checks configurations with (v0.33.1): lint judges a
		// configuration by what that Alertmanager accepts.
		repo: "prometheus/alertmanager", commit: "2c8da51e03f3dbbed24f9711ca2d76aab4eef9c5",
		collections: func(name string) []target {
			switch name {
			case "doc/examples/simple.yml", "doc/examples/route_labels.yml", "examples/ha/alertmanager.yml":
				return []target{{collection: "alertmanager-examples", path: "alerting/" + strings.ReplaceAll(name, "/", "-")}}
			}
			return nil
		},
	},
}

// buildCorpus writes every source's files into dir, one folder per
// collection. A source is read from mirror/<owner>+<name>/repo (a bare git
// repository, as the project's tool library keeps them) when that exists,
// else cloned from GitHub into cache.
func buildCorpus(dir, mirror, cache string) error {
	for _, s := range sources {
		gitDir, err := gitDirOf(s, mirror, cache)
		if err != nil {
			return err
		}
		out, err := exec.Command("git", "--git-dir", gitDir, "ls-tree", "-r", "--name-only", s.commit).Output()
		if err != nil {
			return fmt.Errorf("%s@%s: list files: %w", s.repo, s.commit[:12], err)
		}
		n := 0
		for _, name := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			for _, t := range s.collections(name) {
				data, err := exec.Command("git", "--git-dir", gitDir, "show", s.commit+":"+name).Output()
				if err != nil {
					return fmt.Errorf("%s@%s: %s: %w", s.repo, s.commit[:12], name, err)
				}
				files := map[string][]byte{t.path: data}
				if t.extract != nil {
					m, err := t.extract(data)
					if err != nil {
						return fmt.Errorf("%s: %s: %w", s.repo, name, err)
					}
					files = map[string][]byte{}
					for k, v := range m {
						files[path.Join(t.path, k)] = v
					}
				}
				for p, data := range files {
					dst := filepath.Join(dir, filepath.FromSlash(t.collection), filepath.FromSlash(p))
					if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
						return err
					}
					if err := os.WriteFile(dst, data, 0o644); err != nil {
						return err
					}
					n++
				}
			}
		}
		fmt.Fprintf(os.Stderr, "%s@%s: %d files\n", s.repo, s.commit[:12], n)
	}
	return nil
}

func gitDirOf(s source, mirror, cache string) (string, error) {
	if mirror != "" {
		d := filepath.Join(mirror, strings.Replace(s.repo, "/", "+", 1), "repo")
		if err := exec.Command("git", "--git-dir", d, "cat-file", "-e", s.commit+"^{commit}").Run(); err == nil {
			return d, nil
		}
	}
	d := filepath.Join(cache, strings.Replace(s.repo, "/", "+", 1)+".git")
	if _, err := os.Stat(d); err != nil {
		cmd := exec.Command("git", "clone", "--bare", "--filter=blob:none", "https://github.com/"+s.repo, d)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("clone %s: %w", s.repo, err)
		}
	}
	if err := exec.Command("git", "--git-dir", d, "cat-file", "-e", s.commit+"^{commit}").Run(); err != nil {
		cmd := exec.Command("git", "--git-dir", d, "fetch", "origin", s.commit)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("fetch %s@%s: %w", s.repo, s.commit, err)
		}
	}
	return d, nil
}

// configMapFiles returns the files of every ConfigMap in a YAML stream
// (a List or documents) whose keys end in ext: the dashboards that
// kube-prometheus ships inside ConfigMaps.
func configMapFiles(ext string) func([]byte) (map[string][]byte, error) {
	return func(data []byte) (map[string][]byte, error) {
		return objectFiles(data, "data", ext)
	}
}

// secretFiles returns the stringData files of every Secret in a YAML
// stream whose keys end in ext: the Alertmanager config kube-prometheus
// ships in a Secret.
func secretFiles(ext string) func([]byte) (map[string][]byte, error) {
	return func(data []byte) (map[string][]byte, error) {
		return objectFiles(data, "stringData", ext)
	}
}

func objectFiles(data []byte, field, ext string) (map[string][]byte, error) {
	type object struct {
		Kind  string            `yaml:"kind"`
		Items []yaml.Node       `yaml:"items"`
		Data  map[string]string `yaml:"data"`
		SData map[string]string `yaml:"stringData"`
	}
	out := map[string][]byte{}
	add := func(o object) {
		m := o.Data
		if field == "stringData" {
			m = o.SData
		}
		for k, v := range m {
			if strings.HasSuffix(k, ext) {
				b := []byte(v)
				if ext == ".json" {
					var buf bytes.Buffer
					if json.Indent(&buf, b, "", "  ") == nil {
						b = buf.Bytes()
					}
				}
				out[k] = b
			}
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var o object
		if err := dec.Decode(&o); err != nil {
			if err.Error() == "EOF" {
				break
			}
			return nil, err
		}
		add(o)
		for _, it := range o.Items {
			var io object
			if err := it.Decode(&io); err != nil {
				return nil, err
			}
			add(io)
		}
	}
	return out, nil
}
