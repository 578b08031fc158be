package h1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// responses are answers as servers send them, which readResponse reads
// itself (the first fastResponses of them), and some that it leaves to
// http.ReadResponse; it must make of each what http.ReadResponse does.
const fastResponses = 11

var responses = []string{
	"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5\r\n\r\nhello",
	"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\nmcp-session-id: abc\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"7\r\nevent: \r\n11\r\nmessage\ndata: {}\n\n\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n",
	"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 202 Accepted\r\nDate: x\r\n\r\nuntil close",
	"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 3\r\n\r\nno!",
	"HTTP/1.1 200 OK\r\nX-Multi: a\r\nx-multi: b\r\nX-EMPTY:\r\nx-odd-Case-KEY:  spaced \t\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"x\"\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
	// left to net/http
	"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 204 No Content\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nBad Name: a\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 2x0 OK\r\n\r\n",
	"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
	"",
	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n",
}

type readAnswer struct {
	Status, Proto string
	StatusCode    int
	Err           string
	messageAnswer
}

// messageAnswer is what a request and a response read share: the header,
// the framing, and the body.
type messageAnswer struct {
	Header           http.Header
	ContentLength    int64
	TransferEncoding []string
	Close            bool
	bodyAnswer
}

func messageOf(h http.Header, length int64, te []string, close bool, body io.Reader, br *bufio.Reader) messageAnswer {
	return messageAnswer{Header: h, ContentLength: length, TransferEncoding: te, Close: close, bodyAnswer: readBodyAndRest(body, br)}
}

// bodyAnswer is what a body read to its end gave, and what the connection
// held after it.
type bodyAnswer struct {
	Body, BodyErr, Rest string
}

func readBodyAndRest(body io.Reader, br *bufio.Reader) bodyAnswer {
	data, err := io.ReadAll(body)
	if err != nil {
		return bodyAnswer{Body: string(data), BodyErr: "error"} // the connection is dropped: where it stopped does not matter
	}
	rest, _ := io.ReadAll(br)
	return bodyAnswer{Body: string(data), Rest: string(rest)}
}

func readWith(read func(*bufio.Reader, *http.Request) (*http.Response, error), raw string, method string) readAnswer {
	br := bufio.NewReader(strings.NewReader(raw + "NEXT"))
	req, _ := http.NewRequest(method, "http://h/", nil)
	resp, err := read(br, req)
	for err == nil && resp.StatusCode < 200 {
		resp, err = read(br, req)
	}
	if err != nil {
		return readAnswer{Err: "error"}
	}
	a := readAnswer{Status: resp.Status, Proto: resp.Proto, StatusCode: resp.StatusCode,
		messageAnswer: messageOf(resp.Header, resp.ContentLength, resp.TransferEncoding, resp.Close, resp.Body, br)}
	if a.BodyErr == "" && strings.HasSuffix(a.Body, "NEXT") {
		a.Body, a.Rest = strings.TrimSuffix(a.Body, "NEXT"), "NEXT" // read until close: both read on
	}
	return a
}

func TestReadResponseAgreesWithNetHTTP(t *testing.T) {
	for i, raw := range responses {
		head, _, _ := strings.Cut(raw, "\r\n\r\n")
		if fast := parseResponseHead([]byte(head+"\r\n"), &http.Request{Method: http.MethodPost}) != nil; fast != (i < fastResponses) {
			t.Errorf("%q: read by readResponse itself: %v", raw, fast)
		}
		for _, method := range []string{http.MethodPost, http.MethodHead} {
			want := readWith(http.ReadResponse, raw, method)
			got := readWith(readResponse, raw, method)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s answered %q:\nreadResponse      %+v\nhttp.ReadResponse %+v", method, raw, got, want)
			}
		}
	}
}

// The chunked bodies of chunked_test.go, read as net/http reads them.
func TestChunkedBodiesAgreeWithNetHTTP(t *testing.T) {
	for _, body := range chunkedBodies {
		raw := chunkedHead + body
		if want, got := readWith(http.ReadResponse, raw, http.MethodPost), readWith(readResponse, raw, http.MethodPost); !reflect.DeepEqual(got, want) {
			t.Errorf("%.200q:\nreadResponse      %.200v\nhttp.ReadResponse %.200v", raw, got, want)
		}
	}
}

const chunkedHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

func FuzzReadResponse(f *testing.F) {
	for _, raw := range responses {
		f.Add(raw)
	}
	for _, body := range chunkedBodies {
		f.Add(chunkedHead + body)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		want := readWith(http.ReadResponse, raw, http.MethodPost)
		got := readWith(readResponse, raw, http.MethodPost)
		if want.Err == "" && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nreadResponse      %+v\nhttp.ReadResponse %+v", raw, got, want)
		}
	})
}

// requests are heads as clients send them, the first fastRequests of which
// readRequest reads itself; it must make of each what http.ReadRequest
// does.
const fastRequests = 6

