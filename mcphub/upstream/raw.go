package upstream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/jsonobj"
)

// The raw path sends a bridged request as bytes on the session's own HTTP
// client and reads the answer as bytes: no decoding into go-sdk's types
// and encoding again, and none of its goroutine hand-offs. It is the
// bridge's fast path for tools/call on Streamable HTTP, to servers of
// either era; everything else uses the go-sdk session.

// ErrNoRawPath means the raw path does not apply, or the server refused the
// request before running it (401, 403, 404, 400; from a 2026-07-28
// server a 400 or 404 carrying a JSON-RPC error is the call's answer
// instead): the caller uses the session, which handles sign-in and
// session renewal.
var ErrNoRawPath = errors.New("the raw path does not apply")

// RawHandler gets what the server sends with a call besides its answer.
type RawHandler interface {
	// Notification is a notification of the call (progress, log).
	Notification(method string, params json.RawMessage)
	// Request answers a request of the call (sampling, elicitation,
	// roots): a result or a JSON-RPC error.
	Request(ctx context.Context, method string, params json.RawMessage) (json.RawMessage, error)
}

// ModernHandler is a RawHandler whose call may take the raw path to a
// 2026-07-28 server. The server's answer is returned as sent (an
// input_required result too): the caller makes it its client's.
type ModernHandler interface {
	RawHandler
	// ClientCapabilities is the JSON of the client capabilities the server
	// is told of (TC-10).
	ClientCapabilities() json.RawMessage
	// LogLevel is the level the client wants the call's log messages at,
	// "" for none: a 2026-07-28 server sends none without it (LC-24).
	LogLevel() string
}

// rawPath is what the raw path needs of a live Streamable HTTP session.
type rawPath struct {
	endpoint string
	// meta: a 2026-07-28 request's own _meta members, the protocol version
	// and client info (TC-10), as JSON; nil in the initialize era.
	meta  []byte
	probe *probe      // the session's RoundTripper: configured headers, status records
	post  http.Header // a POST's headers (the session's ID and version among them), built once and shared: a request that is signed gets a copy of the map (rawSend); the value slices are never written
	seq   atomic.Uint64
}

// newRawPath: session is "" for a stateless server.
func newRawPath(endpoint string, p *probe, session, version string) *rawPath {
	post := http.Header{
		"Content-Type":         {"application/json"},
		"Accept":               {"application/json, text/event-stream"},
		"Mcp-Protocol-Version": {version},
	}
	if session != "" {
		post["Mcp-Session-Id"] = []string{session}
	}
	for k, v := range p.headers { // as probe.prepare sets them: rawSend skips it
		post.Set(k, v)
	}
	return &rawPath{endpoint: endpoint, probe: p, post: post}
}

// rawPathOf returns the raw path of a connected attempt, or nil when it
// does not apply (stdio, legacy SSE).
func (c *Conn) rawPathOf(att *attempt) *rawPath {
	if att.transport != TransportStreamable || att.probe == nil || att.catalog == nil {
		return nil
	}
	v := att.catalog.ProtocolVersion
	if v == "" {
		return nil
	}
	rp := newRawPath(c.srv.URL, att.probe, att.session.ID(), v)
	if v >= "2026-07-28" {
		info, err := json.Marshal(c.opts.ClientInfo)
		if err != nil {
			return nil
		}
		rp.meta = appendMember(nil, mcp.MetaKeyProtocolVersion, strconv.AppendQuote(nil, v))
		rp.meta = appendMember(append(rp.meta, ','), mcp.MetaKeyClientInfo, info)
	}
	return rp
}

// appendMember appends "key":value (value is JSON) to dst.
func appendMember(dst []byte, key string, value []byte) []byte {
	dst = strconv.AppendQuote(dst, key)
	return append(append(dst, ':'), value...)
}

