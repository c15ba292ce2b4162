package pipelines

import (
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/fluentd"
)

// starterPipelines are the pipelines obsctl ships, in routing order.
var starterPipelines = []string{"ingress", "monitoring", "system", "apps"}

// TestStarterPipelines loads the embedded pipelines as obsctl does and
// requires that no check has anything to say about them.
func TestStarterPipelines(t *testing.T) {
	ps, fds := fluentd.Load(FS, ".")
	for _, f := range fds {
		t.Errorf("%v (hint: %s)", f, f.Hint)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
		if !strings.HasPrefix(p.Output.Index, "logs-") {
			t.Errorf("%s: index %q is outside logs-*, which the Grafana datasource reads", p.Name, p.Output.Index)
		}
		if p.Path() != p.Name+".yaml" {
			t.Errorf("pipeline %q is in %s; name the file after the pipeline", p.Name, p.Path())
		}
	}
	if !slices.Equal(names, starterPipelines) {
		t.Errorf("routing order = %v, want %v", names, starterPipelines)
	}
	if n := len(ps); n == 0 || !ps[n-1].CatchAll() || ps[n-1].Name != "apps" {
		t.Errorf("apps must be the one catch-all, routed last")
	}
}

// TestEmbedded checks that the README and every pipeline are embedded,
// and nothing else.
func TestEmbedded(t *testing.T) {
	var got []string
	err := fs.WalkDir(FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			got = append(got, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"README.md"}
	for _, n := range starterPipelines {
		want = append(want, n+".yaml")
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("embedded files = %v, want %v", got, want)
	}
}

// TestReadmeDocumentsEveryKey keeps the README's field reference in step
// with the format: every key a pipeline file takes, read from the model's
// yaml tags, has a row.
func TestReadmeDocumentsEveryKey(t *testing.T) {
	readme, err := fs.ReadFile(FS, "README.md")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(typ reflect.Type, prefix string)
	walk = func(typ reflect.Type, prefix string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, prefix+tag+".")
				continue
			}
			keys = append(keys, prefix+tag)
		}
	}
	walk(reflect.TypeFor[fluentd.Pipeline](), "")
	if len(keys) < 15 {
		t.Fatalf("found only %d keys: %v", len(keys), keys)
	}
	for _, key := range keys {
		if !strings.Contains(string(readme), "| `"+key+"` |") {
			t.Errorf("README.md does not document %s", key)
		}
	}
}
