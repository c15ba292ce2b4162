package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// buildDefault runs `obsctl build` on the embedded default repo into a
// fresh folder and returns it.
func buildDefault(t *testing.T) string {
	t.Helper()
	wd := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"build", "-o", "out"}, Deps{Stdout: &stdout, Stderr: &stderr, WorkDir: wd})
	if code != ExitOK {
		t.Fatalf("build exit %d: %s", code, stderr.String())
	}
	return filepath.Join(wd, "out")
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestBuildGolden compares `obsctl build` of the embedded default with
// testdata/build/default; `go test ./internal/cli -run TestBuildGolden
// -update` refreshes it.
func TestBuildGolden(t *testing.T) {
	got := readTree(t, buildDefault(t))
	golden := filepath.Join("testdata", "build", "default")
	if *update {
		if err := os.RemoveAll(golden); err != nil {
			t.Fatal(err)
		}
		for p, data := range got {
			dst := filepath.Join(golden, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	want := readTree(t, golden)
	for p := range want {
		if _, ok := got[p]; !ok {
			t.Errorf("build no longer writes %s", p)
		}
	}
	for p, data := range got {
		if w, ok := want[p]; !ok {
			t.Errorf("build writes %s, which the golden lacks (run with -update)", p)
		} else if !bytes.Equal(w, data) {
			t.Errorf("%s differs from the golden (run with -update and review the diff)", p)
		}
	}
	// Byte-stable: a second build gives the same bytes.
	again := readTree(t, buildDefault(t))
	for p, data := range got {
		if !bytes.Equal(again[p], data) {
			t.Errorf("%s differs between two builds", p)
		}
	}
}

// oracle returns the path of a Debian-packaged tool; in CI its absence
// fails the test, elsewhere it skips.
func oracle(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (.ci/run installs it): %v", name, err)
		}
		t.Skipf("%s not installed (apt-get install prometheus prometheus-alertmanager)", name)
	}
	return p
}

// TestBuildPassesPromtool loads every compiled rule file with the real
// Prometheus rule loader.
func TestBuildPassesPromtool(t *testing.T) {
	promtool := oracle(t, "promtool")
	out := buildDefault(t)
	files, err := filepath.Glob(filepath.Join(out, "prometheus", "rules", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no rule files: %v", err)
	}
	slices.Sort(files)
	cmd := exec.Command(promtool, append([]string{"check", "rules"}, files...)...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, b)
	}
	if n := strings.Count(string(b), "SUCCESS"); n != len(files) {
		t.Fatalf("promtool accepted %d of %d files:\n%s", n, len(files), b)
	}
}

// TestBuildPassesAmtool loads the compiled alertmanager.yaml with the real
// Alertmanager config loader, and checks routing with amtool's own route
// matching.
func TestBuildPassesAmtool(t *testing.T) {
	amtool := oracle(t, "amtool")
	cfg := filepath.Join(buildDefault(t), "alertmanager", "alertmanager.yaml")
	b, err := exec.Command(amtool, "check-config", cfg).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "SUCCESS") {
		t.Fatalf("amtool check-config: %v\n%s", err, b)
	}
	for _, tc := range []struct {
		labels []string
		want   string
	}{
		{[]string{"severity=page", "alertname=NodeDown"}, "oncall-pager"},
		{[]string{"severity=critical"}, "oncall-pagerduty"},
		{[]string{"severity=warning"}, "slack-alerts"},
		{[]string{"severity=info"}, "slack-info"},
		{[]string{"alertname=Watchdog", "severity=info"}, "heartbeat"},
		{[]string{"severity=unknown"}, "slack-alerts"},
	} {
		args := append([]string{"config", "routes", "test", "--config.file=" + cfg}, tc.labels...)
		// Stdout only: Debian's amtool warns on stderr that --config.file
		// overrides its default --alertmanager.url.
		b, err := exec.Command(amtool, args...).Output()
		if got := strings.TrimSpace(string(b)); err != nil || got != tc.want {
			t.Errorf("amtool routes test %v = %q (%v), want %q", tc.labels, got, err, tc.want)
		}
	}
}

