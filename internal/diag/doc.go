// Package diag defines the one finding type that every stage of obsctl
// reports: loaders turn parse errors into findings, lint checks produce
// them, and the report package renders them. A finding names its check
// (area/name), carries a severity, a source span and a message with an
// optional hint.
package diag
