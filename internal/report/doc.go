// Package report is the report stage of obsctl lint: it turns the findings
// that the load and lint stages produced into output for a person or a
// machine. Checks never print; everything the user or CI sees about a
// finding is written here.
//
// The formats are text (file:line:col: severity: message [check], with the
// source line and a caret), JSON, GitHub Actions workflow commands, SARIF
// 2.1.0 for GitHub code scanning, JUnit XML, checkstyle XML and GitLab code
// quality JSON. Every format
// keeps the order of its input (findings sorted by diag.Sort, files
// sorted), and none carries a timestamp, so a report is byte-stable.
//
// The text format is for a person and stays readable whatever the repo
// holds: it quotes a window of a source line around the finding (a
// minified file is one line of megabytes), prints at most 50 findings of
// one check in one file and counts the rest, and shows control
// characters instead of sending them to the terminal. The machine formats
// keep every finding and are streamed, so their memory does not grow
// with the report. In every format a message is cut to 1,024 characters.
//
// A finding marked Secret is reported by its location and message alone in
// every format: no source line, caret or hint, since the hint, unlike the
// message, is not promised never to quote the secret.
package report
