package bridge

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// maxNameLen is the longest tool name the spec allows (LC-14).
const maxNameLen = 128

// toolNameChar: the characters a tool name may have (SEP-986, LC-14).
func toolNameChar(r byte) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
}

// sanitize replaces every character a tool name may not contain with '_'
// (one per character, however many bytes it has).
func sanitize(name string) string {
	if name == "" {
		return "_"
	}
	ok := true
	for i := 0; i < len(name); i++ {
		ok = ok && toolNameChar(name[i])
	}
	if ok {
		return name
	}
	var b strings.Builder
	for _, r := range name {
		if r < 0x80 && toolNameChar(byte(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// prefixed is the aggregated name of an upstream tool or prompt:
// server ID, separator, sanitised name. A result longer than 128
// characters keeps its start and ends in a hash of the whole original, so
// it stays unique and stable.
func prefixed(server, sep, name string) string {
	full := server + sep + sanitize(name)
	if len(full) <= maxNameLen {
		return full
	}
	sum := sha256.Sum256([]byte(server + "\x00" + name))
	tail := "_" + hex.EncodeToString(sum[:5])
	return full[:maxNameLen-len(tail)] + tail
}

// namer hands out unique names in the order items are added: a name that
// is already taken gets _2, _3, ... (deterministic for a given catalog
// order).
type namer struct {
	taken map[string]bool
}

func newNamer() *namer { return &namer{taken: map[string]bool{}} }

func (n *namer) unique(name string) string {
	if !n.taken[name] {
		n.taken[name] = true
		return name
	}
	for i := 2; ; i++ {
		suffix := "_" + strconv.Itoa(i)
		base := name
		if len(base)+len(suffix) > maxNameLen {
			base = base[:maxNameLen-len(suffix)]
		}
		if c := base + suffix; !n.taken[c] {
			n.taken[c] = true
			return c
		}
	}
}

// templateMatcher matches URIs against an RFC 6570 URI template, enough to
// route resources/read of a templated URI to the server that offers the
// template: literals must match, each expression matches one segment
// ({x}), or any run ({+x}, {#x}), or an optional query ({?x}, {&x}).
type templateMatcher struct {
	parts []tplPart
}

type tplPart struct {
	literal string
	expr    byte // 0 literal; 's' segment; 'r' reserved run; 'q' query
}

func compileTemplate(t string) templateMatcher {
	var m templateMatcher
	for t != "" {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			m.parts = append(m.parts, tplPart{literal: t})
			break
		}
		if i > 0 {
			m.parts = append(m.parts, tplPart{literal: t[:i]})
		}
		j := strings.IndexByte(t[i:], '}')
		if j < 0 {
			m.parts = append(m.parts, tplPart{literal: t[i:]})
			break
		}
		expr := t[i+1 : i+j]
		kind := byte('s')
		if expr != "" {
			switch expr[0] {
			case '+', '#':
				kind = 'r'
			case '?', '&':
				kind = 'q'
			}
		}
		m.parts = append(m.parts, tplPart{expr: kind})
		t = t[i+j+1:]
	}
	return m
}

func (m templateMatcher) match(uri string) bool { return matchParts(m.parts, uri) }

func matchParts(parts []tplPart, s string) bool {
	if len(parts) == 0 {
		return s == ""
	}
	p := parts[0]
	switch p.expr {
	case 0:
		return strings.HasPrefix(s, p.literal) && matchParts(parts[1:], s[len(p.literal):])
	case 'q':
		if !strings.HasPrefix(s, "?") && !strings.HasPrefix(s, "&") {
			return matchParts(parts[1:], s)
		}
		fallthrough
	default:
		// Try every split point; templates are short.
		for i := 0; i <= len(s); i++ {
			if p.expr == 's' && i > 0 && (s[i-1] == '/' || s[i-1] == '?') {
				break
			}
			if i > 0 && matchParts(parts[1:], s[i:]) {
				return true
			}
		}
		return false
	}
}
