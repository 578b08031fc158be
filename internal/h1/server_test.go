package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
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
