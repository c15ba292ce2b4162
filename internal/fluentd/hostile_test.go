package fluentd

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/obsctl/obsctl/internal/diag"
)

// confLine is one line of a Fluentd configuration as the v1 config parser
// (lib/fluent/config/v1_parser.rb and literal_parser.rb) reads it.
type confLine struct {
	kind  string // "open", "close" or "param"
	name  string // element name or parameter key
	arg   string // element argument
	value string // parameter value, unquoted
	quote byte   // 0, '\'' or '"'
	raw   string // parameter value as written
}

// readConf reads conf the way Fluentd would, following its rules for
// quoted values: a single-quoted string knows only \' and \\ and cannot
// span lines; a double-quoted one evaluates #{...}. Anything it cannot
// read is an error: the compiler must never write it.
func readConf(conf string) ([]confLine, error) {
	if strings.ContainsAny(conf, "\r\u0085\u2028\u2029") {
		return nil, errors.New("configuration holds a line break other than \\n")
	}
	var out []confLine
	var stack []string
	for n, line := range strings.Split(strings.TrimSuffix(conf, "\n"), "\n") {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("line %d %q: %s", n+1, line, fmt.Sprintf(format, args...))
		}
		s := strings.TrimLeft(line, " ")
		switch {
		case s == "" || s[0] == '#':
			continue
		case strings.HasPrefix(s, "</"):
			name := strings.TrimSuffix(s[2:], ">")
			if len(stack) == 0 || stack[len(stack)-1] != name || !strings.HasSuffix(s, ">") {
				return nil, bad("unbalanced close")
			}
			stack = stack[:len(stack)-1]
			out = append(out, confLine{kind: "close", name: name})
		case s[0] == '<':
			if !strings.HasSuffix(s, ">") || strings.ContainsAny(s[1:len(s)-1], "<>'\"") {
				return nil, bad("malformed element")
			}
			name, arg, _ := strings.Cut(s[1:len(s)-1], " ")
			stack = append(stack, name)
			out = append(out, confLine{kind: "open", name: name, arg: arg})
		default:
			key, raw, _ := strings.Cut(s, " ")
			if !regexp.MustCompile(`^@?[A-Za-z_][A-Za-z0-9_]*$`).MatchString(key) {
				return nil, bad("malformed parameter name")
			}
			l := confLine{kind: "param", name: key, raw: raw}
			switch {
			case strings.HasPrefix(raw, "'"):
				var b strings.Builder
				i := 1
				for ; i < len(raw); i++ {
					if raw[i] == '\'' {
						break
					}
					if strings.HasPrefix(raw[i:], `\'`) || strings.HasPrefix(raw[i:], `\\`) {
						i++
					}
					b.WriteByte(raw[i])
				}
				if i >= len(raw) {
					return nil, bad("unterminated single-quoted string")
				}
				if strings.TrimSpace(raw[i+1:]) != "" {
					return nil, bad("text after a quoted value")
				}
				l.value, l.quote = b.String(), '\''
			case strings.HasPrefix(raw, `"`):
				l.quote = '"'
			default:
				l.value = raw
			}
			out = append(out, l)
		}
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("unclosed elements %v", stack)
	}
	return out, nil
}

var (
	passwordRE = regexp.MustCompile(`^"#\{ENV\['[A-Za-z_][A-Za-z0-9_]*'\]\}"$`)
	// rubyLiteralRE is a literal as rubyString writes it.
	rubyLiteralRE = regexp.MustCompile(`"(?:\\x[0-9a-f]{2}|[A-Za-z0-9 ._:/@+=,-])*"`)
)

// checkStructure reads conf and checks the rules every compiled file
// keeps: the only double-quoted values are the password's ENV lookup and
// an empty separator; every <record> value is one ${...} whose Ruby,
// string literals aside, holds nothing that could be code from input.
func checkStructure(t *testing.T, conf string) []confLine {
	t.Helper()
	lines, err := readConf(conf)
	if err != nil {
		t.Fatalf("Fluentd could not read the configuration: %v", err)
	}
	inRecord := false
	for _, l := range lines {
		switch {
		case l.kind == "open" && l.name == "record":
			inRecord = true
		case l.kind == "close" && l.name == "record":
			inRecord = false
		case l.kind == "param" && l.quote == '"':
			if !(l.name == "password" && passwordRE.MatchString(l.raw)) && l.raw != `""` {
				t.Errorf("double-quoted value %s %s: only the password may embed Ruby", l.name, l.raw)
			}
		case l.kind == "param" && inRecord:
			code, err := recordCode(l.value)
			if err != nil {
				t.Errorf("record %s: %v", l.name, err)
				continue
			}
			rest := rubyLiteralRE.ReplaceAllString(code, `"S"`)
			rest = strings.ReplaceAll(rest, " = {} unless ", " = EMPTY unless ") // the router's fixed defaults
			if strings.ContainsAny(rest, "#$`'%\\{}") {
				t.Errorf("record %s: Ruby outside literals holds a special character: %s", l.name, rest)
			}
		}
	}
	return lines
}