// CallRaw sends method with params (the JSON of the params object) and
// returns the result's JSON, or the server's JSON-RPC error as a
// *jsonrpc.Error. ErrNoRawPath: use the session instead. ctx carries no
// call tag (WithCallTag is for go-sdk's requests): the raw path reads the
// call's stream itself, and h gets what the server sends with it.
func (c *Conn) CallRaw(ctx context.Context, method string, params json.RawMessage, h RawHandler) (json.RawMessage, error) {
	c.mu.Lock()
	rp := c.raw
	c.mu.Unlock()
	if rp == nil {
		return nil, ErrNoRawPath
	}
	header := rp.post
	if rp.meta != nil {
		var ok bool
		if params, header, ok = rp.modernRequest(method, params, h); !ok {
			return nil, ErrNoRawPath
		}
	}
	for resent := 0; ; resent++ {
		id := `"mcptray-r` + strconv.FormatUint(rp.seq.Add(1), 36) + `"`
		body := make([]byte, 0, len(params)+len(method)+64)
		body = append(body, `{"jsonrpc":"2.0","id":`...)
		body = append(body, id...)
		body = append(body, `,"method":`...)
		body = strconv.AppendQuote(body, method)
		body = append(body, `,"params":`...)
		body = append(body, params...)
		body = append(body, '}')

		res, err := c.rawExchange(ctx, rp, header, body, []byte(id), h)
		var lost *lostRequest
		if errors.As(err, &lost) && resent < maxResends && ctx.Err() == nil {
			c.log.Info("the server's response broke off; sending the request again", "method", method, "err", lost.err)
			continue
		}
		return c.rawAnswer(ctx, rp, id, res, err)
	}
}

// maxResends bounds how often a request whose 2026-07-28 response broke
// off is sent again: a server that keeps cutting its answers is broken,
// and each try may run the tool.
const maxResends = 2

// lostRequest is a 2026-07-28 response that ended before its answer. Such
// a server keeps no stream to resume, so the request is lost and is sent
// again as a new request with a new id (TC-12).
type lostRequest struct{ err error }

func (e *lostRequest) Error() string {
	return "the server ended the response before answering: " + e.err.Error()
}
func (e *lostRequest) Unwrap() error { return e.err }

// rawAnswer hands a call's answer to its caller, or, when the handler let
// the caller go (Detached), has the rest of the call end it.
func (c *Conn) rawAnswer(ctx context.Context, rp *rawPath, id string, res json.RawMessage, err error) (json.RawMessage, error) {
	if d, ok := err.(*Detached); ok {
		d.then(func(res json.RawMessage, err error) (json.RawMessage, error) { return c.rawDone(ctx, rp, id, res, err) })
		d.start()
		return nil, d
	}
	return c.rawDone(ctx, rp, id, res, err)
}

// rawDone ends a call: a cancelled one is cancelled at the server too,
// whether or not the request got through. (A 2026-07-28 server takes the
// closed response as the cancellation, TC-12.)
func (c *Conn) rawDone(ctx context.Context, rp *rawPath, id string, res json.RawMessage, err error) (json.RawMessage, error) {
	if ctx.Err() != nil {
		if rp.meta == nil {
			c.rawCancel(rp, id)
		}
		return nil, ctx.Err()
	}
	return res, err
}

