package render

import (
	"io/fs"
	"reflect"
	"regexp"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/obsctl/obsctl/internal/compile"
	"github.com/obsctl/obsctl/internal/config"
	"github.com/obsctl/obsctl/internal/load"
	"github.com/obsctl/obsctl/internal/source"
)

// profiles are the stack profiles every component test renders.
var profiles = []string{config.ProfileMinimal, config.ProfileHA}

// renderRepo renders the embedded default repo, with its rules and
// routing compiled, stackYAML added under stack: and edit (if not nil)
// applied to the configuration.
func renderRepo(t *testing.T, stackYAML string, edit func(*config.Config)) (*Result, *compile.Compiled) {
	t.Helper()
	r, err := load.Load(load.Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r.Config = defaultConfig(t, stackYAML)
	if edit != nil {
		edit(r.Config)
	}
	in, err := compile.Compile(r)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Render(in, "")
	if err != nil {
		t.Fatal(err)
	}
	return res, in
}

// dashboardFiles reads the dashboards of fsys as load reads a repo's:
// the *.json files at its top, sorted.
func dashboardFiles(t *testing.T, fsys fs.FS) []*source.File {
	t.Helper()
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []*source.File
	for _, n := range names {
		data, err := fs.ReadFile(fsys, n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, source.NewFile("dashboards/"+n, data))
	}
	return out
}

// ofKind returns the rendered objects of kind.
func ofKind(res *Result, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range res.Objects {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// typed converts a rendered object to its Go type.
func typed[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	v := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, v); err != nil {
		t.Fatalf("%s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return v
}

// goDurationRE is the pattern of the operator's GoDuration fields (the
// Alertmanager resource's retention), as its CRD has it.
var goDurationRE = regexp.MustCompile(`^(0|(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$`)

func TestMonGoDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		120 * time.Hour:                      "120h",
		90 * time.Minute:                     "1h30m",
		time.Hour + time.Second:              "1h0m1s",
		5 * time.Minute:                      "5m",
		30 * time.Second:                     "30s",
		1500 * time.Millisecond:              "1s500ms",
		500 * time.Millisecond:               "500ms",
		72*time.Hour + 30*time.Minute:        "72h30m",
		2*time.Minute + 500*time.Millisecond: "2m500ms",
	} {
		if got := string(monGoDuration(d)); got != want {
			t.Errorf("monGoDuration(%v) = %q, want %q", d, got, want)
		}
		if !goDurationRE.MatchString(string(monGoDuration(d))) {
			t.Errorf("monGoDuration(%v) = %q, which the Alertmanager resource's schema refuses", d, monGoDuration(d))
		}
		if back, err := time.ParseDuration(string(monGoDuration(d))); err != nil || back != d {
			t.Errorf("monGoDuration(%v) = %q does not parse back: %v %v", d, monGoDuration(d), back, err)
		}
	}
}

func TestMonCompact(t *testing.T) {
	m := map[string]any{
		"spec": map[string]any{
			"rules":                 map[string]any{"alert": map[string]any{}},
			"ruleSelector":          map[string]any{},
			"ruleNamespaceSelector": map[string]any{},
			"storage":               map[string]any{"emptyDir": map[string]any{}},
			"endpoints": []any{map[string]any{
				"port":      "web",
				"tlsConfig": map[string]any{"ca": map[string]any{}, "insecureSkipVerify": true},
			}},
		},
	}
	monCompact(m)
	want := map[string]any{
		"spec": map[string]any{
			"ruleSelector":          map[string]any{},
			"ruleNamespaceSelector": map[string]any{},
			"storage":               map[string]any{"emptyDir": map[string]any{}},
			"endpoints": []any{map[string]any{
				"port":      "web",
				"tlsConfig": map[string]any{"insecureSkipVerify": true},
			}},
		},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("monCompact:\n got %v\nwant %v", m, want)
	}
}
