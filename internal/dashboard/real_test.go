package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/grafana-tools/sdk"
)

// TestRealGrafana pushes an exported dashboard to a real Grafana as obsctl
// ships it and pulls it back, when OBSCTL_TEST_GRAFANA_URL names one (with
// OBSCTL_TEST_GRAFANA_TOKEN, a service account's token with the Editor
// role): what comes back, normalised against the file, is the file byte
// for byte, whatever Grafana added, reordered or migrated. The dashboard
// (uid obsctl-test-<time>) is deleted after.
func TestRealGrafana(t *testing.T) {
	url := os.Getenv("OBSCTL_TEST_GRAFANA_URL")
	if url == "" {
		t.Skip("set OBSCTL_TEST_GRAFANA_URL to run against a real Grafana")
	}
	ctx := context.Background()
	c, err := sdk.NewClient(url, os.Getenv("OBSCTL_TEST_GRAFANA_TOKEN"), &http.Client{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
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
