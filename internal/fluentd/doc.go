// Package fluentd loads the Fluentd label-decoration pipelines of an
// observability repo (pipelines/<name>.yaml) and compiles them into one
// fluent.conf.
//
// Load is part of the load stage: each file is read through source.File and
// yaml.Node and decoded strictly, so that an unknown or misspelt key, a wrong
// type, an index Elasticsearch would refuse, a record field that collides
// with another, or a regexp that does not compile is a finding at its own
// line and column. Checks across files (duplicate names, a second
// catch-all, selectors that can take the same logs) run there too.
//
// CompileFluentd is part of the compile stage: it turns the pipelines, in
// routing order, into a byte-stable configuration for the
// fluentd-kubernetes-daemonset image. Every value that comes from a pipeline
// file reaches that configuration either validated against a strict
// character set or quoted so that neither the Fluentd config parser nor the
// Ruby that record_transformer evaluates can read it as anything but text.
package fluentd
