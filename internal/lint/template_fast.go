package lint

// Annotations are parsed on every lint of every alert, and most are simple:
// text with actions such as {{ $labels.pod }} or {{ $value | humanize }}.
// Parsing them with text/template also re-parses Prometheus' four-variable
// prefix each time, which costs more than the annotation. scanSimple
// recognises that simple form directly and gives up (ok == false) on
// anything else, which then goes through the real parser. It accepts only
// templates the real parser accepts, with the same label references; a
// fuzz test holds it to that.

var templateVars = map[string]bool{"$": true, "$labels": true, "$value": true, "$externalLabels": true, "$externalURL": true}

var templateKeywords = map[string]bool{
	"if": true, "else": true, "end": true, "range": true, "with": true, "define": true, "template": true,
	"block": true, "break": true, "continue": true, "nil": true, "true": true, "false": true,
}

// operand kinds of the simple form
const (
	opFunc = iota + 1
	opVar
	opField
	opDot
	opString
	opNumber
)

type operand struct {
	kind   int
	off    int    // where it starts in the value
	text   string // function name, variable name or string contents
	fields []string
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isLetter(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isAlnum(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// scanSimple returns the label references and $value use of v when every
// action of v is a simple pipeline, with ok; otherwise ok is false.
func scanSimple(v string, funcs map[string]any) (refs []LabelRef, usesValue, ok bool) {
	i := 0
	for {
		j := indexOf(v, "{{", i)
		if j < 0 {
			return refs, usesValue, true
		}
		i = j + 2
		if i+1 < len(v) && v[i] == '-' && isSpaceByte(v[i+1]) {
			i += 2 // a trim marker
		}
		if i+1 < len(v) && v[i] == '/' && v[i+1] == '*' {
			return nil, false, false // a comment
		}
		var cmds [][]operand
		var cmd []operand
		for {
			for i < len(v) && isSpaceByte(v[i]) {
				i++
			}
			if i >= len(v) {
				return nil, false, false
			}
			if v[i] == '}' && i+1 < len(v) && v[i+1] == '}' {
				i += 2
				break
			}
			if v[i] == '-' && i+2 < len(v) && v[i+1] == '}' && v[i+2] == '}' && isSpaceByte(v[i-1]) {
				i += 3
				break
			}
			if v[i] == '|' {
				if len(cmd) == 0 {
					return nil, false, false
				}
				cmds, cmd = append(cmds, cmd), nil
				i++
				continue
			}
			op, n := scanOperand(v, i, funcs)
			if n == 0 {
				return nil, false, false
			}
			cmd = append(cmd, op)
			i += n
			// Operands must be separated by space or end at | or }}.
			if i < len(v) && !isSpaceByte(v[i]) && v[i] != '|' && v[i] != '}' {
				return nil, false, false
			}
		}
		if len(cmd) == 0 {
			return nil, false, false
		}
		cmds = append(cmds, cmd)
		for k, c := range cmds {
			if k > 0 && (c[0].kind == opString || c[0].kind == opNumber || c[0].kind == opDot) {
				return nil, false, false // non executable command in a pipeline stage
			}
			if c[0].kind == opFunc && c[0].text == "index" && len(c) >= 3 && c[2].kind == opString &&
				(c[1].kind == opVar && c[1].text == "$labels" && len(c[1].fields) == 0 ||
					c[1].kind == opField && len(c[1].fields) == 1 && c[1].fields[0] == "Labels") {
				refs = append(refs, LabelRef{Name: c[2].text, Off: c[2].off})
			}
			for _, o := range c {
				switch {
				case o.kind == opVar && o.text == "$labels" && len(o.fields) > 0:
					refs = append(refs, LabelRef{Name: o.fields[0], Off: o.off})
				case o.kind == opVar && o.text == "$value":
					usesValue = true
				case o.kind == opField && o.fields[0] == "Labels" && len(o.fields) > 1:
					refs = append(refs, LabelRef{Name: o.fields[1], Off: o.off})
				case o.kind == opField && o.fields[0] == "Value":
					usesValue = true
				}
			}
		}
	}
}

func indexOf(s, sub string, from int) int {
	for k := from; k+len(sub) <= len(s); k++ {
		if s[k:k+len(sub)] == sub {
			return k
		}
	}
	return -1
}

// scanOperand reads one operand at v[i:] and returns it with its length,
// or length 0 when it is not of the simple form.
func scanOperand(v string, i int, funcs map[string]any) (operand, int) {
	start := i
	fields := func() ([]string, bool) {
		var fs []string
		for i < len(v) && v[i] == '.' {
			k := i + 1
			if k >= len(v) || !isLetter(v[k]) {
				return nil, false // ".5" is a number, "." alone is dot
			}
			for k < len(v) && isAlnum(v[k]) {
				k++
			}
			fs = append(fs, v[i+1:k])
			i = k
		}
		return fs, true
	}
	switch c := v[i]; {
	case c == '$':
		k := i + 1
		for k < len(v) && isAlnum(v[k]) {
			k++
		}
		name := v[i:k]
		if !templateVars[name] {
			return operand{}, 0 // let the real parser report it
		}
		i = k
		fs, ok := fields()
		if !ok {
			return operand{}, 0
		}
		return operand{kind: opVar, off: start, text: name, fields: fs}, i - start
	case c == '.':
		if i+1 >= len(v) || !isAlnum(v[i+1]) {
			return operand{kind: opDot, off: start}, 1
		}
		if !isLetter(v[i+1]) {
			return operand{}, 0
		}
		fs, ok := fields()
		if !ok {
			return operand{}, 0
		}
		return operand{kind: opField, off: start, fields: fs}, i - start
	case c == '"':
		k := i + 1
		for k < len(v) && v[k] != '"' {
			if v[k] == '\\' || v[k] == '\n' || v[k] >= 0x80 {
				return operand{}, 0 // escapes and non-ASCII: the real parser unquotes them
			}
			k++
		}
		if k >= len(v) {
			return operand{}, 0
		}
		return operand{kind: opString, off: start, text: v[i+1 : k]}, k + 1 - start
	case c >= '0' && c <= '9':
		k, dots := i, 0
		for k < len(v) && (v[k] >= '0' && v[k] <= '9' || v[k] == '.') {
			if v[k] == '.' {
				dots++
			}
			k++
		}
		// A leading 0 makes an octal number, which the real parser
		// checks: not simple.
		if dots > 1 || v[k-1] == '.' || k < len(v) && isAlnum(v[k]) || c == '0' && k > i+1 && v[i+1] != '.' {
			return operand{}, 0
		}
		return operand{kind: opNumber, off: start}, k - start
	case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		k := i
		for k < len(v) && isAlnum(v[k]) {
			k++
		}
		name := v[i:k]
		if templateKeywords[name] || funcs[name] == nil && builtins[name] == nil {
			return operand{}, 0
		}
		if k < len(v) && v[k] == '.' {
			return operand{}, 0 // a function result's field: rare, not simple
		}
		return operand{kind: opFunc, off: start, text: name}, k - start
	}
	return operand{}, 0
}