// modernRequest is a tools/call to a 2026-07-28 server: params with the
// request's _meta members (TC-10) and the headers naming the method and
// tool (TS-17). false: the session path is to make it (another method, a
// handler that is no ModernHandler, a name that needs encoding in a
// header, params that are not one JSON object or whose _meta is not one
// object).
func (rp *rawPath) modernRequest(method string, params json.RawMessage, h RawHandler) (json.RawMessage, http.Header, bool) {
	mh, ok := h.(ModernHandler)
	if !ok || method != "tools/call" {
		return nil, nil, false
	}
	caps := mh.ClientCapabilities()
	var name string
	meta, metas := -1, 0 // where the value of params' own _meta begins; how many there are
	valid := jsonobj.Members(params, func(k, v []byte) {
		switch string(k) {
		case "name":
			if !jsonobj.String(&name, v) {
				name = ""
			}
		case "_meta":
			if metas++; v[0] == '{' {
				meta = cap(params) - cap(v) // v is a slice of params
			}
		}
	})
	if !valid || !plainHeaderValue(name) || metas > 1 || metas == 1 && meta < 0 {
		return nil, nil, false
	}
	// The members go first in params' _meta, or in a _meta of their own
	// first in params.
	at := meta + 1
	if meta < 0 {
		at = bytes.IndexByte(params, '{') + 1
	}
	out := make([]byte, 0, len(params)+len(rp.meta)+len(caps)+64)
	out = append(out, params[:at]...)
	if meta < 0 {
		out = append(out, `"_meta":{`...)
	}
	out = appendMember(append(append(out, rp.meta...), ','), mcp.MetaKeyClientCapabilities, caps)
	if level := mh.LogLevel(); level != "" {
		l, _ := json.Marshal(level)
		//lint:ignore SA1019 logging is deprecated in 2026-07-28, not gone: a server logs for a request that names a level
		out = appendMember(append(out, ','), mcp.MetaKeyLogLevel, l)
	}
	if meta < 0 {
		out = append(out, '}')
	}
	if rest := bytes.TrimLeft(params[at:], " \t\r\n"); len(rest) > 0 && rest[0] != '}' {
		out = append(out, ',')
	}
	out = append(out, params[at:]...)
	header := maps.Clone(rp.post)
	header["Mcp-Method"], header["Mcp-Name"] = []string{method}, []string{name}
	return out, header, true
}

