// Package load finds and loads an observability repo: obsctl.yaml, the
// rule files it names, the pipelines and the dashboards, from a folder on
// disk or from the embedded default. It is the load stage's entry point;
// what it returns (config, rule model and load findings) feeds compile and
// lint.
//
// A repo is written by whoever opens a pull request, and is linted where
// CI keeps its secrets. Every file is therefore read through one function
// (tree.load), and only when it is a regular file inside the repo once its
// links are followed, within the size limit: anything else (a link out of
// the repo, a device, a named pipe, a socket, a dangling link) is a
// load/file finding and is never opened.
package load
