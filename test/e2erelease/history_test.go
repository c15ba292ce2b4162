package e2erelease

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/obsctl/obsctl/internal/cli"
)

// The series of revisions TestHistory applies, as the issue measures
// history: every revision edits a rule's annotation and a dashboard's
// title; two also change Grafana's version; one is applied from a work tree
// with uncommitted changes.
const (
	historyRevisions = 23
	dirtyRevision    = 12
	noopAfter        = 10
)

var grafanaVersions = map[int]string{8: "12.3.1", 15: "12.3.2"}

// TestHistory applies a git repo's stack revision after revision and
// reads the history: each revision names its git commit (and whether the
// work tree was dirty), author, message, Kubernetes user and profile; a
// no-op apply records none; the history holds them all, rollbackable, and
// rolling back to the first brings its objects back.
func TestHistory(t *testing.T) {
	ownerStack(t)
	t.Parallel()
	s := newStack(t, "hist", 9209)
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = s.repo
		cmd.Env = append(os.Environ(), "HOME="+s.home, "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("config", "user.name", "E2E Tester")
	git("config", "user.email", "e2e@example.com")
	git("config", "commit.gpgsign", "false")
	commit := func(msg string) string {
		t.Helper()
		git("add", "-A")
		git("commit", "-q", "-m", msg)
		return git("rev-parse", "HEAD")
	}

	summary := regexp.MustCompile(`summary: Heartbeat that is always firing[^\n]*`)
	title := regexp.MustCompile(`(?m)^  "title": "Nodes[^"]*",$`)
	edit := func(rel string, re *regexp.Regexp, repl string) {
		t.Helper()
		p := filepath.Join(s.repo, rel)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(re.FindAllIndex(b, -1)) != 1 {
			t.Fatalf("%s: %s does not match once", rel, re)
		}
		if err := os.WriteFile(p, re.ReplaceAll(b, []byte(repl)), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	commits := map[int]string{1: commit("revision 1")}
	s.apply("-m", "revision 1")
	for n := 2; n <= historyRevisions; n++ {
		edit("rules/alertmanager.yaml", summary, fmt.Sprintf("summary: Heartbeat that is always firing (revision %d).", n))
		edit("dashboards/nodes.json", title, fmt.Sprintf(`  "title": "Nodes (revision %d)",`, n))
		if v, ok := grafanaVersions[n]; ok {
			s.components = []string{"grafana: {version: " + v + "}"}
			s.writeConfig()
		}
		if n == dirtyRevision {
			commits[n] = git("rev-parse", "HEAD")
			s.apply("-m", fmt.Sprintf("revision %d", n))
			commit(fmt.Sprintf("revision %d, committed after its apply", n))
			continue
		}
		commits[n] = commit(fmt.Sprintf("revision %d", n))
		r := s.apply("-m", fmt.Sprintf("revision %d", n))
		if !strings.Contains(r.stderr, fmt.Sprintf("stack %s revision %d:", s.name, n)) {
			t.Errorf("apply of revision %d did not record revision %d", n, n)
		}
		if n == noopAfter {
			r := s.obsctl("", "apply", "--timeout", "3m", "-m", "nothing to do", "-o", "json")
			if r.code != cli.ExitOK {
				t.Fatalf("the no-op apply: exit %d", r.code)
			}
			if rep := parseReport(t, r.stdout); rep.Revision != 0 || rep.changed() != 0 {
				t.Errorf("the no-op apply recorded revision %d, counts %v", rep.Revision, rep.Counts)
			}
		}
	}

	type gitInfo struct {
		Commit, Author, Subject string
		Dirty                   bool
	}
	var h struct {
		Revisions []struct {
			Revision     int
			KubeUser     string
			Git          *gitInfo
			Message      string
			Profile      string
			Rollbackable bool
		}
	}
	r := s.obsctl("", "history", "-o", "json")
	if r.code != cli.ExitOK {
		t.Fatalf("history: exit %d", r.code)
	}
	if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Revisions) < historyRevisions-1 {
		t.Fatalf("history lists %d revisions, want at least %d", len(h.Revisions), historyRevisions-1)
	}
	rollbackable, earliest := 0, 0
	for _, rev := range h.Revisions {
		n := rev.Revision
		if n > historyRevisions {
			t.Errorf("revision %d: the no-op apply took a slot", n)
			continue
		}
		want := gitInfo{Commit: commits[n], Author: "E2E Tester <e2e@example.com>", Dirty: n == dirtyRevision}
		switch {
		case rev.Git == nil:
			t.Errorf("revision %d records no git commit", n)
		case rev.Git.Commit != want.Commit || rev.Git.Dirty != want.Dirty || rev.Git.Author != want.Author:
			t.Errorf("revision %d: git %+v, want commit %s, dirty %v, author %s", n, *rev.Git, want.Commit, want.Dirty, want.Author)
		}
		if rev.Message != fmt.Sprintf("revision %d", n) {
			t.Errorf("revision %d: message %q", n, rev.Message)
		}
		if rev.KubeUser == "" || rev.Profile != "minimal" {
			t.Errorf("revision %d: kube user %q, profile %q", n, rev.KubeUser, rev.Profile)
		}
		if rev.Rollbackable {
			rollbackable++
			earliest = n
		}
	}
	if rollbackable < 20 {
		t.Errorf("%d revisions can be rolled back, want at least 20", rollbackable)
	}

	// The inventory's size: every Secret of it, index and packs.
	secrets, err := s.cs.CoreV1().Secrets(s.ns).List(s.ctx(), metav1.ListOptions{LabelSelector: "obsctl.dev/stack=" + s.name})
	if err != nil {
		t.Fatal(err)
	}
	index, packs, packBytes := 0, 0, 0
	for _, sec := range secrets.Items {
		n := 0
		for _, v := range sec.Data {
			n += len(v)
		}
		switch sec.Type {
		case "obsctl.dev/inventory":
			index += n
		case "obsctl.dev/inventory-pack":
			packs++
			packBytes += n
		}
	}
	if index == 0 || packs == 0 {
		t.Errorf("no inventory index or packs among the stack's Secrets")
	}
	t.Logf("inventory of stack %s: %d revisions listed, %d rollbackable (earliest %d); %d bytes of data: index %d bytes, %d packs of %d bytes",
		s.name, len(h.Revisions), rollbackable, earliest, index+packBytes, index, packs, packBytes)

	// Completion offers the revisions that can be rolled back to, newest
	// first, each with its message.
	r = s.obsctl("", "__complete", "rollback", "")
	if lines := strings.Split(r.stdout, "\n"); r.code != cli.ExitOK || len(lines) < rollbackable || lines[rollbackable] != ":36" ||
		!strings.HasPrefix(lines[rollbackable-1], fmt.Sprintf("%d\trevision %d", earliest, earliest)) {
		t.Errorf("completion of rollback's revision: exit %d\n%s", r.code, r.stdout)
	}

	// Back to the earliest: its rule, dashboard and Grafana version.
	r = s.obsctl("", "rollback", fmt.Sprint(earliest), "--yes", "--timeout", "3m")
	if r.code != cli.ExitOK {
		t.Fatalf("rollback %d: exit %d", earliest, r.code)
	}
	rule := s.get(gvrPrometheusRule, s.ns, s.name+"-rules-alertmanager")
	if rule == nil {
		t.Fatalf("PrometheusRule %s-rules-alertmanager is gone", s.name)
	}
	wantSummary := "Heartbeat that is always firing."
	if earliest > 1 {
		wantSummary = fmt.Sprintf("Heartbeat that is always firing (revision %d).", earliest)
	}
	if got := watchdogSummary(rule); got != wantSummary {
		t.Errorf("after rollback %d the Watchdog's summary is %q, want %q", earliest, got, wantSummary)
	}
	dash := s.get(gvrConfigMaps, s.ns, "grafana-dashboard-nodes")
	data, _, _ := unstructured.NestedStringMap(dash.Object, "data")
	wantTitle := `"title": "Nodes",`
	if earliest > 1 {
		wantTitle = fmt.Sprintf(`"title": "Nodes (revision %d)",`, earliest)
	}
	found := false
	for _, v := range data {
		found = found || strings.Contains(v, wantTitle)
	}
	if !found {
		t.Errorf("after rollback %d the nodes dashboard lacks %s", earliest, wantTitle)
	}
	if earliest < 8 {
		d := s.get(gvrDeployments, s.ns, "grafana")
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		image, _ := containers[0].(map[string]any)["image"].(string)
		if !strings.HasSuffix(image, ":12.3.0") {
			t.Errorf("after rollback %d Grafana's image is %s, want the pinned 12.3.0", earliest, image)
		}
	}
	s.checkGenerated("after the rollback", nil)
	r = s.obsctl("", "history", "-o", "json")
	var after struct {
		Revisions []struct{ Revision, RollbackOf int }
	}
	if err := json.Unmarshal([]byte(r.stdout), &after); err != nil {
		t.Fatal(err)
	}
	if latest := after.Revisions[0]; latest.Revision != historyRevisions+1 || latest.RollbackOf != earliest {
		t.Errorf("the rollback recorded revision %d, a rollback of %d; want %d, of %d", latest.Revision, latest.RollbackOf, historyRevisions+1, earliest)
	}
}

// watchdogSummary returns the summary annotation of the Watchdog alert in
// a PrometheusRule.
func watchdogSummary(rule *unstructured.Unstructured) string {
	groups, _, _ := unstructured.NestedSlice(rule.Object, "spec", "groups")
	for _, g := range groups {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rules {
			rm := r.(map[string]any)
			if rm["alert"] == "Watchdog" {
				s, _, _ := unstructured.NestedString(rm, "annotations", "summary")
				return s
			}
		}
	}
	return ""
}
