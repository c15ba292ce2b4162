package fluentd

import (
	"fmt"
	"strings"
)

// maxIndexBytes is Elasticsearch's limit on an index name's length.
const maxIndexBytes = 255

// indexProblem returns why Elasticsearch (or the Elasticsearch output
// plugin) would refuse the index name, with a hint, or "" when it is
// fine. When dated, the name is a prefix to which the plugin appends
// "-YYYY.MM.DD", and the limit applies to the whole.
func indexProblem(name string, dated bool) (msg, hint string) {
	switch {
	case name == "":
		return "index name is empty", "name the index, such as logs-<pipeline>"
	case name == "." || name == "..":
		return fmt.Sprintf("index name %q is not allowed by Elasticsearch", name), "name the index, such as logs-<pipeline>"
	case hasControl(name):
		return "index name contains a line break or control character", ""
	case strings.HasPrefix(name, "."):
		return fmt.Sprintf("index %q starts with '.': Elasticsearch keeps dot-prefixed names for hidden and system indices (.kibana, .security, ...) and deprecates creating them, and the logs-* index pattern would not read it", name),
			"remove the leading '.'"
	case strings.ContainsAny(name[:1], "-_+"):
		return fmt.Sprintf("index %q starts with %q, which Elasticsearch refuses", name, name[:1]), "start the name with a letter or digit"
	case strings.ToLower(name) != name:
		return fmt.Sprintf("index %q has upper-case letters; Elasticsearch index names are lowercase only", name),
			fmt.Sprintf("use %q", strings.ToLower(name))
	}
	if i := strings.IndexAny(name, `\/*?"<>|, #`); i >= 0 {
		c := fmt.Sprintf("%q", name[i:i+1])
		if name[i] == ' ' {
			c = "a space"
		}
		return fmt.Sprintf("index %q contains %s, which Elasticsearch refuses in index names", name, c),
			`index names must not contain \ / * ? " < > | , # or spaces`
	}
	if strings.Contains(name, ":") {
		return fmt.Sprintf("index %q contains ':', which Elasticsearch refuses (it separates a remote cluster's name in index expressions)", name), ""
	}
	for _, p := range []string{"${", "%"} {
		if strings.Contains(name, p) {
			return fmt.Sprintf("index %q contains %q, which the Elasticsearch output plugin would read as a placeholder", name, p),
				"obsctl adds the date suffix itself: use dateSuffix"
		}
	}
	limit := maxIndexBytes
	if dated {
		limit -= DateSuffixLen
	}
	if len(name) > limit {
		if dated {
			return fmt.Sprintf("index name is %d bytes; with the date suffix -YYYY.MM.DD (%d bytes) it exceeds Elasticsearch's %d-byte limit", len(name), DateSuffixLen, maxIndexBytes),
				fmt.Sprintf("shorten it to at most %d bytes, or set dateSuffix: false", limit)
		}
		return fmt.Sprintf("index name is %d bytes, over Elasticsearch's %d-byte limit", len(name), maxIndexBytes),
			fmt.Sprintf("shorten it to at most %d bytes", limit)
	}
	return "", ""
}