// plainHeaderValue reports whether a name goes in a header as it is: not
// empty, printable ASCII without surrounding spaces, and not looking like
// the base64 sentinel that marks an encoded one (TC-10), which go-sdk
// writes for the rest.
func plainHeaderValue(s string) bool {
	if s == "" || s[0] == ' ' || s[len(s)-1] == ' ' || strings.HasPrefix(s, "=?") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Detacher is a RawHandler that can let its caller go when the server
// asks something mid-call: a 2026-07-28 client is answered input_required
// while the upstream call goes on. Only then does the rest of the call
// need a goroutine of its own; until then it runs on the caller's.
type Detacher interface {
	// DetachOnRequest is asked on the server's first request of the call.
	DetachOnRequest() bool
}

// Detached is CallRaw's error when its Detacher let the caller go: the
// call goes on, and Wait returns its answer.
type Detached struct {
	rest func() (json.RawMessage, error) // the rest of the call, until started
	done chan struct{}
	res  json.RawMessage
	err  error
}

func (d *Detached) Error() string { return "the call goes on without its caller" }

// Wait returns the call's answer once the server gave it.
func (d *Detached) Wait() (json.RawMessage, error) {
	<-d.done
	return d.res, d.err
}

// then makes f (what the caller would have done with the answer) part of
// the rest of the call.
func (d *Detached) then(f func(json.RawMessage, error) (json.RawMessage, error)) {
	rest := d.rest
	d.rest = func() (json.RawMessage, error) { return f(rest()) }
}

// start runs the rest of the call on a goroutine of its own.
func (d *Detached) start() {
	d.done = make(chan struct{})
	go func() {
		d.res, d.err = d.rest()
		close(d.done)
	}()
}

// rawExchange posts the request with header and reads its answer.
func (c *Conn) rawExchange(ctx context.Context, rp *rawPath, header http.Header, body, id []byte, h RawHandler) (json.RawMessage, error) {
	resp, err := c.rawSend(ctx, rp, http.MethodPost, bytes.NewReader(body), header)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		if unreachable(err) {
			err = fmt.Errorf("%s went away: %w", c.srv.ID, err)
			if rp.meta == nil { // a 2026-07-28 server has no session to lose: its keep-alive tells when it is gone
				c.sessionLost(rp, err)
			}
			return nil, err
		}
		// One request failed (a pooled connection the server had closed, a
		// token that could not be had): the session may well be fine, as
		// go-sdk also assumes. A server really gone refuses the next dial.
		return nil, fmt.Errorf("the request to %s failed: %w", c.srv.ID, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusBadRequest, http.StatusNotFound:
		// A 404, or a 400 about the session (what some servers answer for
		// one they forgot, e.g. after a restart): a new session is needed.
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if rp.meta != nil {
			// A 2026-07-28 server sends some JSON-RPC errors with a 400 or
			// 404, after its tool may have run (SEP-2575): that is the
			// call's answer; asking again would run the tool twice. Only a
			// header it found wrong (-32020), or a body that is no JSON-RPC
			// error, goes to the session path, which has no session to lose.
			if m, err := parseServerMessage(msg); err == nil && m.Error != nil && m.Error.Code != mcp.CodeHeaderMismatch {
				return nil, m.Error
			}
			return nil, ErrNoRawPath
		}
		if resp.StatusCode == http.StatusNotFound || bytes.Contains(bytes.ToLower(msg), []byte("session")) {
			// ErrSessionMissing: the connection loop initializes again at once.
			c.sessionLost(rp, fmt.Errorf("%s no longer knows the session (%s): %w", c.srv.ID, resp.Status, mcp.ErrSessionMissing))
		}
		return nil, ErrNoRawPath
	case http.StatusUnauthorized, http.StatusForbidden:
		// Not run: the session path knows how to sign in.
		resp.Body.Close()
		return nil, ErrNoRawPath
	default:
		resp.Body.Close()
		return nil, fmt.Errorf("the server answered %s", resp.Status)
	}
	// The request's context also ends the reading of its answer.
	rc := &rawCall{c: c, rp: rp, id: id, h: h, asks: map[string]context.CancelFunc{}}
	res, err := rc.answer(ctx, resp)
	if d, ok := err.(*Detached); ok {
		d.then(func(res json.RawMessage, err error) (json.RawMessage, error) {
			rc.endAsks()
			return res, err
		})
		return nil, d
	}
	rc.endAsks()
	return res, err
}

func (c *Conn) rawPost(ctx context.Context, rp *rawPath, body []byte) (*http.Response, error) {
	return c.rawSend(ctx, rp, http.MethodPost, bytes.NewReader(body), rp.post)
}

// rawSend sends one request of the session with header, signed, on its
// RoundTripper. header is not written: a request to be signed gets a copy.
func (c *Conn) rawSend(ctx context.Context, rp *rawPath, method string, body io.Reader, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, rp.endpoint, body)
	if err != nil {
		return nil, err
	}
	// go-sdk signs its own Streamable HTTP requests; these are ours. A
	// configured Authorization wins, as probe.prepare makes it win on
	// go-sdk's. A request to be signed (here or by the probe) gets its own
	// copy of the shared header.
	sign := c.opts.Auth != nil && header["Authorization"] == nil
	req.Header = header
	if sign || rp.probe.auth != nil {
		req.Header = maps.Clone(header)
	}
	if sign {
		if err := signWith(c.opts.Auth, req); err != nil {
			return nil, fmt.Errorf("signing the request: %w", err)
		}
	}
	return rp.probe.send(req) // its headers have the configured ones (newRawPath)
}

