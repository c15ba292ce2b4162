// Package cli is obsctl's command line: it owns the cobra command tree,
// composes the pipeline stages (load, compile, lint, render, apply) for
// each command, and is the one place that maps errors to exit codes:
// 0 ok, 1 operational failure, 2 usage error, 3 findings at or above
// --fail-on, 4 objects not ready within --timeout, 5 the stack's lock is
// held by another run, 6 diff could not run (for diff, 1 means changes
// were found, as kubectl diff users expect).
package cli
