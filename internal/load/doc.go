// Package load finds and loads an observability repo: obsctl.yaml and the
// rule files it names, from a folder on disk or from the embedded default.
// It is the load stage's entry point; what it returns (config, rule model
// and load findings) feeds compile and lint.
package load
