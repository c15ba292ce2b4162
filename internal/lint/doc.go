// Package lint runs checks over a loaded observability repo and returns
// findings. It is the lint stage of the pipeline: it reads the source model
// (config and rules) and never prints or touches the network.
//
// Each check lives in a file of its own, has a Name ("area/name"), a Meta
// (default severity, scope, one-line summary) and a Check method. Its doc
// comment is its documentation: `make generate` copies it into
// explain_gen.go for `obsctl lint --explain` and the README.
//
// Checks run at one of three scopes. Rule checks run once per rule, in
// parallel over files, with the rule's expression parsed once and shared.
// File checks run once per rule file. Repo checks run once, after every
// rule has been seen, on an Index built in one pass; cross-rule checks use
// the index and never rescan the rules, so lint time grows linearly.
package lint
