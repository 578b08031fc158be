package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// The transport's side of the wire: writing a request and reading the
// head of its answer took most of a bridged call's HTTP cost in net/http's
// general code (header sorting, fmt, textproto's MIME reader). These do
// the common case directly and leave everything else to net/http:
// writeRequest to Request.Write, readResponse to http.ReadResponse, which
// then also say what is wrong with what is not well-formed. What is valid
// is decided by httpguts, as net/http decides it (a method is a token, as
// a field name is).

// writeRequest writes req, a request with an origin-form target and a body
// of known length (or none), as Request.Write does; other requests go to
// Request.Write. req's header has passed checkHeader.
func writeRequest(w *bufio.Writer, req *http.Request) error {
	n := req.ContentLength
	hasBody := req.Body != nil && req.Body != http.NoBody
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if n < 0 || n == 0 && hasBody || len(req.TransferEncoding) > 0 || len(req.Trailer) > 0 || req.URL.Opaque != "" ||
		!httpguts.ValidHeaderFieldName(req.Method) || !plainHost(host) {
		return req.Write(w)
	}
	_, _ = w.WriteString(req.Method)
	_ = w.WriteByte(' ')
	_, _ = w.WriteString(req.URL.RequestURI())
	_, _ = w.WriteString(" HTTP/1.1\r\nHost: ")
	_, _ = w.WriteString(host)
	_, _ = w.WriteString("\r\n")
	agent := "Go-http-client/1.1"
	if _, set := req.Header["User-Agent"]; set {
		agent = req.Header.Get("User-Agent")
	}
	if agent != "" {
		_, _ = w.WriteString("User-Agent: ")
		_, _ = w.WriteString(agent)
		_, _ = w.WriteString("\r\n")
	}
	if n > 0 || req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
		_, _ = w.WriteString("Content-Length: ")
		_, _ = w.WriteString(strconv.FormatInt(n, 10))
		_, _ = w.WriteString("\r\n")
	}
	if req.Close && !httpguts.HeaderValuesContainsToken(req.Header["Connection"], "close") {
		_, _ = w.WriteString("Connection: close\r\n")
	}
	for k, vs := range req.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		for _, v := range vs {
			_, _ = w.WriteString(k)
			_, _ = w.WriteString(": ")
			_, _ = w.WriteString(strings.Trim(v, " \t"))
			_, _ = w.WriteString("\r\n")
		}
	}
	_, err := w.WriteString("\r\n")
	if hasBody {
		copied, cerr := io.Copy(w, io.LimitReader(req.Body, n))
		req.Body.Close()
		switch {
		case cerr != nil:
			return cerr
		case copied != n:
			return fmt.Errorf("http: ContentLength=%d with Body length %d", n, copied)
		}
	}
	return err
}

// checkHeader refuses a header that would change a request's meaning (a
// line break in a value) or is not a header, as net/http's Transport does
// before it takes a connection: Request.Write would mend or drop it.
func checkHeader(h http.Header) error {
	for k, vs := range h {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("invalid header field name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("invalid header field value for %q", k)
			}
		}
	}
	return nil
}

// readResponse reads the head of req's answer: a well-formed HTTP/1.1 head
// already in br's buffer (the usual case: it comes in one read) is read
// here, anything else by http.ReadResponse.
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	if _, err := br.Peek(1); err != nil {
		return http.ReadResponse(br, req) // it says what went wrong
	}
	head, n := bufferedHead(br)
	if head == nil || req.Method == http.MethodHead {
		return http.ReadResponse(br, req)
	}
	resp := parseResponseHead(head, req)
	if resp == nil {
		return http.ReadResponse(br, req)
	}
	_, _ = br.Discard(n)
	if resp.TransferEncoding == nil && resp.ContentLength < 0 {
		resp.Close = true // the body ends with the connection
	}
	resp.Body = bodyReader(br, resp.TransferEncoding != nil, resp.ContentLength)
	return resp, nil
}

