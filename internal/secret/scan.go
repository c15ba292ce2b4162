package secret

import (
	"bytes"
	"encoding/base64"
	"math/bits"
	"unicode/utf8"
)

// Hit is one credential Scan found: bytes Start:End of line number Line
// (1-based), whose text is Text, without its line break.
type Hit struct {
	Line       int
	Text       []byte
	Start, End int
	// Kind names the credential for a message: "Slack token", "password".
	Kind string
	// Cont marks the rest of a secret that starts on an earlier line: the
	// body of a private key, the further lines of a block scalar. It is
	// to be hidden, not reported again.
	Cont bool
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
	hasGitLab
	hasGoogle
	hasStripe
	hasGenie
	hasBasic
	hasTelegram
	hasWebhook
	hasGrafana
)

var triggers = []struct {
	bit int
	s   []byte
}{
	{hasSlackURL, []byte("hooks.slack.com/")},
	{hasSlackToken, []byte("xox")},
	{hasSlackToken, []byte("xapp-")},
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
	{hasGitLab, []byte("gl")},
	{hasGitLab, []byte("GR1348941")},
	{hasGoogle, []byte("AIza")},
	{hasGoogle, []byte("GOCSPX-")},
	{hasGoogle, []byte("ya29.")},
	{hasStripe, []byte("_live_")},
	{hasStripe, []byte("_test_")},
	{hasStripe, []byte("whsec_")},
	{hasGenie, []byte("GenieKey")},
	{hasGenie, []byte("geniekey")},
	{hasBasic, []byte("asic ")},
	{hasBasic, []byte("ASIC ")},
	{hasTelegram, []byte(":AA")},
	{hasWebhook, []byte("/api/webhooks/")},
	{hasWebhook, []byte("webhook.office.com/")},
	{hasGrafana, []byte("glsa_")},
	{hasGrafana, []byte("eyJrIjoi")},
}

// byFirst and bySecond hold, for each byte, the set of triggers (bit i
// for triggers[i]) whose first or second byte it is; ofKind, for each
// trigger, the set of triggers of its kind. Every trigger has two bytes
// at least.
var byFirst, bySecond, ofKind = func() (first, second [256]uint64, kind [64]uint64) {
	for i, tr := range triggers {
		first[tr.s[0]] |= 1 << i
		second[tr.s[1]] |= 1 << i
		for j, tr2 := range triggers {
			if tr2.bit == tr.bit {
				kind[i] |= 1 << j
			}
		}
	}
	return first, second, kind
}()

// triggerKinds returns the kinds of credential whose triggers src holds,
// in one pass over src: a byte costs two table look-ups unless it and the
// next start a trigger of a kind not found yet, which is then compared.
func triggerKinds(src []byte) int {
	kinds := 0
	pending := uint64(1)<<len(triggers) - 1
	for i := 0; i+1 < len(src) && pending != 0; i++ {
		m := byFirst[src[i]] & bySecond[src[i+1]] & pending
		for m != 0 {
			ti := bits.TrailingZeros64(m)
			m &= m - 1
			if t := triggers[ti]; bytes.HasPrefix(src[i:], t.s) {
				kinds |= t.bit
				pending &^= ofKind[ti]
				m &^= ofKind[ti]
			}
		}
	}
	return kinds
}

// Scan returns the credentials found in src, line by line, in order. It
// reads every byte once; a line is searched for a kind of credential only
// when the file holds that kind's trigger. Every line is searched for
// credential-named fields.
func Scan(src []byte) []Hit {
	sc := lineScan{}
	kinds := triggerKinds(src)
	var ml multiLine
	var vo victorOps
	for n := 1; len(src) > 0; n++ {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			src = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		sc.from = len(sc.hits)
		vo.see(line)
		if !ml.continues(line, &sc) {
			scanLine(line, kinds, &sc)
			ml.starts(line, &sc)
		}
		if vo.in {
			vo.drop(&sc)
		}
		for i := sc.from; i < len(sc.hits); i++ {
			sc.hits[i].Line, sc.hits[i].Text = n, line
		}
	}
	return sc.hits
}

