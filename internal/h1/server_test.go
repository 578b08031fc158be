package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mcptray/mcptray/internal/testleak"
)

// serve runs h on an h1.Server on loopback and returns its URL.
func serve(t *testing.T, h http.HandlerFunc) (*Server, string) {
	t.Helper()
	return serveOn(t, &Server{Handler: h, Log: slog.New(slog.DiscardHandler)})
}

func serveOn(t *testing.T, s *Server) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return s, "http://" + ln.Addr().String()
}

// client is a standard net/http client with its own connection pool.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestServerAnswersWithLengthAndKeepsTheConnection(t *testing.T) {
	var mu sync.Mutex
	var remotes []string
	_, url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes = append(remotes, r.RemoteAddr)
		mu.Unlock()
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Mcp-Session-Id", "s1")
		_, _ = w.Write([]byte(`{"got":"`))
		_, _ = w.Write(b)
		_, _ = w.Write([]byte(`"}`))
	})
	hc := client(t)
	for i := range 20 {
		resp, err := hc.Post(url+"/mcp", "application/json", strings.NewReader(strings.Repeat("y", i)))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := `{"got":"` + strings.Repeat("y", i) + `"}`
		if string(data) != want || resp.ContentLength != int64(len(want)) || resp.Header.Get("Mcp-Session-Id") != "s1" ||
			resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("request %d: %q, length %d, headers %v", i, data, resp.ContentLength, resp.Header)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, r := range remotes[1:] {
		if r != remotes[0] {
			t.Fatalf("requests came on more than one connection: %v", remotes)
		}
	}
}

// A flushed response is an event stream: each flush reaches the client
// while the handler goes on.
func TestServerStreamsFlushedWrites(t *testing.T) {
	next := make(chan struct{})
	_, url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			_, _ = io.WriteString(w, "data: "+string(rune('a'+i))+"\n\n")
			w.(http.Flusher).Flush()
			<-next
		}
	})
	resp, err := client(t).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ContentLength != -1 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("length %d, type %q", resp.ContentLength, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil || line != "data: "+string(rune('a'+i))+"\n" {
			t.Fatalf("event %d: %q %v", i, line, err)
		}
		_, _ = br.ReadString('\n')
		next <- struct{}{}
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the stream: %q %v", rest, err)
	}
}

// A client hanging up cancels its request's context, during a long call
// and during an event stream.
func TestServerCancelsWhenTheClientHangsUp(t *testing.T) {
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		t.Run(method, func(t *testing.T) {
			started, ended := make(chan struct{}), make(chan error, 1)
			_, url := serve(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.ReadAll(r.Body)
				if r.Method == http.MethodGet {
					w.WriteHeader(http.StatusOK)
					w.(http.Flusher).Flush()
				}
				close(started)
				<-r.Context().Done()
				ended <- r.Context().Err()
			})
			nc, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			var body io.Reader
			if method == http.MethodPost {
				body = strings.NewReader("{}")
			}
			req, _ := http.NewRequest(method, url+"/mcp", body)
			if err := req.Write(nc); err != nil {
				t.Fatal(err)
			}
			<-started
			nc.Close()
			if err := <-ended; !errors.Is(err, context.Canceled) {
				t.Fatalf("context: %v", err)
			}
		})
	}
}

// Requests sent back to back without waiting (pipelined) are all
// answered, in order, even when one of them outlives the hang-up watch.
func TestServerPipelinedRequests(t *testing.T) {
	_, url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(3 * hangUpWatchAfter) // long enough for the watcher to read the next request's first byte
		}
		_, _ = io.WriteString(w, r.URL.Path)
	})
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	paths := []string{"/a", "/slow", "/b", "/slow", "/c"}
	var all strings.Builder
	for _, p := range paths {
		all.WriteString("GET " + p + " HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	if _, err := io.WriteString(nc, all.String()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	for _, p := range paths {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		data, _ := io.ReadAll(resp.Body)
		if string(data) != p {
			t.Fatalf("answer %q to %s", data, p)
		}
	}
}