// readRequest reads a request's head: a well-formed HTTP/1.1 head already
// in br's buffer (the usual case) is read here, anything else by
// http.ReadRequest. head and n are what bufferedHead found in br (nil: the
// head has not come whole).
func readRequest(br *bufio.Reader, head []byte, n int) (*http.Request, error) {
	if head == nil {
		return http.ReadRequest(br)
	}
	req := parseRequestHead(head)
	if req == nil {
		return http.ReadRequest(br)
	}
	_, _ = br.Discard(n)
	req.Body = bodyReader(br, req.TransferEncoding != nil, req.ContentLength)
	return req, nil
}

// validHost: RFC 9112 §3.2, an HTTP/1.1 request has one valid Host field.
// A second is refused by http.ReadRequest and parseRequestHead; the rest
// is net/http's server's to check, not ReadRequest's, and so the Server's
// here. ReadRequest drops the field, so a missing one shows as an empty
// host: an empty field is refused too (an http URI's host is never empty),
// and an absolute-form target's host stands in for a missing field.
func validHost(req *http.Request) bool {
	return (req.Host != "" || !req.ProtoAtLeast(1, 1)) && httpguts.ValidHostHeader(req.Host)
}

var errHost = errors.New("an HTTP/1.1 request needs one valid Host field")

// bufferedHead returns the head in br's buffer (its lines, each with its
// CRLF) and its length with the blank line that ends it; nil if it has not
// come whole.
func bufferedHead(br *bufio.Reader) ([]byte, int) {
	buf := buffered(br)
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, 0
	}
	return buf[:end+2], end + 4
}

// bodyReader reads a body that follows its head in br: chunked, of length
// n, or (n < 0) up to the connection's end.
func bodyReader(br *bufio.Reader, chunked bool, n int64) io.ReadCloser {
	switch {
	case chunked:
		return &chunkedBody{br: br}
	case n == 0:
		return http.NoBody
	case n > 0:
		return &fixedBody{r: br, left: n}
	}
	return io.NopCloser(br)
}

// parseRequestHead parses a head (its lines, each with its CRLF) as
// http.ReadRequest would, or returns nil where it would not know that it
// does: a version other than 1.1, a target other than a path, a folded
// line, framing that parseFraming leaves to net/http, a Pragma or Trailer
// header, more than one Host.
func parseRequestHead(head []byte) *http.Request {
	// One string for the head: the method, target, keys and values are
	// parts of it, not an allocation each.
	line, rest, _ := strings.Cut(string(head), "\r\n")
	m, line, ok1 := strings.Cut(line, " ")
	uri, proto, ok2 := strings.Cut(line, " ")
	if !ok1 || !ok2 || proto != "HTTP/1.1" || len(uri) == 0 || uri[0] != '/' {
		return nil
	}
	if !httpguts.ValidHeaderFieldName(m) {
		return nil
	}
	u, err := url.ParseRequestURI(uri) // which refuses control characters
	if err != nil {
		return nil
	}
	h := parseFields(rest)
	if h == nil || h["Pragma"] != nil || h["Trailer"] != nil || len(h["Host"]) > 1 {
		return nil
	}
	length, chunked, ok := parseFraming(h)
	if !ok {
		return nil
	}
	req := &http.Request{Method: m, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, RequestURI: uri, Host: h.Get("Host"), ContentLength: max(length, 0)}
	delete(h, "Host")
	if chunked {
		req.TransferEncoding, req.ContentLength = []string{"chunked"}, -1
	}
	req.Close = httpguts.HeaderValuesContainsToken(h["Connection"], "close")
	return req
}

