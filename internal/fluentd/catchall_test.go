package fluentd

import (
	"strings"
	"testing"
)

// A repo whose pipelines all have a match gets obsctl's catch-all after
// them, unless it turned it off; one with a catch-all of its own, or no
// pipelines, is left as it is.
func TestRouted(t *testing.T) {
	shop := &Pipeline{Name: "shop", Match: Match{Namespaces: []Str{{Value: "shop"}}}, Output: Output{Index: "logs-shop"}}
	apps := &Pipeline{Name: "apps", Output: Output{Index: "logs-apps"}}
	names := func(ps []*Pipeline) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return strings.Join(out, ",")
	}
	ps := []*Pipeline{shop}
	for _, tc := range []struct {
		ps       []*Pipeline
		catchAll bool
		want     string
	}{
		{ps, true, "shop," + UnmatchedName},
		{ps, false, "shop"},
		{[]*Pipeline{shop, apps}, true, "shop,apps"},
		{nil, true, ""},
	} {
		if got := names(Routed(tc.ps, tc.catchAll)); got != tc.want {
			t.Errorf("Routed(%s, %v) = %s, want %s", names(tc.ps), tc.catchAll, got, tc.want)
		}
	}
	if len(ps) != 1 {
		t.Error("Routed changed its argument")
	}

	conf, err := CompileFluentd(Routed(ps, true), testOutput)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`else "obsctl-unmatched" end`, "logstash_prefix 'logs-unmatched'"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("fluent.conf lacks %q", want)
		}
	}
	if strings.Contains(string(conf), "_unrouted") {
		t.Error("with obsctl's catch-all, nothing is unrouted")
	}
}

func TestTakesAll(t *testing.T) {
	for _, tc := range []struct {
		m    Match
		ns   string
		want bool
	}{
		{Match{}, "kube-system", true},
		{Match{Namespaces: []Str{{Value: "a"}}}, "a", true},
		{Match{Namespaces: []Str{{Value: "a"}}}, "b", false},
		{Match{ExcludeNamespaces: []Str{{Value: "a"}}}, "a", false},
		{Match{Namespaces: []Str{{Value: "a"}}, Containers: []Str{{Value: "web"}}}, "a", false},
		{Match{PodLabels: Pairs{{Key: "team", Value: "x"}}}, "a", false},
	} {
		if got := (&Pipeline{Match: tc.m}).TakesAll(tc.ns); got != tc.want {
			t.Errorf("%+v takes all of %s: %v, want %v", tc.m, tc.ns, got, tc.want)
		}
	}
}
