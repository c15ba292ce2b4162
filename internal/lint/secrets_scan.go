package lint

import "bytes"

// secretHit is one credential found by scanSecrets: bytes start:end of
// line number line, whose text is text.
type secretHit struct {
	line       int
	text       []byte
	start, end int
	kind       string
}

// What a file may hold, found by one cheap substring test per kind over
// the whole file; a line is only searched for the kinds its file has.
const (
	hasSlackURL = 1 << iota
	hasSlackToken
	hasURL
	hasPEM
	hasAWS
	hasGitHub
	hasBearer
	hasJWT
)

var secretTriggers = []struct {
	bit int
	s   []byte
}{
	{hasSlackURL, []byte("hooks.slack.com/")},
	{hasSlackToken, []byte("xox")},
	{hasURL, []byte("://")},
	{hasPEM, []byte("-----BEGIN ")},
	{hasAWS, []byte("AKIA")},
	{hasAWS, []byte("ASIA")},
	{hasGitHub, []byte("ghp_")},
	{hasGitHub, []byte("gho_")},
	{hasGitHub, []byte("ghu_")},
	{hasGitHub, []byte("ghs_")},
	{hasGitHub, []byte("ghr_")},
	{hasGitHub, []byte("github_pat_")},
	{hasBearer, []byte("earer")},
	{hasBearer, []byte("EARER")},
	{hasJWT, []byte("eyJ")},
}

// scanSecrets appends the credentials found in src to hits. It reads src
// line by line; every line is checked for credential-named fields, and
// for the other kinds only when the file contains their trigger.
func scanSecrets(src []byte, hits []secretHit) []secretHit {
	sc := secretLineScan{hits: hits}
	kinds := 0
	for _, t := range secretTriggers {
		if kinds&t.bit == 0 && bytes.Contains(src, t.s) {
			kinds |= t.bit
		}
	}
	for n := 1; len(src) > 0; n++ {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			src = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		sc.from = len(sc.hits)
		scanSecretLine(line, kinds, &sc)
		for i := sc.from; i < len(sc.hits); i++ {
			sc.hits[i].line, sc.hits[i].text = n, line
		}
	}
	return sc.hits
}