func TestServerRefusesBadRequests(t *testing.T) {
	_, url := serve(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	addr := strings.TrimPrefix(url, "http://")
	for _, c := range []struct{ name, raw, status string }{
		{"garbage", "NOT HTTP\r\n\r\n", "400"},
		{"a head over the limit", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 1<<20+8192) + "\r\n\r\n", "431"},
		{"an Expect it cannot meet", "POST / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\n{}", "417"},
	} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = io.WriteString(nc, c.raw) }()
		line, _ := bufio.NewReader(nc).ReadString('\n')
		nc.Close()
		if !strings.HasPrefix(line, "HTTP/1.1 "+c.status) {
			t.Errorf("%s: %q, want %s", c.name, line, c.status)
		}
	}
}

// curl and others send Expect: 100-continue with a body and wait for it.
func TestServerContinues(t *testing.T) {
	_, url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	})
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, _ = io.WriteString(nc, "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
	br := bufio.NewReader(nc)
	if line, _ := br.ReadString('\n'); line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("got %q before the body", line)
	}
	_, _ = br.ReadString('\n')
	_, _ = io.WriteString(nc, "{}")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := io.ReadAll(resp.Body); string(data) != "{}" {
		t.Fatalf("got %q", data)
	}
}

// Bodiless statuses carry no body; a HEAD answer carries the length only.
func TestServerBodilessAnswers(t *testing.T) {
	_, url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/accepted":
			w.WriteHeader(http.StatusAccepted)
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		default:
			_, _ = io.WriteString(w, "twelve bytes")
		}
	})
	hc := client(t)
	for _, c := range []struct {
		method, path string
		status       int
		length       int64
	}{{"POST", "/accepted", 202, 0}, {"GET", "/nocontent", 204, -1}, {"HEAD", "/x", 200, 12}, {"GET", "/x", 200, 12}} {
		req, _ := http.NewRequest(c.method, url+c.path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantBody := ""
		if c.method == "GET" && c.status == 200 {
			wantBody = "twelve bytes"
		}
		if resp.StatusCode != c.status || string(data) != wantBody || (c.length >= 0 && resp.ContentLength != c.length) {
			t.Errorf("%s %s: %d, length %d, %q", c.method, c.path, resp.StatusCode, resp.ContentLength, data)
		}
	}
}

// A large body is streamed rather than held.
func TestServerLargeBody(t *testing.T) {
	const size = 5 << 20
	_, url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("z", 1000)
		for range size / 1000 {
			_, _ = io.WriteString(w, chunk)
		}
	})
	resp, err := client(t).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(data) != size/1000*1000 {
		t.Fatalf("%d bytes, %v", len(data), err)
	}
}

// A panicking handler drops its connection and nothing else.
func TestServerSurvivesAPanic(t *testing.T) {
	_, url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		_, _ = io.WriteString(w, "ok")
	})
	hc := client(t)
	if _, err := hc.Get(url + "/panic"); err == nil {
		t.Fatal("a panicking handler's request succeeded")
	}
	resp, err := hc.Get(url + "/fine")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// Shutdown lets the request in hand finish, and returns once it has.
func TestServerShutdownWaitsForTheRequestInHand(t *testing.T) {
	base := testleak.Take(t)
	started, release := make(chan struct{}), make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	})}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	tr := &http.Transport{}
	got := make(chan string, 1)
	go func() {
		resp, err := (&http.Client{Transport: tr}).Get("http://" + ln.Addr().String())
		if err != nil {
			got <- err.Error()
			return
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(data)
	}()
	<-started
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a request was in hand", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if g := <-got; g != "finished" {
		t.Fatalf("the request in hand got %q", g)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
	tr.CloseIdleConnections()
	base.Check(t, 0, 0)
}

