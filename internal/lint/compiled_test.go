package lint

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/obsctl/obsctl/internal/compile"
)

// TestRunCompiledReusesRouting: linting with the compile stage's result
// (as build, render and apply do, so that the routing is compiled once)
// gives exactly the findings of linting alone, on every alerting fixture
// that compiles.
func TestRunCompiledReusesRouting(t *testing.T) {
	configs, err := filepath.Glob("testdata/alerting/*/*.obsctl.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(Options{Enable: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	compiled := 0
	for _, p := range configs {
		t.Run(p, func(t *testing.T) {
			cfg, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			r := repoOf(string(cfg), nil)
			c, err := compile.Compile(r)
			if err != nil {
				return // lint reports it; there is nothing to reuse
			}
			compiled++
			if c.Alertmanager == nil && r.Config.Alerting.Routing() {
				t.Fatal("compile left out the routing")
			}
			if got, want := l.RunCompiled(r, c), l.Run(r); !reflect.DeepEqual(got, want) {
				t.Errorf("with the compiled repo:\n%v\nalone:\n%v", got, want)
			}
		})
	}
	if compiled < 5 {
		t.Errorf("only %d fixtures compiled: the test checks little", compiled)
	}
}
