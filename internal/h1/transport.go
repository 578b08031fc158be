// Package h1 is a plain-HTTP/1.1 client transport for loopback and LAN
// hops, where what net/http's Transport costs per request is most of the
// hop. The standard Transport hands every request to a writer goroutine
// and every response over from a reader goroutine; on a two-core machine
// those hand-offs (and the threads they wake) were measured at about
// 0.2 ms of a 0.26 ms proxy hop. This one writes the request and reads the
// answer on the caller's goroutine, which parks in the network poller and
// is woken by the answer itself.
//
// It speaks only http:// without a proxy; anything else (https, where the
// network and TLS dwarf the hand-offs and HTTP/2 is worth having, a proxy
// from the environment, an upgrade) goes to the fallback transport.
package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcptray/mcptray/internal/ondemand"
	"github.com/mcptray/mcptray/internal/rawio"
)

// Transport is an http.RoundTripper; the zero value is not usable, see New.
type Transport struct {
	fallback    http.RoundTripper
	dialer      net.Dialer
	maxIdle     int           // idle connections kept per host
	idleTimeout time.Duration // an idle connection older than this is closed
	maxHead     int           // bytes of a response's head, its 1xx heads included

	mu        sync.Mutex
	idle      map[string][]*conn  // by host:port, most recently used last
	draining  map[*conn]time.Time // closed before their end, being read to it; since when
	cutDrains ondemand.Ticker     // ends drains, and settles pooled ends, that took endWait
	endWait   time.Duration       // how long an answer's end is waited for: drainWait (tests lengthen it)

	drained func(kept bool) // tests: the end of an answer closed early was read (kept) or given up on
}

// New returns a Transport that sends what it does not handle itself to
// fallback.
func New(fallback http.RoundTripper) *Transport {
	t := &Transport{
		fallback:    fallback,
		dialer:      net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		maxIdle:     16,
		idleTimeout: 90 * time.Second,
		maxHead:     maxResponseHead,
		idle:        map[string][]*conn{},
		draining:    map[*conn]time.Time{},
		endWait:     drainWait,
	}
	t.cutDrains.Period, t.cutDrains.Tick = drainTick, t.cutLongDrains
	return t
}

// maxResponseHead is net/http's default MaxResponseHeaderBytes.
const maxResponseHead = 10 << 20

// conn is one connection to a server, owned by one request at a time.
type conn struct {
	nc    net.Conn
	addr  string     // its key in the pool
	cr    connReader // nc, bounded while an answer's head is read
	br    *bufio.Reader
	bw    *bufio.Writer
	since time.Time // when it went idle
	// keepFor is how long the server keeps it open idle, less a margin,
	// from its Keep-Alive header (0: not said). Past it the server may
	// close the connection just as a request goes out on it, which the
	// liveness peek cannot see coming (and where there is no peek, on
	// Windows, nothing else would).
	keepFor time.Duration
	// rest is the end of the last answer, which its caller closed before
	// reading it (see body.Close): read when the connection is next
	// taken from the pool.
	rest io.Reader
}

// handles reports whether req is for this transport rather than the
// fallback.
func handles(req *http.Request) bool {
	if req.URL.Scheme != "http" || req.Method == http.MethodConnect || req.Header.Get("Upgrade") != "" {
		return false
	}
	proxy, err := http.ProxyFromEnvironment(req)
	return err == nil && proxy == nil
}

// RoundTrip sends req and returns the response, whose body must be read to
// the end or closed (then the connection is reused, or dropped).
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !handles(req) {
		return t.fallback.RoundTrip(req)
	}
	// Checked before a connection is taken: a failed write on a pooled one
	// is taken for the server having closed it, and tried again.
	if err := checkHeader(req.Header); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%s to %s: %w", req.Method, req.URL.Host, err)
	}
	addr := hostPort(req.URL)
	ctx := req.Context()
	for attempt := 0; ; attempt++ {
		c, reused, err := t.get(ctx, addr)
		if err != nil {
			if req.Body != nil {
				req.Body.Close() // a RoundTripper closes the body, on errors too
			}
			return nil, err
		}
		resp, written, err := t.exchange(ctx, c, req)
		if err == nil {
			return resp, nil
		}
		c.nc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A reused connection the server closed while we wrote: the
		// request never left, so it is sent again on a new one.
		if reused && !written && attempt == 0 && rewind(req) {
			continue
		}
		// The host, not the URL: a URL's path or query can hold a token.
		return nil, fmt.Errorf("%s to %s: %w", req.Method, req.URL.Host, err)
	}
}

