package cli

import (
	"math/rand/v2"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestDiffHunks(t *testing.T) {
	lines := func(s string) []string { return splitLines(s) }
	for _, tc := range []struct {
		name string
		a, b string
		want string
	}{
		{"same", "a\nb\n", "a\nb\n", ""},
		{"all added", "", "a\nb\n", "@@ -0,0 +1,2 @@\n+a\n+b\n"},
		{"all removed", "a\nb\n", "", "@@ -1,2 +0,0 @@\n-a\n-b\n"},
		{
			"one change with context",
			"1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
			"@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n",
		},
		{
			"changes far apart make two hunks",
			"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "one\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\ntwelve\n",
			"@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n@@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n+twelve\n",
		},
		{
			"changes close together share a hunk",
			"1\n2\n3\n4\n5\n6\n7\n", "one\n2\n3\n4\n5\n6\nseven\n",
			"@@ -1,7 +1,7 @@\n-1\n+one\n 2\n 3\n 4\n 5\n 6\n-7\n+seven\n",
		},
		{"insertion", "a\nc\n", "a\nb\nc\n", "@@ -1,2 +1,3 @@\n a\n+b\n c\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(diffHunks(lines(tc.a), lines(tc.b), 3), "")
			if got != tc.want {
				t.Errorf("diff\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestEditScript checks on random texts that the edit script turns a into
// b and is as short as a longest common subsequence allows.
func TestEditScript(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	text := func() []string {
		out := make([]string, r.IntN(12))
		for i := range out {
			out[i] = string(rune('a' + r.IntN(4)))
		}
		return out
	}
	for i := range 2000 {
		a, b := text(), text()
		es := editScript(a, b)
		var ga, gb []string
		edits := 0
		for _, e := range es {
			if e.op != '+' {
				ga = append(ga, e.text)
			}
			if e.op != '-' {
				gb = append(gb, e.text)
			}
			if e.op != ' ' {
				edits++
			}
		}
		if strings.Join(ga, "") != strings.Join(a, "") || strings.Join(gb, "") != strings.Join(b, "") {
			t.Fatalf("case %d: script %v does not turn %q into %q", i, es, a, b)
		}
		if want := len(a) + len(b) - 2*lcs(a, b); edits != want {
			t.Fatalf("case %d: %d edits from %q to %q, want %d", i, edits, a, b, want)
		}
	}
}

func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			if a[i-1] == b[j-1] {
				dp[i][j] = dp[i-1][j-1] + 1
			} else {
				dp[i][j] = max(dp[i-1][j], dp[i][j-1])
			}
		}
	}
	return dp[len(a)][len(b)]
}

// TestEditScriptLarge: a large text with many scattered changes stays
// correct past the edit bound.
func TestEditScriptLarge(t *testing.T) {
	var a, b []string
	for i := range 20000 {
		a = append(a, "line "+string(rune('a'+i%26))+"\n")
		if i%3 == 0 {
			b = append(b, "changed\n")
		} else {
			b = append(b, a[i])
		}
	}
	var ga, gb strings.Builder
	for _, e := range editScript(a, b) {
		if e.op != '+' {
			ga.WriteString(e.text)
		}
		if e.op != '-' {
			gb.WriteString(e.text)
		}
	}
	if ga.String() != strings.Join(a, "") || gb.String() != strings.Join(b, "") {
		t.Fatal("the script does not turn a into b")
	}
}

func secret(data map[string]any, stringData map[string]any, lastApplied string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "s"}}}
	if data != nil {
		u.Object["data"] = data
	}
	if stringData != nil {
		u.Object["stringData"] = stringData
	}
	if lastApplied != "" {
		u.SetAnnotations(map[string]string{annotationLastApplied: lastApplied})
	}
	return u
}

func TestRedactSecrets(t *testing.T) {
	before := secret(map[string]any{"same": "c2FtZQ==", "changed": "b2xk", "gone": "eA=="}, nil, `{"data":{"changed":"b2xk"}}`)
	after := secret(map[string]any{"same": "c2FtZQ==", "changed": "bmV3", "new": "eXk="}, nil, `{"data":{"changed":"bmV3"}}`)
	b, a := redactSecrets(before, after)
	for _, tc := range []struct {
		obj  *unstructured.Unstructured
		path []string
		want string
	}{
		{b, []string{"data", "same"}, "(redacted, 4 bytes)"},
		{a, []string{"data", "same"}, "(redacted, 4 bytes)"},
		{b, []string{"data", "changed"}, "(redacted, 3 bytes)"},
		{a, []string{"data", "changed"}, "(redacted, 3 bytes, changed)"},
		{b, []string{"data", "gone"}, "(redacted, 1 bytes)"},
		{a, []string{"data", "new"}, "(redacted, 2 bytes)"},
		{b, []string{"metadata", "annotations", annotationLastApplied}, "(redacted)"},
		{a, []string{"metadata", "annotations", annotationLastApplied}, "(redacted, changed)"},
	} {
		got, _, _ := unstructured.NestedString(tc.obj.Object, tc.path...)
		if got != tc.want {
			t.Errorf("%v = %q, want %q", tc.path, got, tc.want)
		}
	}

	// Created from a manifest: stringData too, and no "changed".
	_, a = redactSecrets(nil, secret(nil, map[string]any{"password": "hunter2"}, ""))
	if got, _, _ := unstructured.NestedString(a.Object, "stringData", "password"); got != "(redacted, 7 bytes)" {
		t.Errorf("stringData.password = %q", got)
	}

	// Other kinds are left alone.
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "data": map[string]any{"a": "b"}}}
	if _, a := redactSecrets(nil, cm); a.Object["data"].(map[string]any)["a"] != "b" {
		t.Errorf("a ConfigMap was redacted")
	}
}

func TestCleanForDiff(t *testing.T) {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{
			"name": "a", "uid": "u", "resourceVersion": "1", "generation": int64(2), "creationTimestamp": "t",
			"managedFields": []any{map[string]any{"manager": "obsctl"}},
			"annotations":   map[string]any{"obsctl.dev/applied-hash": "h"},
		},
		"status": map[string]any{"x": "y"},
	}}
	got := cleanForDiff(u).Object
	want := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "a"}}
	if s, w := stringify(got), stringify(want); s != w {
		t.Errorf("cleaned\n got %s\nwant %s", s, w)
	}
	if u.GetUID() != "u" {
		t.Errorf("cleanForDiff changed its argument")
	}
}

func stringify(v any) string {
	u := &unstructured.Unstructured{Object: v.(map[string]any)}
	b, _ := u.MarshalJSON()
	return string(b)
}
