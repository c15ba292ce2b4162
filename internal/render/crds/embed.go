// Package crds holds the Prometheus Operator's CustomResourceDefinitions,
// generated from its API module at the pinned version by gen (make
// generate). A test fails when they drift from what gen writes.
package crds

import (
	"embed"
	"io/fs"
)

//go:embed *.yaml
var files embed.FS

// FS returns the CRD files, one CRD each, named group_plural.yaml.
func FS() fs.FS { return files }
