package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcptray/mcptray/internal/rawio"

	"github.com/mcptray/mcptray/internal/testleak"
)

// server is an httptest server that counts the connections it accepted.
type server struct {
	*httptest.Server
	conns atomic.Int32
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	s := &server{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func post(t *testing.T, tr http.RoundTripper, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return resp
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestSequentialRequestsShareOneConnection(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Got", r.Header.Get("X-Sent"))
		_, _ = w.Write(append([]byte("echo:"), b...))
	})
	tr := New(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	for i := range 50 {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/mcp", strings.NewReader(strings.Repeat("x", i)))
		req.Header.Set("X-Sent", "h")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != "echo:"+strings.Repeat("x", i) || resp.Header.Get("X-Got") != "h" || resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %q %q", i, resp.StatusCode, got, resp.Header.Get("X-Got"))
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("50 sequential requests took %d connections, want 1", n)
	}
}

// An event stream is handed over as it comes, not when it ends.
func TestStreamedBodyArrivesAsWritten(t *testing.T) {
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		_, _ = io.WriteString(w, "data: second\n\n")
	})
	tr := New(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	resp := post(t, tr, s.URL, "{}")
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first event: %q %v", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	resp.Body.Close()
	if string(rest) != "\ndata: second\n\n" {
		t.Fatalf("rest: %q", rest)
	}
	// The connection went back to the pool at the end of the stream.
	readAll(t, post(t, tr, s.URL, "{}"))
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// A connection the server closed while idle (its keep-alive timeout) is
// noticed before use: the next request goes out on a new one and succeeds.
func TestServerClosedIdleConnectionIsNotUsed(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	tr := New(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	readAll(t, post(t, tr, s.URL, "{}"))
	s.CloseClientConnections()
	waitFor(t, "the pooled connection to see the close", func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for _, list := range tr.idle {
			for _, c := range list {
				return !rawio.StillOpen(c.nc)
			}
		}
		return false
	})
	for range 3 {
		if got := readAll(t, post(t, tr, s.URL, "{}")); got != "ok" {
			t.Fatalf("got %q", got)
		}
	}
	if n := s.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

// Cancelling a request unblocks the read of its answer, and the
// connection, whose answer was not read, is not reused.
func TestCancelUnblocksAndDropsTheConnection(t *testing.T) {
	started := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // then net/http watches for a hang-up
		if r.URL.Path == "/hang" {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			close(started)
			<-r.Context().Done()
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	tr := New(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/hang", strings.NewReader("{}"))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		done <- err
	}()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the read of a cancelled request's answer ended without an error")
	}
	resp.Body.Close()
	if got := readAll(t, post(t, tr, s.URL+"/ok", "{}")); got != "ok" {
		t.Fatalf("got %q", got)
	}
	if n := s.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2 (the cancelled one is not reused)", n)
	}
}

// A request cancelled before its answer's head fails with the context's
// error.
func TestCancelBeforeTheAnswer(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // then net/http watches for a hang-up
		<-r.Context().Done()
	})
	tr := New(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, strings.NewReader("{}"))
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
}

// drains returns tr's results for the ends of answers closed early (see
// body.Close): kept or not, as each is settled.
func drains(tr *Transport) chan bool {
	ch := make(chan bool, 64) // never full: the drains' clock, which all tests share, must not wait
	tr.drained = func(kept bool) { ch <- kept }
	return ch
}

// idleConn returns the one connection in tr's pool.
func idleConn(t *testing.T, tr *Transport) *conn {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var all []*conn
	for _, list := range tr.idle {
		all = append(all, list...)
	}
	if len(all) != 1 {
		t.Fatalf("%d idle connections, want 1", len(all))
	}
	return all[0]
}

// waitForBytes waits until bytes wait unread in c's socket.
func waitForBytes(t *testing.T, c *conn) {
	t.Helper()
	waitFor(t, "the rest of the answer to arrive", func() bool { return !rawio.StillOpen(c.nc) })
}