// A head that stalls is cut at ReadHeaderTimeout, a kept-alive connection
// at IdleTimeout; a request whose body came whole, handled while the idle
// deadline is still in place, is not cut by it.
func TestServerTimeouts(t *testing.T) {
	const head, idle = 100 * time.Millisecond, 200 * time.Millisecond
	hungUp := make(chan error, 1)
	_, url := serveOn(t, &Server{ReadHeaderTimeout: head, IdleTimeout: idle, Log: slog.New(slog.DiscardHandler),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.ReadAll(r.Body)
			switch r.URL.Path {
			case "/slow": // outlives the idle deadline
				select {
				case <-time.After(3 * idle):
				case <-r.Context().Done():
					return
				}
			case "/abandoned": // the client leaves after the idle deadline
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				<-r.Context().Done()
				hungUp <- r.Context().Err()
				return
			}
			_, _ = io.WriteString(w, "ok")
		})})
	addr := strings.TrimPrefix(url, "http://")
	closedByServer := func(t *testing.T, nc net.Conn, br *bufio.Reader) {
		t.Helper()
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second)) // only if the server never closes
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("read %v; want the server's close (EOF)", err)
		}
	}

	t.Run("slow head", func(t *testing.T) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		if _, err := io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n"); err != nil {
			t.Fatal(err)
		}
		closedByServer(t, nc, bufio.NewReader(nc))
	})
	t.Run("idle", func(t *testing.T) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		br := bufio.NewReader(nc)
		for _, path := range []string{"/", "/slow", "/"} {
			req, _ := http.NewRequest(http.MethodPost, url+path, strings.NewReader("{}"))
			if err := req.Write(nc); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(br, req)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if b, _ := io.ReadAll(resp.Body); string(b) != "ok" {
				t.Fatalf("%s: %q", path, b)
			}
		}
		closedByServer(t, nc, br)
	})
	t.Run("hang-up after the idle deadline", func(t *testing.T) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, url+"/abandoned", strings.NewReader("{}"))
		if err := req.Write(nc); err != nil {
			t.Fatal(err)
		}
		if _, err := http.ReadResponse(bufio.NewReader(nc), req); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * idle) // the subject: the idle deadline set before this request has passed
		nc.Close()
		select {
		case err := <-hungUp:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("context: %v", err)
			}
		case <-time.After(10 * time.Second): // a bound, not a measure: it comes within 0.2 s
			t.Fatal("the hang-up was not noticed")
		}
	})
}

// dialRaw opens a connection to the server at url, closed with the test.
func dialRaw(t *testing.T, url string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// expectServerClose fails unless the server closes nc next, with nothing
// more sent.
func expectServerClose(t *testing.T, nc net.Conn, br *bufio.Reader) {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second)) // only if the server never closes
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("read %q, %v; want the server's close (EOF) and nothing more", rest, err)
	}
}

// An Expect the server cannot meet ends the connection after the 417: the
// body it did not read is not taken for the next request.
func TestServerClosesAfterAnExpectationFailed(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	_, url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
	})
	nc := dialRaw(t, url)
	inner := "GET /inner HTTP/1.1\r\nHost: x\r\n\r\n"
	raw := "POST /outer HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\nContent-Length: " + strconv.Itoa(len(inner)) + "\r\n\r\n" + inner
	if _, err := io.WriteString(nc, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusExpectationFailed || !resp.Close {
		t.Fatalf("status %d, close %v; want 417 and close", resp.StatusCode, resp.Close)
	}
	expectServerClose(t, nc, br)
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 0 {
		t.Fatalf("the handler ran for %v", seen)
	}
}

