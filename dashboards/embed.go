// Package dashboards embeds the default Grafana dashboards and datasources.
package dashboards

import "embed"

// FS holds the default dashboards: README.md and one Grafana dashboard per *.json file.
//
//go:embed README.md *.json
var FS embed.FS
