// Package catalog knows which metrics the stack's programs expose: the
// metric families, with their types and label names, that the
// kube-state-metrics, node-exporter, Prometheus, Alertmanager, Prometheus
// Operator and Jaeger versions the stack pins were seen to expose when
// they ran (scraped.txt, written by `make generate`), and the families of
// the programs that cannot run here, from their documentation
// (documented.txt: kubelet, cAdvisor, the API server, the Elasticsearch
// exporter, Fluentd's Prometheus plugin, Grafana, and the series
// Prometheus itself makes: up, scrape_*, ALERTS).
//
// Lint asks it whether a selector can ever return a series (see the
// rules/unknown-metric check).
package catalog

import (
	"bufio"
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"sync"
)

//go:embed scraped.txt
var scrapedText string

//go:embed documented.txt
var documentedText string

// Family is a metric family as the exposition format names it.
type Family struct {
	// Name is the family's name; a counter's carries its _total.
	Name string
	// Type is counter, gauge, histogram, summary or untyped.
	Type string
	// Labels are the label names its series were seen with, sorted (none
	// when no series was seen, only the family's HELP and TYPE).
	Labels []string
}

// Series returns the names of the series the family stores: a
// histogram's _bucket, _sum and _count (and its own name, for native
// histograms), a summary's quantiles under its own name and its _sum and
// _count.
func (f *Family) Series() []string {
	switch f.Type {
	case "histogram":
		return []string{f.Name, f.Name + "_bucket", f.Name + "_sum", f.Name + "_count"}
	case "summary":
		return []string{f.Name, f.Name + "_sum", f.Name + "_count"}
	}
	return []string{f.Name}
}

// Source is a program and the families it exposes.
type Source struct {
	// Name is the program, such as kube-state-metrics.
	Name string
	// Version is the version the families were read from ("-" when the
	// documentation says no version).
	Version string
	// Job is the job label the stack's scrape of the program gives its
	// series ("-" when the stack does not scrape it under one job).
	Job string
	// Scraped is set when the families were read from the running
	// program: then they are all it exposes at that version, in the
	// subsystems it was seen to use (see Catalog.Owner).
	Scraped bool
	// Unpinned is set for a program the stack scrapes but does not
	// install, such as the cluster's API server: its families were read
	// from one version, and the cluster's may have others, so it owns no
	// subsystem.
	Unpinned bool
	// Shared are name prefixes of families that other programs expose
	// too, each its own set (every OpenTelemetry Collector's otelcol_*):
	// the source owns no subsystem there.
	Shared []string
	// Dynamic are name prefixes under which the program makes names from
	// what it reads (node-exporter's node_memory_ fields of
	// /proc/meminfo): no list of them is complete.
	Dynamic []string
	// Docs is where the documented families come from.
	Docs     []string
	Families []Family
}

// Catalog is every source's families, indexed.
type Catalog struct {
	Sources []*Source
	series  map[string][]*Source
	owners  map[string]*Source // subsystem -> the scraped source that uses it
	names   []string           // every series name, sorted
}

var (
	once sync.Once
	def  *Catalog
	err  error
)

// Default returns the embedded catalog. It panics if the embedded files
// do not parse, which their tests rule out.
func Default() *Catalog {
	once.Do(func() {
		def, err = Parse(scrapedText, true)
		if err == nil {
			var doc *Catalog
			if doc, err = Parse(documentedText, false); err == nil {
				def = Merge(def, doc)
			}
		}
	})
	if err != nil {
		panic("catalog: " + err.Error())
	}
	return def
}

