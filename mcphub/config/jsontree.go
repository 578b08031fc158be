package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON parser that keeps the byte offset of every value and key, so
// that every configuration error can name the line and column it is about.
// encoding/json reports offsets only for syntax errors, never for "this value
// is wrong", and the config is small, so a tree is cheap.

type kind int

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k kind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

type node struct {
	kind    kind
	off     int // byte offset of the value's first character
	end     int // byte offset just after the value
	str     string
	num     string // number as written
	boolean bool
	items   []*node
	members []member
}

type member struct {
	key    string
	keyOff int
	value  *node
}

// get returns the member named key, or nil.
func (n *node) get(key string) *node {
	for _, m := range n.members {
		if m.key == key {
			return m.value
		}
	}
	return nil
}

// syntaxError is a JSON syntax error at a byte offset.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

type parser struct {
	data  []byte
	pos   int
	depth int
}

const maxDepth = 64

func parseTree(data []byte) (*node, error) {
	p := &parser{data: data}
	// A UTF-8 byte order mark is what some Windows editors write.
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		p.pos = 3
	}
	p.skipSpace()
	if p.pos >= len(p.data) {
		return nil, &syntaxError{p.pos, "the file is empty (expected a JSON object)"}
	}
	n, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.data) {
		return nil, p.errorf("unexpected %s after the end of the top-level value", p.describe())
	}
	return n, nil
}

func (p *parser) errorf(format string, args ...any) error {
	return &syntaxError{p.pos, fmt.Sprintf(format, args...)}
}

// describe names the character at the current position for error messages.
func (p *parser) describe() string {
	if p.pos >= len(p.data) {
		return "end of file"
	}
	if p.data[p.pos] == '/' {
		return "'/' (comments are not allowed in JSON)"
	}
	r, _ := utf8.DecodeRune(p.data[p.pos:])
	return strconv.QuoteRune(r)
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value() (*node, error) {
	n, err := p.valueAt()
	if n != nil {
		n.end = p.pos
	}
	return n, err
}

func (p *parser) valueAt() (*node, error) {
	if p.pos >= len(p.data) {
		return nil, p.errorf("unexpected end of file (expected a value)")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		off := p.pos
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		return &node{kind: kindString, off: off, str: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		for _, lit := range []struct {
			word string
			n    node
		}{{"true", node{kind: kindBool, boolean: true}}, {"false", node{kind: kindBool}}, {"null", node{kind: kindNull}}} {
			if strings.HasPrefix(string(p.data[p.pos:min(len(p.data), p.pos+len(lit.word))]), lit.word) {
				n := lit.n
				n.off = p.pos
				p.pos += len(lit.word)
				return &n, nil
			}
		}
		return nil, p.errorf("unexpected %s (expected a value)", p.describe())
	}
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.errorf("nesting deeper than %d levels", maxDepth)
	}
	return nil
}

func (p *parser) object() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	n := &node{kind: kindObject, off: p.pos}
	p.pos++ // {
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return n, nil
	}
	comma := -1 // where the last ',' was: a trailing one is reported there, the line to edit
	for {
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.errorf("unexpected end of file inside an object (missing '}')")
		}
		if p.data[p.pos] == '}' {
			return nil, &syntaxError{comma, "trailing comma before '}' is not allowed in JSON"}
		}
		if p.data[p.pos] != '"' {
			return nil, p.errorf("unexpected %s (expected a quoted key)", p.describe())
		}
		keyOff := p.pos
		key, err := p.string()
		if err != nil {
			return nil, err
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.errorf("unexpected %s after key %q (expected ':')", p.describe(), key)
		}
		p.pos++
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		for _, m := range n.members {
			if m.key == key {
				return nil, &syntaxError{keyOff, fmt.Sprintf("key %q appears twice in the same object", key)}
			}
		}
		n.members = append(n.members, member{key: key, keyOff: keyOff, value: v})
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.errorf("unexpected end of file inside an object (missing '}')")
		}
		switch p.data[p.pos] {
		case ',':
			comma = p.pos
			p.pos++
		case '}':
			p.pos++
			return n, nil
		default:
			return nil, p.errorf("unexpected %s (expected ',' or '}')", p.describe())
		}
	}
}

func (p *parser) array() (*node, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	n := &node{kind: kindArray, off: p.pos}
	p.pos++ // [
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return n, nil
	}
	comma := -1 // as in object
	for {
		p.skipSpace()
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			return nil, &syntaxError{comma, "trailing comma before ']' is not allowed in JSON"}
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, v)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.errorf("unexpected end of file inside an array (missing ']')")
		}
		switch p.data[p.pos] {
		case ',':
			comma = p.pos
			p.pos++
		case ']':
			p.pos++
			return n, nil
		default:
			return nil, p.errorf("unexpected %s (expected ',' or ']')", p.describe())
		}
	}
}

func (p *parser) number() (*node, error) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	digits := func() int {
		s := p.pos
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
		}
		return p.pos - s
	}
	if digits() == 0 {
		return nil, p.errorf("invalid number")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return nil, p.errorf("invalid number (digits expected after '.')")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return nil, p.errorf("invalid number (digits expected in exponent)")
		}
	}
	return &node{kind: kindNumber, off: start, num: string(p.data[start:p.pos])}, nil
}

func (p *parser) string() (string, error) {
	p.pos++ // opening quote
	var b strings.Builder
	for {
		if p.pos >= len(p.data) {
			return "", p.errorf("unexpected end of file inside a string (missing '\"')")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c == '\\':
			if p.pos+1 >= len(p.data) {
				return "", p.errorf("unexpected end of file inside a string")
			}
			esc := p.data[p.pos+1]
			p.pos += 2
			switch esc {
			case '"', '\\', '/':
				b.WriteByte(esc)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, err := p.hex4()
				if err != nil {
					return "", err
				}
				if utf16.IsSurrogate(r) {
					// A surrogate pair is two \u escapes in a row.
					if p.pos+6 <= len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
						p.pos += 2
						r2, err := p.hex4()
						if err != nil {
							return "", err
						}
						r = utf16.DecodeRune(r, r2)
					} else {
						r = utf8.RuneError
					}
				}
				b.WriteRune(r)
			default:
				p.pos--
				return "", p.errorf("invalid escape '\\%c' in a string", esc)
			}
		case c < 0x20:
			if c == '\n' {
				return "", p.errorf("line break inside a string (missing '\"'?)")
			}
			return "", p.errorf("control character inside a string")
		default:
			r, size := utf8.DecodeRune(p.data[p.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", p.errorf("invalid UTF-8 in a string")
			}
			b.WriteString(string(p.data[p.pos : p.pos+size]))
			p.pos += size
		}
	}
}

func (p *parser) hex4() (rune, error) {
	if p.pos+4 > len(p.data) {
		return 0, p.errorf("incomplete \\u escape")
	}
	v, err := strconv.ParseUint(string(p.data[p.pos:p.pos+4]), 16, 16)
	if err != nil {
		return 0, p.errorf("invalid \\u escape")
	}
	p.pos += 4
	return rune(v), nil
}

// lineCol turns a byte offset into 1-based line and column numbers
// (columns count characters, as editors do).
func lineCol(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	line = 1
	lineStart := 0
	for i := 0; i < off; i++ {
		if data[i] == '\n' {
			line++
			lineStart = i + 1
		}
	}
	return line, utf8.RuneCount(data[lineStart:off]) + 1
}
