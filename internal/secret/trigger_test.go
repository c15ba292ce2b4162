package secret

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// naiveKinds is what triggerKinds must return: the kinds of the triggers
// src contains, one substring search each.
func naiveKinds(src []byte) int {
	kinds := 0
	for _, t := range triggers {
		if bytes.Contains(src, t.s) {
			kinds |= t.bit
		}
	}
	return kinds
}

func TestTriggerKinds(t *testing.T) {
	if len(triggers) > 64 {
		t.Fatalf("%d triggers: byFirst holds 64", len(triggers))
	}
	for _, tr := range triggers {
		if len(tr.s) < 2 {
			t.Fatalf("trigger %q: bySecond needs two bytes", tr.s)
		}
	}
	srcs := []string{"", "x", "g", "gl", "earer", "Bearer xoxb- AKIA ghp_ eyJ gl _live_ :AA glsa_ eyJrIjoi", "hooks.slack.com/ ://"}
	for _, tr := range triggers {
		srcs = append(srcs, "  "+string(tr.s), string(tr.s[:len(tr.s)-1]), string(tr.s)+string(tr.s))
	}
	// Every real file under testdata, the repo's own content among them.
	matches, _ := filepath.Glob("testdata/*")
	for _, m := range matches {
		if b, err := os.ReadFile(m); err == nil {
			srcs = append(srcs, string(b))
		}
	}
	for _, s := range srcs {
		if got, want := triggerKinds([]byte(s)), naiveKinds([]byte(s)); got != want {
			t.Errorf("triggerKinds(%.40q) = %b, want %b", s, got, want)
		}
	}
}

// BenchmarkTriggerKinds reads a rule file of the lint benchmark's kind.
func BenchmarkTriggerKinds(b *testing.B) {
	var src []byte
	for range 40 {
		src = append(src, `  - alert: PricingApiHighErrorRate
    expr: |-
      namespace_job:http_requests_errors:rate5m{service="pricing-api"}
        / on (namespace, job)
      namespace_job:http_requests:rate5m{service="pricing-api"} > 0.02
    for: 15m
    labels:
      severity: warning
    annotations:
      summary: '{{ $labels.job }} answers more than 2% of requests with errors'
      runbook_url: https://runbooks.example.com/catalog/pricing#pricingapihigherrorrate
`...)
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		triggerKinds(src)
	}
}

// BenchmarkScan scans the rule files of a lint benchmark corpus
// (LINTBENCH_CORPUS, from `go run ./test/bench/lintbench -keep`).
func BenchmarkScan(b *testing.B) {
	dir := os.Getenv("LINTBENCH_CORPUS")
	if dir == "" {
		b.Skip("LINTBENCH_CORPUS is not set")
	}
	var files [][]byte
	n := 0
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".yaml" {
			src, err := os.ReadFile(p)
			files = append(files, src)
			n += len(src)
			return err
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(n))
	for b.Loop() {
		for _, f := range files {
			Scan(f)
		}
	}
}
