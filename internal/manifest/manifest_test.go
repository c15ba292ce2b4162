package manifest

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// summary is what a test compares of a read: "Kind namespace/name @line:col"
// per object.
func summary(ms []Manifest) []string {
	var out []string
	for _, m := range ms {
		s := describe(m.Object) + " @" + m.Pos.String()
		out = append(out, s)
	}
	return out
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string // summary
		errs []string // substrings the error must hold, in order; none: no error
	}{
		{
			name: "one object",
			src:  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: ns}\n",
			want: []string{"ConfigMap ns/a @f.yaml:1:1"},
		},
		{
			name: "documents, empty ones and comments skipped",
			src: "# head\n---\n---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n" +
				"---\n\n\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n...\n",
			want: []string{"ConfigMap a @f.yaml:6:1", "ConfigMap b @f.yaml:12:1"},
		},
		{
			name: "empty file",
			src:  "",
		},
		{
			name: "JSON with tabs",
			src:  "{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Namespace\",\n\t\"metadata\": {\"name\": \"ns\"}\n}\n",
			want: []string{"Namespace ns @f.yaml:1:1"},
		},
		{
			name: "List expanded with item positions",
			src: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n" +
				"- apiVersion: v1\n  kind: List\n  items:\n  - {apiVersion: v1, kind: Secret, metadata: {name: s}}\n",
			want: []string{"ConfigMap a @f.yaml:4:3", "Secret s @f.yaml:10:5"},
		},
		{
			name: "empty List",
			src:  "apiVersion: v1\nkind: List\nitems: []\n",
		},
		{
			name: "anchors and merge keys",
			src: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: &l {app: x}\n  annotations:\n    <<: *l\n    note: y\n" +
				"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, labels: *l}\n",
			want: []string{"ConfigMap a @f.yaml:1:1", "ConfigMap b @f.yaml:10:1"},
		},
		{
			name: "merge key",
			src:  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  <<: {name: a, namespace: ns}\n  namespace: own\n",
			want: []string{"ConfigMap own/a @f.yaml:1:1"},
		},
		{
			name: "missing apiVersion, kind and name",
			src:  "metadata: {}\n---\napiVersion: v1\nkind: ConfigMap\n---\napiVersion: v1\nkind: Pod\nmetadata: {generateName: web-}\n",
			errs: []string{
				"f.yaml:1:1: object has no apiVersion",
				"f.yaml:1:1: object has no kind",
				"f.yaml:1:11: object has no metadata.name",
				"f.yaml:3:1: object has no metadata.name",
				"f.yaml:8:11: object has no metadata.name (generateName is not enough",
			},
		},
		{
			name: "wrong types",
			src:  "apiVersion: 1\nkind: [a]\nmetadata:\n  name: 7\n  namespace: {a: b}\n",
			errs: []string{
				"f.yaml:1:13: apiVersion: want a string, got a number",
				"f.yaml:2:7: kind: want a string, got a sequence",
				"f.yaml:4:9: metadata.name: want a string, got a number",
				"f.yaml:5:14: metadata.namespace: want a string, got a mapping",
			},
		},
		{
			name: "bad apiVersion",
			src:  "apiVersion: a/b/c\nkind: X\nmetadata: {name: x}\n",
			errs: []string{`f.yaml:1:13: apiVersion "a/b/c": want VERSION or GROUP/VERSION`},
		},
		{
			name: "not a mapping",
			src:  "- a\n- b\n---\nhello\n",
			errs: []string{"f.yaml:1:1: want a Kubernetes object", "got a sequence", "f.yaml:4:1: want a Kubernetes object"},
		},
		{
			name: "syntax error keeps the objects before it",
			src:  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkey: [unclosed\n",
			want: []string{"ConfigMap a @f.yaml:1:1"},
			errs: []string{"f.yaml:5:"},
		},
		{
			name: "duplicate key",
			src:  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  x: 1\n  x: 2\n",
			errs: []string{`f.yaml:6:3: key "x" is given twice (first at line 5)`},
		},
		{
			name: "duplicate object across versions",
			src: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a, namespace: n}\n---\n" +
				"apiVersion: apps/v1beta2\nkind: Deployment\nmetadata: {name: a, namespace: n}\n",
			want: []string{"Deployment n/a @f.yaml:1:1", "Deployment n/a @f.yaml:5:1"},
			errs: []string{"f.yaml:5:1: Deployment n/a is given twice: also at f.yaml:1:1"},
		},
		{
			name: "same name, other namespace or kind is fine",
			src: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\n---\n" +
				"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: m}\n---\n" +
				"apiVersion: v1\nkind: Secret\nmetadata: {name: a, namespace: n}\n",
			want: []string{"ConfigMap n/a @f.yaml:1:1", "ConfigMap m/a @f.yaml:5:1", "Secret n/a @f.yaml:9:1"},
		},
		{
			name: "infinity",
			src:  "apiVersion: v1\nkind: X\nmetadata: {name: a}\nspec: {v: .inf}\n",
			errs: []string{"f.yaml:4:11: .inf cannot be represented in JSON"},
		},
		{
			name: "custom tag",
			src:  "apiVersion: v1\nkind: X\nmetadata: {name: a}\nspec: {v: !Ref x}\n",
			errs: []string{"f.yaml:4:11: unsupported YAML tag !Ref"},
		},
		{
			name: "billion laughs",
			src: "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
				"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n" +
				"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n",
			errs: []string{"document expands to more than"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := Parse("f.yaml", []byte(tc.src))
			if got := summary(ms); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("objects\n got %q\nwant %q", got, tc.want)
			}
			checkErr(t, err, tc.errs)
		})
	}
}

