package report

import (
	"bufio"
	"fmt"

	"github.com/obsctl/obsctl/internal/diag"
)

// writeCheckstyle writes checkstyle XML, which many CI and review tools
// import. Every checked file has a <file> element, empty when clean, so a
// consumer can tell a clean file from one that was not checked. A finding
// about a whole file is put on line 1 with no column, as checkstyle's own
// file-level checks do.
func writeCheckstyle(b *bufio.Writer, in Input, _ Options) error {
	files, byFile := in.fileGroups()
	b.WriteString(xmlHeader)
	b.WriteString("<checkstyle version=\"8.0\">\n")
	for _, file := range files {
		fs := byFile[file]
		if len(fs) == 0 {
			fmt.Fprintf(b, "  <file name=\"%s\"></file>\n", xmlAttr(file))
			continue
		}
		fmt.Fprintf(b, "  <file name=\"%s\">\n", xmlAttr(file))
		for _, f := range fs {
			fmt.Fprintf(b, "    <error line=\"%d\"", max(f.Start.Line, 1))
			if f.Start.Col >= 1 {
				fmt.Fprintf(b, " column=\"%d\"", f.Start.Col)
			}
			fmt.Fprintf(b, " severity=\"%s\" message=\"%s\" source=\"%s\"/>\n",
				checkstyleSeverity(f.Severity), xmlAttr(withHint(f)), xmlAttr(in.toolName()+"."+f.Check))
		}
		b.WriteString("  </file>\n")
	}
	b.WriteString("</checkstyle>\n")
	return nil
}

// checkstyleSeverity maps a severity to checkstyle's error, warning or info.
func checkstyleSeverity(s diag.Severity) string {
	switch {
	case s >= diag.Error:
		return "error"
	case s == diag.Warning:
		return "warning"
	}
	return "info"
}
