package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcptray/mcptray/internal/ondemand"
	"github.com/mcptray/mcptray/internal/rawio"
)

// Server serves an http.Handler over HTTP/1.1, each connection's requests
// read, handled and answered on that connection's goroutine.
//
// net/http's server starts a goroutine per request to notice a client
// hanging up; this one starts it only once a request has run for
// hangUpWatchAfter, so a quick call costs no goroutine, no timer and no
// thread wake-up, and a long one (a slow tool, an event stream) still has
// its context cancelled when the client goes away. One ticker per server
// (internal/ondemand), running only while requests come, starts the
// watches: a timer per request would wake a thread for each.
type Server struct {
	Handler           http.Handler
	ReadHeaderTimeout time.Duration // for a request's head; 10 s if zero
	IdleTimeout       time.Duration // a kept-alive connection's wait for the next request; 2 min if zero
	ReadBodyTimeout   time.Duration // a request body's arrival after its head, read or drained; 30 s if zero
	MaxHeaderBytes    int           // a request's head, its blank line included; 1 MiB if zero
	Log               *slog.Logger  // handler panics, failed accepts; slog.Default() if nil

	mu       sync.Mutex
	ln       net.Listener
	conns    map[*serverConn]bool // true while handling a request
	closing  bool
	conndone sync.WaitGroup
	ctx      context.Context // every request's parent, cancelled by Close
	cancel   context.CancelFunc
	hangUps  ondemand.Ticker // starts the watches that are due
}

// hangUpWatchAfter is how long a request runs before its connection is
// watched for the client hanging up; the ticker's period, so a watch
// starts between one and two periods into a request.
const hangUpWatchAfter = 100 * time.Millisecond

// Serve accepts connections on ln until Close or Shutdown, then returns
// http.ErrServerClosed, or until ln is closed, then returns its error.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		ln.Close()
		return http.ErrServerClosed
	}
	s.init()
	s.ln = ln
	s.mu.Unlock()
	var delay time.Duration // before the next Accept, after a failed one
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return http.ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Most failures pass (out of file descriptors, a connection
			// reset before it was accepted): ending here would end the
			// bridge until a restart. Wait, longer each time, as net/http
			// does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log().Warn("accepting a connection failed; trying again", "err", err, "after", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		c := &serverConn{s: s, nc: rawio.Conn(nc)}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			return http.ErrServerClosed
		}
		s.conns[c] = false
		s.conndone.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

func (s *Server) init() {
	if s.conns == nil {
		s.conns = map[*serverConn]bool{}
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.hangUps.Period, s.hangUps.Tick = hangUpWatchAfter, s.startDueWatches
	}
}

// Close stops accepting, cancels every request's context and closes every
// connection.
func (s *Server) Close() error {
	s.mu.Lock()
	s.init()
	s.closing = true
	if s.ln != nil {
		s.ln.Close()
	}
	s.cancel()
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.conndone.Wait()
	s.hangUps.Stop()
	return nil
}

