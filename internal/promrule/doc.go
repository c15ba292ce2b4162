// Package promrule loads Prometheus rules, from plain rule files and from
// PrometheusRule objects, into a model in which every group, rule, label and
// annotation keeps its span (load stage), and compiles that model into
// Prometheus rule files and PrometheusRule objects (compile stage).
//
// The loader walks yaml.Node trees by hand rather than by reflection: it
// runs once per rule in every lint, and on large repos its cost is the
// floor every other check is measured against.
package promrule
