package report

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/obsctl/obsctl/internal/diag"
)

// writeGitHub writes one GitHub Actions workflow command per finding, which
// the runner turns into an annotation on the file:
//
//	::error file=F,line=L,col=C,endLine=EL,endColumn=EC,title=CHECK::MESSAGE
//
// As in @actions/core, col and endColumn are sent only for a span on one
// line, and properties that are unknown are left out.
func writeGitHub(b *bufio.Writer, in Input, _ Options) error {
	for _, f := range in.Findings {
		var props []string
		if f.File != "" {
			props = append(props, "file="+escapeProperty(f.File))
		}
		if !f.Start.IsZero() {
			props = append(props, fmt.Sprintf("line=%d", f.Start.Line))
			e, hasEnd := spanEnd(f)
			oneLine := !hasEnd || e.Line == f.Start.Line
			if f.Start.Col >= 1 && oneLine {
				props = append(props, fmt.Sprintf("col=%d", f.Start.Col))
			}
			if hasEnd {
				props = append(props, fmt.Sprintf("endLine=%d", e.Line))
				if oneLine && f.Start.Col >= 1 {
					props = append(props, fmt.Sprintf("endColumn=%d", e.Col))
				}
			}
		}
		props = append(props, "title="+escapeProperty(f.Check))
		fmt.Fprintf(b, "::%s %s::%s\n", githubCommand(f.Severity), strings.Join(props, ","), escapeData(withHint(f)))
	}
	return nil
}

// githubCommand maps a severity to the annotation command GitHub has for it.
func githubCommand(s diag.Severity) string {
	switch {
	case s >= diag.Error:
		return "error"
	case s == diag.Warning:
		return "warning"
	}
	return "notice"
}

// escapeData escapes a command's message the way @actions/core does.
var escapeData = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace

// escapeProperty escapes a property value: as data, and also the ':' and ','
// that would end it.
var escapeProperty = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace
