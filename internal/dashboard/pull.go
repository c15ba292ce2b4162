package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Normalize turns a dashboard as Grafana's API gives it (server) into the
// repo's file, so that the diff in git is only what was changed in
// Grafana. Grafana's own fields go: the numeric id, version and
// iteration. With the repo's file (repo, nil when there is none): keys
// keep its order (new ones after, in Grafana's); a value Grafana holds
// resolved is written back as the file wrote it (a ${DS_...} placeholder
// of its inputs, a datasource given as the placeholder alone), and so is
// a number written otherwise (1.50) and its schemaVersion (Grafana
// migrates a dashboard to its own when it loads it, which is no change of
// the repo's); __inputs and __requires come back from the file; and the
// file's indentation is kept. uidOf resolves the file's inputs as
// Provision does.
func Normalize(server, repo []byte, uidOf func(pluginID string) (string, bool)) ([]byte, error) {
	sv, err := decode(server)
	if err != nil {
		return nil, fmt.Errorf("the dashboard Grafana gave: %w", err)
	}
	so, ok := sv.(*object)
	if !ok {
		return nil, errors.New("the dashboard Grafana gave is not a JSON object")
	}
	so.del("id", "version", "iteration")
	indent, final := "  ", "\n"
	if repo != nil {
		rv, err := decode(repo)
		if err != nil {
			return nil, fmt.Errorf("the repo's file: %w", err)
		}
		if ro, ok := rv.(*object); ok {
			r, _ := newResolver(inputsOf(repo, ro), uidOf)
			m := &merger{r}
			for _, k := range []string{"__inputs", "__requires", "__elements"} {
				if v := ro.get(k); v != nil && so.get(k) == nil {
					so.fields = append(so.fields, field{k, v})
				}
			}
			if v := ro.get("schemaVersion"); v != nil {
				so.set("schemaVersion", v)
			}
			sv = m.merge("", so, ro)
		}
		indent, final = indentOf(repo), trailing(repo)
	}
	var b bytes.Buffer
	if err := encodeIndent(&b, sv, "", indent); err != nil {
		return nil, err
	}
	b.WriteString(final)
	return b.Bytes(), nil
}

func (o *object) set(k string, v any) {
	for i := range o.fields {
		if o.fields[i].key == k {
			o.fields[i].value = v
			return
		}
	}
	o.fields = append(o.fields, field{k, v})
}

// merger knows what the repo file's placeholders stand for once
// provisioned.
type merger struct{ *resolver }

// merge returns the server's value s with the repo's r where they mean the
// same, in the repo's order.
func (m *merger) merge(key string, s, r any) any {
	switch s := s.(type) {
	case *object:
		if ro, ok := r.(*object); ok {
			var out []field
			used := map[string]bool{}
			for _, rf := range ro.fields {
				for _, sf := range s.fields {
					if sf.key == rf.key && !used[sf.key] {
						out = append(out, field{sf.key, m.merge(sf.key, sf.value, rf.value)})
						used[sf.key] = true
					}
				}
			}
			for _, sf := range s.fields {
				if !used[sf.key] {
					out = append(out, sf)
					used[sf.key] = true
				}
			}
			s.fields = out
			return s
		}
		// {"type": ..., "uid": ...} that the file wrote as "${DS_X}".
		if rs, ok := r.(string); ok && key == "datasource" {
			if n, ok := m.name(rs); ok && m.types[n] != "" {
				if uid, _ := s.get("uid").(string); uid == m.values[n] {
					return rs
				}
			}
		}
		return s
	case *array:
		if ra, ok := r.(*array); ok {
			for i := range s.items {
				if i < len(ra.items) {
					s.items[i] = m.merge(key, s.items[i], ra.items[i])
				}
			}
		}
		return s
	case string:
		if rs, ok := r.(string); ok && rs != s && m.expand(rs) == s {
			return rs
		}
		return s
	case json.Number:
		if rn, ok := r.(json.Number); ok && rn != s && sameNumber(rn, s) {
			return rn
		}
		return s
	}
	return s
}

func sameNumber(a, b json.Number) bool {
	x, ok1 := new(big.Float).SetString(string(a))
	y, ok2 := new(big.Float).SetString(string(b))
	return ok1 && ok2 && x.Cmp(y) == 0
}

// indentOf returns the unit the file indents by: the leading blanks of
// its first indented line, two spaces when none is.
func indentOf(src []byte) string {
	for _, line := range strings.Split(string(src), "\n") {
		if t := strings.TrimLeft(line, " \t"); t != line && t != "" {
			return line[:len(line)-len(t)]
		}
	}
	return "  "
}

// trailing returns the file's final line break, if it has one.
func trailing(src []byte) string {
	switch {
	case bytes.HasSuffix(src, []byte("\r\n")):
		return "\r\n"
	case bytes.HasSuffix(src, []byte("\n")):
		return "\n"
	}
	return ""
}