// Shutdown stops accepting, closes idle connections and waits for the
// requests being handled to finish, or for ctx to end (then it closes
// everything, as Close does).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.init()
	s.closing = true
	if s.ln != nil {
		s.ln.Close()
	}
	for c, busy := range s.conns {
		if !busy {
			c.nc.Close()
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.conndone.Wait(); close(done) }()
	select {
	case <-done:
		s.hangUps.Stop()
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// setBusy records whether c is handling a request; false when the server
// is closing, so an idle connection is not kept for the next request.
func (s *Server) setBusy(c *serverConn, busy bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[c] = busy
	return !s.closing
}

func (s *Server) drop(c *serverConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.nc.Close()
	s.conndone.Done()
}

func (s *Server) durations() (head, idle, body time.Duration, maxHead int) {
	head, idle, body, maxHead = s.ReadHeaderTimeout, s.IdleTimeout, s.ReadBodyTimeout, s.MaxHeaderBytes
	if body == 0 {
		body = 30 * time.Second
	}
	if head == 0 {
		head = 10 * time.Second
	}
	if idle == 0 {
		idle = 2 * time.Minute
	}
	if maxHead <= 0 {
		maxHead = 1 << 20
	}
	return head, idle, body, maxHead
}

// serverConn is one client connection.
type serverConn struct {
	s      *Server
	nc     net.Conn
	remote string // nc's remote address, for every request's RemoteAddr
	cr     connReader
	br     *bufio.Reader
	bw     *bufio.Writer

	watchDone chan struct{} // the hang-up watcher has stopped

	// Under s.mu: the request in hand is due a hang-up watch at due
	// (zero: not yet, or no longer); watching: its watcher runs.
	due      time.Time
	watching bool
	hangUp   context.CancelFunc // cancels the request in hand

	// deadline is nc's read deadline: the idle one (left in place while a
	// request whose body has come whole is handled: nothing reads nc
	// then), a head's, or none. Changed by the connection's goroutine,
	// and under s.mu by startDueWatches while a watch is due.
	deadline time.Time
}

func (c *serverConn) setReadDeadline(t time.Time) {
	c.deadline = t
	_ = c.nc.SetReadDeadline(t)
}

// connReader reads a connection, bounded while a head is read (a request's
// here, a response's in Transport), and first gives back a byte the
// server's hang-up watcher read.
type connReader struct {
	nc      net.Conn
	limit   int // bytes left for the head; -1: no limit
	pending []byte
	now     bool // only what has arrived, else rawio.ErrNotReady (Transport.settle)
}

var errHeadTooLarge = errors.New("request head too large")

func (r *connReader) Read(p []byte) (n int, err error) {
	if r.limit == 0 {
		return 0, errHeadTooLarge
	}
	if r.limit > 0 && len(p) > r.limit {
		p = p[:r.limit]
	}
	if len(r.pending) > 0 {
		n = copy(p, r.pending)
		r.pending = r.pending[n:]
	} else if r.now {
		n, err = rawio.ReadNow(r.nc, p)
	} else {
		n, err = r.nc.Read(p)
	}
	if r.limit > 0 {
		r.limit -= n
	}
	return n, err
}

func (c *serverConn) serve() {
	defer c.s.drop(c)
	headTimeout, idleTimeout, bodyTimeout, maxHead := c.s.durations()
	c.remote = c.nc.RemoteAddr().String()
	c.cr = connReader{nc: c.nc, limit: -1}
	c.br = bufio.NewReaderSize(&c.cr, 16<<10)
	c.bw = bufio.NewWriterSize(c.nc, 16<<10)
	c.watchDone = make(chan struct{}, 1)
	for {
		// Wait for the next request, then give its head a deadline unless
		// it has come whole. Deadlines are moved only when they must: each
		// move adds a timer, and adding one wakes a thread (see Server).
		if now := time.Now(); c.deadline.IsZero() || now.Add(idleTimeout).Sub(c.deadline) > idleTimeout/8 {
			c.setReadDeadline(now.Add(idleTimeout))
		}
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		buffered := c.br.Buffered()
		head, headLen := bufferedHead(c.br)
		if head == nil {
			c.setReadDeadline(time.Now().Add(headTimeout))
		}
		// The head has maxHead bytes from where it starts: what is
		// buffered (up to the buffer's size, read before any limit), and
		// what the connection may add. What it took is counted after.
		limit := max(maxHead-buffered, 0)
		c.cr.limit = limit
		req, err := readRequest(c.br, head, headLen)
		size := buffered + limit - c.cr.limit - c.br.Buffered()
		c.cr.limit = -1
		switch {
		case err != nil:
		case size > maxHead:
			err = errHeadTooLarge
		case !validHost(req):
			err = errHost
		}
		if err != nil {
			c.refuse(err)
			return
		}
		if req.ContentLength < 0 || int64(c.br.Buffered()) < req.ContentLength {
			// The body is read as it comes, by the handler or, left
			// unread, by the drain after it: a client that never sends it
			// does not hold the connection (the hang-up watch, which
			// starts once the body is read, lifts this).
			c.setReadDeadline(time.Now().Add(bodyTimeout))
		}
		if !c.s.setBusy(c, true) {
			return
		}
		keep := c.handle(req)
		if !c.s.setBusy(c, false) || !keep {
			return
		}
	}
}

// refuse answers a request that could not be read, if it was one.
func (c *serverConn) refuse(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.As(err, &ne) && ne.Timeout():
		return
	case errors.Is(err, errHeadTooLarge):
		_, _ = io.WriteString(c.nc, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large")
	default:
		_, _ = io.WriteString(c.nc, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n400 Bad Request")
	}
}

// handle runs the handler for req and completes its response; it reports
// whether the connection can carry another request.
func (c *serverConn) handle(req *http.Request) (keep bool) {
	ctx, cancel := context.WithCancel(c.s.ctx)
	defer cancel()
	req = req.WithContext(ctx)
	req.RemoteAddr = c.remote
	w := &response{c: c, req: req, header: http.Header{}, keep: !req.Close}
	switch e := req.Header.Get("Expect"); {
	case e == "":
	case strings.EqualFold(e, "100-continue") && req.ContentLength != 0:
		_, _ = c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if c.bw.Flush() != nil {
			return false
		}
	case !strings.EqualFold(e, "100-continue"):
		// The body is not read, so the connection cannot carry another
		// request: what follows the head is not one.
		w.keep = false
		http.Error(w, "unsupported Expect", http.StatusExpectationFailed)
		w.finish()
		return false
	}

	// Once the body is read, the connection is quiet until the next
	// request: a read that ends is the client hanging up.
	body := &requestBody{rc: req.Body}
	req.Body = body
	arm := func() {
		if c.br.Buffered() == 0 {
			c.s.dueWatch(c, cancel)
		}
	}
	if req.ContentLength == 0 {
		arm()
	} else {
		body.onEOF = arm
	}
	defer func() {
		if c.s.undueWatch(c) {
			// The watcher runs: stop its read, keep any byte it got.
			c.setReadDeadline(time.Unix(1, 0))
			<-c.watchDone
			c.setReadDeadline(time.Time{})
			keep = keep && ctx.Err() == nil
		}
	}()

	if !c.run(w, req) {
		return false
	}
	if !w.finish() {
		return false
	}
	// What the handler left of the body is read, within reason, so the
	// next request starts where it should.
	if !body.eof {
		if n, _ := io.CopyN(io.Discard, body, 256<<10); n == 256<<10 || !body.eof {
			return false
		}
	}
	return w.keep
}

// run calls the handler; a panic closes the connection.
func (c *serverConn) run(w *response, req *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			ok = false
			if p != http.ErrAbortHandler {
				c.s.log().Error("http handler panicked", "method", req.Method, "path", req.URL.Path, "panic", fmt.Sprint(p))
			}
		}
	}()
	c.s.Handler.ServeHTTP(w, req)
	return true
}

// dueWatch makes c's request due a hang-up watch after hangUpWatchAfter.
func (s *Server) dueWatch(c *serverConn, cancel context.CancelFunc) {
	s.mu.Lock()
	c.due, c.hangUp = time.Now().Add(hangUpWatchAfter), cancel
	s.mu.Unlock()
	s.hangUps.Poke()
}

// undueWatch ends c's request's claim to a watch; true if its watcher
// runs (the caller stops it).
func (s *Server) undueWatch(c *serverConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	watching := c.watching
	c.due, c.watching, c.hangUp = time.Time{}, false, nil
	return watching
}

// startDueWatches starts the watch of each request that is due one (the
// ticker's Tick); pending: a request is due one later.
func (s *Server) startDueWatches(now time.Time) (pending bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		switch {
		case c.due.IsZero() || c.watching:
		case now.Before(c.due):
			pending = true
		default:
			if !c.deadline.IsZero() {
				c.setReadDeadline(time.Time{}) // the watch reads until it is stopped
			}
			c.watching = true
			go c.watch(c.hangUp)
		}
	}
	return pending
}