// recordCode returns the Ruby of a record_transformer value, which must be
// one ${...} so that auto_typecast evaluates it as it stands.
func recordCode(v string) (string, error) {
	if !strings.HasPrefix(v, "${") || !strings.HasSuffix(v, "}") || strings.Count(v, "${") != 1 {
		return "", fmt.Errorf("value %q is not exactly one ${...}", v)
	}
	return v[2 : len(v)-1], nil
}

// decodeRuby returns the value of a Ruby literal written by rubyString.
func decodeRuby(t *testing.T, lit string) string {
	t.Helper()
	if !rubyLiteralRE.MatchString(lit) || rubyLiteralRE.FindString(lit) != lit {
		t.Fatalf("%s is not a literal rubyString writes", lit)
	}
	var b []byte
	for i := 1; i < len(lit)-1; i++ {
		if lit[i] == '\\' {
			v, _ := strconv.ParseUint(lit[i+2:i+4], 16, 8)
			b = append(b, byte(v))
			i += 3
			continue
		}
		b = append(b, lit[i])
	}
	return string(b)
}

// skeleton is the configuration with every quoted value and Ruby literal
// replaced by a marker: two compiles with the same skeleton differ only in
// inert text.
func skeleton(lines []confLine) []string {
	var out []string
	for _, l := range lines {
		s := l.kind + " " + l.name + " " + l.arg
		if l.kind == "param" {
			switch {
			case l.quote == '\'' && strings.HasPrefix(l.value, "${"):
				s += " ruby " + rubyLiteralRE.ReplaceAllString(l.value, `"S"`)
			case l.quote != 0:
				s += " quoted"
			default:
				s += " " + l.value
			}
		}
		out = append(out, s)
	}
	return out
}

// hostileTemplate is a pipeline whose free-text values are %[1]s to %[5]s
// (YAML double-quoted scalars).
const hostileTemplate = `apiVersion: obsctl/v1
kind: Pipeline
name: p
description: %[1]s
decorate:
  static:
    cluster: %[2]s
parse:
  format: json
  timeKey: %[3]s
  timeFormat: %[4]s
output:
  index: %[5]s
`

const hostileRegexpTemplate = `apiVersion: obsctl/v1
kind: Pipeline
name: r
match: {namespaces: [r]}
parse:
  format: regexp
  regexp: %s
output:
  index: logs-r
`

// TestHostileInputs feeds values that try to break out of their place in
// the configuration (quotes, line breaks, #{...}, ${...}, closing tags).
// Where the format allows free text, they must come out as inert quoted
// text: the compiled file has the same structure as with harmless values,
// and each value reads back exactly. Everywhere else they are refused.
func TestHostileInputs(t *testing.T) {
	const marker = "EVIL"
	attack := marker + `' "]} #{` + "`id`" + `} ${` + "`id`" + `} __TAG__ %{x} \ </match> <match **>`
	hostile := struct{ desc, static, timeKey, timeFormat, index, regexp string }{
		desc:       attack + "\n</label>\n<match **>\n  @type exec\n</match>\u2028x",
		static:     attack + "\n</record>\n</filter>",
		timeKey:    attack,
		timeFormat: "%Y " + attack,
		index:      "logs-evil'`id`$(x){y}!&=",
		regexp:     `^(?<msg>` + marker + `'"#{1}\\' </match> %{y})$`,
	}
	benign := struct{ desc, static, timeKey, timeFormat, index, regexp string }{
		desc: "benign", static: "benign", timeKey: "ts", timeFormat: "%Y", index: "logs-benign", regexp: `^(?<msg>benign)$`,
	}
	hostileOut := testOutput
	hostileOut.User = attack
	hostileOut.CAFile = "/etc/" + attack + "/ca.crt"
	hostileOut.BufferPath = "/var/" + strings.ReplaceAll(attack, "/", "")

	compile := func(desc, static, timeKey, timeFormat, index, re string, o ElasticsearchOutput) (string, []confLine) {
		t.Helper()
		q := strconv.Quote
		ps, fds := Load(repoFS(map[string]string{
			"p.yaml": fmt.Sprintf(hostileTemplate, q(desc), q(static), q(timeKey), q(timeFormat), q(index)),
			"r.yaml": fmt.Sprintf(hostileRegexpTemplate, q(re)),
		}), Dir)
		for _, f := range fds {
			if f.Severity >= diag.Error {
				t.Fatalf("refused: %v", f)
			}
		}
		b, err := CompileFluentd(ps, o)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), checkStructure(t, string(b))
	}
	_, want := compile(benign.desc, benign.static, benign.timeKey, benign.timeFormat, benign.index, benign.regexp, testOutput)
	conf, got := compile(hostile.desc, hostile.static, hostile.timeKey, hostile.timeFormat, hostile.index, hostile.regexp, hostileOut)

	ws, gs := skeleton(want), skeleton(got)
	if strings.Join(ws, "\n") != strings.Join(gs, "\n") {
		t.Fatalf("hostile values changed the structure of the configuration:\n%s", conf)
	}
	// Each value reads back exactly.
	read := map[string]string{}
	for _, l := range got {
		if l.kind == "param" && l.quote == '\'' {
			read[l.name] += l.value + "\n"
		}
	}
	for key, v := range map[string]string{
		"time_key":        hostile.timeKey,
		"time_format":     hostile.timeFormat,
		"logstash_prefix": hostile.index,
		"expression":      "/" + hostile.regexp + "/",
		"user":            hostileOut.User,
		"ca_file":         hostileOut.CAFile,
	} {
		if !strings.Contains(read[key], v+"\n") {
			t.Errorf("%s reads back as %q, want %q", key, read[key], v)
		}
	}
	if !strings.Contains(read["path"], hostileOut.BufferPath+"/p\n") {
		t.Errorf("buffer path reads back as %q", read["path"])
	}
	code, err := recordCode(strings.TrimSuffix(read["cluster"], "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v := decodeRuby(t, code); v != hostile.static {
		t.Errorf("static value reads back as %q, want %q", v, hostile.static)
	}
	// The description is only ever inside comments.
	for _, line := range strings.Split(conf, "\n") {
		if strings.Contains(line, "@type exec") && !strings.HasPrefix(strings.TrimLeft(line, " "), "#") {
			t.Errorf("description escaped its comment: %q", line)
		}
	}
}

