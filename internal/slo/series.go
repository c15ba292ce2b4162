package slo

import (
	"fmt"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
)

// inputs are the series the generated tests write: bad events, good
// events and all events, as the SLI's selectors see them. A series is
// "" when the SLI needs none of that kind (total is the sum of good and
// bad when they are series of one metric).
type inputs struct {
	bad, good, total string
}

// synthesize finds series the SLI's selectors select as it means them: a
// bad event's series that bad (or not good) and total select, a good
// event's that total selects and bad does not.
func (s *SLO) synthesize() (inputs, error) {
	if l := s.SLI.Latency; l != nil {
		ls, ok := satisfy(l.Histogram.VS.LabelMatchers, nil)
		if !ok {
			return inputs{}, fmt.Errorf("no series matches %s", l.Histogram.Text)
		}
		name := strings.TrimSuffix(l.Histogram.VS.Name, "_bucket")
		b := labels.NewBuilder(ls)
		good := b.Set("le", formatLe(l.Threshold)).Labels()
		return inputs{good: series(name+"_bucket", good), total: series(name+"_count", ls)}, nil
	}
	r := s.SLI.Ratio
	sel, kind := r.Bad, "bad"
	if sel == nil {
		sel, kind = r.Good, "good"
	}
	if sel.VS.Name != r.Total.VS.Name {
		// Two metrics: each is written whole.
		a, ok := satisfy(sel.VS.LabelMatchers, nil)
		b, ok2 := satisfy(r.Total.VS.LabelMatchers, nil)
		if !ok || !ok2 {
			return inputs{}, fmt.Errorf("no series matches %s or %s", sel.Text, r.Total.Text)
		}
		in := inputs{total: series(r.Total.VS.Name, b)}
		if kind == "bad" {
			in.bad = series(sel.VS.Name, a)
		} else {
			in.good = series(sel.VS.Name, a)
		}
		return in, nil
	}
	// One metric: a series both select, and one total selects and the
	// other does not; total is their sum.
	both := append(slices.Clone(sel.VS.LabelMatchers), r.Total.VS.LabelMatchers...)
	in, ok := satisfy(both, nil)
	if !ok {
		return inputs{}, fmt.Errorf("no series is selected by both %s and %s", sel.Text, r.Total.Text)
	}
	out, ok := satisfy(r.Total.VS.LabelMatchers, sel.VS.LabelMatchers)
	if !ok {
		return inputs{}, fmt.Errorf("every series %s selects is also selected by %s", r.Total.Text, sel.Text)
	}
	if kind == "bad" {
		return inputs{bad: series(sel.VS.Name, in), good: series(sel.VS.Name, out)}, nil
	}
	return inputs{good: series(sel.VS.Name, in), bad: series(sel.VS.Name, out)}, nil
}

// satisfy returns labels that every matcher of ms matches and, when
// avoid is not nil, that at least one of avoid does not.
func satisfy(ms, avoid []*labels.Matcher) (labels.Labels, bool) {
	names := map[string]bool{}
	for _, m := range append(slices.Clone(ms), avoid...) {
		names[m.Name] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	pick := func(name string, flip bool) (string, bool) {
		var on, off []*labels.Matcher
		for _, m := range ms {
			if m.Name == name {
				on = append(on, m)
			}
		}
		for _, m := range avoid {
			if m.Name == name {
				off = append(off, m)
			}
		}
		for _, c := range candidates(append(slices.Clone(on), off...)) {
			if !all(on, c) {
				continue
			}
			if flip && all(off, c) {
				continue
			}
			return c, true
		}
		return "", false
	}
	var flipped string
	if avoid != nil {
		for _, n := range sorted {
			if _, ok := pick(n, true); ok {
				flipped = n
				break
			}
		}
		if flipped == "" {
			return labels.EmptyLabels(), false
		}
	}
	var b labels.ScratchBuilder
	for _, n := range sorted {
		v, ok := pick(n, n == flipped)
		if !ok {
			return labels.EmptyLabels(), false
		}
		if v != "" {
			b.Add(n, v)
		}
	}
	b.Sort()
	return b.Labels(), true
}

func all(ms []*labels.Matcher, v string) bool {
	for _, m := range ms {
		if !m.Matches(v) {
			return false
		}
	}
	return true
}

// candidates are the values tried for a label: those its matchers name,
// strings their regexes match, and a few others.
func candidates(ms []*labels.Matcher) []string {
	var out []string
	for _, m := range ms {
		switch m.Type {
		case labels.MatchEqual, labels.MatchNotEqual:
			out = append(out, m.Value)
		case labels.MatchRegexp, labels.MatchNotRegexp:
			if re, err := syntax.Parse(m.Value, syntax.Perl); err == nil {
				out = append(out, sample(re.Simplify(), false), sample(re.Simplify(), true))
			}
		}
	}
	return append(out, "obsctl", "x", "0", "")
}

// sample returns a string re matches: the first (or last) alternative and
// character of each choice.
func sample(re *syntax.Regexp, last bool) string {
	var b strings.Builder
	var walk func(*syntax.Regexp)
	walk = func(re *syntax.Regexp) {
		switch re.Op {
		case syntax.OpLiteral:
			b.WriteString(string(re.Rune))
		case syntax.OpCharClass:
			if len(re.Rune) > 0 {
				r := re.Rune[0]
				if last {
					r = re.Rune[len(re.Rune)-1]
				}
				b.WriteRune(r)
			}
		case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			b.WriteByte('x')
		case syntax.OpCapture:
			walk(re.Sub[0])
		case syntax.OpConcat:
			for _, s := range re.Sub {
				walk(s)
			}
		case syntax.OpAlternate:
			if last {
				walk(re.Sub[len(re.Sub)-1])
			} else {
				walk(re.Sub[0])
			}
		case syntax.OpPlus:
			walk(re.Sub[0])
		case syntax.OpRepeat:
			for range re.Min {
				walk(re.Sub[0])
			}
		}
	}
	walk(re)
	return b.String()
}

// series writes a series selector of exactly these labels.
func series(name string, ls labels.Labels) string {
	var parts []string
	ls.Range(func(l labels.Label) { parts = append(parts, l.Name+"="+strconv.Quote(l.Value)) })
	return name + "{" + strings.Join(parts, ", ") + "}"
}
