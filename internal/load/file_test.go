package load

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/obsctl/obsctl/internal/diag"
)

// TestSizeLimit: a file of exactly the limit is read, one byte more is
// refused before it is opened, and a file whose size the file system
// understates (/proc gives 0) is cut at the limit and refused.
func TestSizeLimit(t *testing.T) {
	const limit = 64
	dir := writeRepo(t, map[string]string{
		"obsctl.yaml":     minimalConfig,
		"rules/at.yaml":   "groups: []\n" + strings.Repeat("#", limit-len("groups: []\n")),
		"rules/over.yaml": "groups: []\n" + strings.Repeat("#", limit+1-len("groups: []\n")),
	})
	r, err := Load(Options{WorkDir: dir, MaxFileSize: limit})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.RuleFiles) != 1 || r.RuleFiles[0].Path != "rules/at.yaml" {
		t.Errorf("rule files %v, want rules/at.yaml", r.RuleFiles)
	}
	if len(r.Findings) != 1 || r.Findings[0].Check != CheckFile || r.Findings[0].Span != diag.At("rules/over.yaml", 1, 1) ||
		!strings.Contains(r.Findings[0].Message, "65 bytes, over the 64 byte limit") {
		t.Errorf("findings %v", r.Findings)
	}

	// /proc/self/status says it is empty and holds a page of text.
	r, err = Load(Options{WorkDir: dir, MaxFileSize: limit, Paths: []string{"/proc/self/status"}})
	if err != nil {
		t.Fatal(err)
	}
	// The repo is loaded beside the path given; what is reported is
	// about the path alone.
	fds := reported(r)
	if len(reportedFiles(r)) != 0 || len(fds) != 1 || !strings.Contains(fds[0].Message, "more than the 64 byte limit") {
		t.Errorf("a file larger than its size: rule files %v, findings %v", reportedFiles(r), fds)
	}
}

// TestEmbeddedTree: the embedded default is an fs.FS, where no link can
// be; the loader holds it to regular files all the same.
func TestEmbeddedTree(t *testing.T) {
	tr := &tree{limit: 16, fsys: fstest.MapFS{
		"d/ok.json":      {Data: []byte("{}")},
		"d/big.json":     {Data: []byte(strings.Repeat(" ", 17))},
		"d/pipe.json":    {Mode: fs.ModeNamedPipe},
		"d/dev.json":     {Mode: fs.ModeDevice | fs.ModeCharDevice},
		"d/sock.json":    {Mode: fs.ModeSocket},
		"d/sub.json/x":   {Data: []byte("{}")},
		"d/other.txt":    {Mode: fs.ModeNamedPipe},
		"file":           {Data: []byte("x")},
		"weird":          {Mode: fs.ModeIrregular},
		"d/\x1b[2J.json": {Data: []byte("{}")},
	}}
	r := &Repo{}
	files, err := r.readFolder(tr, "d", func(n string) bool { return strings.HasSuffix(n, ".json") })
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Path != "d/ok.json" || string(files[0].Src) != "{}" {
		t.Errorf("files %v", files)
	}
	want := map[string]string{
		"d/big.json":     "17 bytes, over the 16 byte limit",
		"d/pipe.json":    "named pipe",
		"d/dev.json":     "character device",
		"d/sock.json":    "socket",
		"d/sub.json":     "is a folder, not a file",
		`d/\x1b[2J.json`: "control character",
	}
	got := map[string]string{}
	for _, f := range r.Findings {
		got[f.File] = f.Message
		if f.Check != CheckFile || f.Start.Line != 1 || strings.ContainsRune(f.File+f.Message, 0x1b) {
			t.Errorf("malformed finding %+v", f)
		}
	}
	for file, msg := range want {
		if !strings.Contains(got[file], msg) {
			t.Errorf("%s: finding %q, want one saying %q", file, got[file], msg)
		}
	}
	if len(got) != len(want) {
		t.Errorf("findings %v, want %d", r.Findings, len(want))
	}

	for rel, msg := range map[string]string{"file": "is a file, not a folder", "weird": "is not a regular file, not a folder"} {
		r := &Repo{}
		if _, err := r.readFolder(tr, rel, func(string) bool { return true }); err != nil {
			t.Fatal(err)
		}
		if len(r.Findings) != 1 || !strings.Contains(r.Findings[0].Message, msg) {
			t.Errorf("%s as a folder: %v, want %q", rel, r.Findings, msg)
		}
	}
	if files, err := (&Repo{}).readFolder(tr, "none", func(string) bool { return true }); err != nil || files != nil {
		t.Errorf("a folder that does not exist: %v, %v", files, err)
	}
}

func TestBadName(t *testing.T) {
	tests := []struct{ name, safe string }{
		{"rules/ok.yaml", ""},
		{"rules/règles 日本 -x:1:2.yaml", ""},
		{"a\x1b[31mb", `a\x1b[31mb`},
		{"a\nb", `a\x0ab`},
		{"a\rb\tc", `a\x0db\x09c`},
		{"a\x7fb", `a\x7fb`},
		{"a\u0085b", `a\x85b`},
		{"a\u2028b", `a\u2028b`},
		{"a\u202egnp.yaml", `a\u202egnp.yaml`},
		{"a\u2066b", `a\u2066b`},
		{"a\xffb", `a\xffb`},
		{"\xe2\x80", `\xe2\x80`},
	}
	for _, tt := range tests {
		bad := badName(tt.name) != ""
		if bad != (tt.safe != "") {
			t.Errorf("badName(%q) = %q", tt.name, badName(tt.name))
		}
		want := tt.safe
		if want == "" {
			want = tt.name
		}
		if got := safeName(tt.name); got != want || badName(got) != "" {
			t.Errorf("safeName(%q) = %q, want %q", tt.name, got, want)
		}
	}
}

// TestBrokenConfigIsTheRepo: an obsctl.yaml that is a dangling link or a
// pipe still makes its folder the repo, whose load says what is wrong,
// instead of obsctl looking further up or taking the embedded default.
func TestBrokenConfigIsTheRepo(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("missing.yaml", filepath.Join(dir, "obsctl.yaml")); err != nil {
		t.Fatal(err)
	}
	r, err := LoadConfig(Options{WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if r.Embedded() || !r.ConfigRefused() || len(r.Findings) != 1 || r.Findings[0].Check != CheckFile {
		t.Fatalf("embedded %v, refused %v, findings %v", r.Embedded(), r.ConfigRefused(), r.Findings)
	}
	if _, ok := r.Sources()["obsctl.yaml"]; ok {
		t.Error("an obsctl.yaml that was not read is among the sources reporters quote")
	}
	if r.Config == nil {
		t.Error("no Config")
	}
}
