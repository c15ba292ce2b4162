package e2erelease

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/cli"
)

// TestRepoDiscovery runs obsctl from a sub-folder of the repo, which once
// silently took the embedded default repo and relabelled every CRD to its
// stack: the repo is found as git finds .git, so diff finds nothing to do
// and apply changes nothing. From a folder with no obsctl.yaml above it,
// against a cluster where another stack owns the CRDs, apply refuses to
// stand the embedded default up beside it (exit 2) and changes nothing.
func TestRepoDiscovery(t *testing.T) {
	ownerStack(t)
	t.Parallel()
	s := newStack(t, "sub", 9203)
	s.apply()
	owners := crdOwners(t, s.cs)
	rules := filepath.Join(s.repo, "rules")

	if r := s.obsctl(rules, "diff"); r.code != 0 {
		t.Errorf("diff from rules/: exit %d, want 0 (no changes)", r.code)
	}
	r := s.obsctl(rules, "apply", "--timeout", "3m", "-o", "json")
	if r.code != cli.ExitOK {
		t.Fatalf("apply from rules/: exit %d, want 0", r.code)
	}
	rep := parseReport(t, r.stdout)
	if rep.Stack != s.name || rep.Namespace != s.ns {
		t.Errorf("apply from rules/ released stack %s in %s, want the repo's, %s in %s", rep.Stack, rep.Namespace, s.name, s.ns)
	}
	if rep.changed() != 0 || rep.Revision != 0 {
		t.Errorf("apply from rules/ changed something: counts %v, revision %d", rep.Counts, rep.Revision)
	}
	if got := crdOwners(t, s.cs); !maps.Equal(got, owners) {
		t.Errorf("apply from rules/ relabelled CRDs: %v, before %v", got, owners)
	}

	// No obsctl.yaml here or above: the embedded default, taken
	// implicitly, is not stood up where another stack owns the CRDs.
	empty := t.TempDir()
	r = s.obsctl(empty, "apply", "--timeout", "1m")
	if r.code != cli.ExitUsage {
		t.Fatalf("apply from a folder without obsctl.yaml: exit %d, want %d", r.code, cli.ExitUsage)
	}
	for _, want := range []string{"no obsctl.yaml was found here", "stack " + ownerName + " is on this cluster"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, r.stderr)
		}
	}
	if r.stdout != "" {
		t.Errorf("the refused apply reports objects:\n%s", r.stdout)
	}
	if got := crdOwners(t, s.cs); !maps.Equal(got, owners) {
		t.Errorf("the refused apply relabelled CRDs: %v, before %v", got, owners)
	}
	// The embedded default's stack is obsctl in namespace monitoring:
	// nothing of it may exist.
	if ns := s.get(gvrNamespaces, "", "monitoring"); ns != nil {
		t.Errorf("the refused apply created namespace monitoring (labels %v)", ns.GetLabels())
	}
}
