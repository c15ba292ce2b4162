package report

import (
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/diag"
)

// TestSecretsMaskedEverywhere checks that a secret value on a line that a
// finding of any check quotes, or in the message of any finding, is
// printed in no format: the excerpt shows it masked, the message too.
func TestSecretsMaskedEverywhere(t *testing.T) {
	const (
		token   = "xoxb-112233445566-S0bsctlFakeS0bsctlFake00"
		literal = "l1teral-0bsctl-routing" // only a Secret finding says so
	)
	src := "receivers:\n" +
		"  - {name: sl, slack: \"" + token + "\", chanel: x}\n" +
		"  - {name: pd, pagerduty: {routingKey: " + literal + "}}\n"
	schema := diag.Finding{Check: "config/schema", Severity: diag.Error,
		Span:    diag.Span{File: "obsctl.yaml", Start: diag.Pos{Line: 2, Col: 24}, End: diag.Pos{Line: 2, Col: 68}},
		Message: "receivers[0].slack must be a mapping, not \"" + token + "\"", Hint: "write {webhookURL: " + token + "}"}
	unknown := diag.Finding{Check: "config/schema", Severity: diag.Error,
		Span:    diag.Span{File: "obsctl.yaml", Start: diag.Pos{Line: 2, Col: 69}, End: diag.Pos{Line: 2, Col: 75}},
		Message: "unknown key \"chanel\""}
	ref := diag.Finding{Check: "config/secret-ref", Severity: diag.Error, Secret: true,
		Span:    diag.Span{File: "obsctl.yaml", Start: diag.Pos{Line: 3, Col: 41}, End: diag.Pos{Line: 3, Col: 41 + len(literal)}},
		Message: "secret written as a literal value"}
	unused := diag.Finding{Check: "alerting/unused-receiver", Severity: diag.Warning,
		Span:    diag.Span{File: "obsctl.yaml", Start: diag.Pos{Line: 3, Col: 12}, End: diag.Pos{Line: 3, Col: 14}},
		Message: "receiver \"pd\" (routing key " + literal + ") is not used"}
	in := oneFile("obsctl.yaml", src, schema, unknown, ref, unused)
	for _, format := range Formats() {
		out := string(render(t, format, in, Options{}))
		for _, s := range []string{token, literal, "S0bsctlFake"} {
			if strings.Contains(out, s) {
				t.Errorf("%s: output holds %q:\n%s", format, s, out)
			}
		}
		if !strings.Contains(out, "unknown key") || !strings.Contains(out, "must be a mapping, not") {
			t.Errorf("%s: a message was dropped instead of masked", format)
		}
	}
	// The text report still quotes the lines, the secrets masked, and the
	// carets line up.
	out := string(render(t, "text", in, Options{}))
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "obsctl.yaml:2:69:") {
			quoted, marker := lines[i+1], lines[i+2]
			if !strings.Contains(quoted, "chanel: x}") || !strings.Contains(quoted, "****") {
				t.Errorf("excerpt %q: want the line with the token masked", quoted)
			}
			if at := strings.IndexByte(marker, '^'); at < 0 || !strings.HasPrefix(quoted[at:], "chanel") {
				t.Errorf("caret does not line up:\n%s\n%s", quoted, marker)
			}
		}
	}
}
