// Package jsonobj reads the members of a JSON object in one pass without
// decoding their values. The bridge's hot path needs a few members of a
// JSON-RPC message (and of its params) as strings and the rest as raw
// JSON; encoding/json scans such a message twice (validation, then
// decoding), again for every raw member it copies, and goes through
// reflection for each field. Decode falls back to encoding/json whenever
// the one pass says no, so that its errors (and its answer for whatever is
// not an object) stay what they were.
package jsonobj

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// maxDepth is encoding/json's nesting limit: deeper input is refused.
const maxDepth = 10000

// Members calls member with each member of the object that data holds, in
// order: its key (unescaped; a key with escapes or bytes that are not
// UTF-8 is decoded as encoding/json decodes it, the rare case that
// allocates) and its value's JSON, a slice of data without the
// whitespace around it. It returns false when data is anything but one
// valid JSON object with only whitespace around it; members before the
// fault have been passed on by then, and the caller drops what it made of
// them. The slices are data's, valid as long as data is.
func Members(data []byte, member func(key, value []byte)) bool {
	s := scanner{data: data}
	s.space()
	if s.i >= len(data) || data[s.i] != '{' || !s.object(1, member) {
		return false
	}
	s.space()
	return s.i == len(data)
}

// Scan reads the object in data into *v in one pass: member stores one
// member (its key as Field matches it), false for a value of a type the
// field cannot take. It returns false for what encoding/json would read
// otherwise, or not at all; *v is then partly filled.
func Scan[T any](data []byte, v *T, member func(v *T, key, value []byte) bool) bool {
	typesOK := true
	valid := Members(data, func(key, value []byte) { typesOK = member(v, key, value) && typesOK })
	return valid && typesOK
}

// Decode is Scan, falling back to encoding/json (on a zeroed *v) for what
// Scan does not take, so that errors read as encoding/json's.
func Decode[T any](data []byte, v *T, member func(v *T, key, value []byte) bool) error {
	if Scan(data, v, member) {
		return nil
	}
	var zero T
	*v = zero
	return json.Unmarshal(data, v)
}

// unquoteKey returns a key's text from its JSON string (quoted).
func unquoteKey(quoted []byte) []byte {
	key := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(key, '\\') < 0 && utf8.Valid(key) {
		return key
	}
	var k string
	_ = json.Unmarshal(quoted, &k) // valid: checked
	return []byte(k)
}

// Field returns which of names key is, as encoding/json matches a key to
// a struct field: exactly, else ignoring case; "" for none.
func Field(key []byte, names []string) string {
	for _, n := range names {
		if string(key) == n {
			return n
		}
	}
	for _, n := range names {
		if bytes.EqualFold(key, []byte(n)) {
			return n
		}
	}
	return ""
}

// String stores the text of a JSON string value in dst, as encoding/json
// decodes a string field: null leaves dst alone; ok is false for a value
// that is neither.
func String(dst *string, value []byte) (ok bool) {
	if len(value) == 0 {
		return false
	}
	switch value[0] {
	case 'n':
		return string(value) == "null"
	case '"':
		inner := value[1 : len(value)-1]
		if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
			*dst = string(inner)
			return true
		}
		return json.Unmarshal(value, dst) == nil
	}
	return false
}

// Pointer decodes value into *dst as encoding/json decodes a pointer
// field: null sets it to nil, anything else is decoded with encoding/json
// into what it points to (a new T if nil); ok is false if that fails.
func Pointer[T any](dst **T, value []byte) (ok bool) {
	if string(value) == "null" {
		*dst = nil
		return true
	}
	if *dst == nil {
		*dst = new(T)
	}
	return json.Unmarshal(value, *dst) == nil
}

// scanner validates JSON text (RFC 8259, as encoding/json reads it: bytes
// that are not UTF-8 are accepted inside strings).
type scanner struct {
	data []byte
	i    int
}

func (s *scanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// value skips one value, reporting whether it was valid.
func (s *scanner) value(depth int) bool {
	if s.i >= len(s.data) {
		return false
	}
	switch c := s.data[s.i]; {
	case c == '{':
		return s.object(depth+1, nil)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		return s.validString()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return false
}

// object skips an object, passing its members to member if not nil.
func (s *scanner) object(depth int, member func(key, value []byte)) bool {
	return s.elements(depth, '}', func() bool {
		keyStart := s.i
		if s.i >= len(s.data) || s.data[s.i] != '"' || !s.validString() {
			return false
		}
		keyEnd := s.i
		s.space()
		if s.i >= len(s.data) || s.data[s.i] != ':' {
			return false
		}
		s.i++
		s.space()
		valueStart := s.i
		if !s.value(depth) {
			return false
		}
		if member != nil {
			member(unquoteKey(s.data[keyStart:keyEnd]), s.data[valueStart:s.i])
		}
		return true
	})
}

func (s *scanner) array(depth int) bool {
	return s.elements(depth, ']', func() bool { return s.value(depth) })
}

// elements skips a container from its opening bracket to closing, with
// element skipping each element.
func (s *scanner) elements(depth int, closing byte, element func() bool) bool {
	if depth > maxDepth {
		return false
	}
	s.i++
	s.space()
	if s.i < len(s.data) && s.data[s.i] == closing {
		s.i++
		return true
	}
	for {
		if !element() {
			return false
		}
		s.space()
		if s.i >= len(s.data) {
			return false
		}
		switch s.data[s.i] {
		case ',':
			s.i++
			s.space()
		case closing:
			s.i++
			return true
		default:
			return false
		}
	}
}

// validString skips a string at s.i, reporting whether it was valid.
func (s *scanner) validString() bool {
	s.i++
	for s.i < len(s.data) {
		switch c := s.data[s.i]; {
		case c == '"':
			s.i++
			return true
		case c == '\\':
			if s.i+1 >= len(s.data) {
				return false
			}
			switch s.data[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.data) {
					return false
				}
				for _, h := range s.data[s.i+2 : s.i+6] {
					if !isHex(h) {
						return false
					}
				}
				s.i += 6
			default:
				return false
			}
		case c < 0x20:
			return false
		default:
			s.i++
		}
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if !bytes.HasPrefix(s.data[s.i:], []byte(lit)) {
		return false
	}
	s.i += len(lit)
	return true
}

// number skips -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	if s.data[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.data) && s.data[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return false
	}
	if s.i < len(s.data) && s.data[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return false
		}
	}
	if s.i < len(s.data) && (s.data[s.i] == 'e' || s.data[s.i] == 'E') {
		s.i++
		if s.i < len(s.data) && (s.data[s.i] == '+' || s.data[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.data) && s.data[s.i] >= '0' && s.data[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
