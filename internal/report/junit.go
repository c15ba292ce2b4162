package report

import (
	"bufio"
	"fmt"

	"github.com/obsctl/obsctl/internal/diag"
)

// writeJUnit writes a JUnit XML report, the format CI systems chart as
// tests. Each file with no findings is one passing test case named "lint";
// each finding is a test case of its own, named "CHECK at LINE:COL", in
// the file's class. Warnings and above are failures. Info findings are
// passing test cases that carry the finding in system-out: they are worth
// seeing but must not turn a build red, and skipped would misreport them
// as checks that did not run.
func writeJUnit(b *bufio.Writer, in Input, _ Options) error {
	files, byFile := in.fileGroups()
	tests, failures := 0, 0
	for _, file := range files {
		tests += max(1, len(byFile[file]))
	}
	for _, f := range in.Findings {
		if f.Severity >= diag.Warning {
			failures++
		}
	}

	suite := in.toolName() + " lint"
	b.WriteString(xmlHeader)
	fmt.Fprintf(b, "<testsuites name=\"%s\" tests=\"%d\" failures=\"%d\" errors=\"0\">\n", xmlAttr(suite), tests, failures)
	fmt.Fprintf(b, "  <testsuite name=\"%s\" tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"0\">\n", xmlAttr(suite), tests, failures)
	for _, file := range files {
		fs := byFile[file]
		if len(fs) == 0 {
			fmt.Fprintf(b, "    <testcase classname=\"%s\" name=\"lint\"></testcase>\n", xmlAttr(file))
			continue
		}
		for _, f := range fs {
			fmt.Fprintf(b, "    <testcase classname=\"%s\" name=\"%s\">\n", xmlAttr(file), xmlAttr(junitName(f)))
			if f.Severity >= diag.Warning {
				fmt.Fprintf(b, "      <failure message=\"%s\" type=\"%s\">%s</failure>\n",
					xmlAttr(f.Message), f.Severity, xmlText(junitBody(f)))
			} else {
				fmt.Fprintf(b, "      <system-out>%s</system-out>\n", xmlText(junitBody(f)))
			}
			b.WriteString("    </testcase>\n")
		}
	}
	b.WriteString("  </testsuite>\n")
	b.WriteString("</testsuites>\n")
	return nil
}

// junitName names a finding's test case; a file-level finding has no
// position to add.
func junitName(f diag.Finding) string {
	if f.Start.IsZero() {
		return f.Check
	}
	return fmt.Sprintf("%s at %d:%d", f.Check, f.Start.Line, f.Start.Col)
}

// junitBody is the finding as the text format's first line, and its hint.
func junitBody(f diag.Finding) string {
	s := f.String()
	if h := hint(f); h != "" {
		s += "\nhint: " + h
	}
	return s
}
