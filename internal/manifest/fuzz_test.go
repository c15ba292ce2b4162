package manifest

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead parses any bytes as a manifest file. Parse must not panic; every
// object it returns must have apiVersion, kind and a name, be encodable as
// JSON and deep-copyable (only JSON's value types), and every error must be
// positioned in the file.
func FuzzRead(f *testing.F) {
	seeds, err := filepath.Glob("testdata/tree/*/*.y*ml")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range append(seeds, "testdata/tree/b.yaml", "testdata/tree/a/two.json", "../apply/testdata/stack.yaml") {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > 1<<10 {
			b = b[:1<<10]
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "---\n---\n", "apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: A, metadata: {name: a}}, 3]\n",
		"apiVersion: v1\nkind: A\nmetadata: {name: a}\nx: &a {b: *a}\n", "<<: [*x]\n", "a: &a {<<: *a}\n",
		"apiVersion: v1\nkind: A\nmetadata: {<<: {name: a}}\n", "apiVersion: v1\nkind: List\nitems: *i\n",
		"{\"apiVersion\": \"v1\", \"kind\": \"A\", \"metadata\": {\"name\": \"a\"}}", "apiVersion: v1\nkind: A\nmetadata: {name: a}\nv: 1e400\n",
		"apiVersion: v1\nkind: A\nmetadata: {name: a}\nv: !!binary aGk=\nw: !!float 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		ms, err := Parse("fuzz.yaml", src)
		for _, m := range ms {
			o := m.Object
			if o.GetAPIVersion() == "" || o.GetKind() == "" || o.GetName() == "" {
				t.Fatalf("object without apiVersion, kind or name: %v", o.Object)
			}
			if m.Pos.File != "fuzz.yaml" || m.Pos.Line < 1 {
				t.Fatalf("object at %v", m.Pos)
			}
			if _, err := json.Marshal(o.Object); err != nil {
				t.Fatalf("object does not encode: %v", err)
			}
			_ = o.DeepCopy()
		}
		if err == nil {
			return
		}
		j, ok := err.(interface{ Unwrap() []error })
		if !ok {
			t.Fatalf("error is not a list of *Error: %T %v", err, err)
		}
		for _, e := range j.Unwrap() {
			var me *Error
			if !errors.As(e, &me) {
				t.Fatalf("error %T %v is not an *Error", e, e)
			}
			if me.Pos.File != "fuzz.yaml" || me.Message == "" {
				t.Fatalf("malformed error %+v", me)
			}
		}
	})
}
