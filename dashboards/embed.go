// Package dashboards embeds the default Grafana dashboards and datasources.
package dashboards

import "embed"

// FS holds the default dashboards.
//
//go:embed README.md
var FS embed.FS