// exchange writes req on c and reads the head of its response; written
// says whether the request reached the connection.
func (t *Transport) exchange(ctx context.Context, c *conn, req *http.Request) (*http.Response, bool, error) {
	// A cancelled request unblocks the connection; the connection is then
	// not reused.
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	if err := writeRequest(c.bw, req); err != nil {
		stop()
		return nil, false, err
	}
	if err := c.bw.Flush(); err != nil {
		stop()
		return nil, false, err
	}
	// The answer's head, and those of any 1xx answers before it, may take
	// t.maxHead bytes, as in net/http: http.ReadResponse, which reads what
	// readResponse does not, has no bound of its own. (Nothing is buffered
	// before: see put.)
	c.cr.limit = t.maxHead
	resp, err := readResponse(c.br, req)
	for err == nil && resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
		resp, err = readResponse(c.br, req) // 1xx: the answer follows
	}
	if err != nil && c.cr.limit == 0 {
		err = fmt.Errorf("the response head is over its limit of %d bytes", t.maxHead)
	}
	c.cr.limit = -1
	if err != nil {
		stop()
		return nil, true, err
	}
	keep := !resp.Close && !req.Close
	if ka := resp.Header["Keep-Alive"]; ka != nil {
		c.keepFor = keepAliveFor(ka)
	}
	if resp.Body == http.NoBody || resp.ContentLength == 0 {
		resp.Body = http.NoBody
		t.release(c, stop, keep)
		return resp, true, nil
	}
	resp.Body = &body{rc: resp.Body, c: c, t: t, stop: stop, keep: keep}
	return resp, true, nil
}

// rewind makes req's body readable again, if it can be.
func rewind(req *http.Request) bool {
	if req.Body == nil || req.Body == http.NoBody {
		return true
	}
	if req.GetBody == nil {
		return false
	}
	b, err := req.GetBody()
	if err != nil {
		return false
	}
	req.Body = b
	return true
}

// release ends a request's use of c: back to the pool when the exchange
// ended cleanly and the connection is reusable, else closed.
func (t *Transport) release(c *conn, stop func() bool, keep bool) {
	if reusable(c, stop, keep) {
		t.put(c)
	}
}

// reusable stops the request's cancel watch and reports whether c can
// serve another request; if not, it is closed.
func reusable(c *conn, stop func() bool, keep bool) bool {
	if !stop() || !keep {
		c.nc.Close() // cancelled (its deadline is spoilt) or not reusable
		return false
	}
	return true
}

// body is a response body that gives its connection back at the end.
type body struct {
	rc   io.ReadCloser
	c    *conn
	t    *Transport
	stop func() bool
	keep bool
	once sync.Once

	mu      sync.Mutex
	reading bool // a Read is under way (Close from another goroutine must not drain beside it)
	closed  bool
}

var errBodyClosed = errors.New("read on a closed response body")

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0, errBodyClosed
	}
	b.reading = true
	b.mu.Unlock()
	n, err := b.rc.Read(p)
	b.mu.Lock()
	b.reading = false
	b.mu.Unlock()
	if err == io.EOF {
		b.once.Do(func() { b.t.release(b.c, b.stop, b.keep) })
	}
	return n, err
}

