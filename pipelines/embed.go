// Package pipelines embeds the default Fluentd label-decoration pipelines.
package pipelines

import "embed"

// FS holds the default pipelines.
//
//go:embed README.md
var FS embed.FS
