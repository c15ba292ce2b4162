// Package rules embeds the default alerting and recording rules.
package rules

import "embed"

// FS holds the default rule files.
//
//go:embed *.yaml
var FS embed.FS