var requests = []string{
	"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:1\r\nContent-Type: application/json\r\nContent-Length: 7\r\nMcp-Session-Id: x\r\n\r\n{\"a\":1}",
	"GET /servers/a%20b/mcp?x=1&y=%2F HTTP/1.1\r\nHost: h\r\nAccept: text/event-stream\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	"DELETE /mcp HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\nshort",
	// left to net/http
	"GET / HTTP/1.0\r\nHost: h\r\n\r\n",
	"GET http://h/ HTTP/1.1\r\nHost: x\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
	"GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n",
	"G\x00T / HTTP/1.1\r\nHost: h\r\n\r\n",
	"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
}

type readRequestAnswer struct {
	Method, RequestURI, Host, Proto string
	URL                             string
	Err                             string
	messageAnswer
}

// readBufferedRequest reads a request as the server does.
func readBufferedRequest(br *bufio.Reader) (*http.Request, error) {
	head, n := bufferedHead(br)
	return readRequest(br, head, n)
}

func readRequestWith(read func(*bufio.Reader) (*http.Request, error), raw string) readRequestAnswer {
	br := bufio.NewReader(strings.NewReader(raw + "NEXT"))
	_, _ = br.Peek(1)
	req, err := read(br)
	if err != nil {
		return readRequestAnswer{Err: "error"}
	}
	return readRequestAnswer{Method: req.Method, RequestURI: req.RequestURI, Host: req.Host, Proto: req.Proto, URL: req.URL.String(),
		messageAnswer: messageOf(req.Header, req.ContentLength, req.TransferEncoding, req.Close, req.Body, br)}
}

func TestReadRequestAgreesWithNetHTTP(t *testing.T) {
	for i, raw := range requests {
		head, _, _ := strings.Cut(raw, "\r\n\r\n")
		if fast := parseRequestHead([]byte(head+"\r\n")) != nil; fast != (i < fastRequests) {
			t.Errorf("%q: read by readRequest itself: %v", raw, fast)
		}
		want := readRequestWith(http.ReadRequest, raw)
		if got := readRequestWith(readBufferedRequest, raw); !reflect.DeepEqual(got, want) {
			t.Errorf("%q:\nreadRequest      %+v\nhttp.ReadRequest %+v", raw, got, want)
		}
	}
}

func FuzzReadRequest(f *testing.F) {
	for _, raw := range requests {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if raw == "" {
			return // the server reads a head once a byte came
		}
		want := readRequestWith(http.ReadRequest, raw)
		got := readRequestWith(readBufferedRequest, raw)
		if want.Err == "" && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nreadRequest      %+v\nhttp.ReadRequest %+v", raw, got, want)
		}
	})
}

// TestWriteRequestAgreesWithNetHTTP: what writeRequest sends reads back as
// what Request.Write sends.
func TestWriteRequestAgreesWithNetHTTP(t *testing.T) {
	type sent struct {
		Method, URI, Host string
		Header            http.Header
		ContentLength     int64
		Close             bool
		Body              string
	}
	read := func(raw []byte) sent {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		body, _ := io.ReadAll(req.Body)
		return sent{req.Method, req.RequestURI, req.Host, req.Header, req.ContentLength, req.Close, string(body)}
	}
	build := []func() *http.Request{
		func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:9/mcp?x=1", strings.NewReader(`{"a":1}`))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Mcp-Session-Id", " padded ")
			r.Header.Add("X-Two", "a")
			r.Header.Add("X-Two", "b")
			return r
		},
		func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://h/a%20b", nil)
			r.Close = true
			return r
		},
		func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, "http://h/", nil)
			r.Header["User-Agent"] = []string{""}
			return r
		},
		func() *http.Request {
			r, _ := http.NewRequest(http.MethodDelete, "http://h/", nil)
			r.Host = "other:1"
			r.Header.Set("User-Agent", "mcptray")
			return r
		},
		func() *http.Request { r, _ := http.NewRequest(http.MethodGet, "http://[::1]:9/", nil); return r },
		func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://h/", nil)
			r.Host = "bücher.example"
			return r
		},
		func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, "http://h/", nil)
			r.Host = "a b" // no host: net/http sends it empty
			return r
		},
	}
	for _, b := range build {
		var mine, theirs bytes.Buffer
		w := bufio.NewWriter(&mine)
		if err := writeRequest(w, b()); err != nil {
			t.Fatal(err)
		}
		_ = w.Flush()
		if err := b().Write(&theirs); err != nil {
			t.Fatal(err)
		}
		if got, want := read(mine.Bytes()), read(theirs.Bytes()); !reflect.DeepEqual(got, want) {
			t.Errorf("writeRequest sent %q\nRequest.Write sent %q", mine.Bytes(), theirs.Bytes())
		}
	}
	// What would change the request's meaning is refused, as net/http does.
	for _, h := range []http.Header{{"X-Bad": {"a\r\nInjected: 1"}}, {"Bad Name": {"a"}}} {
		r, _ := http.NewRequest(http.MethodGet, "http://h/", nil)
		r.Header = h
		if err := checkHeader(r.Header); err == nil {
			t.Errorf("header %v passed", h)
		}
	}
	// A body shorter than its length is an error.
	r, _ := http.NewRequest(http.MethodPost, "http://h/", strings.NewReader("abc"))
	r.ContentLength = 5
	if err := writeRequest(bufio.NewWriter(io.Discard), r); err == nil || !strings.Contains(err.Error(), "ContentLength=5") {
		t.Errorf("a short body: %v", err)
	}
}