func checkErr(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	msg := err.Error()
	rest := msg
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			t.Fatalf("error lacks %q (in order):\n%s", w, msg)
		}
		rest = rest[i+len(w):]
	}
	var me *Error
	if !errors.As(err, &me) {
		t.Errorf("error has no *Error: %v", err)
	}
}

// TestValues checks the conversion to JSON values: types as the API server
// gives them, YAML 1.2 scalars, merges.
func TestValues(t *testing.T) {
	src := `apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  labels: &labels {app: web, tier: "1"}
data: &data
  on: yes
  quoted: "007"
  int: 42
  big: 18446744073709551616
  float: 1.5
  hex: 0x1f
  null: ~
  time: 2024-01-02T03:04:05Z
  bool: true
  folded: >
    two
    lines
spec:
  <<: [{a: 1, b: 1}, {a: 2, c: 2}]
  b: 3
  copy: *labels
`
	ms, err := Parse("v.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(ms[0].Object.Object)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"apiVersion":"v1","data":{"big":18446744073709552000,"bool":true,"float":1.5,"folded":"two lines\n","hex":31,"int":42,"null":null,"on":"yes","quoted":"007","time":"2024-01-02T03:04:05Z"},` +
		`"kind":"ConfigMap","metadata":{"labels":{"app":"web","tier":"1"},"name":"a"},"spec":{"a":1,"b":3,"c":2,"copy":{"app":"web","tier":"1"}}}`
	if string(got) != want {
		t.Errorf("values\n got %s\nwant %s", got, want)
	}
	// The values are the types unstructured objects hold: DeepCopy
	// panics on anything else (an int, say).
	_ = ms[0].Object.DeepCopy()
	if v := ms[0].Object.Object["data"].(map[string]any)["int"]; reflect.TypeOf(v).Kind() != reflect.Int64 {
		t.Errorf("int is a %T, want int64", v)
	}
}

// TestRead reads files, folders and standard input in the order given,
// folders recursively in sorted order.
func TestRead(t *testing.T) {
	ms, err := Read([]string{"tree", "-", "tree/sub/c.YAML"}, Options{
		WorkDir: "testdata",
		Stdin:   strings.NewReader("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-stdin}\n"),
	})
	want := []string{
		"Deployment ns/a @" + filepath.Join("tree", "a", "one.yml") + ":1:1",
		"Namespace ns @" + filepath.Join("tree", "a", "two.json") + ":1:1",
		"ConfigMap ns/b @" + filepath.Join("tree", "b.yaml") + ":2:1",
		"ConfigMap b-item-1 @" + filepath.Join("tree", "b.yaml") + ":10:3",
		"Secret b-item-2 @" + filepath.Join("tree", "b.yaml") + ":13:3",
		"ServiceAccount ns/c @" + filepath.Join("tree", "sub", "c.YAML") + ":1:1",
		"ConfigMap from-stdin @<stdin>:1:1",
		"ServiceAccount ns/c @tree/sub/c.YAML:1:1",
	}
	if got := summary(ms); !reflect.DeepEqual(got, want) {
		t.Errorf("objects\n got %q\nwant %q", got, want)
	}
	// The file named twice gives its object twice.
	checkErr(t, err, []string{"tree/sub/c.YAML:1:1: ServiceAccount ns/c is given twice: also at tree/sub/c.YAML:1:1"})
	if n := len(Objects(ms)); n != len(ms) {
		t.Errorf("Objects returned %d objects for %d manifests", n, len(ms))
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("apiVersion: v1\nkind: X\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "good.yaml"), []byte("apiVersion: v1\nkind: X\nmetadata: {name: x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		paths []string
		stdin string
		n     int
		errs  []string
	}{
		{"missing path", []string{"nope.yaml", dir}, "", 1, []string{"nope.yaml: no such file or folder", "bad.yaml:1:1: object has no metadata.name"}},
		{"stdin twice", []string{"-", "-"}, "apiVersion: v1\nkind: X\nmetadata: {name: y}\n", 1, []string{"standard input (-) is given twice"}},
		{"stdin error positioned", []string{"-"}, "kind: X\n", 0, []string{"<stdin>:1:1: object has no apiVersion"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := Read(tc.paths, Options{Stdin: strings.NewReader(tc.stdin)})
			if len(ms) != tc.n {
				t.Errorf("%d objects, want %d: %q", len(ms), tc.n, summary(ms))
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.errs)
			}
			rest := err.Error()
			for _, w := range tc.errs {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error lacks %q (in order):\n%s", w, err)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