// unreachable reports whether err is a dial that failed (refused, timed
// out): the server is not there, unlike a request that failed on a
// connection already open.
func unreachable(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// rawCall is one call on the raw path while its answer is read.
type rawCall struct {
	c  *Conn
	rp *rawPath
	id []byte // the request's JSON-RPC id
	h  RawHandler

	mu   sync.Mutex
	asks map[string]context.CancelFunc // the server's requests being answered, by id
	wg   sync.WaitGroup

	// detach: the handler let its caller go on the server's first request
	// (Detacher); asked once, on the goroutine reading the stream.
	detach, asked bool
}

// answer reads the response: one JSON message, or a stream of events
// carrying the call's notifications and requests before its answer.
func (rc *rawCall) answer(ctx context.Context, resp *http.Response) (json.RawMessage, error) {
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxRawMessage+1))
		// A body cut after the whole message (before the end of its
		// chunked framing, say) still holds the answer: a cut object
		// never parses.
		if err != nil && !json.Valid(data) {
			if rc.rp.meta != nil && ctx.Err() == nil {
				return nil, &lostRequest{err}
			}
			return nil, err
		}
		if len(data) > maxRawMessage {
			return nil, errTooLong
		}
		res, done, err := rc.message(ctx, data)
		if !done && err == nil {
			err = errors.New("the server's answer was not the call's response")
		}
		return res, err
	}
	br := readers.Get().(*bufio.Reader)
	br.Reset(resp.Body)
	s := &rawStream{resp: resp, br: br, ev: &eventReader{r: br}}
	res, err := rc.read(ctx, s)
	if err != errDetach {
		s.close()
		return res, err
	}
	return nil, &Detached{rest: func() (json.RawMessage, error) {
		defer s.close()
		return rc.read(ctx, s)
	}}
}

// rawStream is a call's response stream, as far as it has been read.
type rawStream struct {
	resp    *http.Response
	br      *bufio.Reader
	ev      *eventReader
	attempt int    // resumptions in a row that brought no event
	from    string // the event ID the stream was resumed from
}

func (s *rawStream) close() {
	s.resp.Body.Close()
	readers.Put(s.br)
}

// errDetach stops read where the handler let its caller go (Detacher);
// read goes on from there on a goroutine of its own.
var errDetach = errors.New("detach")

