package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// positioned matches the first line of a text finding: file:line:col.
var positioned = regexp.MustCompile(`(?m)^[^\s:][^:]*:\d+:\d+: (error|fatal): `)

// TestCorpusExitCodes runs `obsctl lint` on every bad input of the lint
// corpus, as CI would: each must exit 3 with a positioned error, and
// never crash. Rule files are linted in a repo whose obsctl.yaml is the
// lint corpus's own (../lint/testdata/default.obsctl.yaml: severities
// declared, a runbook required), as lint's TestCorpus lints them; configs
// as the obsctl.yaml of a repo of their own.
func TestCorpusExitCodes(t *testing.T) {
	files, err := filepath.Glob("../lint/testdata/corpus/*.bad*.yaml")
	if err != nil || len(files) < 50 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	defaultCfg, err := os.ReadFile("../lint/testdata/default.obsctl.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			wd := t.TempDir()
			args := []string{"lint", "--color", "never"}
			if strings.HasSuffix(name, ".obsctl.yaml") {
				if err := os.WriteFile(filepath.Join(wd, "obsctl.yaml"), data, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(filepath.Join(wd, "rules"), 0o755); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := os.WriteFile(filepath.Join(wd, "obsctl.yaml"), defaultCfg, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(wd, name), data, 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, name)
			}
			var stdout, stderr bytes.Buffer
			code := Run(context.Background(), args, Deps{Stdout: &stdout, Stderr: &stderr, WorkDir: wd})
			if code != ExitFindings {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitFindings, stdout.String(), stderr.String())
			}
			if !positioned.Match(stdout.Bytes()) {
				t.Errorf("no positioned error or fatal finding:\n%s", stdout.String())
			}
		})
	}
}
