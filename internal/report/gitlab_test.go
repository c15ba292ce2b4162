package report

import (
	"encoding/json"
	"testing"

	"github.com/obsctl/obsctl/internal/diag"
)

type gitlabEntry struct {
	Description string `json:"description"`
	CheckName   string `json:"check_name"`
	Fingerprint string `json:"fingerprint"`
	Severity    string `json:"severity"`
	Location    struct {
		Path  string `json:"path"`
		Lines struct {
			Begin int `json:"begin"`
		} `json:"lines"`
	} `json:"location"`
}

func gitlabReport(t *testing.T, in Input) []gitlabEntry {
	t.Helper()
	var out []gitlabEntry
	if err := json.Unmarshal(render(t, "gitlab", in, Options{}), &out); err != nil {
		t.Fatalf("gitlab report is not a JSON array: %v", err)
	}
	return out
}

// TestGitLabFingerprint: GitLab tells new findings from fixed ones by
// fingerprint, so it must not move with the line (a rule pushed down by
// one added above it is the same finding), must differ between findings
// alike in check, file and message, and must never be empty.
func TestGitLabFingerprint(t *testing.T) {
	a := gitlabReport(t, oneFile("f.yaml", "a\nb\nc\nd\n", at("f.yaml", 1, 1, 2), at("f.yaml", 3, 1, 2)))
	b := gitlabReport(t, oneFile("f.yaml", "a\nb\nc\nd\n", at("f.yaml", 2, 1, 2), at("f.yaml", 4, 1, 2)))
	if len(a) != 2 || len(b) != 2 {
		t.Fatalf("issues %v, %v", a, b)
	}
	if a[0].Fingerprint == "" || a[0].Fingerprint == a[1].Fingerprint {
		t.Errorf("fingerprints %q, %q: want set and distinct", a[0].Fingerprint, a[1].Fingerprint)
	}
	if a[0].Fingerprint != b[0].Fingerprint || a[1].Fingerprint != b[1].Fingerprint {
		t.Errorf("fingerprints moved with the lines: %v vs %v", a, b)
	}
	if a[0].Location.Path != "f.yaml" || a[0].Location.Lines.Begin != 1 || b[1].Location.Lines.Begin != 4 || a[0].CheckName != "a/b" {
		t.Errorf("location or check: %+v", a[0])
	}
	other := at("f.yaml", 1, 1, 2)
	other.Message = "other"
	if c := gitlabReport(t, oneFile("f.yaml", "a\n", other)); c[0].Fingerprint == a[0].Fingerprint {
		t.Error("a different message has the same fingerprint")
	}
}

func TestGitLabSeverity(t *testing.T) {
	for sev, want := range map[diag.Severity]string{diag.Info: "info", diag.Warning: "minor", diag.Error: "major", diag.Fatal: "critical"} {
		f := at("f.yaml", 0, 0, 0) // a finding about the whole file is on line 1
		f.Severity = sev
		got := gitlabReport(t, oneFile("f.yaml", "a\n", f))
		if len(got) != 1 || got[0].Severity != want || got[0].Location.Lines.Begin != 1 {
			t.Errorf("%s: %+v, want severity %s on line 1", sev, got, want)
		}
	}
	if got := gitlabReport(t, Input{}); len(got) != 0 {
		t.Errorf("no findings: %v", got)
	}
}
