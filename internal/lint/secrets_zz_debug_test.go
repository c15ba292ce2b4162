package lint

import (
	"os"
	"strings"
	"testing"
)

func TestZZDebug(t *testing.T) {
	path, check := os.Getenv("FIX"), os.Getenv("CHK")
	cfg, _ := os.ReadFile("testdata/default.obsctl.yaml")
	if c := os.Getenv("CFG"); c != "" {
		cfg, _ = os.ReadFile(c)
	}
	src, _ := os.ReadFile(path)
	name := path[strings.LastIndex(path, "/")+1:]
	for _, f := range lintSources(t, string(cfg), map[string]string{name: string(src)}) {
		if check == "" || strings.HasPrefix(f.Check, check) {
			t.Logf("%d:%d-%d:%d %s | %s | secret=%v", f.Start.Line, f.Start.Col, f.End.Line, f.End.Col, f.Message, f.Hint, f.Secret)
		}
	}
}
