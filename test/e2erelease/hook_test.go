package e2erelease

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/obsctl/obsctl/internal/cli"
)

// TestHookRecipe is the README's post-cluster-create hook: obsctl render
// -o DIR, then obsctl apply -f DIR, from a folder of the hook's (no
// obsctl.yaml: the render output's identity names the stack). The first
// run creates the generated Secrets; running it again, a plain obsctl
// apply from the repo, and the hook once more change nothing, and the
// generated Secrets keep their values throughout. obsctl secrets -o DIR
// writes the generated Secrets for GitOps, readable by their owner only,
// and keeps their values when run again.
func TestHookRecipe(t *testing.T) {
	ownerStack(t)
	t.Parallel()
	s := newStack(t, "hook", 9202)
	hook := t.TempDir()
	rendered := filepath.Join(hook, "rendered")

	if r := s.obsctl("", "render", "-o", rendered); r.code != cli.ExitOK {
		t.Fatalf("render: exit %d", r.code)
	}
	identity := filepath.Join(rendered, "4-configmap-"+s.ns+"-obsctl-release-"+s.name+".yaml")
	if _, err := os.Stat(identity); err != nil {
		t.Fatalf("the render output lacks the stack's identity: %v", err)
	}

	// The hook's first run: the same release as obsctl apply, generated
	// Secrets included.
	r := s.obsctl(hook, "apply", "-f", "rendered", "--timeout", "3m")
	if r.code != cli.ExitOK {
		t.Fatalf("the hook's first apply -f rendered: exit %d", r.code)
	}
	lines := objectLines(t, r.stdout)
	for _, name := range s.wantGenerated() {
		if got := lines["Secret "+name]; !strings.HasPrefix(got, "created") {
			t.Errorf("Secret %s: %q, want created", name, got)
		}
	}
	if !strings.Contains(r.stderr, "stack "+s.name+" revision 1:") {
		t.Errorf("the hook's apply did not record revision 1 of stack %s", s.name)
	}
	generated := s.checkGenerated("after the hook's first run", nil)

	unchanged := func(what string, dir string, args ...string) {
		t.Helper()
		r := s.obsctl(dir, append(args, "--timeout", "3m", "-o", "json")...)
		if r.code != cli.ExitOK {
			t.Fatalf("%s: exit %d, want 0", what, r.code)
		}
		rep := parseReport(t, r.stdout)
		if rep.Stack != s.name || rep.Namespace != s.ns {
			t.Errorf("%s: released stack %s in %s, want %s in %s", what, rep.Stack, rep.Namespace, s.name, s.ns)
		}
		if rep.changed() != 0 || rep.Requests["patches"] != 0 || rep.Revision != 0 {
			t.Errorf("%s changed something: counts %v, %d patches, revision %d", what, rep.Counts, rep.Requests["patches"], rep.Revision)
		}
		for _, o := range rep.Objects {
			// The CRDs are the owner stack's: kept, used by this one.
			if o.Action != "unchanged" && (o.Action != "kept" || o.Note != "owned by stack "+ownerName+", used by this one") {
				t.Errorf("%s: %s %s (%s)", what, o, o.Action, o.Note)
			}
		}
		s.checkGenerated(what, generated)
	}
	unchanged("the hook's second run", hook, "apply", "-f", "rendered")
	unchanged("a plain apply from the repo", "", "apply")
	unchanged("the hook after a plain apply", hook, "apply", "-f", "rendered")
	if r := s.obsctl("", "diff"); r.code != 0 {
		t.Errorf("diff after the hook: exit %d, want 0", r.code)
	}

	// For GitOps: the generated Secrets as files, owner-only, their
	// values kept when written again.
	out := filepath.Join(t.TempDir(), "secrets")
	if r := s.obsctl("", "secrets", "-o", out); r.code != cli.ExitOK {
		t.Fatalf("secrets -o: exit %d", r.code)
	}
	files := func() map[string]string {
		t.Helper()
		entries, err := os.ReadDir(out)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, e := range entries {
			info, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", e.Name(), info.Mode().Perm())
			}
			b, err := os.ReadFile(filepath.Join(out, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			got[e.Name()] = string(b)
		}
		return got
	}
	first := files()
	var names []string
	for name, content := range first {
		var sec struct {
			Kind     string
			Metadata struct {
				Name, Namespace string
				Labels          map[string]string
			}
			Data map[string]string
		}
		if err := yaml.Unmarshal([]byte(content), &sec); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		names = append(names, sec.Metadata.Namespace+"/"+sec.Metadata.Name)
		if sec.Kind != "Secret" || sec.Metadata.Labels["obsctl.dev/generated"] != "true" || sec.Metadata.Labels["obsctl.dev/stack"] != s.name || len(sec.Data) == 0 {
			t.Errorf("%s is not a generated Secret of stack %s with values:\n%s", name, s.name, content)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, s.wantGenerated()) {
		t.Errorf("secrets -o wrote %v, want %v", names, s.wantGenerated())
	}
	r = s.obsctl("", "secrets", "-o", out)
	if r.code != cli.ExitOK {
		t.Fatalf("secrets -o, again: exit %d", r.code)
	}
	if !strings.Contains(r.stdout, "wrote 0 Secrets") {
		t.Errorf("secrets -o, again, wrote Secrets: %q", r.stdout)
	}
	second := files()
	for name, content := range first {
		if second[name] != content {
			t.Errorf("secrets -o, again, changed %s", name)
		}
	}
}
