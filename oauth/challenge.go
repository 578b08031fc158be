package oauth

import (
	"net/http"
	"strings"
)

// AuthChallenge is one challenge of a WWW-Authenticate header.
type AuthChallenge struct {
	Scheme string            // in lower case
	Params map[string]string // by name in lower case; a repeated name keeps its first value
}

// ParseWWWAuthenticate reads the challenges of a WWW-Authenticate header,
// given as its lines (RFC 9110 §11.6.1):
//
//	challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//	auth-param = token BWS "=" BWS ( token / quoted-string )
//
// in a comma-separated list, on one line or several. A challenge that
// cannot be read (an unterminated quoted string, a parameter without a
// value) is left out, and the others are still read: one odd challenge
// does not hide the Bearer one. An unquoted value is taken up to the next
// comma, as servers send URLs unquoted.
func ParseWWWAuthenticate(lines []string) []AuthChallenge {
	var out []AuthChallenge
	for _, line := range lines {
		out = append(out, parseChallengeLine(line)...)
	}
	return out
}

// BearerChallenge is the challenge of a 401 or 403 that a sign-in answers
// (AUTH-01): the Bearer one, or the only one there is; ok is false when
// there is none of either.
func BearerChallenge(h http.Header) (_ AuthChallenge, ok bool) {
	challenges := ParseWWWAuthenticate(h.Values("WWW-Authenticate"))
	for _, c := range challenges {
		if c.Scheme == "bearer" || len(challenges) == 1 {
			return c, true
		}
	}
	return AuthChallenge{}, false
}

func parseChallengeLine(line string) []AuthChallenge {
	p := &headerScanner{s: line}
	var out []AuthChallenge
	var cur *AuthChallenge
	bad := false // cur cannot be read: it is left out
	flush := func() {
		if cur != nil && !bad {
			out = append(out, *cur)
		}
		cur, bad = nil, false
	}
	for p.skipSeparators(); !p.end(); p.skipSeparators() {
		mark := p.i
		name := p.token()
		afterName := p.i
		p.ows()
		switch {
		case name != "" && p.peek() == '=' && cur != nil:
			// Another parameter of the current challenge.
			p.i = mark
			if !p.param(cur.Params) {
				bad = true
				p.skipElement()
			}
			continue
		case name == "" || p.peek() == '=':
			// Neither a scheme nor a parameter of one.
			bad = bad || cur != nil
			p.skipElement()
			continue
		}
		flush()
		cur = &AuthChallenge{Scheme: strings.ToLower(name), Params: map[string]string{}}
		switch {
		case p.end() || p.peek() == ',':
		case p.i == afterName: // no space after the scheme
			bad = true
			p.skipElement()
		case p.token68():
		case !p.param(cur.Params):
			bad = true
			p.skipElement()
		}
	}
	flush()
	return out
}

// headerScanner reads a header value from position i.
type headerScanner struct {
	s string
	i int
}

func (p *headerScanner) end() bool { return p.i >= len(p.s) }

func (p *headerScanner) peek() byte {
	if p.end() {
		return 0
	}
	return p.s[p.i]
}

// ows skips optional whitespace.
func (p *headerScanner) ows() {
	for !p.end() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// skipSeparators skips whitespace and empty list elements.
func (p *headerScanner) skipSeparators() {
	for !p.end() && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == ',') {
		p.i++
	}
}

// skipElement skips to the comma that ends the list element, outside
// quoted strings.
func (p *headerScanner) skipElement() {
	for quoted := false; !p.end(); p.i++ {
		switch p.s[p.i] {
		case '\\':
			if quoted && p.i+1 < len(p.s) {
				p.i++
			}
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				return
			}
		}
	}
}

// token reads an RFC 9110 token; "" if there is none here.
func (p *headerScanner) token() string {
	start := p.i
	for !p.end() && isTokenChar(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// token68 consumes a token68 that is the rest of the list element
// (credentials of schemes such as Negotiate); false leaves p unchanged.
func (p *headerScanner) token68() bool {
	j := p.i
	for j < len(p.s) && ('a' <= p.s[j] && p.s[j] <= 'z' || 'A' <= p.s[j] && p.s[j] <= 'Z' || '0' <= p.s[j] && p.s[j] <= '9' ||
		strings.IndexByte("-._~+/", p.s[j]) >= 0) {
		j++
	}
	if j == p.i {
		return false
	}
	for j < len(p.s) && p.s[j] == '=' {
		j++
	}
	for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t') {
		j++
	}
	if j < len(p.s) && p.s[j] != ',' {
		return false
	}
	p.i = j
	return true
}

// param reads name BWS "=" BWS value, which must end the list element.
func (p *headerScanner) param(params map[string]string) bool {
	name := strings.ToLower(p.token())
	p.ows()
	if name == "" || p.peek() != '=' {
		return false
	}
	p.i++
	p.ows()
	var value string
	if p.peek() == '"' {
		var ok bool
		if value, ok = p.quoted(); !ok {
			return false
		}
		p.ows()
		if !p.end() && p.peek() != ',' {
			return false
		}
	} else {
		start := p.i
		for !p.end() && p.s[p.i] != ',' && p.s[p.i] != '"' {
			p.i++
		}
		if value = strings.TrimRight(p.s[start:p.i], " \t"); value == "" || p.peek() == '"' {
			return false
		}
	}
	if _, seen := params[name]; !seen {
		params[name] = value
	}
	return true
}

// quoted reads a quoted-string, undoing its quoted-pairs.
func (p *headerScanner) quoted() (string, bool) {
	var b strings.Builder
	for p.i++; !p.end(); p.i++ {
		switch c := p.s[p.i]; c {
		case '"':
			p.i++
			return b.String(), true
		case '\\':
			if p.i+1 < len(p.s) {
				p.i++
				b.WriteByte(p.s[p.i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}
