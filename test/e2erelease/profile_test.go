package e2erelease

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/obsctl/obsctl/internal/cli"
)

// TestProfileSwitch switches a stack from minimal to ha and back, which
// once deleted and re-created Elasticsearch silently, and, with --profile
// ha forgotten on the next apply, downgraded the stack. Replacing
// Elasticsearch's StatefulSet needs --yes (exit 7, nothing changed; diff
// shows the replace); the stack remembers its profile, so an apply that
// does not name it stops (exit 7); the downgrade named needs --yes too;
// and no run deletes a PersistentVolumeClaim.
func TestProfileSwitch(t *testing.T) {
	ownerStack(t)
	t.Parallel()
	s := newStack(t, "prof", 9205) // obsctl.yaml names no profile: minimal
	s.apply()
	esUID := func() types.UID {
		t.Helper()
		sts := s.get(gvrStatefulSets, s.ns, "elasticsearch")
		if sts == nil {
			t.Fatal("StatefulSet elasticsearch does not exist")
		}
		return sts.GetUID()
	}
	pvcs := func() map[string]types.UID {
		t.Helper()
		l, err := s.cs.Resource(gvrPVCs).Namespace(s.ns).List(s.ctx(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]types.UID{}
		for _, o := range l.Items {
			if o.GetDeletionTimestamp() != nil {
				t.Errorf("PersistentVolumeClaim %s is being deleted", o.GetName())
			}
			out[o.GetName()] = o.GetUID()
		}
		return out
	}
	minimalES := esUID()
	if n := len(pvcs()); n != 0 {
		t.Fatalf("%d PersistentVolumeClaims in the minimal profile, want none", n)
	}

	// To ha, not confirmed: nothing changes.
	before := s.versions()
	r := s.obsctl("", "apply", "--profile", "ha", "--timeout", "3m")
	if r.code != cli.ExitConfirm {
		t.Fatalf("apply --profile ha without --yes: exit %d, want %d", r.code, cli.ExitConfirm)
	}
	if !strings.Contains(r.stderr, "StatefulSet "+s.ns+"/elasticsearch replaced:") {
		t.Errorf("the refused apply does not list Elasticsearch's replace:\n%s", r.stderr)
	}
	s.sameVersions("after apply --profile ha without --yes", before)

	r = s.obsctl("", "diff", "--profile", "ha")
	if r.code != 1 {
		t.Errorf("diff --profile ha: exit %d, want 1 (changes)", r.code)
	}
	if !strings.Contains(r.stdout, "# StatefulSet "+s.ns+"/elasticsearch replaced: destructive, needs --yes") {
		t.Errorf("diff --profile ha does not show Elasticsearch's replace:\n%s", r.stdout)
	}
	s.sameVersions("after diff --profile ha", before)

	// Confirmed.
	r = s.apply("--profile", "ha", "--yes")
	if got := objectLines(t, r.stdout)["StatefulSet "+s.ns+"/elasticsearch"]; !strings.HasPrefix(got, "replaced") {
		t.Errorf("StatefulSet elasticsearch: %q, want replaced", got)
	}
	if esUID() == minimalES {
		t.Errorf("Elasticsearch's StatefulSet was not replaced")
	}
	haES := esUID()
	volumes := pvcs()
	if len(volumes) != 3 {
		t.Errorf("%d PersistentVolumeClaims in the ha profile, want Elasticsearch's 3: %v", len(volumes), volumes)
	}

	// The stack remembers ha: an apply that names no profile stops.
	before = s.versions()
	r = s.obsctl("", "apply", "--timeout", "3m")
	if r.code != cli.ExitConfirm {
		t.Fatalf("apply without --profile after ha: exit %d, want %d", r.code, cli.ExitConfirm)
	}
	if !strings.Contains(r.stderr, "was last applied with profile ha") {
		t.Errorf("the refused apply does not say the stack is ha:\n%s", r.stderr)
	}
	s.sameVersions("after apply without --profile", before)

	// The downgrade, named: listed, needs --yes.
	r = s.obsctl("", "apply", "--profile", "minimal", "--timeout", "3m")
	if r.code != cli.ExitConfirm {
		t.Fatalf("apply --profile minimal without --yes: exit %d, want %d", r.code, cli.ExitConfirm)
	}
	for _, want := range []string{"the profile goes down from ha to minimal", "StatefulSet " + s.ns + "/elasticsearch replaced:"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the refused downgrade does not list %q:\n%s", want, r.stderr)
		}
	}
	s.sameVersions("after apply --profile minimal without --yes", before)
	if esUID() != haES {
		t.Errorf("Elasticsearch's StatefulSet was replaced by an unconfirmed apply")
	}

	s.apply("--profile", "minimal", "--yes")
	if got := pvcs(); !maps.Equal(got, volumes) {
		t.Errorf("PersistentVolumeClaims after the downgrade: %v, want those of ha, untouched: %v", got, volumes)
	}
	if n := len(s.uids(gvrPDBs, s.ns)); n != 0 {
		t.Errorf("%d PodDisruptionBudgets after the downgrade, want none (pruned)", n)
	}

	// History says which profile each revision had.
	r = s.obsctl("", "history", "-o", "json")
	var h struct {
		Revisions []struct {
			Revision int
			Profile  string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
		t.Fatal(err)
	}
	var profiles []string
	for _, rev := range h.Revisions {
		profiles = append(profiles, rev.Profile)
	}
	if got := strings.Join(profiles, " "); got != "minimal ha minimal" {
		t.Errorf("history's profiles, newest first: %s, want minimal ha minimal", got)
	}
}