// watch reads the quiet connection: the client hanging up cancels the
// request; a byte of its next request is kept for the next read.
func (c *serverConn) watch(cancel context.CancelFunc) {
	defer func() { c.watchDone <- struct{}{} }()
	var b [1]byte
	n, err := c.nc.Read(b[:])
	if n == 1 {
		c.cr.pending = append(c.cr.pending, b[0])
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return // stopped by handle
	}
	cancel()
}

// requestBody notes when the body has been read to its end.
type requestBody struct {
	rc    io.ReadCloser
	eof   bool
	onEOF func()
}

func (b *requestBody) Read(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	if err == io.EOF {
		b.eof = true
		if b.onEOF != nil {
			b.onEOF()
		}
	}
	return n, err
}

func (b *requestBody) Close() error { return nil }

// response is the http.ResponseWriter. A body is held until the handler
// returns and sent with its length; a Flush (an event stream) or a large
// body switches to streaming it: in chunks, or to an HTTP/1.0 client, which
// cannot read chunks, unframed (it ends with the connection).
type response struct {
	c         *serverConn
	req       *http.Request
	header    http.Header
	status    int
	streaming bool   // the head is sent; the body goes as it is written
	unframed  bool   // streamed without chunks, to HTTP/1.0
	body      []byte // held until the end or a flush
	keep      bool   // the connection carries another request after this one
	failed    error  // a write to the client failed
}

