// Package manifest reads Kubernetes manifests: YAML streams of one or more
// documents, or JSON, from files, from folders (recursively, in sorted
// order) or from standard input. It is what `obsctl apply -f` and
// `obsctl diff -f` read until the render stage makes the objects itself;
// it sits where render will, just before the apply stage.
//
// Every object keeps the file, line and column it was read from, so that a
// mistake (a document that is not an object, a missing apiVersion, kind or
// metadata.name, the same object twice) is reported where it is. Empty
// documents are skipped, and a `kind: List` is replaced by its items.
//
// YAML is read as YAML 1.2 through yaml.Node trees: `yes` and `on` are
// strings, anchors, aliases and merge keys work, a mapping with the same key
// twice is an error, and values JSON cannot hold (.inf, .nan) are refused.
// Numbers become int64 or float64, as in objects read from the API server.
package manifest
