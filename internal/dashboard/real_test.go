package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/grafana-tools/sdk"
)

// realGrafana returns a client of the Grafana OBSCTL_TEST_GRAFANA_URL
// names, with OBSCTL_TEST_GRAFANA_TOKEN, or skips the test.
func realGrafana(t *testing.T) *sdk.Client {
	t.Helper()
	url := os.Getenv("OBSCTL_TEST_GRAFANA_URL")
	if url == "" {
		t.Skip("set OBSCTL_TEST_GRAFANA_URL to run against a real Grafana")
	}
	c, err := sdk.NewClient(url, os.Getenv("OBSCTL_TEST_GRAFANA_TOKEN"), &http.Client{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRealGrafana pushes an exported dashboard to a real Grafana as obsctl
// ships it and pulls it back, when OBSCTL_TEST_GRAFANA_URL names one (with
// OBSCTL_TEST_GRAFANA_TOKEN, a service account's token with the Editor
// role): what comes back, normalised against the file, is the file byte
// for byte, whatever Grafana added, reordered or migrated. The dashboard
// (uid obsctl-test-<time>) is deleted after.
func TestRealGrafana(t *testing.T) {
	c := realGrafana(t)
	ctx := context.Background()
	uid := fmt.Sprintf("obsctl-test-%d", time.Now().UnixNano())
	var m map[string]any
	if err := json.Unmarshal([]byte(exported), &m); err != nil {
		t.Fatal(err)
	}
	m["uid"], m["title"] = uid, uid
	src, _ := json.Marshal(m)
	repo, err := Normalize(src, []byte(exported), allOn) // the file as pull writes it
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := Provision(repo, allOn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetRawDashboardWithParam(ctx, sdk.RawBoardRequest{Dashboard: shipped, Parameters: sdk.SetDashboardParams{Overwrite: true}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = c.DeleteDashboardByUID(ctx, uid) })
	raw, _, err := c.GetRawDashboardByUID(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Normalize(raw, repo, allOn)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(repo) {
		t.Errorf("pulled back, it differs:\n%s\nwant\n%s", got, repo)
	}
}

// TestRealGrafanaPush pushes two dashboards to a real Grafana as apply
// does (OBSCTL_TEST_GRAFANA_URL, with a token of the Editor role): created,
// then unchanged on a second push, then one pruned once the repo no longer
// has it. It uses a stack and folder of its own (obsctl-test-<time>), and
// deletes its dashboards after; the folder it made stays, as apply leaves
// folders.
func TestRealGrafanaPush(t *testing.T) {
	c := realGrafana(t)
	ctx := context.Background()
	stack := fmt.Sprintf("obsctl-test-%d", time.Now().UnixNano())
	boards := []Board{board("dashboards/a.json", stack, stack+"-a", stack+" A"), board("dashboards/b.json", stack, stack+"-b", stack+" B")}
	t.Cleanup(func() {
		for _, b := range []string{stack + "-a", stack + "-b"} {
			_, _ = c.DeleteDashboardByUID(ctx, b)
		}
	})
	o := PushOptions{Stack: stack, Prune: true}
	for i, want := range []string{"created", "unchanged"} {
		cs, err := Push(ctx, c, boards, o)
		if err != nil {
			t.Fatalf("push %d: %v", i+1, err)
		}
		for _, ch := range cs {
			if ch.Kind == KindDashboard && ch.Action != want {
				t.Errorf("push %d: %s %s, want %s\n%s", i+1, ch.Ref(), ch.Action, want, ch.Diff)
			}
		}
	}
	cs, err := Push(ctx, c, boards[:1], o)
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(cs); !strings.Contains(got, "Dashboard "+stack+"-b pruned") {
		t.Errorf("prune:\n%s", got)
	}
}