// parseResponseHead parses a head (its lines, each with its CRLF) as
// http.ReadResponse would, or returns nil where it would not know that it
// does: another version, a 1xx, 204 or 304, a folded line, framing that
// parseFraming leaves to net/http, a Trailer header.
func parseResponseHead(head []byte, req *http.Request) *http.Response {
	line, rest, _ := strings.Cut(string(head), "\r\n") // one string, as in parseRequestHead
	if len(line) < 12 || line[:9] != "HTTP/1.1 " || len(line) > 12 && line[12] != ' ' {
		return nil
	}
	status := line[9:]
	if !httpguts.ValidHeaderFieldValue(status) {
		return nil
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return nil
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 || !bodyAllowed(code) {
		return nil // 1xx, 204, 304: rare here, and net/http's rules for them are many
	}
	h := parseFields(rest)
	if h == nil || h["Trailer"] != nil {
		return nil
	}
	length, chunked, ok := parseFraming(h)
	if !ok {
		return nil
	}
	resp := &http.Response{Status: status, StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Request: req, ContentLength: length}
	if chunked {
		resp.TransferEncoding = []string{"chunked"}
	}
	if httpguts.HeaderValuesContainsToken(h["Connection"], "close") {
		delete(h, "Connection")
		resp.Close = true
	}
	return resp
}

// parseFraming reads how a body is delimited, as net/http does: chunked
// (the Transfer-Encoding header is then removed from h), a
// Content-Length, or neither (length -1); ok is false for anything else
// (another transfer coding, both headers, a Content-Length that is not
// one plain number), which is left to net/http.
func parseFraming(h http.Header) (length int64, chunked, ok bool) {
	te, hasTE := h["Transfer-Encoding"]
	cl, hasCL := h["Content-Length"]
	switch {
	case hasTE:
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") || hasCL {
			return 0, false, false
		}
		delete(h, "Transfer-Encoding")
		return -1, true, true
	case hasCL:
		n, err := strconv.ParseUint(cl[0], 10, 63)
		return int64(n), false, len(cl) == 1 && err == nil
	}
	return -1, false, true
}

// parseFields reads header lines (each with its CRLF) with canonical
// keys; nil for anything unusual (a folded line, a name that is not a
// token, a control character in a value). Keys and values are parts of
// text, and the values' slices share one array.
func parseFields(text string) http.Header {
	n := strings.Count(text, "\r\n")
	h, values := make(http.Header, n), make([]string, n)
	var name [64]byte
	for i := 0; text != ""; i++ {
		var line string
		line, text, _ = strings.Cut(text, "\r\n")
		k, v, ok := strings.Cut(line, ":")
		if !ok || len(k) > len(name) {
			return nil
		}
		key, value := canonicalKey(name[:0], k), strings.Trim(v, " \t")
		if !httpguts.ValidHeaderFieldName(key) || !httpguts.ValidHeaderFieldValue(value) {
			return nil
		}
		if vs, ok := h[key]; ok {
			h[key] = append(vs, value)
			continue
		}
		values[i] = value
		h[key] = values[i : i+1 : i+1]
	}
	return h
}

// canonicalKey is http.CanonicalHeaderKey of k (if a token): k itself when
// it is already, else built in buf, and the names servers usually send
// are not allocated again.
func canonicalKey(buf []byte, k string) string {
	upper, same := true, true
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case upper && c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case !upper && c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		same = same && c == k[i]
		buf = append(buf, c)
		upper = c == '-'
	}
	if same {
		return k
	}
	if s, ok := commonKeys[string(buf)]; ok {
		return s
	}
	return string(buf)
}

var commonKeys = map[string]string{}

func init() {
	for _, k := range []string{"Cache-Control", "Connection", "Content-Encoding", "Content-Length", "Content-Type",
		"Date", "Keep-Alive", "Last-Event-Id", "Location", "Mcp-Protocol-Version", "Mcp-Session-Id", "Server",
		"Transfer-Encoding", "Vary", "Www-Authenticate", "X-Accel-Buffering", "X-Powered-By"} {
		commonKeys[k] = k
	}
}

// plainHost: an ASCII host[:port] as URLs spell them, which needs no
// punycode or checking (anything else goes to Request.Write, which does
// both).
func plainHost(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-:[]_%", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// fixedBody is a body of known length; it ending early is an error.
type fixedBody struct {
	r    io.Reader
	left int64
}

func (b *fixedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if err == io.EOF && b.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && b.left == 0 {
		err = io.EOF
	}
	return n, err
}

func (b *fixedBody) Close() error { return nil }
