package ruletest

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
)

// Every kind of node, and the parts the engine writes to.
var cloneCases = []string{
	`up`,
	`up{job="a", instance=~"b.*"} offset 5m`,
	`rate(http_requests_total[5m] @ start())`,
	`sum by (job, instance) (rate(x[5m])) / on (job) group_left (team) y`,
	`count_values without (instance) ("version", build_info)`,
	`topk(3, -x) > bool 1`,
	`max_over_time((x - 1)[10m:1m] offset 1m @ end())`,
	`x[5m:] @ 100`,
	`absent(nothing{job="a"}) or vector(0)`,
	`label_replace(up, "a", "$1", "b", "(.*)")`,
	`histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))`,
	`time() - x > 3600 and (x unless y)`,
	`"a string"`,
}

// A copy is the tree it copies; the engine's writes into it do not reach
// the tree kept, which then stays what a fresh parse gives.
func TestCloneExpr(t *testing.T) {
	for _, q := range cloneCases {
		kept, err := promqlParser.ParseExpr(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		c, ok := cloneExpr(kept)
		if !ok {
			t.Errorf("%s: a node the copy does not know", q)
			continue
		}
		if dump(c) != dump(kept) {
			t.Errorf("%s: copy differs:\n%#v\n%#v", q, c, kept)
		}
		now := time.Unix(1000, 0)
		if _, err := promql.PreprocessExpr(c, now, now, 0); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		fresh, _ := promqlParser.ParseExpr(q)
		if dump(kept) != dump(fresh) {
			t.Errorf("%s: the kept tree changed when its copy was preprocessed", q)
		}
	}
}

// The cache gives each caller a tree of its own (go test -race).
func TestCachingParserConcurrent(t *testing.T) {
	p := newCachingParser(promqlParser)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, q := range cloneCases {
				e, err := p.ParseExpr(q)
				if err != nil {
					t.Error(err)
					return
				}
				now := time.Unix(1000, 0)
				if _, err := promql.PreprocessExpr(e, now, now, 0); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if _, err := p.ParseExpr(`up{`); err == nil {
		t.Error("a parse error is not an error")
	}
}

// dump writes out every field of a tree, pointers followed; a label
// matcher as written (its compiled regular expression is not comparable).
func dump(v any) string {
	var b strings.Builder
	var walk func(reflect.Value)
	walk = func(v reflect.Value) {
		if m, ok := v.Interface().(*labels.Matcher); ok {
			b.WriteString(m.String())
			return
		}
		switch v.Kind() {
		case reflect.Pointer, reflect.Interface:
			if v.IsNil() {
				b.WriteString("nil")
				return
			}
			walk(v.Elem())
		case reflect.Struct:
			b.WriteString(v.Type().String() + "{")
			for i := range v.NumField() {
				if f := v.Type().Field(i); f.IsExported() {
					b.WriteString(f.Name + ":")
					walk(v.Field(i))
					b.WriteString(" ")
				}
			}
			b.WriteString("}")
		case reflect.Slice:
			b.WriteString("[")
			for i := range v.Len() {
				walk(v.Index(i))
				b.WriteString(" ")
			}
			b.WriteString("]")
		default:
			if v.CanInterface() {
				fmt.Fprintf(&b, "%v", v.Interface())
			}
		}
	}
	walk(reflect.ValueOf(v))
	return b.String()
}