// scanLine adds the credentials found in line to sc. The specific shapes
// go first: a token already found is not found again as the value of a
// credential-named field.
func scanLine(line []byte, kinds int, sc *lineScan) {
	add := sc.add
	if kinds&hasPEM != 0 {
		if i := bytes.Index(line, []byte("-----BEGIN ")); i >= 0 {
			if j := bytes.Index(line[i:], []byte("PRIVATE KEY")); j >= 0 {
				end := i + j + len("PRIVATE KEY")
				if k := bytes.Index(line[end:], []byte("-----")); k >= 0 {
					end += k + len("-----")
				}
				// A key on one line (JSON, an escaped string) runs on to
				// its END marker or the end of the string.
				if k := bytes.Index(line[end:], []byte("-----END ")); k >= 0 {
					end += k + len("-----END ")
					if m := bytes.Index(line[end:], []byte("-----")); m >= 0 {
						end += m + len("-----")
					}
				} else if end < len(line) && line[end] == '\\' {
					end += leadingRun(line[end:], func(c byte) bool { return c != '"' && c != '\'' })
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
			add(urlStart(line, i), end, "Slack webhook URL")
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
		prefixed(line, "xapp-", 20, func(c byte) bool { return isASCIIAlnum(c) || c == '-' }, "Slack token", sc)
	}
	if kinds&hasWebhook != 0 {
		// Discord: /api/webhooks/ID/TOKEN; Teams: an incoming webhook URL
		// is the credential whole.
		eachIndex(line, []byte("/api/webhooks/"), func(i int) {
			id := i + len("/api/webhooks/")
			n := leadingRun(line[id:], isDigit)
			if n < 5 || id+n >= len(line) || line[id+n] != '/' {
				return
			}
			tok := id + n + 1
			end := tok + leadingRun(line[tok:], isBase64URLByte)
			if end-tok >= 40 && !isFillerValue(line[tok:end]) {
				add(urlStart(line, i), end, "Discord webhook URL")
			}
		})
		eachIndex(line, []byte("webhook.office.com/"), func(i int) {
			end := i + leadingRun(line[i:], isURLByte)
			if end-i >= 60 && !isPlaceholder(line[i:end]) {
				add(urlStart(line, i), end, "Teams webhook URL")
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
		prefixed(line, "github_pat_", 22, func(c byte) bool { return isASCIIAlnum(c) || c == '_' }, "GitHub token", sc)
	}
	if kinds&hasGitLab != 0 {
		// Personal, deploy, runner, trigger, CI job, OAuth application,
		// feature-flag, incoming-mail and agent tokens.
		for _, p := range [...]string{"glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "glsoat-", "gloas-", "glffct-", "glimt-", "glagent-", "glft-"} {
			prefixed(line, p, 16, isGitLabByte, "GitLab token", sc)
		}
		prefixed(line, "GR1348941", 16, isGitLabByte, "GitLab token", sc)
	}
	if kinds&hasGrafana != 0 {
		prefixed(line, "glsa_", 32, func(c byte) bool { return isASCIIAlnum(c) || c == '_' }, "Grafana token", sc)
		prefixed(line, "eyJrIjoi", 24, func(c byte) bool { return isASCIIAlnum(c) || c == '+' || c == '/' || c == '=' }, "Grafana API key", sc)
	}
	if kinds&hasGoogle != 0 {
		eachIndex(line, []byte("AIza"), func(i int) {
			end := i + leadingRun(line[i:], isBase64URLByte)
			if end-i == 39 && (i == 0 || !isBase64URLByte(line[i-1])) && !isFillerValue(line[i+4:end]) {
				add(i, end, "Google API key")
			}
		})
		prefixed(line, "GOCSPX-", 24, isBase64URLByte, "Google OAuth client secret", sc)
		prefixed(line, "ya29.", 20, func(c byte) bool { return isBase64URLByte(c) || c == '.' }, "Google OAuth token", sc)
	}
	if kinds&hasStripe != 0 {
		for _, p := range [...]string{"sk_live_", "rk_live_", "sk_test_", "rk_test_"} {
			prefixed(line, p, 16, isASCIIAlnum, "Stripe key", sc)
		}
		prefixed(line, "whsec_", 24, isASCIIAlnum, "Stripe webhook secret", sc)
	}
	if kinds&hasTelegram != 0 {
		// A bot token: the bot's id, a colon, 35 characters from AA.
		eachIndex(line, []byte(":AA"), func(i int) {
			n := trailingRun(line[:i], isDigit)
			if n < 6 || n > 12 || (i-n > 0 && isASCIIAlnum(line[i-n-1])) {
				return
			}
			end := i + 1 + leadingRun(line[i+1:], isBase64URLByte)
			if end-i-1 >= 33 && !isFillerValue(line[i+1:end]) {
				add(i-n, end, "Telegram bot token")
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
		for _, w := range [...]string{"earer", "EARER"} {
			scheme(line, 'b', w, "bearer token", func(tok []byte) bool {
				return len(tok) >= 16 && isB64Token(tok) && hasDigitAndLetter(tok)
			}, sc)
		}
	}
	if kinds&hasGenie != 0 {
		for _, w := range [...]string{"enieKey", "eniekey"} {
			scheme(line, 'g', w, "Opsgenie key", func(tok []byte) bool {
				return len(tok) >= 16 && leadingRun(tok, func(c byte) bool { return isASCIIAlnum(c) || c == '-' }) == len(tok) && hasDigitAndLetter(tok)
			}, sc)
		}
	}
	if kinds&hasBasic != 0 {
		for _, w := range [...]string{"asic", "ASIC"} {
			scheme(line, 'b', w, "basic credentials", isBasicCredentials, sc)
		}
	}
	if kinds&hasURL != 0 {
		scanURLPasswords(line, sc)
	}
	scanFields(line, sc)
}

// lineScan collects the hits of one line.
type lineScan struct {
	hits []Hit
	from int
}

// add records a hit unless it overlaps one already found on the line.
func (sc *lineScan) add(start, end int, kind string) {
	for _, h := range sc.hits[sc.from:] {
		if start < h.End && h.Start < end {
			return
		}
	}
	sc.hits = append(sc.hits, Hit{Start: start, End: end, Kind: kind})
}

// prefixed adds every token of line that starts with prefix (not inside a
// longer word) and goes on with at least min bytes that ok accepts.
func prefixed(line []byte, prefix string, min int, ok func(byte) bool, kind string, sc *lineScan) {
	eachIndex(line, []byte(prefix), func(i int) {
		if i > 0 && (isASCIIAlnum(line[i-1]) || line[i-1] == '_') {
			return
		}
		body := i + len(prefix)
		end := body + leadingRun(line[body:], ok)
		if end-body >= min && !isFillerValue(line[body:end]) && !hasFillerRun(line[body:end]) {
			sc.add(i, end, kind)
		}
	})
}

// scheme adds the credential after an HTTP authorization scheme written
// as its first letter and then rest ("B" + "earer"), the letter in either
// case, when valid accepts it: "Bearer TOKEN", "GenieKey KEY", "Basic
// CREDENTIALS".
func scheme(line []byte, first byte, rest, kind string, valid func([]byte) bool, sc *lineScan) {
	eachIndex(line, []byte(rest), func(i int) {
		if i == 0 || line[i-1]|0x20 != first || (i > 1 && isASCIIAlnum(line[i-2])) {
			return
		}
		j := i + len(rest)
		k := j + leadingRun(line[j:], func(c byte) bool { return c == ' ' || c == '\t' })
		if k == j {
			return
		}
		end := k + leadingRun(line[k:], isBearerByte)
		if tok := line[k:end]; valid(tok) && !isPlaceholder(tok) {
			sc.add(k, end, kind)
		}
	})
}

// isBasicCredentials reports whether tok is base64 of user:password, as
// the Basic scheme sends them: prose after "basic" is not.
func isBasicCredentials(tok []byte) bool {
	if len(tok) < 8 {
		return false
	}
	for _, enc := range [...]*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		dec, err := enc.DecodeString(string(tok))
		if err != nil {
			continue
		}
		colon := bytes.IndexByte(dec, ':')
		return colon > 0 && colon < len(dec)-1 && utf8.Valid(dec) && bytes.IndexFunc(dec, func(r rune) bool { return r < 0x20 }) < 0
	}
	return false
}

// urlStart returns where the URL whose host part starts at i begins: at
// its scheme, if it has one.
func urlStart(line []byte, i int) int {
	for _, s := range [...]string{"https://", "http://"} {
		if i >= len(s) && string(line[i-len(s):i]) == s {
			return i - len(s)
		}
	}
	for j := i; j > 0; j-- { // a host before the path: discord.com/api/...
		if !isURLByte(line[j-1]) || line[j-1] == '/' && j >= 2 && line[j-2] == '/' {
			if j >= 3 && string(line[j-3:j]) == "://" {
				return j - 3 - trailingRun(line[:j-3], isASCIIAlnum)
			}
			return j
		}
	}
	return 0
}

// scanURLPasswords finds user:password@ in the URLs of line. The password
// may hold a '#' or a ':', which a URL parser would take for the start of
// the fragment or the port, but people write them.
func scanURLPasswords(line []byte, sc *lineScan) {
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
			if c == '/' || c == '?' || c == '"' || c == '\'' || c == ' ' || c == '\t' || c == '`' {
				break
			}
			end++
		}
		at := bytes.LastIndexByte(line[a:end], '@')
		if at < 0 {
			continue
		}
		colon := bytes.IndexByte(line[a:a+at], ':')
		if colon < 0 || bytes.IndexByte(line[a:a+colon], '#') >= 0 {
			continue // no password; or a fragment (host#a:b@c), not a user
		}
		if !isPlaceholder(line[a+colon+1 : a+at]) {
			sc.add(a+colon+1, a+at, "password in a URL")
		}
	}
}

// scanFields finds the literal values of keys that name a credential:
// `key: value` (YAML, JSON, flow mappings, headers inside strings),
// `?key=value` and `&key=value` (URL queries), `KEY=value` (shell and env
// files: capitals only, so that PromQL's label="value" is not one),
// `--key=value` (flags) and `;Key=value` (connection strings).
func scanFields(line []byte, sc *lineScan) {
	// Most lines hold a separator or two: jump to each with IndexByte
	// rather than look at every byte. colon and eq are where the next
	// ':' and '=' at or after i are, -1 when there is none left (-2: not
	// looked for yet).
	colon, eq := -2, -2
	for i := 0; i < len(line); i++ {
		colon = nextByte(line, i, colon, ':')
		eq = nextByte(line, i, eq, '=')
		switch {
		case colon < 0 && eq < 0:
			return
		case colon < 0:
			i = eq
		case eq < 0:
			i = colon
		default:
			i = min(colon, eq)
		}
		c := line[i]
		var ks int
		var query, embedded bool
		if c == ':' {
			if i+1 < len(line) && line[i+1] != ' ' && line[i+1] != '\t' {
				continue
			}
			ks = keyStart(line, i)
			if !keyPosition(line[:ks]) {
				continue // a colon in prose or in a quoted value
			}
			embedded = embeddedKey(line[:ks])
		} else {
			ks = i - trailingRun(line[:i], isKeyByte)
			if ks == i || !assignment(line, ks, i) {
				continue
			}
			query = true
		}
		kind := fieldKind(line[ks:i], query)
		if kind == "" {
			continue
		}
		if kind == "secret list" {
			scanList(line, i+1, sc)
			continue
		}
		vs, ve := fieldValue(line, i+1, query, embedded, ks > 0 && flowContext(line[:ks]))
		if vs < 0 || isPlaceholder(line[vs:ve]) {
			continue
		}
		if kind == "webhook URL" && !bytes.Contains(line[vs:ve], []byte("://")) {
			continue
		}
		if kind == "integration key" && ve-vs == 32 && leadingRun(line[vs:ve], isASCIIAlnum) == 32 {
			kind = "PagerDuty integration key"
		}
		sc.add(vs, ve, kind)
	}
}

// nextByte returns where the first c at or after i in line is, or -1,
// given at, the answer for an earlier i (-1 stays -1) or -2.
func nextByte(line []byte, i, at int, c byte) int {
	if at == -1 || at >= i {
		return at
	}
	if k := bytes.IndexByte(line[i:], c); k >= 0 {
		return i + k
	}
	return -1
}

// assignment reports whether the key line[ks:eq] before '=' is one this
// scanner reads: a URL query's, a flag's, a connection string's or a
// capitalised environment variable's.
func assignment(line []byte, ks, eq int) bool {
	key := line[ks:eq]
	before := byte(' ')
	if ks > 0 {
		before = line[ks-1]
	}
	switch {
	case before == '?' || before == '&' || before == ';':
		return true
	case before == '-' && ks > 1 && line[ks-2] == '-':
		return true
	case before != ' ' && before != '\t' && before != '"' && before != '\'' && before != '(' && before != '`':
		return false
	}
	switch string(key) {
	case "AccountKey", "SharedAccessKey", "SharedAccessSignature":
		return true
	}
	letter := false
	for _, c := range key {
		switch {
		case c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9' || c == '_':
		default:
			return false
		}
	}
	return letter
}

// scanList adds the items of the flow list that starts after from, as in
// http_headers' `secrets: [a, b]`.
func scanList(line []byte, from int, sc *lineScan) {
	i := from + leadingRun(line[from:], func(c byte) bool { return c == ' ' || c == '\t' })
	if i >= len(line) || line[i] != '[' {
		return
	}
	for i++; i < len(line) && line[i] != ']'; {
		i += leadingRun(line[i:], func(c byte) bool { return c == ' ' || c == '\t' || c == ',' })
		vs, ve := fieldValue(line, i, false, false, true)
		if vs < 0 {
			return
		}
		if !isPlaceholder(line[vs:ve]) {
			sc.add(vs, ve, "secret")
		}
		i = ve + leadingRun(line[ve:], func(c byte) bool { return c == '"' || c == '\'' })
		if i == vs && i < len(line) {
			i++
		}
	}
}

// keyStart returns where the key before the colon at i starts; the key is
// quoted or made of key bytes. It returns i when there is no key.
func keyStart(line []byte, i int) int {
	j := i
	if j > 0 && (line[j-1] == '"' || line[j-1] == '\'') {
		q := line[j-1]
		if k := bytes.LastIndexByte(line[:j-1], q); k >= 0 {
			return k
		}
		return i
	}
	return j - trailingRun(line[:j], isKeyByte)
}

// fieldKinds maps the normalised end of a key (lower case, without _ - .)
// to the kind of credential its value is; the first match wins.
var fieldKinds = []struct{ suffix, kind string }{
	{"password", "password"},
	{"passwd", "password"},
	{"slackapiurl", "Slack webhook URL"},
	{"webhookurl", "webhook URL"},
	{"apikey", "API key"},
	{"appkey", "application key"},
	{"applicationkey", "application key"},
	{"userkey", "user key"},
	{"routingkey", "integration key"},
	{"servicekey", "integration key"},
	{"integrationkey", "integration key"},
	{"accountkey", "Azure key"},
	{"sharedaccesskey", "Azure key"},
	{"sharedaccesssignature", "signature"},
	{"accesskey", "access key"},
	{"secretkey", "secret key"},
	{"privatekey", "private key"},
	{"tokenid", "token"},
	{"secret", "secret"},
	{"token", "token"},
	{"credentials", "credentials"},
}

// fieldEnds holds the last two bytes of every suffix of fieldKinds and
// of "secrets", as lastTwo gives them: a key ending otherwise names no
// credential.
var fieldEnds = func() map[[2]byte]bool {
	m := map[[2]byte]bool{lastTwo([]byte("secrets")): true}
	for _, k := range fieldKinds {
		m[lastTwo([]byte(k.suffix))] = true
	}
	return m
}()

// lastTwo returns the last two bytes of key as fieldKind normalises it
// (lower case, without _ - .); zero bytes where it has fewer.
func lastTwo(key []byte) [2]byte {
	var out [2]byte
	n := 2
	for i := len(key) - 1; i >= 0 && n > 0; i-- {
		c := key[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '_' || c == '-' || c == '.':
			continue
		}
		n--
		out[n] = c
	}
	return out
}

// notSecret are key ends that name where a secret is kept, not the
// secret: obsctl's stack.ingress.tlsSecret, charts' existingSecret.
var notSecret = []string{"tlssecret", "existingsecret"}

// fieldKind returns the kind of credential a key such as apiKey,
// "api_key" or authPassword names, or "". A query's sig (an Azure or
// Teams workflow signature) is one too; `secrets:` (a list of them, as in
// Alertmanager's http_headers) is "secret list".
func fieldKind(key []byte, query bool) string {
	if len(key) > 0 && (key[0] == '"' || key[0] == '\'') {
		key = key[1:]
	}
	if n := len(key); n > 0 && (key[n-1] == '"' || key[n-1] == '\'') {
		key = key[:n-1]
	}
	if query && string(key) == "sig" {
		return "signature"
	}
	if len(key) < 5 || len(key) > 64 {
		return ""
	}
	// Cheap rejection: every suffix ends in d, y, t, n, s, l or e, and in
	// one of a few pairs of bytes (fieldEnds).
	switch key[len(key)-1] | 0x20 {
	case 'd', 'y', 't', 'n', 's', 'l', 'e':
	default:
		return ""
	}
	if !fieldEnds[lastTwo(key)] {
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
	if string(norm) == "secrets" {
		return "secret list"
	}
	for _, s := range notSecret {
		if bytes.HasSuffix(norm, []byte(s)) {
			return ""
		}
	}
	for _, k := range fieldKinds {
		if bytes.HasSuffix(norm, []byte(k.suffix)) {
			return k.kind
		}
	}
	return ""
}

// keyPosition reports whether a key may start after before: at the start
// of the line or of a list item or comment, inside a flow mapping, or at
// the start of a string or parenthesis (a header quoted in prose:
// "curl -H 'PRIVATE-TOKEN: ...'").
func keyPosition(before []byte) bool {
	before = trimRight(before, " \t")
	if len(before) == 0 {
		return true
	}
	switch before[len(before)-1] {
	case '-', '#', '{', ',', '"', '\'', '(':
		return true
	}
	return false
}

// embeddedKey reports whether the key after before sits inside a string
// or parenthesis, so that its value ends where they do.
func embeddedKey(before []byte) bool {
	if len(before) == 0 {
		return false
	}
	switch before[len(before)-1] {
	case '"', '\'', '(':
		return true
	}
	return false
}

// flowContext reports whether the key ending before line's end sits in a
// flow mapping or JSON object: after `{` or `,`.
func flowContext(before []byte) bool {
	before = trimRight(before, " \t")
	return len(before) > 0 && (before[len(before)-1] == '{' || before[len(before)-1] == ',')
}

// fieldValue returns the bounds of the literal value that starts after
// the separator ending at from, without quotes, or -1 when the value is
// not a literal (a mapping, a list, a block scalar, an alias, a tag).
func fieldValue(line []byte, from int, query, embedded, flow bool) (int, int) {
	i := from + leadingRun(line[from:], func(c byte) bool { return c == ' ' || c == '\t' })
	if i >= len(line) {
		return -1, -1
	}
	if query {
		return i, i + leadingRun(line[i:], func(c byte) bool {
			return c != '&' && c != '#' && c != '"' && c != '\'' && c != ' ' && c != '\t' && c != '`' && c != ';' && c != ')'
		})
	}
	if embedded {
		return i, i + leadingRun(line[i:], func(c byte) bool {
			return c != '"' && c != '\'' && c != ' ' && c != '\t' && c != ')' && c != ',' && c != ';' && c != '`'
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

// multiLine follows a secret over the lines after the one it starts on:
// a private key's body up to its END line, and the block scalar or list
// under a credential-named key with no value on its line.
type multiLine struct {
	pem    bool
	indent int    // the key's indentation; -1 when not in a block
	kind   string // the kind of the block's value
	first  bool   // the block's first line is still to come
}

// continues reports whether line belongs to a secret begun above and, if
// so, adds it to sc.
func (m *multiLine) continues(line []byte, sc *lineScan) bool {
	body := trimLeft(line, " \t")
	if m.pem {
		// The body is base64, a line at a time; anything else (the END
		// line, a BEGIN line quoted alone in a comment) ends it.
		s, e := trimmedSpan(line)
		if s == e || leadingRun(line[s:e], isBase64Byte) != e-s {
			m.pem = false
			return false
		}
		sc.hits = append(sc.hits, Hit{Start: s, End: e, Kind: "private key", Cont: true})
		return true
	}
	if m.kind == "" {
		return false
	}
	indent := len(line) - len(body)
	if len(body) == 0 {
		return true // a blank line stays in the block
	}
	if indent <= m.indent {
		m.kind = ""
		return false
	}
	s, e := trimmedSpan(line)
	if m.kind == "secret list" {
		if body[0] != '-' {
			return false
		}
		vs, ve := fieldValue(line, s+1, false, false, false)
		if vs >= 0 && !isPlaceholder(line[vs:ve]) {
			sc.hits = append(sc.hits, Hit{Start: vs, End: ve, Kind: "secret"})
		}
		return true
	}
	if s < e {
		if m.first && isPlaceholder(line[s:e]) {
			m.kind = ""
			return true
		}
		sc.hits = append(sc.hits, Hit{Start: s, End: e, Kind: m.kind, Cont: !m.first})
		m.first = false
	}
	return true
}

// starts notes, after line was scanned, a secret that goes on below it.
func (m *multiLine) starts(line []byte, sc *lineScan) {
	for _, h := range sc.hits[sc.from:] {
		if h.Kind == "private key" && !bytes.Contains(line[h.Start:], []byte("-----END ")) && !bytes.Contains(line[h.Start:], []byte(`\n`)) {
			m.pem = true
			return
		}
	}
	// key: |, key: >-, key: (nothing), as the last thing on the line.
	trimmed := trimRight(line, " \t")
	if c := bytes.LastIndexByte(trimmed, ':'); c > 0 {
		rest := bytes.TrimSpace(trimmed[c+1:])
		block := len(rest) > 0 && (rest[0] == '|' || rest[0] == '>') && len(rest) <= 3
		if len(rest) > 0 && !block {
			return
		}
		ks := keyStart(trimmed, c)
		if !keyPosition(trimmed[:ks]) || embeddedKey(trimmed[:ks]) {
			return
		}
		kind := fieldKind(trimmed[ks:c], false)
		switch {
		case kind == "secret list" && !block:
		case kind != "" && kind != "secret list" && block:
		default:
			return
		}
		m.kind, m.first = kind, true
		m.indent = len(line) - len(trimLeft(line, " \t"))
		if ks > m.indent && trimmed[m.indent] == '-' {
			m.indent = ks // a list item's key: its block is indented past it
		}
	}
}

// trimmedSpan returns the bounds of line without its indentation, a
// comment mark before a private key's body, and trailing blanks.
func trimmedSpan(line []byte) (int, int) {
	s := leadingRun(line, func(c byte) bool { return c == ' ' || c == '\t' || c == '#' })
	e := len(line)
	for e > s && (line[e-1] == ' ' || line[e-1] == '\t') {
		e--
	}
	return s, e
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

// isPlaceholder reports whether v is empty, a reference or a stand-in:
// $VAR, ${VAR}, {{ template }}, <your key>, xxxx, changeme and the like.
// A value with blanks is prose, not a credential.
func isPlaceholder(v []byte) bool {
	if len(v) < 4 || v[0] == '$' || v[0] == '%' || v[0] == '~' || isFillerValue(v) || hasFillerRun(v) ||
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

// hasFillerRun reports whether v holds eight x or X in a row, as the
// documented shape of a token does (123456789:XXXXXXXX...) and a random
// one does not.
func hasFillerRun(v []byte) bool {
	run := 0
	for _, c := range v {
		if c == 'x' || c == 'X' {
			if run++; run >= 8 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

func onlyBytesOf(v []byte, set string) bool {
	for _, c := range v {
		if bytes.IndexByte([]byte(set), c) < 0 {
			return false
		}
	}
	return true
}

// isB64Token reports whether tok is an RFC 6750 b64token: token
// characters, with '=' only as padding at the end.
func isB64Token(tok []byte) bool {
	body := bytes.TrimRight(tok, "=")
	return bytes.IndexByte(body, '=') < 0
}

func hasDigitAndLetter(tok []byte) bool {
	digit, letter := false, false
	for _, c := range tok {
		digit = digit || isDigit(c)
		letter = letter || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	return digit && letter
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

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isKeyByte(c byte) bool { return isASCIIAlnum(c) || c == '_' || c == '-' || c == '.' }

func isBase64Byte(c byte) bool { return isASCIIAlnum(c) || c == '+' || c == '/' || c == '=' }

func isBase64URLByte(c byte) bool { return isASCIIAlnum(c) || c == '_' || c == '-' }

func isGitLabByte(c byte) bool { return isBase64URLByte(c) || c == '.' }

func isBearerByte(c byte) bool {
	return isASCIIAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '='
}

func isSlackPathByte(c byte) bool { return isASCIIAlnum(c) || c == '/' || c == '_' || c == '-' }

// isURLByte reports whether c may be part of a URL written in a file.
func isURLByte(c byte) bool {
	return c > ' ' && c < 0x7f && c != '"' && c != '\'' && c != '`' && c != '<' && c != '>' && c != '\\'
}

// victorOps follows whether the lines scanned are inside a VictorOps
// (Splunk On-Call) integration's settings: `victorops_configs:` in an
// Alertmanager configuration, `victoropsConfigs:` in an AlertmanagerConfig
// object. Its routing_key names the route an incident takes, like a team
// name; it is not a credential (the api_key beside it is). A routing key
// elsewhere, as PagerDuty's, is the integration key itself.
type victorOps struct {
	in     bool
	indent int
}

// see updates the state with line: a victorops key opens the section,
// and a line indented no deeper than that key, other than an item of its
// list, closes it.
func (v *victorOps) see(line []byte) {
	// Commented-out configuration counts, indented from the line's start:
	// "#   - routing_key: x" is an item at column 5.
	body := trimLeft(line, " \t#")
	if len(body) == 0 {
		return
	}
	indent := len(line) - len(body)
	if v.in && (indent < v.indent || indent == v.indent && !bytes.HasPrefix(body, []byte("- "))) {
		v.in = false
	}
	key := bytes.TrimPrefix(body, []byte("- "))
	key = trimLeft(key, "\"'")
	for _, k := range [...]string{"victorops_configs", "victoropsConfigs"} {
		if bytes.HasPrefix(key, []byte(k)) {
			v.in, v.indent = true, indent
		}
	}
}

// drop removes the routing keys found on the current line.
func (v *victorOps) drop(sc *lineScan) {
	kept := sc.hits[:sc.from]
	for _, h := range sc.hits[sc.from:] {
		if h.Kind != "integration key" && h.Kind != "PagerDuty integration key" {
			kept = append(kept, h)
		}
	}
	sc.hits = kept
}

// trimLeft and trimRight are bytes.TrimLeft and TrimRight for a cutset of
// a few ASCII bytes, without building a set on every call: the scanner
// trims every line of a file several times.
func trimLeft(s []byte, cut string) []byte {
	for len(s) > 0 && inCut(s[0], cut) {
		s = s[1:]
	}
	return s
}

func trimRight(s []byte, cut string) []byte {
	for len(s) > 0 && inCut(s[len(s)-1], cut) {
		s = s[:len(s)-1]
	}
	return s
}

func inCut(c byte, cut string) bool {
	for i := 0; i < len(cut); i++ {
		if cut[i] == c {
			return true
		}
	}
	return false
}
