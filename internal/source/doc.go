// Package source holds the files obsctl reads and maps YAML nodes back to
// file positions. It is the first stage of the pipeline: every loader reads
// through a File so that each element it builds keeps its line and column,
// including positions inside a scalar (a PromQL error in the middle of a
// block-scalar expr is reported at its own line and column).
package source