// Close before the end leaves what is left of the answer to be read when
// the connection is next taken (settle). A server written in Go sends the
// end of a chunked stream only after its handler returns, a packet after
// the event that answered (Node.js's server-everything sends it with the
// answer, which is then read to its end, nearly always). By the next
// request it has come, and reading it then is one read(2) on that
// request's goroutine; reading it now would wait for it, and a goroutine
// to wait for it wakes a thread, once per call to such a server. (Dropping
// the connection for those five bytes cost a new connection per call.)
//
// A Close while a Read is blocked in another goroutine (a stream given up
// on) closes the connection instead: the Read returns at once, and the
// connection is never read by two at a time nor pooled while read.
func (b *body) Close() error {
	b.mu.Lock()
	b.closed = true
	reading := b.reading
	b.mu.Unlock()
	b.once.Do(func() {
		if reading {
			b.stop()
			b.c.nc.Close()
			return
		}
		if !reusable(b.c, b.stop, b.keep) {
			return
		}
		switch b.rc.(type) {
		case *chunkedBody, *fixedBody: // they read on after rawio.ErrNotReady
			if rawio.ReadsNow(b.c.nc) {
				b.c.rest = b.rc
				b.t.put(b.c)
				return
			}
		}
		b.t.drain(b.c, b.rc, drainMax) // where settle could not read it
	})
	return nil
}

const (
	drainWait = 250 * time.Millisecond
	drainTick = 100 * time.Millisecond // so drains end 250-350 ms in
	drainMax  = 64 << 10
)

// settle reads what has come of the end of c's last answer (c.rest),
// without waiting (readRest). It reports whether the answer has ended,
// leaving c ready for a request. If more is to come, a drain goes on
// reading it; if the answer was too long or went wrong, c is closed.
func (t *Transport) settle(c *conn) bool {
	rest, n, err := readRest(c)
	ended := c.restEnded(n, err)
	switch {
	case errors.Is(err, rawio.ErrNotReady):
		t.drain(c, rest, drainMax-n)
		return false
	case !ended:
		c.nc.Close() // too long, broken, or more than its answer
	}
	if t.drained != nil {
		t.drained(ended)
	}
	return ended
}

// readRest reads what has come of the end of c's last answer (c.rest),
// up to drainMax+1 bytes, without waiting: rawio.ErrNotReady if more is
// to come. It returns the rest, to be read on.
func readRest(c *conn) (io.Reader, int64, error) {
	rest := c.rest
	c.rest = nil
	c.cr.now = true
	n, err := io.Copy(io.Discard, io.LimitReader(rest, drainMax+1))
	c.cr.now = false
	return rest, n, err
}

// restEnded reports whether readRest's n bytes and err were the answer's
// clean end, with nothing after it.
func (c *conn) restEnded(n int64, err error) bool {
	return err == nil && n <= drainMax && c.br.Buffered() == 0
}

// drain reads the rest of an answer off every caller's path, for a moment
// (endWait, enforced on the shared clock: a read deadline is a timer)
// and up to limit bytes, and gives the connection back if the answer ends
// by then.
func (t *Transport) drain(c *conn, rest io.Reader, limit int64) {
	t.mu.Lock()
	t.draining[c] = time.Now()
	t.mu.Unlock()
	t.cutDrains.Poke()
	go func() {
		n, err := io.Copy(io.Discard, io.LimitReader(rest, limit+1))
		t.mu.Lock()
		_, ours := t.draining[c] // not if CloseIdleConnections came meanwhile
		delete(t.draining, c)
		t.mu.Unlock()
		// Off the list, cutLongDrains no longer touches its deadline.
		kept := ours && err == nil && n <= limit && c.nc.SetReadDeadline(time.Time{}) == nil
		if kept {
			t.put(c)
		} else {
			c.nc.Close()
		}
		if t.drained != nil {
			t.drained(kept)
		}
	}()
}