// TestBuildIndependentOfRepoSpelling builds one repo named three ways:
// compiled names and headers come from repo-relative paths, so the bytes
// are the same.
func TestBuildIndependentOfRepoSpelling(t *testing.T) {
	parent := t.TempDir()
	repoDir := filepath.Join(parent, "obs")
	for p, data := range map[string]string{
		"obsctl.yaml":  "apiVersion: obsctl/v1\nname: t\ndefaults: false\nalerting:\n  severities: [page]\n",
		"rules/a.yaml": "groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n",
	} {
		full := filepath.Join(repoDir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var trees []map[string][]byte
	for i, spelling := range []string{"obs", "./obs/", repoDir} {
		out := filepath.Join(parent, "out", strconv.Itoa(i))
		var stderr bytes.Buffer
		code := Run(context.Background(), []string{"build", "--repo", spelling, "-o", out}, Deps{Stderr: &stderr, WorkDir: parent})
		if code != ExitOK {
			t.Fatalf("build --repo %s: exit %d: %s", spelling, code, stderr.String())
		}
		trees = append(trees, readTree(t, out))
	}
	for i := 1; i < len(trees); i++ {
		if len(trees[i]) != len(trees[0]) {
			t.Fatalf("build %d wrote %d files, build 0 wrote %d", i, len(trees[i]), len(trees[0]))
		}
		for p, data := range trees[0] {
			if !bytes.Equal(trees[i][p], data) {
				t.Errorf("%s differs between repo spellings:\n%s\n---\n%s", p, data, trees[i][p])
			}
		}
	}
	if _, ok := trees[0]["prometheus/rules/rules-a.yaml"]; !ok {
		t.Errorf("unexpected names: %v", keys(trees[0]))
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestBuildRemovesOnlyItsOwnFiles builds into a folder that holds files
// of others next to build's own: those stay, byte for byte, while a file
// an earlier build wrote and this one does not is removed.
func TestBuildRemovesOnlyItsOwnFiles(t *testing.T) {
	wd := t.TempDir()
	out := filepath.Join(wd, "out")
	theirs := map[string]string{
		"prometheus/rules/hand-written.yaml": "groups: []\n",
		"prometheus/README.md":               "rules for the lab Prometheus\n",
		"prometheusrules/extra.yaml":         "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\n",
		"alertmanager/templates/slack.tmpl":  "{{ define \"slack.title\" }}x{{ end }}\n",
		"alertmanager/notes.txt":             "# Generated by hand, not by obsctl\n",
		"other/file.txt":                     "not build's folder\n",
	}
	stale := "prometheus/rules/rules-removed.yaml"
	files := map[string]string{stale: "# Generated by obsctl from rules/removed.yaml. Do not edit.\ngroups: []\n"}
	for p, data := range theirs {
		files[p] = data
	}
	for p, data := range files {
		dst := filepath.Join(out, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"build", "-o", "out"}, Deps{Stdout: &stdout, Stderr: &stderr, WorkDir: wd}); code != ExitOK {
		t.Fatalf("build exit %d: %s", code, stderr.String())
	}
	got := readTree(t, out)
	for p, data := range theirs {
		if string(got[p]) != data {
			t.Errorf("%s: build removed or changed a file it did not write (now %q)", p, got[p])
		}
	}
	if _, ok := got[stale]; ok {
		t.Errorf("%s: a file an earlier build wrote survives", stale)
	}
	for p := range readTree(t, buildDefault(t)) {
		if _, ok := got[p]; !ok {
			t.Errorf("build did not write %s", p)
		}
	}
	// A second build leaves the same tree.
	if code := Run(context.Background(), []string{"build", "-o", "out"}, Deps{Stdout: &stdout, Stderr: &stderr, WorkDir: wd}); code != ExitOK {
		t.Fatalf("second build exit %d: %s", code, stderr.String())
	}
	again := readTree(t, out)
	if strings.Join(keys(again), "\n") != strings.Join(keys(got), "\n") {
		t.Errorf("a second build changed the files:\n%v\n%v", keys(got), keys(again))
	}
	// A repo without routing: the alertmanager.yaml of the build before
	// goes, the files of others in its folder stay.
	repo := filepath.Join(wd, "norouting")
	for p, data := range map[string]string{
		"obsctl.yaml":  "apiVersion: obsctl/v1\nname: norouting\ndefaults: false\nrules:\n  paths: [rules]\nalerting:\n  severities: [critical, warning]\n",
		"rules/a.yaml": "groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n",
	} {
		dst := filepath.Join(repo, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if code := Run(context.Background(), []string{"build", "--repo", "norouting", "-o", "out"}, Deps{Stdout: &stdout, Stderr: &stderr, WorkDir: wd}); code != ExitOK {
		t.Fatalf("build of a repo without routing: exit %d: %s", code, stderr.String())
	}
	last := readTree(t, out)
	if _, ok := last["alertmanager/alertmanager.yaml"]; ok {
		t.Error("alertmanager/alertmanager.yaml of the build before survives a build without routing")
	}
	if _, ok := last["prometheus/rules/rules-node.yaml"]; ok {
		t.Error("a rule file of the build before survives")
	}
	for p, data := range theirs {
		if string(last[p]) != data {
			t.Errorf("%s: build removed or changed a file it did not write (now %q)", p, last[p])
		}
	}
}
