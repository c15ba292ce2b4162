// Package slos embeds the default service level objectives.
package slos

import "embed"

// FS holds the default SLO specs and their hand-written tests.
//
//go:embed *.yaml
var FS embed.FS