// scanSecretLine adds the credentials found in line to sc. The specific
// kinds go first: a token already reported is not reported again as the
// value of a secret-named field.
func scanSecretLine(line []byte, kinds int, sc *secretLineScan) {
	add := sc.add
	if kinds&hasPEM != 0 {
		if i := bytes.Index(line, []byte("-----BEGIN ")); i >= 0 {
			if j := bytes.Index(line[i:], []byte("PRIVATE KEY")); j >= 0 {
				end := i + j + len("PRIVATE KEY")
				if k := bytes.Index(line[end:], []byte("-----")); k >= 0 {
					end += k + len("-----")
				}
				add(i, end, "private key")
			}
		}
	}
	if kinds&hasSlackURL != 0 {
		eachIndex(line, []byte("hooks.slack.com/"), func(i int) {
			path := i + len("hooks.slack.com/")
			end := path + leadingRun(line[path:], isSlackPathByte)
			tok := line[path:end]
			if k := bytes.IndexByte(tok, '/'); k >= 0 {
				tok = tok[k+1:] // after services/, workflows/, triggers/
			}
			if len(tok) < 20 || isFillerValue(tok) {
				return
			}
			start := i
			for _, s := range [...]string{"https://", "http://"} {
				if i >= len(s) && string(line[i-len(s):i]) == s {
					start = i - len(s)
				}
			}
			add(start, end, "Slack webhook URL")
		})
	}
	if kinds&hasSlackToken != 0 {
		eachIndex(line, []byte("xox"), func(i int) {
			if i+5 > len(line) || bytes.IndexByte([]byte("abeoprs"), line[i+3]) < 0 || line[i+4] != '-' || (i > 0 && isBearerByte(line[i-1])) {
				return
			}
			end := i + leadingRun(line[i:], func(c byte) bool { return isASCIIAlnum(c) || c == '-' })
			if end-i >= 20 {
				add(i, end, "Slack token")
			}
		})
	}
	if kinds&hasAWS != 0 {
		for _, pre := range [...][]byte{[]byte("AKIA"), []byte("ASIA")} {
			eachIndex(line, pre, func(i int) {
				end := i + 4 + leadingRun(line[i+4:], func(c byte) bool { return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' })
				if end-i == 20 && (i == 0 || !isASCIIAlnum(line[i-1])) && (end == len(line) || !isASCIIAlnum(line[end])) {
					add(i, end, "AWS access key id")
				}
			})
		}
	}
	if kinds&hasGitHub != 0 {
		eachIndex(line, []byte("gh"), func(i int) {
			if i+4 > len(line) || line[i+3] != '_' || bytes.IndexByte([]byte("pousr"), line[i+2]) < 0 || (i > 0 && isASCIIAlnum(line[i-1])) {
				return
			}
			end := i + 4 + leadingRun(line[i+4:], isASCIIAlnum)
			if end-i >= 4+36 {
				add(i, end, "GitHub token")
			}
		})
		eachIndex(line, []byte("github_pat_"), func(i int) {
			end := i + len("github_pat_") + leadingRun(line[i+len("github_pat_"):], func(c byte) bool { return isASCIIAlnum(c) || c == '_' })
			if end-i >= len("github_pat_")+22 {
				add(i, end, "GitHub token")
			}
		})
	}
	if kinds&hasJWT != 0 {
		eachIndex(line, []byte("eyJ"), func(i int) {
			if i > 0 && isBase64URLByte(line[i-1]) {
				return
			}
			p1 := i + leadingRun(line[i:], isBase64URLByte)
			if p1-i < 10 || p1 >= len(line) || line[p1] != '.' {
				return
			}
			p2 := p1 + 1 + leadingRun(line[p1+1:], isBase64URLByte)
			if p2-p1-1 < 10 || p2 >= len(line) || line[p2] != '.' {
				return
			}
			add(i, p2+1+leadingRun(line[p2+1:], isBase64URLByte), "JWT")
		})
	}
	if kinds&hasBearer != 0 {
		for _, w := range [...][]byte{[]byte("earer"), []byte("EARER")} {
			eachIndex(line, w, func(i int) {
				if i == 0 || (line[i-1] != 'B' && line[i-1] != 'b') || (i > 1 && isASCIIAlnum(line[i-2])) {
					return
				}
				j := i + len(w)
				k := j + leadingRun(line[j:], func(c byte) bool { return c == ' ' || c == '\t' })
				if k == j {
					return
				}
				end := k + leadingRun(line[k:], isBearerByte)
				if end-k >= 16 && !isFillerValue(line[k:end]) {
					add(k, end, "bearer token")
				}
			})
		}
	}
	if kinds&hasURL != 0 {
		scanURLPasswords(line, sc)
	}
	scanSecretFields(line, sc)
}

// secretLineScan collects the hits of one line.
type secretLineScan struct {
	hits []secretHit
	from int
}

// add records a hit unless it overlaps one already found on the line.
func (sc *secretLineScan) add(start, end int, kind string) {
	for _, h := range sc.hits[sc.from:] {
		if start < h.end && h.start < end {
			return
		}
	}
	sc.hits = append(sc.hits, secretHit{start: start, end: end, kind: kind})
}

// scanURLPasswords finds user:password@ in the URLs of line.
func scanURLPasswords(line []byte, sc *secretLineScan) {
	for off := 0; off < len(line); {
		j := bytes.Index(line[off:], []byte("://"))
		if j < 0 {
			return
		}
		a := off + j + 3
		off = a
		end := a
		for end < len(line) {
			c := line[end]
			if c == '/' || c == '?' || c == '#' || c == '"' || c == '\'' || c == ' ' || c == '\t' || c == '`' {
				break
			}
			end++
		}
		at := bytes.LastIndexByte(line[a:end], '@')
		if at < 0 {
			continue
		}
		colon := bytes.IndexByte(line[a:a+at], ':')
		if colon >= 0 && !isSecretPlaceholder(line[a+colon+1:a+at]) {
			sc.add(a+colon+1, a+at, "password in a URL")
		}
	}
}

// scanSecretFields finds `key: value` (YAML, JSON, flow mappings) and
// `?key=value` / `&key=value` (URL queries) in line whose key names a
// credential and whose value is a literal.
func scanSecretFields(line []byte, sc *secretLineScan) {
	for i := 0; i < len(line); i++ {
		c := line[i]
		if c != ':' && c != '=' {
			continue
		}
		var ks int
		var query bool
		if c == ':' {
			if i+1 < len(line) && line[i+1] != ' ' && line[i+1] != '\t' {
				continue
			}
			ks = secretKeyStart(line, i)
			if !keyPosition(line[:ks]) {
				continue // a colon in prose or in a quoted value
			}
		} else {
			ks = i - trailingRun(line[:i], isSecretKeyByte)
			if ks == 0 || (line[ks-1] != '?' && line[ks-1] != '&') {
				continue
			}
			query = true
		}
		kind := secretFieldKind(line[ks:i])
		if kind == "" {
			continue
		}
		vs, ve := secretFieldValue(line, i+1, query, ks > 0 && flowContext(line[:ks]))
		if vs < 0 || isSecretPlaceholder(line[vs:ve]) {
			continue
		}
		if kind == "integration key" && ve-vs == 32 && leadingRun(line[vs:ve], isASCIIAlnum) == 32 {
			kind = "PagerDuty integration key"
		}
		sc.add(vs, ve, kind)
	}
}

// secretKeyStart returns where the key before the colon at i starts; the
// key is quoted or made of key bytes. It returns i when there is no key.
func secretKeyStart(line []byte, i int) int {
	j := i
	if j > 0 && (line[j-1] == '"' || line[j-1] == '\'') {
		q := line[j-1]
		if k := bytes.LastIndexByte(line[:j-1], q); k >= 0 {
			return k
		}
		return i
	}
	return j - trailingRun(line[:j], isSecretKeyByte)
}

// secretFieldKinds maps the normalised end of a key (lower case, without
// _ - .) to the kind of credential its value is.
var secretFieldKinds = []struct{ suffix, kind string }{
	{"password", "password"},
	{"passwd", "password"},
	{"apikey", "API key"},
	{"routingkey", "integration key"},
	{"servicekey", "integration key"},
	{"integrationkey", "integration key"},
	{"accesskey", "access key"},
	{"secretkey", "secret key"},
	{"privatekey", "private key"},
	{"secret", "secret"},
	{"token", "token"},
	{"credentials", "credentials"},
}

// secretFieldKind returns the kind of credential a key such as apiKey,
// "api_key" or authPassword names, or "".
func secretFieldKind(key []byte) string {
	if len(key) > 0 && (key[0] == '"' || key[0] == '\'') {
		key = key[1:]
	}
	if n := len(key); n > 0 && (key[n-1] == '"' || key[n-1] == '\'') {
		key = key[:n-1]
	}
	if len(key) < 5 || len(key) > 64 {
		return ""
	}
	// Cheap rejection: every suffix ends in d, y, t, n or s.
	switch key[len(key)-1] | 0x20 {
	case 'd', 'y', 't', 'n', 's':
	default:
		return ""
	}
	var buf [64]byte
	norm := buf[:0]
	for _, c := range key {
		switch {
		case c >= 'A' && c <= 'Z':
			norm = append(norm, c+'a'-'A')
		case c == '_' || c == '-' || c == '.':
		default:
			norm = append(norm, c)
		}
	}
	for _, k := range secretFieldKinds {
		if bytes.HasSuffix(norm, []byte(k.suffix)) {
			return k.kind
		}
	}
	return ""
}

// keyPosition reports whether a key may start after before: at the start
// of the line or of a list item or comment, or inside a flow mapping.
func keyPosition(before []byte) bool {
	before = bytes.TrimRight(before, " \t")
	if len(before) == 0 {
		return true
	}
	switch before[len(before)-1] {
	case '-', '#', '{', ',':
		return true
	}
	return false
}

// flowContext reports whether the key ending before line's end sits in a
// flow mapping or JSON object: after `{` or `,`.
func flowContext(before []byte) bool {
	before = bytes.TrimRight(before, " \t")
	return len(before) > 0 && (before[len(before)-1] == '{' || before[len(before)-1] == ',')
}

// secretFieldValue returns the bounds of the literal value that starts
// after the separator ending at from, without quotes, or -1 when the value
// is not a literal (a mapping, a list, a block scalar, an alias, a tag).
func secretFieldValue(line []byte, from int, query, flow bool) (int, int) {
	i := from + leadingRun(line[from:], func(c byte) bool { return c == ' ' || c == '\t' })
	if i >= len(line) {
		return -1, -1
	}
	if query {
		return i, i + leadingRun(line[i:], func(c byte) bool {
			return c != '&' && c != '#' && c != '"' && c != '\'' && c != ' ' && c != '`'
		})
	}
	switch q := line[i]; q {
	case '"', '\'':
		for j := i + 1; j < len(line); j++ {
			switch line[j] {
			case '\\':
				if q == '"' {
					j++
				}
			case q:
				return i + 1, j
			}
		}
		return -1, -1
	case '{', '[', '|', '>', '&', '*', '!', '#':
		return -1, -1
	}
	end := i
	for end < len(line) {
		c := line[end]
		if c == ' ' && end+1 < len(line) && line[end+1] == '#' || flow && (c == ',' || c == '}' || c == ']') {
			break
		}
		end++
	}
	for end > i && (line[end-1] == ' ' || line[end-1] == '\t') {
		end--
	}
	return i, end
}

// placeholderWords are values that stand for a secret rather than being one.
var placeholderWords = [][]byte{
	[]byte("null"), []byte("true"), []byte("false"), []byte("yes"), []byte("no"), []byte("on"), []byte("off"),
	[]byte("none"), []byte("secret"), []byte("password"), []byte("token"), []byte("tbd"), []byte("todo"),
}

var placeholderParts = [][]byte{
	[]byte("changeme"), []byte("change_me"), []byte("change-me"), []byte("redacted"), []byte("placeholder"),
	[]byte("example"), []byte("dummy"), []byte("your_"), []byte("your-"), []byte("<"), []byte("${"), []byte("{{"),
}

// isSecretPlaceholder reports whether v is empty, a reference or a stand-in:
// $VAR, ${VAR}, {{ template }}, <your key>, xxxx, changeme and the like.
// A value with blanks is prose, not a credential.
func isSecretPlaceholder(v []byte) bool {
	if len(v) < 4 || v[0] == '$' || v[0] == '%' || v[0] == '~' || isFillerValue(v) ||
		bytes.ContainsAny(v, " \t") {
		return true
	}
	for _, p := range placeholderWords {
		if bytes.EqualFold(v, p) {
			return true
		}
	}
	var buf [64]byte
	low := buf[:0]
	if len(v) > len(buf) {
		low = make([]byte, 0, len(v))
	}
	for _, c := range v {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		low = append(low, c)
	}
	for _, p := range placeholderParts {
		if bytes.Contains(low, p) {
			return true
		}
	}
	return false
}

// isFillerValue reports whether v is made of one repeated character apart from
// separators, as in xxxx, ****, XXX/YYY/ZZZ or T000/B000/XXXX.
func isFillerValue(v []byte) bool {
	seen := [256]bool{}
	n := 0
	for _, c := range v {
		if c == '/' || c == '-' || c == '.' || c == '_' {
			continue
		}
		if !seen[c] {
			seen[c] = true
			n++
		}
	}
	return n <= 1 || n <= 4 && len(v) >= 12 && onlyBytesOf(v, "xXyYzZ0TB/-._*")
}

func onlyBytesOf(v []byte, set string) bool {
	for _, c := range v {
		if bytes.IndexByte([]byte(set), c) < 0 {
			return false
		}
	}
	return true
}

// eachIndex calls fn with the offset of every occurrence of sub in line.
func eachIndex(line, sub []byte, fn func(i int)) {
	for off := 0; off < len(line); {
		j := bytes.Index(line[off:], sub)
		if j < 0 {
			return
		}
		fn(off + j)
		off += j + 1
	}
}

// leadingRun returns how many leading bytes of b satisfy ok.
func leadingRun(b []byte, ok func(byte) bool) int {
	for i, c := range b {
		if !ok(c) {
			return i
		}
	}
	return len(b)
}

// trailingRun returns how many trailing bytes of b satisfy ok.
func trailingRun(b []byte, ok func(byte) bool) int {
	n := 0
	for i := len(b) - 1; i >= 0 && ok(b[i]); i-- {
		n++
	}
	return n
}

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isSecretKeyByte(c byte) bool { return isASCIIAlnum(c) || c == '_' || c == '-' || c == '.' }

func isBase64URLByte(c byte) bool { return isASCIIAlnum(c) || c == '_' || c == '-' }

func isBearerByte(c byte) bool {
	return isASCIIAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '='
}

func isSlackPathByte(c byte) bool { return isASCIIAlnum(c) || c == '/' || c == '_' || c == '-' }