// settled is the result of a settle that ended on the caller's path, before
// the request that took the connection went out; none if it did not end
// there.
func settled(drained chan bool) (kept, ended bool) {
	select {
	case kept = <-drained:
		return kept, true
	default:
		return false, false
	}
}

// holdServer answers POST /hold with an event, and ends that stream only
// when told; other paths get a short answer.
func holdServer(t *testing.T) (*server, chan struct{}) {
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: answer\n\n")
		if r.URL.Path == "/hold" {
			w.(http.Flusher).Flush()
			<-release
		}
	})
	return s, release
}

// readEvent reads the answer's event and closes the body before its end.
func readEvent(t *testing.T, resp *http.Response) {
	t.Helper()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: answer\n" {
		t.Fatalf("event: %q %v", line, err)
	}
	resp.Body.Close()
}

// parkedAnswer starts a holdServer and a transport, and closes a /hold
// answer's body after its event: the connection is pooled with its end to
// come on release. clockOut keeps the drains' clock from settling it, for
// tests whose own steps must.
func parkedAnswer(t *testing.T, clockOut bool) (*server, chan struct{}, *Transport, chan bool) {
	t.Helper()
	s, release := holdServer(t)
	tr := New(http.DefaultTransport)
	t.Cleanup(tr.CloseIdleConnections)
	if clockOut {
		tr.endWait = time.Hour
	}
	drained := drains(tr)
	readEvent(t, post(t, tr, s.URL+"/hold", "{}"))
	return s, release, tr, drained
}