// cutLongDrains (the cutDrains ticker's Tick) ends the reads of drains
// older than endWait with a deadline in the past, which adds no timer,
// and settles the pooled connections whose answers' ends no request came
// for in that time: one whose answer goes on is closed, so the server sees
// the client gone. They are settled in the pool, under t.mu (reading
// without waiting), so that CloseIdleConnections finds each either pooled
// or closed, and one kept keeps its place and its idle time.
func (t *Transport) cutLongDrains(now time.Time) (pending bool) {
	var settled []bool
	t.mu.Lock()
	for c, since := range t.draining {
		if now.Sub(since) >= t.endWait {
			_ = c.nc.SetReadDeadline(time.Unix(1, 0))
		}
	}
	pending = len(t.draining) > 0
	for addr, list := range t.idle {
		kept := list[:0]
		for _, c := range list {
			if c.rest != nil && now.Sub(c.since) < t.endWait {
				pending = true
			} else if c.rest != nil {
				_, n, err := readRest(c)
				ended := c.restEnded(n, err)
				settled = append(settled, ended)
				if !ended {
					c.nc.Close()
					continue
				}
			}
			kept = append(kept, c)
		}
		clear(list[len(kept):])
		t.idle[addr] = kept
	}
	t.mu.Unlock()
	if t.drained != nil {
		for _, kept := range settled {
			t.drained(kept)
		}
	}
	return pending
}

// get returns an idle connection to addr that is still open, or a new one.
func (t *Transport) get(ctx context.Context, addr string) (*conn, bool, error) {
	now := time.Now()
	for {
		t.mu.Lock()
		list := t.idle[addr]
		if len(list) == 0 {
			t.mu.Unlock()
			break
		}
		c := list[len(list)-1]
		t.idle[addr] = list[:len(list)-1]
		t.mu.Unlock()
		idle := now.Sub(c.since)
		if idle >= t.idleTimeout || c.keepFor != 0 && idle >= c.keepFor {
			c.nc.Close()
			continue
		}
		if c.rest != nil && !t.settle(c) {
			continue
		}
		if rawio.StillOpen(c.nc) {
			return c, true, nil
		}
		c.nc.Close()
	}
	nc, err := t.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	nc = rawio.Conn(nc)
	c := &conn{nc: nc, addr: addr, cr: connReader{nc: nc, limit: -1}, bw: bufio.NewWriterSize(nc, 8<<10)}
	c.br = bufio.NewReaderSize(&c.cr, 16<<10)
	return c, false, nil
}

func (t *Transport) put(c *conn) {
	if c.br.Buffered() > 0 && c.rest == nil {
		c.nc.Close() // the server sent more than its answer
		return
	}
	c.since = time.Now()
	parked := c.rest != nil // read now: once pooled, c is another request's
	t.mu.Lock()
	if len(t.idle[c.addr]) >= t.maxIdle {
		t.mu.Unlock()
		c.nc.Close()
		return
	}
	t.idle[c.addr] = append(t.idle[c.addr], c)
	t.mu.Unlock()
	if parked {
		t.cutDrains.Poke() // its end is read within endWait (cutLongDrains)
	}
}

// CloseIdleConnections closes the pooled connections and those being
// drained, and the fallback's.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle, draining := t.idle, t.draining
	t.idle, t.draining = map[string][]*conn{}, map[*conn]time.Time{}
	t.mu.Unlock()
	for _, list := range idle {
		for _, c := range list {
			c.nc.Close()
		}
	}
	for c := range draining {
		c.nc.Close()
	}
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// keepAliveFor reads a Keep-Alive header's timeout (seconds; Node.js
// servers send "timeout=5") and returns how long an idle connection may be
// reused: a second less, or half of a timeout under two seconds; 0 when
// there is no usable timeout.
func keepAliveFor(values []string) time.Duration {
	for _, v := range values {
		for _, param := range strings.Split(v, ",") {
			name, val, ok := strings.Cut(strings.TrimSpace(param), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(name), "timeout") {
				continue
			}
			secs, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil || secs <= 0 {
				return 0
			}
			d := time.Duration(secs) * time.Second
			if d < 2*time.Second {
				return d / 2
			}
			return d - time.Second
		}
	}
	return 0
}

// hostPort is the URL's host with its port (80 by default).
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}
