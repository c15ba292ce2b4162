// Package pipelines embeds the default Fluentd label-decoration pipelines.
package pipelines

import "embed"

// FS holds the default pipelines (one pipeline per *.yaml file) and the
// README that documents their format.
//
//go:embed README.md *.yaml
var FS embed.FS