// read reads the call's events until its answer.
func (rc *rawCall) read(ctx context.Context, s *rawStream) (json.RawMessage, error) {
	for {
		var end error
		for {
			data, err := s.ev.next()
			if err != nil {
				end = err // the stream ended without the answer
				break
			}
			if res, done, err := rc.message(ctx, data); done || err != nil {
				return res, err
			}
			if rc.detach {
				rc.detach = false
				return nil, errDetach
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(end, errTooLong) {
			return nil, end // the server is alive; the call is refused
		}
		// A resumable server may end the stream cleanly and send the answer
		// on a new one (SSE polling), and a stream cut mid-call (a proxy's
		// idle timeout, a network blip) can be picked up the same way
		// (TC-05): ask for the rest from the last event seen. A long call
		// may be resumed many times; only resumptions that bring nothing
		// count towards giving up.
		cut := !errors.Is(end, io.EOF)
		if s.ev.lastID != s.from {
			s.attempt = 0
		}
		// wentAway ends a cut call that cannot be picked up: the server (or
		// the way to it) went away, and with it the session.
		wentAway := func() (json.RawMessage, error) {
			rc.c.sessionLost(rc.rp, fmt.Errorf("the server went away during a call: %w", end))
			return nil, fmt.Errorf("the server went away during the call: %w", end)
		}
		if rp := rc.rp; rp.meta != nil {
			// A 2026-07-28 stream is not resumed; its server keeps no
			// session to lose.
			return nil, &lostRequest{end}
		}
		if s.ev.lastID == "" || s.attempt >= 3 {
			if cut {
				return wentAway() // nothing to resume from
			}
			return nil, errors.New("the server ended the response stream before answering")
		}
		select {
		case <-time.After(s.ev.retry):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		next, err := rc.c.rawResume(ctx, rc.rp, s.ev.lastID)
		if err != nil {
			if cut {
				return wentAway() // as before resuming was tried
			}
			return nil, err
		}
		s.resp.Body.Close()
		s.resp = next
		s.br.Reset(next.Body)
		s.attempt++
		s.from = s.ev.lastID
	}
}

// maxRawMessage bounds one message from a server (memory: a few copies of
// it are alive while it is passed on).
const maxRawMessage = 64 << 20

var errTooLong = errors.New("the server sent a message longer than 64 MB, MCP Tray's limit for one message")

// readers are the event readers' buffers, reused from call to call.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 8<<10) }}

// message handles one message of the call's stream. done: it was the
// answer.
func (rc *rawCall) message(ctx context.Context, data []byte) (json.RawMessage, bool, error) {
	m, err := parseServerMessage(data)
	if err != nil {
		return nil, false, fmt.Errorf("the server sent a message that is not JSON-RPC: %w", err)
	}
	switch {
	case m.Method != "" && len(m.ID) == 0:
		rc.notification(m.Method, m.Params)
		return nil, false, nil
	case m.Method != "":
		rc.ask(ctx, m.ID, m.Method, m.Params)
		return nil, false, nil
	case bytes.Equal(m.ID, rc.id):
		if m.Error != nil {
			return nil, true, m.Error
		}
		return m.Result, true, nil
	}
	return nil, false, nil // another request's answer; not ours to take
}

// serverMessage is a message of a call's stream. Its raw members are
// copies: the event reader reuses its buffer for the next event.
type serverMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *jsonrpc.Error  `json:"error"`
}

var serverMessageFields = []string{"id", "method", "params", "result", "error"}

// parseServerMessage reads a message in one pass (jsonobj.Decode), as
// encoding/json would.
func parseServerMessage(data []byte) (*serverMessage, error) {
	m := &serverMessage{}
	if err := jsonobj.Decode(data, m, (*serverMessage).member); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *serverMessage) member(k, v []byte) bool {
	switch jsonobj.Field(k, serverMessageFields) {
	case "id":
		m.ID = bytes.Clone(v)
	case "method":
		return jsonobj.String(&m.Method, v)
	case "params":
		m.Params = bytes.Clone(v)
	case "result":
		m.Result = bytes.Clone(v)
	case "error":
		return jsonobj.Pointer(&m.Error, v)
	}
	return true
}

func (rc *rawCall) notification(method string, params json.RawMessage) {
	c := rc.c
	switch method {
	// A list change is the hub's business (the catalog), not the call's.
	case "notifications/tools/list_changed":
		c.listChanged(c.Session(), kindTools)
	case "notifications/prompts/list_changed":
		c.listChanged(c.Session(), kindPrompts)
	case "notifications/resources/list_changed":
		c.listChanged(c.Session(), kindResources, kindTemplates)
	case "notifications/cancelled":
		// The server withdraws one of its requests.
		var p struct {
			RequestID json.RawMessage `json:"requestId"`
		}
		if json.Unmarshal(params, &p) == nil {
			rc.mu.Lock()
			cancel := rc.asks[string(p.RequestID)]
			rc.mu.Unlock()
			if cancel != nil {
				cancel()
			}
		}
	default:
		rc.h.Notification(method, params)
	}
}

// ask answers a request of the server while the stream goes on, so that
// the server's progress and withdrawal of the request still arrive.
func (rc *rawCall) ask(ctx context.Context, id json.RawMessage, method string, params json.RawMessage) {
	if d, ok := rc.h.(Detacher); ok && !rc.asked {
		rc.asked = true
		rc.detach = d.DetachOnRequest()
	}
	actx, cancel := context.WithCancel(ctx)
	key := string(id)
	rc.mu.Lock()
	rc.asks[key] = cancel
	rc.mu.Unlock()
	rc.wg.Go(func() {
		defer cancel()
		res, err := rc.h.Request(actx, method, params)
		rc.mu.Lock()
		delete(rc.asks, key)
		rc.mu.Unlock()
		if actx.Err() != nil {
			return // withdrawn, or the call is over: nobody waits for the answer
		}
		_ = rc.c.rawReply(ctx, rc.rp, id, res, err)
	})
}

// endAsks withdraws the server's requests still open when the call ends.
func (rc *rawCall) endAsks() {
	rc.mu.Lock()
	for _, cancel := range rc.asks {
		cancel()
	}
	rc.mu.Unlock()
	rc.wg.Wait()
}

// rawReply sends the answer to a server's request.
func (c *Conn) rawReply(ctx context.Context, rp *rawPath, id json.RawMessage, res json.RawMessage, rerr error) error {
	msg := map[string]any{"jsonrpc": "2.0", "id": id}
	var werr *jsonrpc.Error
	switch {
	case errors.As(rerr, &werr):
		msg["error"] = werr
	case rerr != nil:
		msg["error"] = &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: rerr.Error()}
	default:
		msg["result"] = res
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	resp, err := c.rawPost(context.WithoutCancel(ctx), rp, body)
	if err != nil {
		return fmt.Errorf("answer the server's request: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return nil
}

// rawCancel tells the server the call is cancelled (best effort).
func (c *Conn) rawCancel(rp *rawPath, id string) {
	body := []byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":` + id + `,"reason":"cancelled by the client"}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if resp, err := c.rawPost(ctx, rp, body); err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
}

// rawResume opens a GET stream from after lastID.
func (c *Conn) rawResume(ctx context.Context, rp *rawPath, lastID string) (*http.Response, error) {
	h := maps.Clone(rp.post)
	delete(h, "Content-Type")
	h["Accept"], h["Last-Event-Id"] = []string{"text/event-stream"}, []string{lastID}
	resp, err := c.rawSend(ctx, rp, http.MethodGet, nil, h)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("resuming the response stream: the server answered %s", resp.Status)
	}
	return resp, nil
}

// eventReader reads server-sent events, returning the data of each.
type eventReader struct {
	r *bufio.Reader
	// lastID is the ID of the last event dispatched (the SSE standard's
	// last event ID): an id field takes effect only when its event is
	// whole, so that a stream cut mid-event resumes with that event.
	lastID string
	id     string // the id field last read
	retry  time.Duration
	data   []byte
}

func (e *eventReader) next() ([]byte, error) {
	e.data = e.data[:0]
	for {
		line, err := e.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long data line: collect the rest of it.
			long := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = e.r.ReadSlice('\n')
				long = append(long, line...)
				if len(long) > maxRawMessage {
					return nil, errTooLong
				}
			}
			line = long
		}
		if err != nil {
			// The stream ended without the event's blank line (some
			// servers end so), maybe cut mid-line. Its data is dispatched
			// only if it is a whole JSON value (a cut object never
			// parses); else, as the SSE standard says, it is not: it may
			// be half an answer. An event with no data at all (a priming
			// event) still gives its id to resume from.
			if len(line) > 0 {
				v, ok := bytes.CutPrefix(bytes.TrimRight(line, "\r"), []byte("data:"))
				if !ok {
					return nil, err
				}
				e.data = appendData(e.data, bytes.TrimPrefix(v, []byte(" ")))
			}
			if len(e.data) == 0 {
				e.lastID = e.id
				return nil, err
			}
			if !json.Valid(e.data) {
				return nil, err
			}
			e.lastID = e.id
			return e.data, nil
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			e.lastID = e.id // dispatched, even with no data (a priming event)
			if len(e.data) > 0 {
				return e.data, nil
			}
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "data":
			if len(e.data)+1+len(value) > maxRawMessage {
				return nil, errTooLong // many lines are bounded as one long one
			}
			e.data = appendData(e.data, value)
		case "id":
			e.id = string(value)
		case "retry":
			if ms, perr := strconv.Atoi(string(value)); perr == nil && ms >= 0 {
				e.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

// appendData adds one data line to an event's data.
func appendData(data, line []byte) []byte {
	if len(data) > 0 {
		data = append(data, '\n')
	}
	return append(data, line...)
}
