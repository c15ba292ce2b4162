// Package routetest runs routing tests: label sets of alerts and the
// receivers Alertmanager sends each to, in order (`continue` included),
// and whether other firing alerts inhibit it.
//
// It sits beside ruletest in the pipeline: it takes obsctl.yaml's
// alerting section, compiles it with amroute as build does, and matches
// with Alertmanager's own route tree (dispatch) and inhibition rules
// (inhibit), so that what a case proves is what Alertmanager will do with
// what obsctl ships. Its cases live in *_test.yaml files under the rule
// paths, beside the rule unit tests, told apart by their top-level
// route_tests: key; their outcomes are ruletest checks of kind route, so
// that `obsctl test` reports both kinds in one run.
package routetest