// maxHeldBody is how much of a body is held before it is streamed.
const maxHeldBody = 64 << 10

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.status != 0 || code < 200 {
		return // already written, or informational (not sent)
	}
	w.status = code
	if v := w.header.Get("Connection"); strings.EqualFold(v, "close") {
		w.keep = false
	}
}

func (w *response) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if w.failed != nil {
		return 0, w.failed
	}
	if !w.streaming {
		if len(w.body)+len(p) <= maxHeldBody {
			w.body = append(w.body, p...)
			return len(p), nil
		}
		w.startStreaming() // and p goes as it is, not copied into the held body first
	}
	w.writeBody(p)
	return len(p), w.failed
}

func (w *response) Flush() { _ = w.FlushError() }

// FlushError sends what was written so far (http.ResponseController uses
// it).
func (w *response) FlushError() error {
	w.WriteHeader(http.StatusOK)
	if w.failed != nil {
		return w.failed
	}
	if !w.streaming {
		w.startStreaming()
	}
	if err := w.c.bw.Flush(); err != nil && w.failed == nil {
		w.failed = err
	}
	return w.failed
}

func (w *response) startStreaming() {
	w.streaming = true
	if !w.req.ProtoAtLeast(1, 1) {
		w.unframed, w.keep = true, false
	}
	w.writeHead(-1)
	if len(w.body) > 0 {
		w.writeBody(w.body)
	}
	w.body = nil
}

// writeBody sends p, a part of a streamed body.
func (w *response) writeBody(p []byte) {
	if len(p) == 0 || w.req.Method == http.MethodHead {
		return
	}
	bw := w.c.bw
	if w.unframed {
		if _, err := bw.Write(p); err != nil && w.failed == nil {
			w.failed = err
		}
		return
	}
	_, _ = bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
	_, _ = bw.WriteString("\r\n")
	_, _ = bw.Write(p)
	if _, err := bw.WriteString("\r\n"); err != nil && w.failed == nil {
		w.failed = err
	}
}

// finish completes the response; false if the connection is unusable.
func (w *response) finish() bool {
	w.WriteHeader(http.StatusOK)
	if w.streaming {
		if !w.unframed && bodyAllowed(w.status) && w.req.Method != http.MethodHead {
			_, _ = w.c.bw.WriteString("0\r\n\r\n")
		}
	} else {
		w.writeHead(len(w.body))
		if w.req.Method != http.MethodHead {
			_, _ = w.c.bw.Write(w.body)
		}
	}
	if err := w.c.bw.Flush(); err != nil && w.failed == nil {
		w.failed = err
	}
	return w.failed == nil
}

// headerValue keeps a value to one line.
var headerValue = strings.NewReplacer("\r", " ", "\n", " ")

// writeHead writes the status line and headers, with the body's length or
// (length < 0) chunked encoding, or neither to HTTP/1.0. A HEAD answer has
// the length the handler set, or that of what it wrote, if anything (as
// net/http's has).
func (w *response) writeHead(length int) {
	bw := w.c.bw
	_, _ = bw.WriteString("HTTP/1.1 ")
	_, _ = bw.WriteString(strconv.Itoa(w.status))
	_, _ = bw.WriteString(" ")
	_, _ = bw.WriteString(http.StatusText(w.status))
	_, _ = bw.WriteString("\r\n")
	h := w.header
	head := w.req.Method == http.MethodHead
	declared := head && h.Get("Content-Length") != ""
	if !declared {
		h.Del("Content-Length")
	}
	h.Del("Transfer-Encoding")
	if length > 0 && h.Get("Content-Type") == "" {
		h.Set("Content-Type", http.DetectContentType(w.body))
	}
	for k, vs := range h {
		for _, v := range vs {
			_, _ = bw.WriteString(k)
			_, _ = bw.WriteString(": ")
			_, _ = headerValue.WriteString(bw, v)
			_, _ = bw.WriteString("\r\n")
		}
	}
	switch {
	case !bodyAllowed(w.status), declared, length == 0 && head, w.unframed:
	case length < 0:
		_, _ = bw.WriteString("Transfer-Encoding: chunked\r\n")
	default:
		_, _ = bw.WriteString("Content-Length: ")
		_, _ = bw.WriteString(strconv.Itoa(length))
		_, _ = bw.WriteString("\r\n")
	}
	if !w.keep {
		_, _ = bw.WriteString("Connection: close\r\n")
	}
	_, _ = bw.WriteString("\r\n")
}

// bodyAllowed: 1xx, 204 and 304 answers have no body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
