// Package ruletest runs rule unit tests written in the format of
// `promtool test rules`: input series in the expanding notation, alert
// expectations at evaluation times, and PromQL expression expectations.
//
// It sits beside lint and compile in the pipeline: it takes the loaded
// repo's rule files (plain rule files and PrometheusRule objects), compiles
// each as build does, and evaluates the compiled groups with Prometheus'
// own rule manager and PromQL engine over a TSDB in a temporary folder, so
// that what a test proves is what Prometheus will do with what obsctl
// ships.
package ruletest
