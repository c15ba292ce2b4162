// Package cli is obsctl's command line: it owns the cobra command tree,
// composes the pipeline stages (load, compile, lint, render, apply) for
// each command, and is the one place that maps errors to exit codes:
// 0 ok, 1 operational failure, 2 usage error, 3 findings at or above
// --fail-on.
package cli
