// Package obsctl holds the embedded default observability repo's
// obsctl.yaml. The project root is itself an observability repo: running
// obsctl here uses this file with rules/, dashboards/ and pipelines/.
package obsctl

import _ "embed"

// DefaultConfig is the obsctl.yaml of the embedded default repo.
//
//go:embed obsctl.yaml
var DefaultConfig []byte