// A body up to maxHeldBody is held and goes with its length; one larger is
// chunked from the Write that passes the limit, whatever the sizes of the
// Writes, and the connection serves the next request after it.
func TestServerHoldsSmallBodiesAndChunksLargeOnes(t *testing.T) {
	pieces := map[string][]string{
		"/held":             {strings.Repeat("h", maxHeldBody-1), "h"},
		"/one":              {strings.Repeat("o", 3*maxHeldBody)},
		"/small-then-large": {"s", strings.Repeat("l", maxHeldBody), "e"},
		"/passes":           {strings.Repeat("p", maxHeldBody-1), "pp", "q"},
	}
	var mu sync.Mutex
	remotes := map[string]bool{}
	_, url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr] = true
		mu.Unlock()
		for _, p := range pieces[r.URL.Path] {
			_, _ = io.WriteString(w, p)
		}
	})
	hc := client(t)
	for _, path := range []string{"/held", "/one", "/small-then-large", "/passes", "/held"} {
		resp, err := hc.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := strings.Join(pieces[path], "")
		held := len(want) <= maxHeldBody
		if err != nil || string(data) != want || (resp.ContentLength == int64(len(want))) != held ||
			slices.Equal(resp.TransferEncoding, []string{"chunked"}) == held {
			t.Fatalf("%s: %d bytes of %d (%v), length %d, transfer encoding %v; want held %v",
				path, len(data), len(want), err, resp.ContentLength, resp.TransferEncoding, held)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(remotes) != 1 {
		t.Fatalf("the requests came on %d connections, want one", len(remotes))
	}
}

// An HTTP/1.0 client cannot read chunks: a flushed or large answer goes to
// it unframed, ended by the connection's end, keep-alive asked or not.
func TestServerNeverChunksToHTTP10(t *testing.T) {
	large := strings.Repeat("b", maxHeldBody+1)
	_, url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/large" {
			_, _ = io.WriteString(w, large)
			return
		}
		_, _ = io.WriteString(w, "data: a\n\n")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "data: b\n\n")
	})
	for _, c := range []struct{ path, connection, body string }{
		{"/flushed", "", "data: a\n\ndata: b\n\n"},
		{"/flushed", "Connection: keep-alive\r\n", "data: a\n\ndata: b\n\n"},
		{"/large", "Connection: keep-alive\r\n", large},
	} {
		nc := dialRaw(t, url)
		if _, err := io.WriteString(nc, "GET "+c.path+" HTTP/1.0\r\nHost: x\r\n"+c.connection+"\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second)) // only if the server never closes
		raw, err := io.ReadAll(nc)
		if err != nil {
			t.Fatalf("%s %q: %v (the server did not close)", c.path, c.connection, err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		if err != nil || resp.TransferEncoding != nil || resp.ContentLength != -1 || !resp.Close || string(data) != c.body {
			t.Errorf("%s %q: transfer encoding %v, length %d, close %v, %d bytes (%v); want the body unframed and close",
				c.path, c.connection, resp.TransferEncoding, resp.ContentLength, resp.Close, len(data), err)
		}
	}
}

// flakyListener's Accept fails with errs, then gives conn, then waits for
// Close.
type flakyListener struct {
	errs   []error // Accept is called by Serve's goroutine only
	conn   net.Conn
	closed chan struct{}
	once   sync.Once
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		return nil, err
	}
	if c := l.conn; c != nil {
		l.conn = nil
		return c, nil
	}
	<-l.closed
	return nil, &net.OpError{Op: "accept", Net: "tcp", Err: net.ErrClosed}
}

func (l *flakyListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *flakyListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

// Running out of file descriptors for a moment does not end Serve: it
// tries again, and returns when its listener is closed.
func TestServeOutlivesTemporaryAcceptErrors(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	accErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
	}
	ln := &flakyListener{errs: []error{accErr(syscall.EMFILE), accErr(syscall.ENFILE), accErr(syscall.ECONNABORTED)},
		conn: server, closed: make(chan struct{})}
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }),
		Log: slog.New(slog.DiscardHandler)}
	defer s.Close()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	got := make(chan string, 1)
	go func() {
		if _, err := io.WriteString(client, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			got <- err.Error()
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(client), nil)
		if err != nil {
			got <- err.Error()
			return
		}
		data, _ := io.ReadAll(resp.Body)
		got <- string(data)
	}()
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v", err)
	case g := <-got:
		if g != "ok" {
			t.Fatalf("got %q", g)
		}
	}
	ln.Close()
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve returned %v once its listener closed", err)
	}
}

