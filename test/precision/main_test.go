package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRuleAt(t *testing.T) {
	lines := strings.Split(`groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0
      - record: "job:up:sum"
        expr: sum by (job) (up)
  - name: empty`, "\n")
	for _, c := range []struct {
		line int
		want string
	}{
		{1, "file: m"},
		{2, "group g"},
		{5, "alert A"},
		{7, "record job:up:sum"},
		{8, "group empty"},
	} {
		if got := ruleAt(lines, c.line, "m"); got != c.want {
			t.Errorf("line %d: %q, want %q", c.line, got, c.want)
		}
	}
	if got := ruleAt(nil, 0, "dashboard 12 refers to x in panel 3"); got != "file: dashboard N refers to x in panel N" {
		t.Errorf("a file's key does not hang on numbers: %q", got)
	}
}

func TestSummarize(t *testing.T) {
	fds := []finding{
		{Collection: "c", File: "rules/a.yaml", Rule: "alert A", Check: "rules/x", Severity: "warning"},
		{Collection: "c", File: "rules/a.yaml", Rule: "alert B", Check: "rules/x", Severity: "error"},
		{Collection: "c", File: "rules/a.yaml", Rule: "alert C", Check: "rules/y", Severity: "info"},
	}
	dir := t.TempDir()
	write := func(s string) map[string]*judgement {
		p := filepath.Join(dir, "j.tsv")
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		js, err := readJudgements(p)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	row := func(rule, check, verdict string) string {
		return "c\trules/a.yaml\t" + rule + "\t" + check + "\t" + verdict + "\treason\n"
	}
	var out bytes.Buffer
	all := row("alert A", "rules/x", "true") + row("alert B", "rules/x", "true") + row("alert C", "rules/y", "true")
	if code := summarize(&out, fds, 1, write("# comment\n"+all), false, false); code != 0 {
		t.Fatalf("every finding judged true: exit %d\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "2 of 2 judged true (100.0%)") {
		t.Errorf("precision counts warning and above only:\n%s", out.String())
	}
	out.Reset()
	if code := summarize(&out, fds, 1, write(row("alert A", "rules/x", "true")+row("alert B", "rules/x", "false")), false, false); code != 1 {
		t.Errorf("a false and an unjudged finding: exit %d, want 1", code)
	}
	if !strings.Contains(out.String(), "1 findings not judged, 1 judged false") || !strings.Contains(out.String(), "not judged: c\trules/a.yaml\talert C") {
		t.Errorf("the failure names what is missing:\n%s", out.String())
	}
	for _, bad := range []string{"c\tf\tr\tch\tmaybe\twhy\n", "c\tf\tr\tch\ttrue\t\n", row("a", "b", "true") + row("a", "b", "false")} {
		p := filepath.Join(dir, "bad.tsv")
		os.WriteFile(p, []byte(bad), 0o644)
		if _, err := readJudgements(p); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
