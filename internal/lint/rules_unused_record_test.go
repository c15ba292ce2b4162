package lint

import "testing"

// TestUnusedRecordPartial: with only some of the repo's files loaded (rule
// paths given to lint), a recording rule's readers may be in the files
// left out, so nothing is reported; the same repo loaded whole is.
func TestUnusedRecordPartial(t *testing.T) {
	rules := map[string]string{"r.yaml": "groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n"}
	for _, partial := range []bool{false, true} {
		r := repoOf("apiVersion: obsctl/v1\nname: x\n", rules)
		r.Partial = partial
		l, err := New(Options{Enable: []string{"rules/unused-record"}})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, f := range l.Run(r) {
			if f.Check == "rules/unused-record" {
				n++
			}
		}
		if want := map[bool]int{false: 1, true: 0}[partial]; n != want {
			t.Errorf("partial %v: %d findings, want %d", partial, n, want)
		}
	}
}
