package e2erelease

import (
	"encoding/json"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/obsctl/obsctl/internal/cli"
)

// TestTimeout applies the stack with --timeout 1s, which once exited 1: it
// exits 4, as the exit-code table says of a timeout, and the next apply
// completes, finishing the interrupted run when it recorded its intent.
func TestTimeout(t *testing.T) {
	ownerStack(t)
	t.Parallel()
	s := newStack(t, "slow", 9208)
	r := s.obsctl("", "apply", "--timeout", "1s")
	if r.code != cli.ExitNotReady {
		t.Fatalf("apply --timeout 1s: exit %d, want %d", r.code, cli.ExitNotReady)
	}
	if !strings.Contains(r.stderr, "timeout 1s") {
		t.Errorf("apply --timeout 1s does not say the timeout ran out:\n%s", r.stderr)
	}
	type history struct {
		Revisions []struct {
			Revision int
			State    string
		}
		Pending *struct{ Revision int }
	}
	read := func() (history, int) {
		t.Helper()
		r := s.obsctl("", "history", "-o", "json")
		var h history
		if r.code == 0 {
			if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
				t.Fatal(err)
			}
		}
		return h, r.code
	}
	h, _ := read()
	interrupted := h.Pending != nil

	r = s.apply()
	if interrupted && !strings.Contains(r.stderr, "was interrupted") {
		t.Errorf("the run after the timeout does not finish the interrupted one:\n%s", r.stderr)
	}
	h, code := read()
	if code != 0 || len(h.Revisions) == 0 || h.Pending != nil {
		t.Fatalf("history after the apply that completed: exit %d, %d revisions, pending %v", code, len(h.Revisions), h.Pending)
	}
	// Complete: a further apply changes nothing.
	r = s.obsctl("", "apply", "--timeout", "3m", "-o", "json")
	if r.code != cli.ExitOK {
		t.Fatalf("apply after the completed one: exit %d", r.code)
	}
	if rep := parseReport(t, r.stdout); rep.changed() != 0 {
		t.Errorf("apply after the completed one changed something: %v", rep.Counts)
	}
	s.checkGenerated("after the timeout and the completed apply", nil)
	// What the cut-short run could not do is done: the stack marks the
	// CRDs it uses, so that their owner never prunes them.
	l, err := s.cs.Resource(gvrCRDs).List(s.ctx(), metav1.ListOptions{LabelSelector: "obsctl.dev/stack=" + ownerName})
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range l.Items {
		if _, ok := crd.GetAnnotations()["obsctl.dev/used-by."+s.name]; !ok {
			t.Errorf("CRD %s is not marked as used by stack %s", crd.GetName(), s.name)
		}
	}
	t.Logf("after --timeout 1s: pending intent %v; revisions now %v", interrupted, h.Revisions)
}