// Parse reads a catalog file: `source NAME VERSION JOB` starts a source,
// `dynamic PREFIX...` and `docs URL` describe it, and every other line is a
// family, `NAME TYPE LABEL...`. Blank lines and lines starting with # are
// comments; `unpinned` marks the source Unpinned, and `shared PREFIX...`
// gives its Shared prefixes. scraped says whether the families were read from the running
// programs.
func Parse(text string, scraped bool) (*Catalog, error) {
	c := &Catalog{}
	var cur *Source
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		switch f[0] {
		case "source":
			if len(f) != 4 {
				return nil, fmt.Errorf("line %d: want `source NAME VERSION JOB`", n)
			}
			cur = &Source{Name: f[1], Version: f[2], Job: f[3], Scraped: scraped}
			c.Sources = append(c.Sources, cur)
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("line %d: a family before any source", n)
		}
		switch f[0] {
		case "unpinned":
			cur.Unpinned = true
		case "dynamic":
			cur.Dynamic = append(cur.Dynamic, f[1:]...)
		case "shared":
			cur.Shared = append(cur.Shared, f[1:]...)
		case "docs":
			cur.Docs = append(cur.Docs, f[1:]...)
		default:
			if len(f) < 2 || !validType(f[1]) {
				return nil, fmt.Errorf("line %d: want `NAME TYPE LABEL...` with TYPE counter, gauge, histogram, summary or untyped", n)
			}
			cur.Families = append(cur.Families, Family{Name: f[0], Type: f[1], Labels: f[2:]})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	c.index()
	return c, nil
}

func validType(t string) bool {
	switch t {
	case "counter", "gauge", "histogram", "summary", "untyped":
		return true
	}
	return false
}

// Merge returns a catalog of the sources of both.
func Merge(a, b *Catalog) *Catalog {
	c := &Catalog{Sources: slices.Concat(a.Sources, b.Sources)}
	c.index()
	return c
}

func (c *Catalog) index() {
	c.series = map[string][]*Source{}
	c.owners = map[string]*Source{}
	for _, s := range c.Sources {
		for i := range s.Families {
			for _, name := range s.Families[i].Series() {
				if !slices.Contains(c.series[name], s) {
					c.series[name] = append(c.series[name], s)
				}
			}
			if sub := Subsystem(s.Families[i].Name); sub != "" {
				if !s.Scraped || s.Unpinned || hasPrefix(s.Families[i].Name, s.Shared) {
					c.owners[sub] = nil // known to others too: no one owns it
					continue
				}
				if o, ok := c.owners[sub]; ok && o != s {
					c.owners[sub] = nil // two programs use it: neither owns it
				} else if !ok {
					c.owners[sub] = s
				}
			}
		}
	}
	c.names = make([]string, 0, len(c.series))
	for name := range c.series {
		c.names = append(c.names, name)
	}
	slices.Sort(c.names)
}

// Produces returns the sources that expose a series named name.
func (c *Catalog) Produces(name string) []*Source { return c.series[name] }

// Names returns every series name the catalog knows, sorted.
func (c *Catalog) Names() []string { return c.names }

// ByJob returns the sources the stack scrapes under job; "-" returns
// those whose series every job has (up, scrape_duration_seconds).
func (c *Catalog) ByJob(job string) []*Source {
	var out []*Source
	for _, s := range c.Sources {
		if s.Job == job {
			out = append(out, s)
		}
	}
	return out
}

// Owner returns the scraped source that exposes families in the
// subsystem of name (its first two words: kube_deployment for
// kube_deployment_status_replicas), and that no other source shares, or
// nil. A name there that the source does not expose is one it does not
// have at its version; except under the source's Dynamic prefixes, where
// it makes names of what it reads.
func (c *Catalog) Owner(name string) *Source {
	s := c.owners[Subsystem(name)]
	if s == nil {
		return nil
	}
	if hasPrefix(name, s.Dynamic) {
		return nil
	}
	return s
}

func hasPrefix(name string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Subsystem returns the first two words of a metric name, with the
// underscore between them (kube_deployment), or "" for a name of fewer
// than three words or one with a colon (a recorded series).
func Subsystem(name string) string {
	if strings.Contains(name, ":") {
		return ""
	}
	i := strings.IndexByte(name, '_')
	if i <= 0 {
		return ""
	}
	j := strings.IndexByte(name[i+1:], '_')
	if j <= 0 {
		return ""
	}
	return name[:i+1+j]
}

// Has reports whether the source exposes a series named name.
func (s *Source) Has(name string) bool {
	for i := range s.Families {
		if slices.Contains(s.Families[i].Series(), name) {
			return true
		}
	}
	return false
}

// SeriesNames returns the names of every series the source's families
// store.
func (s *Source) SeriesNames() []string {
	var out []string
	for i := range s.Families {
		out = append(out, s.Families[i].Series()...)
	}
	return out
}

// Family returns the family that stores series name, or nil.
func (s *Source) Family(name string) *Family {
	for i := range s.Families {
		if slices.Contains(s.Families[i].Series(), name) {
			return &s.Families[i]
		}
	}
	return nil
}

// String is the source's name and version, as messages say it.
func (s *Source) String() string {
	if s.Version == "-" {
		return s.Name
	}
	return s.Name + " " + s.Version
}

// Format writes sources in the format Parse reads, after the header
// lines (each written as a comment): sources in the order given, families
// sorted by name, labels sorted.
func Format(header []string, sources []*Source) []byte {
	var b strings.Builder
	for _, h := range header {
		b.WriteString(strings.TrimRight("# "+h, " ") + "\n")
	}
	for _, s := range sources {
		fmt.Fprintf(&b, "\nsource %s %s %s\n", s.Name, s.Version, s.Job)
		if s.Unpinned {
			b.WriteString("unpinned\n")
		}
		if len(s.Dynamic) > 0 {
			fmt.Fprintf(&b, "dynamic %s\n", strings.Join(s.Dynamic, " "))
		}
		if len(s.Shared) > 0 {
			fmt.Fprintf(&b, "shared %s\n", strings.Join(s.Shared, " "))
		}
		for _, d := range s.Docs {
			fmt.Fprintf(&b, "docs %s\n", d)
		}
		fams := slices.Clone(s.Families)
		slices.SortFunc(fams, func(a, b Family) int { return strings.Compare(a.Name, b.Name) })
		for _, f := range fams {
			labels := slices.Sorted(slices.Values(f.Labels))
			b.WriteString(strings.Join(append([]string{f.Name, f.Type}, labels...), " ") + "\n")
		}
	}
	return []byte(b.String())
}