// A stream closed after the event the caller wanted keeps its connection:
// the stream's end (which a Go server sends after its handler returns)
// is read when the next request takes the connection, on that request's
// goroutine, with no drain beside it.
func TestEarlyCloseKeepsAConnectionWhoseAnswerEnds(t *testing.T) {
	s, release, tr, drained := parkedAnswer(t, true)
	c := idleConn(t, tr)
	if c.rest == nil {
		t.Fatal("the connection was pooled without the rest of its answer to read")
	}
	close(release)
	waitForBytes(t, c)
	readAll(t, post(t, tr, s.URL+"/second", "{}"))
	if kept, ended := settled(drained); !ended || !kept {
		t.Fatalf("the end of the answer was not read before the next request (ended %v, kept %v)", ended, kept)
	}
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// An end still to come when the next request takes the connection is
// waited for beside it, while the request goes on another connection;
// the first is kept when its end comes.
func TestEarlyCloseWaitsForAnEndStillToCome(t *testing.T) {
	s, release, tr, drained := parkedAnswer(t, true)
	readAll(t, post(t, tr, s.URL+"/second", "{}"))
	if _, ended := settled(drained); ended {
		t.Fatal("the end was settled before it came")
	}
	close(release)
	if !<-drained {
		t.Fatal("the connection was dropped, though its answer ended")
	}
	for range 2 {
		readAll(t, post(t, tr, s.URL+"/third", "{}"))
	}
	if n := s.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

// stepServer answers the first request on its first connection with
// first, then writes what steps gives it; every other request gets a short
// answer. It returns its URL and its count of connections.
func stepServer(t *testing.T, first string, steps chan string) (string, *atomic.Int32) {
	return tcpServer(t, func(nc net.Conn, n int32) {
		br := bufio.NewReader(nc)
		for isFirst := n == 1; ; isFirst = false {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			if !isFirst {
				_, _ = io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				continue
			}
			_, _ = io.WriteString(nc, first)
			for step := range steps {
				_, _ = io.WriteString(nc, step)
			}
		}
	})
}

// An end that comes in pieces is read as far as it came, and the rest
// beside the next request: the chunked body reads on where it stopped.
func TestEarlyCloseReadsOnAnEndThatCameInPart(t *testing.T) {
	steps := make(chan string)
	url, conns := stepServer(t, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"e\r\ndata: answer\n\n\r\n", steps)
	tr := New(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	tr.endWait = time.Hour // the steps below, not the clock, settle the end
	drained := drains(tr)
	readEvent(t, post(t, tr, url, "{}"))
	c := idleConn(t, tr)
	steps <- "0\r\nX-Tr"
	waitForBytes(t, c)
	readAll(t, post(t, tr, url, "{}")) // on a second connection
	if _, ended := settled(drained); ended {
		t.Fatal("settled on a part of the end")
	}
	steps <- "ailer: 1\r\n\r\n"
	close(steps)
	if !<-drained {
		t.Fatal("the connection was dropped, though its answer ended")
	}
	for range 2 {
		readAll(t, post(t, tr, url, "{}"))
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

// An answer whose head net/http read (here, for its folded line) has a
// body of net/http's, which cannot be read without waiting: closed early,
// its end is drained at once, as before there was settle.
func TestEarlyCloseOfABodyOfNetHTTPs(t *testing.T) {
	steps := make(chan string)
	url, conns := stepServer(t, "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"e\r\ndata: answer\n\n\r\n", steps)
	tr := New(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	drained := drains(tr)
	resp := post(t, tr, url, "{}")
	if _, ok := resp.Body.(*body).rc.(*chunkedBody); ok {
		t.Fatal("the folded head was read by readResponse itself")
	}
	readEvent(t, resp)
	steps <- "0\r\n\r\n"
	close(steps)
	if !<-drained {
		t.Fatal("the connection was dropped, though its answer ended")
	}
	readAll(t, post(t, tr, url, "{}"))
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// A stream closed before its end that goes on is ended within drainWait,
// though no request takes its connection: newer ones sit above it in the
// pool. The server sees the client gone.
func TestEarlyCloseOfAStreamThatGoesOnEndsIt(t *testing.T) {
	gone := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stream" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: answer\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(gone)
	})
	tr := New(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	drained := drains(tr)
	stream := post(t, tr, s.URL+"/stream", "{}")
	other := post(t, tr, s.URL+"/other", "{}") // a second connection
	readEvent(t, stream)
	readAll(t, other) // pooled above the stream's
	for range 3 {
		readAll(t, post(t, tr, s.URL+"/other", "{}"))
	}
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the server still holds the stream open")
	}
	if <-drained {
		t.Fatal("the stream's connection was kept")
	}
	if n := s.conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2", n)
	}
}

// An answer's end that came while no request took its connection is
// settled by the drains' clock in the pool: the connection keeps its
// place and its idle time (keep-alive limits count from the answer).
func TestAnEndNoRequestTookIsSettledInThePool(t *testing.T) {
	s, release, tr, drained := parkedAnswer(t, false)
	c := idleConn(t, tr)
	since := c.since
	close(release)
	if !<-drained {
		t.Fatal("the connection was dropped, though its answer ended")
	}
	if got := idleConn(t, tr); got != c || got.rest != nil || !got.since.Equal(since) {
		t.Fatalf("pooled after settling: the same %v, its end read %v, idle since unchanged %v", got == c, got.rest == nil, got.since.Equal(since))
	}
	readAll(t, post(t, tr, s.URL+"/second", "{}"))
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// CloseIdleConnections as the clock settles a pooled answer's end leaves
// nothing pooled: the connection is never out of the pool meanwhile.
func TestCloseIdleConnectionsAsTheClockSettles(t *testing.T) {
	s, release := holdServer(t)
	tr := New(http.DefaultTransport)
	done := make(chan struct{})
	tr.drained = func(bool) { tr.CloseIdleConnections(); close(done) }
	readEvent(t, post(t, tr, s.URL+"/hold", "{}"))
	close(release)
	<-done
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, list := range tr.idle {
		if len(list) > 0 {
			t.Fatalf("%d connections pooled after CloseIdleConnections", len(list))
		}
	}
}

// Closing a body before its end drops the connection when the rest is long
// or does not come.
func TestEarlyCloseDropsTheConnection(t *testing.T) {
	hold := make(chan struct{})
	defer close(hold)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", drainMax/2))
		if r.URL.Path == "/long" {
			_, _ = io.WriteString(w, strings.Repeat("x", drainMax))
		}
		if r.URL.Path == "/stuck" {
			w.(http.Flusher).Flush()
			<-hold
		}
	})
	tr := New(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	drained := drains(tr)
	// Each request takes the connection the one before it left, which is
	// then settled.
	for i, path := range []string{"/long", "/stuck", "/"} {
		resp := post(t, tr, s.URL+path, "{}")
		if i > 0 && <-drained {
			t.Fatalf("the connection of the request before %s was kept", path)
		}
		if path == "/" {
			if got := readAll(t, resp); len(got) != drainMax/2 {
				t.Fatalf("got %d bytes", len(got))
			}
			break
		}
		buf := make([]byte, 10)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := s.conns.Load(); n != 3 {
		t.Fatalf("%d connections, want 3", n)
	}
}

// CloseIdleConnections closes the connections whose answers' ends are
// still to be read, pooled or being drained; nothing is left open.
func TestCloseIdleConnectionsEndsDrains(t *testing.T) {
	s, release := holdServer(t)
	base := testleak.Take(t)
	tr := New(http.DefaultTransport)
	tr.endWait = time.Hour // the steps below, not the clock, settle the end
	drained := drains(tr)
	readEvent(t, post(t, tr, s.URL+"/hold", "{}"))
	// The second request sets the first's connection draining; its own
	// waits in the pool for its end.
	readEvent(t, post(t, tr, s.URL+"/hold", "{}"))
	tr.mu.Lock()
	draining := len(tr.draining)
	tr.mu.Unlock()
	if c := idleConn(t, tr); c.rest == nil || draining != 1 {
		t.Fatalf("draining %d, pooled with its end to read %v; want 1 and true", draining, c.rest != nil)
	}
	tr.CloseIdleConnections()
	if <-drained {
		t.Fatal("a drained connection was kept after CloseIdleConnections")
	}
	close(release) // the server's side of the connections ends too
	base.Check(t, 0, 0)
}

// Answers without a body (202 to a notification) give the connection back
// at once.
func TestBodilessAnswer(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) })
	tr := New(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	for range 5 {
		resp := post(t, tr, s.URL, "{}")
		if resp.StatusCode != http.StatusAccepted || readAll(t, resp) != "" {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// What the transport does not speak goes to the fallback.
func TestFallback(t *testing.T) {
	var fell atomic.Int32
	fb := roundTripFunc(func(*http.Request) (*http.Response, error) {
		fell.Add(1)
		return &http.Response{StatusCode: 299, Body: http.NoBody}, nil
	})
	tr := New(fb)
	for _, r := range []struct{ url, upgrade string }{{"https://example.invalid/mcp", ""}, {"http://127.0.0.1:1/ws", "websocket"}} {
		req, _ := http.NewRequest(http.MethodGet, r.url, nil)
		if r.upgrade != "" {
			req.Header.Set("Upgrade", r.upgrade)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil || resp.StatusCode != 299 {
			t.Fatalf("%s: %v %v", r.url, resp, err)
		}
	}
	if fell.Load() != 2 {
		t.Fatalf("fallback used %d times, want 2", fell.Load())
	}
}

// Nothing is left open once the idle connections are closed.
func TestNoLeaks(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	base := testleak.Take(t)
	tr := New(http.DefaultTransport)
	for range 10 {
		readAll(t, post(t, tr, s.URL, "{}"))
	}
	tr.CloseIdleConnections()
	base.Check(t, 0, 0)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawServer answers each connection's first request with what answer
// writes, then closes it; it returns the server's URL.
func rawServer(t *testing.T, answer func(w io.Writer)) string {
	t.Helper()
	url, _ := tcpServer(t, func(nc net.Conn, _ int32) {
		if _, err := http.ReadRequest(bufio.NewReader(nc)); err == nil {
			answer(nc)
		}
	})
	return url
}

// tcpServer serves each connection it accepts on loopback with serve (n:
// the connection's number, from 1), then closes it; it returns its URL
// and its count of connections.
func tcpServer(t *testing.T, serve func(nc net.Conn, n int32)) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	var conns atomic.Int32
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			n := conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				serve(nc, n)
			}()
		}
	}()
	return "http://" + ln.Addr().String(), &conns
}

// A response head that does not end is read up to net/http's limit, not
// without bound, and the error names the limit.
func TestResponseHeadIsBounded(t *testing.T) {
	url := rawServer(t, func(w io.Writer) {
		if _, err := io.WriteString(w, "HTTP/1.1 200 OK\r\nX: "); err != nil {
			return
		}
		line := bytes.Repeat([]byte("a"), 64<<10)
		for sent := 0; sent <= maxResponseHead+len(line); sent += len(line) {
			if _, err := w.Write(line); err != nil {
				return // the client gave up, as it should
			}
		}
	})
	tr := New(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("an endless head was taken for an answer")
	}
	if !strings.Contains(err.Error(), strconv.Itoa(maxResponseHead)) {
		t.Fatalf("err = %v; want the limit named", err)
	}
}

// Interim (1xx) answers count toward the head limit with the final one's
// head, as in net/http: a server cannot send them without end.
func TestInterimResponsesShareTheHeadLimit(t *testing.T) {
	const interim = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
	for _, c := range []struct {
		n  int
		ok bool
	}{{2, true}, {200, false}} {
		url := rawServer(t, func(w io.Writer) {
			_, _ = io.WriteString(w, strings.Repeat(interim, c.n)+"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		})
		tr := New(http.DefaultTransport)
		tr.maxHead = 4 << 10 // so that 200 interim answers pass it
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		resp, err := tr.RoundTrip(req)
		if c.ok {
			if err != nil {
				t.Fatalf("%d interim answers: %v", c.n, err)
			}
			if got := readAll(t, resp); got != "ok" {
				t.Fatalf("%d interim answers: got %q", c.n, got)
			}
		} else if err == nil || !strings.Contains(err.Error(), strconv.Itoa(tr.maxHead)) {
			if err == nil {
				resp.Body.Close()
			}
			t.Fatalf("%d interim answers (%d bytes): err = %v; want the limit", c.n, c.n*len(interim), err)
		}
		tr.CloseIdleConnections()
	}
}

// closeCounter is a request body that counts its Close calls.
type closeCounter struct {
	io.Reader
	closes atomic.Int32
}

func (b *closeCounter) Close() error { b.closes.Add(1); return nil }

// A header that cannot be sent fails the request before it takes a
// connection: the pooled one stays, and the body is closed.
func TestInvalidHeaderFailsBeforeAConnection(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	tr := New(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	readAll(t, post(t, tr, s.URL, "{}"))
	// A body of known length is written here, one of unknown length by
	// Request.Write (which would send the first header mended, and drop
	// the second).
	for _, length := range []int64{2, 0} {
		for _, h := range []http.Header{{"X-Bad": {"a\r\nInjected: 1"}}, {"Bad Name": {"a"}}} {
			body := &closeCounter{Reader: strings.NewReader("{}")}
			req, _ := http.NewRequest(http.MethodPost, s.URL, body)
			req.ContentLength = length
			req.GetBody = func() (io.ReadCloser, error) { return &closeCounter{Reader: strings.NewReader("{}")}, nil }
			req.Header = h
			if resp, err := tr.RoundTrip(req); err == nil {
				resp.Body.Close()
				t.Fatalf("length %d: header %v was sent", length, h)
			}
			if n := body.closes.Load(); n != 1 {
				t.Errorf("length %d: header %v: the body was closed %d times, want 1", length, h, n)
			}
		}
	}
	readAll(t, post(t, tr, s.URL, "{}"))
	if n := s.conns.Load(); n != 1 {
		t.Fatalf("%d connections, want 1 (the pooled one kept)", n)
	}
}

// A server that says how long it keeps an idle connection (Keep-Alive:
// timeout=N, as Node.js servers do) has a connection idle longer than
// that, less a margin, left unused: it may close it just as the request
// goes out. One that says nothing has its idle connection reused.
func TestKeepAliveTimeoutIsHeeded(t *testing.T) {
	for _, c := range []struct {
		header string
		conns  int32
	}{{"timeout=1", 2}, {"", 1}} {
		s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			if c.header != "" {
				w.Header().Set("Keep-Alive", c.header)
			}
			_, _ = io.WriteString(w, "ok")
		})
		tr := New(http.DefaultTransport)
		readAll(t, post(t, tr, s.URL, "{}"))
		// Idle for 600 ms, as far as the pool knows: past the 500 ms a
		// 1 s timeout leaves.
		tr.mu.Lock()
		for _, list := range tr.idle {
			for _, pc := range list {
				pc.since = pc.since.Add(-600 * time.Millisecond)
			}
		}
		tr.mu.Unlock()
		readAll(t, post(t, tr, s.URL, "{}"))
		if n := s.conns.Load(); n != c.conns {
			t.Errorf("Keep-Alive %q: %d connections, want %d", c.header, n, c.conns)
		}
		tr.CloseIdleConnections()
	}
}

func TestKeepAliveFor(t *testing.T) {
	for _, c := range []struct {
		values []string
		want   time.Duration
	}{
		{[]string{"timeout=5"}, 4 * time.Second},
		{[]string{"timeout=5, max=1000"}, 4 * time.Second},
		{[]string{"max=1000", "Timeout = 10"}, 9 * time.Second},
		{[]string{"timeout=1"}, 500 * time.Millisecond},
		{[]string{"max=5"}, 0},
		{[]string{"timeout=soon"}, 0},
		{[]string{"timeout=0"}, 0},
	} {
		if got := keepAliveFor(c.values); got != c.want {
			t.Errorf("keepAliveFor(%q) = %v, want %v", c.values, got, c.want)
		}
	}
}

// Closing a stream's body while another goroutine is blocked reading it
// (a stream given up on) ends that Read and drops the connection at once,
// rather than draining beside the Read.
func TestCloseDuringReadDropsTheConnection(t *testing.T) {
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
	})
	defer close(release)
	tr := New(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	resp := post(t, tr, s.URL, "{}")
	first := make([]byte, len("data: first\n\n"))
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	b := resp.Body.(*body)
	readErr := make(chan error, 1)
	go func() {
		_, err := resp.Body.Read(make([]byte, 64))
		readErr <- err
	}()
	waitFor(t, "the Read to be under way", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.reading
	})
	resp.Body.Close()
	tr.mu.Lock()
	draining := len(tr.draining)
	tr.mu.Unlock()
	if draining != 0 {
		t.Errorf("%d connections draining beside the Read", draining)
	}
	if n := len(tr.idle); n != 0 {
		t.Errorf("the connection was pooled while read (%d hosts with idle connections)", n)
	}
	select {
	case err := <-readErr:
		if err == nil {
			t.Error("the Read went on after Close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the Read did not end after Close")
	}
	if _, err := resp.Body.Read(make([]byte, 1)); !errors.Is(err, errBodyClosed) {
		t.Errorf("a Read after Close: %v", err)
	}
}

// Requests from many goroutines at once, some closing their answers before
// the end, each get their own answer, whether their connection was new,
// reused, settled on the way or drained beside them.
func TestEarlyClosesFromManyGoroutines(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: "+r.URL.Path+"\n\n")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "data: more\n\n")
	})
	tr := New(http.DefaultTransport)
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				path := fmt.Sprintf("/%d/%d", g, i)
				req, _ := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader("{}"))
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Error(err)
					return
				}
				line, err := bufio.NewReader(resp.Body).ReadString('\n')
				if want := "data: " + path + "\n"; err != nil || line != want {
					t.Errorf("%s: %q, %v", path, line, err)
				}
				if i%2 == 0 {
					_, _ = io.Copy(io.Discard, resp.Body)
				}
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
}