// An HTTP/1.1 request names its host once (RFC 9112 §3.2), on the fast
// path and the slow one (a Pragma header takes it there); HTTP/1.0 need not.
func TestServerRequiresOneHost(t *testing.T) {
	var handled atomic.Int32
	_, url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		handled.Add(1)
		_, _ = io.WriteString(w, "ok")
	})
	for _, c := range []struct {
		raw    string
		status int
	}{
		{"GET / HTTP/1.1\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nPragma: no-cache\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nPragma: no-cache\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 200},
		{"GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n", 200},
		{"GET / HTTP/1.0\r\n\r\n", 200},
	} {
		before := handled.Load()
		nc := dialRaw(t, url)
		if _, err := io.WriteString(nc, c.raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatalf("%q: %v", c.raw, err)
		}
		resp.Body.Close()
		if ran := handled.Load() != before; resp.StatusCode != c.status || ran != (c.status == 200) {
			t.Errorf("%q: %d (handler ran: %v), want %d", c.raw, resp.StatusCode, ran, c.status)
		}
	}
}

// A HEAD answer keeps the length the handler gave, and has none when the
// handler gave none and wrote nothing.
func TestServerHeadAnswerLength(t *testing.T) {
	_, url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/declared":
			w.Header().Set("Content-Length", "1234")
		case "/written":
			_, _ = io.WriteString(w, "twelve bytes")
		}
	})
	nc := dialRaw(t, url)
	br := bufio.NewReader(nc)
	for _, c := range []struct{ path, length string }{{"/declared", "1234"}, {"/written", "12"}, {"/nothing", ""}} {
		req, _ := http.NewRequest(http.MethodHead, url+c.path, nil)
		if err := req.Write(nc); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Values("Content-Length"); len(got) > 1 || strings.Join(got, "") != c.length {
			t.Errorf("HEAD %s: Content-Length %q, want %q", c.path, got, c.length)
		}
	}
}

// A MaxHeaderBytes smaller than the read buffer holds: a longer head gets
// 431, whole in the first read or not, while one of just that size passes.
func TestServerSmallMaxHeaderBytes(t *testing.T) {
	const limit = 1000
	_, url := serveOn(t, &Server{MaxHeaderBytes: limit, Log: slog.New(slog.DiscardHandler),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })})
	head := func(size int, extra string) string {
		start := "GET / HTTP/1.1\r\nHost: x\r\n" + extra + "X-Pad: "
		return start + strings.Repeat("p", size-len(start)-4) + "\r\n\r\n"
	}
	for _, c := range []struct {
		name, raw string
		status    int
	}{
		{"at the limit", head(limit, ""), 200},
		{"over it", head(limit+1, ""), 431},
		{"far over it", head(4*limit, ""), 431},
		{"over it, read slowly", head(2*limit, "Pragma: no-cache\r\n"), 431},
		{"at it, read slowly", head(limit, "Pragma: no-cache\r\n"), 200},
	} {
		if len(c.raw) != limit && c.status == 200 {
			t.Fatalf("%s: a head of %d bytes", c.name, len(c.raw))
		}
		nc := dialRaw(t, url)
		if _, err := io.WriteString(nc, c.raw); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s (%d bytes): %d, want %d", c.name, len(c.raw), resp.StatusCode, c.status)
		}
	}
}

// A client that declares a body and never sends it does not hold the
// connection: the handler answered without reading it (the bridge's
// 401), and the drain after it gives up at the body's deadline and
// closes the connection.
func TestAnUnsentBodyDoesNotHoldTheConnection(t *testing.T) {
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no token", http.StatusUnauthorized) // the body is not read
	}), ReadBodyTimeout: 200 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}
	_, url := serveOn(t, s)
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write([]byte("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("answer: %v %v", resp, err)
	}
	resp.Body.Close()
	// The server closes the connection: the read ends (EOF) well before
	// this test's own deadline (the server's idle timeout is 2 minutes).
	_ = nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("the server sent more")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server still holds the connection of a body that never came")
	}
}
