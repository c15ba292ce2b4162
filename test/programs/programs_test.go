package programs

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/obsctl/obsctl/internal/render"
)

// The programs the tests run are the versions the stack installs: a pin
// moved in one place and not the other fails here.
func TestPinsAreTheStacks(t *testing.T) {
	stack := map[string]string{}
	for _, v := range render.Versions() {
		stack[v.Component] = v.Version
	}
	for _, p := range All {
		v, err := p.Version(RepoRoot(t))
		if err != nil {
			t.Fatal(err)
		}
		want, ok := stack[p.Component]
		if !ok {
			t.Errorf("%s: the stack has no component %q", p.Name, p.Component)
			continue
		}
		if got := p.Tag(v); strings.TrimPrefix(got, "v") != strings.TrimPrefix(want, "v") {
			t.Errorf("%s: pins/%s/go.mod builds %s (%s), the stack installs %s", p.Name, p.Name, got, v, want)
		}
	}
}

func TestTags(t *testing.T) {
	for v, want := range map[string]string{"v0.313.5": "v3.13.5", "v0.300.0": "v3.0.0", "v0.54.1": "v2.54.1"} {
		if got := prometheusTag(v); got != want {
			t.Errorf("prometheusTag(%s) = %s, want %s", v, got, want)
		}
	}
	if got := jaegerTag("v1.75.0"); got != "2.12.0" {
		t.Errorf("jaegerTag(v1.75.0) = %s", got)
	}
	if got := jaegerTag("v1.99.0"); !strings.HasPrefix(got, "?") {
		t.Errorf("jaegerTag of an unknown version = %s, want it marked unknown", got)
	}
}

// Every program builds from its pin module (cached in test/bin; make
// programs builds them ahead) and says the version the stack pins.
func TestProgramsBuildAndRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	for _, p := range All {
		bin, err := p.Ensure(ctx, RepoRoot(t), logWriter{t})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := p.Version(RepoRoot(t))
		args := p.VersionArgs
		if args == nil {
			args = []string{"--version"}
		}
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		if err != nil {
			t.Errorf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
			continue
		}
		if want := strings.TrimPrefix(p.Tag(v), "v"); !strings.Contains(string(out), want) {
			t.Errorf("%s %s says\n%s\nwant version %s in it", p.Name, strings.Join(args, " "), out, want)
		}
		if _, err := os.Stat(bin); err != nil {
			t.Error(err)
		}
	}
}