// TestHostileRefused holds hostile values in places that take names:
// validation refuses them, and CompileFluentd refuses the pipelines too.
func TestHostileRefused(t *testing.T) {
	attack := `x'"]} #{` + "`id`" + `} ${a} </match>` + "\n<match **>"
	q := strconv.Quote(attack)
	tests := []struct{ name, body, check string }{
		{"pipeline name", "name: " + q + "\n" + out, CheckSchema},
		{"namespace", "name: p\nmatch: {namespaces: [" + q + "]}\n" + out, CheckKubernetesName},
		{"excluded namespace", "name: p\nmatch: {excludeNamespaces: [" + q + "]}\n" + out, CheckKubernetesName},
		{"container", "name: p\nmatch: {containers: [" + q + "]}\n" + out, CheckKubernetesName},
		{"match label key", "name: p\nmatch: {podLabels: {" + q + ": a}}\n" + out, CheckKubernetesName},
		{"match label value", "name: p\nmatch: {podLabels: {a: " + q + "}}\n" + out, CheckKubernetesName},
		{"decorate label key", "name: p\ndecorate: {podLabels: {" + q + ": a}}\n" + out, CheckKubernetesName},
		{"namespace label key", "name: p\ndecorate: {namespaceLabels: {" + q + ": a}}\n" + out, CheckKubernetesName},
		{"field from a label", "name: p\ndecorate: {podLabels: {a: " + q + "}}\n" + out, CheckFieldName},
		{"static field", "name: p\ndecorate: {static: {" + q + ": a}}\n" + out, CheckFieldName},
		{"index", "name: p\noutput: {index: " + strconv.Quote("logs-"+attack) + "}\n", CheckIndexName},
		{"regexp", "name: p\nparse: {format: regexp, regexp: " + strconv.Quote("(?<a>x)"+attack) + "}\n" + out, CheckRegexp},
		{"timeKey", "name: p\nparse: {format: json, timeKey: " + q + "}\n" + out, CheckSchema},
		{"timeFormat", "name: p\nparse: {format: json, timeKey: t, timeFormat: " + q + "}\n" + out, CheckSchema},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, fds := loadSrc(t, "apiVersion: obsctl/v1\nkind: Pipeline\n"+tt.body)
			found := false
			for _, f := range fds {
				found = found || f.Check == tt.check && f.Severity == diag.Error
			}
			if !found {
				t.Fatalf("no %s error among:\n%s", tt.check, findingLines(fds))
			}
			if len(ps) != 1 {
				t.Fatalf("got %d pipelines", len(ps))
			}
			if _, err := CompileFluentd(ps, testOutput); !errors.Is(err, ErrInvalidPipeline) {
				t.Errorf("CompileFluentd = %v, want ErrInvalidPipeline", err)
			}
		})
	}
}
