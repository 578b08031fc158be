package bridge

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcptray/mcptray/mcphub/store"
)

// maxBody bounds a POSTed message.
const maxBody = 4 << 20

// Handler serves /mcp (every server) and /servers/NAME/mcp (one server).
func (b *Bridge) Handler() http.Handler { return http.HandlerFunc(b.serveHTTP) }

func (b *Bridge) serveHTTP(w http.ResponseWriter, r *http.Request) {
	// DNS rebinding (TS-01, TS-02): a page on another site may reach this
	// port through a name that resolves to 127.0.0.1; its Host (and, for
	// requests a browser marks, Origin) gives it away.
	if !loopbackHost(r.Host) {
		httpError(w, http.StatusForbidden, "Host "+r.Host+" is not a loopback name")
		return
	}
	if o := r.Header.Get("Origin"); o != "" && !allowedOrigin(o) {
		httpError(w, http.StatusForbidden, "Origin "+o+" is not allowed")
		return
	}
	v, ok := b.viewFor(r.URL.Path)
	if !ok {
		httpError(w, http.StatusNotFound, "no such endpoint: use /mcp, or /servers/NAME/mcp for one server")
		return
	}
	client, ok := b.authorize(w, r, &v)
	if !ok {
		return
	}
	// Only after the token: which servers exist is not told to anyone.
	if cfg := b.hub.Config(); v.server != "" && (cfg == nil || cfg.Server(v.server) == nil) {
		httpError(w, http.StatusNotFound, "no server "+v.server+" in MCP Tray's configuration")
		return
	}
	switch r.Method {
	case http.MethodPost:
		b.post(w, r, v, client)
	case http.MethodGet:
		b.get(w, r, v, client)
	case http.MethodDelete:
		b.delete(w, r, v, client)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		httpError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}

func (b *Bridge) viewFor(path string) (view, bool) {
	if path == "/mcp" || path == "/mcp/" {
		return view{}, true
	}
	rest, ok := strings.CutPrefix(path, "/servers/")
	if !ok {
		return view{}, false
	}
	name, tail, _ := strings.Cut(rest, "/")
	if tail != "mcp" && tail != "mcp/" || name == "" {
		return view{}, false
	}
	return view{server: name}, true
}

// bearerToken is the token of an Authorization header of the Bearer
// scheme, whose name is case-insensitive (RFC 9110 §11.1).
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimLeft(token, " "), true
}

func loopbackHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	return strings.EqualFold(h, "localhost") || h == "127.0.0.1" || h == "::1"
}

// allowedOrigin: a page served from this machine, or an editor's own
// window: VS Code and its forks (Cursor among them) run theirs at
// vscode-file://vscode-app, an origin no web page can have.
func allowedOrigin(origin string) bool {
	if origin == "vscode-file://vscode-app" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return loopbackHost(u.Host)
}

// authorize checks the client token (TS-04) and narrows the view to the
// servers it may see: 401 for a missing or bad token, 403 for a server
// outside its scope.
func (b *Bridge) authorize(w http.ResponseWriter, r *http.Request, v *view) (caller, bool) {
	raw, hasBearer := bearerToken(r.Header.Get("Authorization"))
	if !b.opts.RequireToken() && !hasBearer {
		return caller{name: "anonymous"}, true
	}
	if !hasBearer || raw == "" {
		// No error code for a request without credentials (RFC 6750 §3.1).
		w.Header().Set("WWW-Authenticate", `Bearer realm="mcptray", error_description="a client token is required: create one with 'mcptray token create NAME'"`)
		httpError(w, http.StatusUnauthorized, "a client token is required (Authorization: Bearer mcptray_pat_...)")
		return caller{}, false
	}
	key := store.HashToken(raw) // once: the store and the session know a token by it
	var tok *store.Token
	err := store.ErrTokenInvalid
	if b.opts.Tokens != nil && strings.HasPrefix(raw, store.TokenPrefix) {
		tok, err = b.opts.Tokens.VerifyTokenHash(key)
	}
	if err != nil && !errors.Is(err, store.ErrTokenInvalid) {
		// The database cannot be read: no token is wrong, none can be checked.
		b.log.Warn("bridge: client tokens cannot be checked", "err", err)
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, "client tokens cannot be checked right now (MCP Tray's database is unavailable; see its log); 'mcptray bridge' (stdio) needs none")
		return caller{}, false
	}
	if err != nil {
		limited, n := b.limiter.fail()
		if n > 0 {
			b.log.Warn("bridge: requests with an unknown, revoked or expired client token", "count", n,
				"remote", r.RemoteAddr, "user_agent", r.UserAgent())
		}
		if limited {
			w.Header().Set("Retry-After", "1")
			httpError(w, http.StatusTooManyRequests, "too many requests with bad client tokens; try again in a second")
			return caller{}, false
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="mcptray", error="invalid_token", error_description="the token is unknown, revoked or expired"`)
		httpError(w, http.StatusUnauthorized, "the client token is unknown, revoked or expired")
		return caller{}, false
	}
	if tok.Servers != nil {
		if v.server != "" && !slices.Contains(tok.Servers, v.server) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mcptray", error="insufficient_scope"`)
			httpError(w, http.StatusForbidden, "the client token "+tok.Name+" does not cover the server "+v.server)
			return caller{}, false
		}
		v.scope = map[string]bool{}
		for _, s := range tok.Servers {
			v.scope[s] = true
		}
	}
	return caller{name: tok.Name, key: key}, true
}

// httpError answers with a JSON-RPC error body without an id (TS-01, TS-07).
func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(encodeError(nil, &rpcError{Code: codeInvalidRequest, Message: msg}))
}

// readBody reads a POSTed message of at most maxBody bytes: at once into
// a buffer of its size when its length is known (the usual case), else as
// it comes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	n := r.ContentLength
	if n < 0 {
		return io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	}
	if n > maxBody {
		return nil, &http.MaxBytesError{Limit: maxBody}
	}
	body := make([]byte, n)
	_, err := io.ReadFull(r.Body, body)
	return body, err
}

func (b *Bridge) post(w http.ResponseWriter, r *http.Request, v view, client caller) {
	body, err := readBody(w, r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			httpError(w, http.StatusRequestEntityTooLarge, "the message is larger than 4 MiB")
			return
		}
		httpError(w, http.StatusBadRequest, "cannot read the body")
		return
	}
	if t := bytes.TrimSpace(body); len(t) > 0 && t[0] == '[' {
		b.batch(w, r, v, client, t)
		return
	}
	msg, perr := parseMessage(body)
	if perr != nil {
		writeFrame(w, http.StatusBadRequest, encodeError(idOf(msg), perr))
		return
	}
	sid := r.Header.Get("Mcp-Session-Id")
	version := r.Header.Get("Mcp-Protocol-Version")
	params := parseParams(msg.Params)
	meta := params.Meta
	_, modern := meta[metaProtocolVersion]
	// A 2026-07-28 request has no session: its Mcp-Session-Id, if any, is
	// ignored (TS-18).
	modern = version == modernVersion || sid == "" && modern
	switch {
	case msg.Method == "initialize" && !modern:
		b.initializeHTTP(w, r, v, client, msg, params)
	case modern:
		if msg.isNotify() || msg.isResponse() {
			w.WriteHeader(http.StatusAccepted) // 2026-07-28 has no client notifications we act on
			return
		}
		if rerr, status := checkModernHTTP(r, msg, params); rerr != nil {
			writeFrame(w, status, encodeError(msg.ID, rerr))
			return
		}
		s := newSession(b, v, client)
		s.version = modernVersion
		b.serveRequest(r.Context(), w, &exchange{sess: s, msg: msg, modern: true, caps: b.capsOf(meta[metaClientCaps]), params: params, meta: meta, hdr: r.Header})
	case sid != "":
		s, status, why := b.sessionOf(r, v, client)
		if s == nil {
			writeFrame(w, status, encodeError(idOf(msg), errorf(codeInvalidRequest, "%s", why)))
			return
		}
		s.touch()
		switch {
		case msg.isResponse():
			s.answer(msg)
			w.WriteHeader(http.StatusAccepted)
		case msg.isNotify():
			b.notification(s, msg)
			w.WriteHeader(http.StatusAccepted)
		default:
			b.serveRequest(r.Context(), w, &exchange{sess: s, msg: msg, caps: s.caps, params: params, meta: meta})
		}
	case version != "" && !slices.Contains(legacyVersions, version):
		writeFrame(w, http.StatusBadRequest, encodeError(idOf(msg), unsupportedVersion(version)))
	default:
		writeFrame(w, http.StatusBadRequest, encodeError(idOf(msg), errorf(codeInvalidRequest,
			"missing Mcp-Session-Id: send initialize first (or, with protocol version 2026-07-28, put it in _meta)")))
	}
}

// initializeHTTP opens a session: only an initialize that succeeds gets
// one, and its Mcp-Session-Id (TS-14).
func (b *Bridge) initializeHTTP(w http.ResponseWriter, r *http.Request, v view, client caller, msg *message, params *requestParams) {
	switch {
	case r.Header.Get("Mcp-Session-Id") != "":
		writeFrame(w, http.StatusBadRequest, encodeError(msg.ID, errorf(codeInvalidRequest, "initialize starts a session: send it without Mcp-Session-Id")))
		return
	case !msg.hasID():
		// Sent as a notification: not accepted (TS-07), and never answered.
		httpError(w, http.StatusBadRequest, "initialize is a request: it needs an id")
		return
	}
	s := newSession(b, v, client)
	s.id = newSessionID()
	frame, rerr := b.respond(r.Context(), &exchange{sess: s, msg: msg, out: discard{}, params: params, meta: params.Meta})
	if rerr == nil {
		b.register(s)
		w.Header().Set("Mcp-Session-Id", s.id)
	}
	writeFrame(w, http.StatusOK, frame)
}

func idOf(m *message) json.RawMessage {
	if m == nil {
		return nil
	}
	return m.ID
}

// checkModernHTTP validates a 2026-07-28 request's _meta and headers
// (TS-16, TS-17).
func checkModernHTTP(r *http.Request, msg *message, params *requestParams) (*rpcError, int) {
	meta := params.Meta
	v := metaVersion(meta)
	if h := r.Header.Get("Mcp-Protocol-Version"); v != "" && h != v {
		return errorf(codeHeaderMismatch, "MCP-Protocol-Version header %q does not match _meta (%q)", h, v), http.StatusBadRequest
	}
	if e := checkModern(v, meta); e != nil {
		return e, http.StatusBadRequest
	}
	if h, err := oneHeader(r.Header, "Mcp-Method"); err != nil || h != msg.Method {
		return mismatch("Mcp-Method", h, err, "the method "+strconv.Quote(msg.Method)), http.StatusBadRequest
	}
	var name string
	switch msg.Method {
	case "tools/call", "prompts/get":
		name = params.Name
	case "resources/read":
		name = params.URI
	default:
		return nil, 0
	}
	h, err := encodedHeader(r.Header, "Mcp-Name")
	if err != nil || h != name {
		return mismatch("Mcp-Name", h, err, strconv.Quote(name)), http.StatusBadRequest
	}
	return nil, 0
}

// oneHeader is the value of a header that must be sent once, in the
// characters a header may carry: visible ASCII, space and tab; anything
// else is sent base64-encoded (TS-17).
func oneHeader(h http.Header, key string) (string, error) {
	values := h[key]
	switch len(values) {
	case 0:
		return "", errors.New("is missing")
	case 1:
	default:
		return "", errors.New("is sent more than once")
	}
	v := values[0]
	for i := range len(v) {
		if c := v[i]; (c < 0x20 || c > 0x7e) && c != '\t' {
			return "", errors.New("has characters other than visible ASCII, space and tab (send such a value base64-encoded)")
		}
	}
	return v, nil
}

// encodedHeader is the value of a header that must be sent once, decoded
// as SEP-2243 encodes it (headerValue).
func encodedHeader(h http.Header, key string) (string, error) {
	v, err := oneHeader(h, key)
	if err != nil {
		return "", err
	}
	return headerValue(v)
}

// mismatch is the HeaderMismatch error of a header that is invalid (err)
// or does not match what the body says (want).
func mismatch(header, got string, err error, want string) *rpcError {
	if err != nil {
		return errorf(codeHeaderMismatch, "header %s %v", header, err)
	}
	return errorf(codeHeaderMismatch, "header %s %q does not match %s", header, got, want)
}

// headerValue reads a header value as SEP-2243 encodes it: surrounding
// whitespace is not part of it (RFC 9110 §5.5); =?base64?...?= carries a
// value that is not plain ASCII, and must be valid, padded base64. A value
// without both sentinel ends is literal.
func headerValue(v string) (string, error) {
	v = strings.Trim(v, " \t")
	inner, ok := strings.CutPrefix(v, "=?base64?")
	if !ok {
		return v, nil
	}
	inner, ok = strings.CutSuffix(inner, "?=")
	if !ok {
		return v, nil
	}
	data, err := base64.StdEncoding.Strict().DecodeString(inner)
	if err != nil {
		return "", errors.New("is not valid, padded base64")
	}
	return string(data), nil
}

// notification handles a client's notification in a session.
func (b *Bridge) notification(s *session, msg *message) {
	switch msg.Method {
	case "notifications/initialized":
		s.initialized.Store(true)
	case "notifications/cancelled":
		var p struct {
			RequestID json.RawMessage `json:"requestId"`
		}
		if json.Unmarshal(msg.Params, &p) == nil {
			s.cancel(p.RequestID)
		}
	case "notifications/roots/list_changed":
		b.rootsChanged(s)
	}
}

// serveRequest answers one request, on this HTTP response.
func (b *Bridge) serveRequest(ctx context.Context, w http.ResponseWriter, x *exchange) {
	out := &httpOut{w: w}
	if !x.modern && x.sess.id != "" && x.sess.version >= resumableFrom {
		out.sess, out.ctx = x.sess, ctx
	}
	x.out = out
	frame, rerr := b.respond(ctx, x)
	status := http.StatusOK
	if x.modern && rerr != nil {
		status = modernStatus(rerr.Code)
	}
	out.finish(frame, status)
}

// answer runs a request and encodes its response.
func (b *Bridge) answer(ctx context.Context, x *exchange) []byte {
	frame, _ := b.respond(ctx, x)
	return frame
}

// respond is answer, also returning the error answered, if any. A request
// the client cancelled is answered nothing: nil.
func (b *Bridge) respond(ctx context.Context, x *exchange) ([]byte, *rpcError) {
	result, rerr := b.dispatch(ctx, x)
	if x.cancelled.Load() {
		return nil, nil
	}
	if rerr != nil {
		return encodeError(x.msg.ID, rerr), rerr
	}
	if result == nil {
		result = emptyResult
	}
	return encodeResponse(x.msg.ID, result), nil
}

// modernStatus maps 2026-07-28 protocol errors to their HTTP status (TS-16).
func modernStatus(code int) int {
	switch code {
	case codeMethodNotFound:
		return http.StatusNotFound
	case codeHeaderMismatch, codeUnsupportedProtocol, codeMissingCapability, codeInvalidParams, codeInvalidRequest:
		return http.StatusBadRequest
	}
	return http.StatusOK
}

func writeFrame(w http.ResponseWriter, status int, frame []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(frame)
}

// batch answers a JSON-RPC batch, which only 2025-03-26 sessions may send
// (TS-06).
func (b *Bridge) batch(w http.ResponseWriter, r *http.Request, v view, client caller, body []byte) {
	s, status, why := b.sessionOf(r, v, client)
	if s == nil && r.Header.Get("Mcp-Session-Id") != "" {
		httpError(w, status, why)
		return
	}
	if s == nil || (s.version != "2025-03-26" && s.version != "2024-11-05") {
		httpError(w, http.StatusBadRequest, "JSON-RPC batches are only accepted in sessions of protocol version 2025-03-26 or older")
		return
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil || len(items) == 0 {
		httpError(w, http.StatusBadRequest, "invalid batch")
		return
	}
	s.touch()
	var frames [][]byte
	for _, it := range items {
		msg, perr := parseMessage(it)
		switch {
		case perr != nil:
			frames = append(frames, encodeError(idOf(msg), perr))
		case msg.isResponse():
			s.answer(msg)
		case msg.isNotify():
			b.notification(s, msg)
		default:
			params := parseParams(msg.Params)
			if frame := b.answer(r.Context(), &exchange{sess: s, msg: msg, caps: s.caps, out: discard{}, params: params, meta: params.Meta}); frame != nil {
				frames = append(frames, frame)
			}
		}
	}
	if len(frames) == 0 {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	writeFrame(w, http.StatusOK, append(append([]byte("["), bytes.Join(frames, []byte(","))...), ']'))
}

// discard is a batch item's stream. The batch is answered as one array,
// so notifications are dropped, and a server request (sampling, say)
// fails at once instead of waiting for an answer that cannot come.
type discard struct{}

var errNoStream = errors.New("a request inside a JSON-RPC batch has no stream for the server's requests; send it on its own")

func (discard) send([]byte) error      { return errNoStream }
func (discard) offer([]byte, delivery) {}

// sessionOf finds the session a request names, as every method checks it
// (TS-14, TS-15): unknown, ended, another client's, or another endpoint's
// is 404 (initialize anew); an unsupported MCP-Protocol-Version is 400.
func (b *Bridge) sessionOf(r *http.Request, v view, client caller) (s *session, status int, why string) {
	s = b.lookup(r.Header.Get("Mcp-Session-Id"))
	if s == nil || !s.ownedBy(client) || s.view.server != v.server {
		return nil, http.StatusNotFound, "session not found: initialize a new one"
	}
	if pv := r.Header.Get("Mcp-Protocol-Version"); pv != "" && !slices.Contains(legacyVersions, pv) {
		return nil, http.StatusBadRequest, fmt.Sprintf("unsupported MCP-Protocol-Version %q", pv)
	}
	return s, 0, ""
}

func (b *Bridge) lookup(id string) *session {
	if id == "" {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sessions[id]
}

// get opens a session's stream for messages that belong to no request
// (TS-10); a 2026-07-28 client has no session and gets 405 (TS-18).
func (b *Bridge) get(w http.ResponseWriter, r *http.Request, v view, client caller) {
	sid := r.Header.Get("Mcp-Session-Id")
	if sid == "" {
		w.Header().Set("Allow", "POST")
		httpError(w, http.StatusMethodNotAllowed, "GET needs an Mcp-Session-Id (protocol version 2026-07-28 has no streams)")
		return
	}
	s, status, why := b.sessionOf(r, v, client)
	if s == nil {
		httpError(w, status, why)
		return
	}
	if !acceptsEventStream(r.Header.Values("Accept")) {
		httpError(w, http.StatusNotAcceptable, "GET needs Accept: text/event-stream")
		return
	}
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		b.resumeStream(w, r, s, last)
		return
	}
	out := &httpOut{w: w}
	// A client that reconnects may do so before the hub sees its old
	// connection go: the new stream takes over, and the old one ends.
	replaced := s.openStream(out)
	defer s.closeStream(out)
	defer out.close() // first: a notification racing the end is dropped, not written after it
	out.start()
	keepalive := time.NewTicker(keepAliveEvery)
	defer keepalive.Stop()
	if client.key != (store.TokenHash{}) && b.opts.Tokens != nil {
		defer b.watchStream(s, client.key)() // ends s.gone once the token is not valid
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-b.stop:
			return
		case <-s.gone: // deleted, or its token revoked
			return
		case <-replaced:
			return
		case <-keepalive.C:
			if out.keepAlive() != nil {
				return
			}
			s.touch()
		}
	}
}

func (b *Bridge) delete(w http.ResponseWriter, r *http.Request, v view, client caller) {
	if r.Header.Get("Mcp-Session-Id") == "" {
		httpError(w, http.StatusBadRequest, "DELETE ends a session: it needs an Mcp-Session-Id")
		return
	}
	s, status, why := b.sessionOf(r, v, client)
	if s == nil {
		httpError(w, status, why)
		return
	}
	b.unregister(s)
	w.WriteHeader(http.StatusNoContent)
}

// httpOut is one HTTP response. It stays undecided until the first frame:
// a response alone goes out as application/json; anything before it
// (progress, a server request) turns it into text/event-stream (TS-08),
// written in order by an outQueue.
type httpOut struct {
	w    http.ResponseWriter
	mu   sync.Mutex
	q    *outQueue // the event stream, once the response is one
	done bool
	// sess, when set, makes the event stream resumable (TS-09): log keeps
	// its events, from its start; ctx is the request's.
	sess *session
	log  *eventLog
	ctx  context.Context
}

func (o *httpOut) start() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.startLocked()
}

func (o *httpOut) startLocked() *outQueue {
	if o.q != nil {
		return o.q
	}
	h := o.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	o.w.WriteHeader(http.StatusOK)
	if o.sess != nil {
		if o.log = o.sess.startLog(); o.log != nil {
			_, _ = o.w.Write(o.log.priming())
		}
	}
	if f, ok := o.w.(http.Flusher); ok {
		f.Flush()
	}
	o.q = newOutQueue(o.write)
	if o.log != nil {
		o.log.attach(o.q, o.ctx)
		q, lg := o.q, o.log
		context.AfterFunc(o.ctx, func() { lg.detach(q) }) // the client hung up: events wait for a resume
	}
	return o.q
}

// stream is the event stream, nil once the response is complete.
func (o *httpOut) stream() *outQueue {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done {
		return nil
	}
	return o.startLocked()
}

var errResponseDone = errors.New("the response is complete")

// send writes a frame that belongs to the request (an SSE event).
func (o *httpOut) send(frame []byte) error {
	q := o.stream()
	if q == nil {
		return errResponseDone
	}
	if o.log != nil {
		return o.log.put(frame)
	}
	return q.put(sseEvent(frame))
}

// offer sends a notification without waiting (see outQueue).
func (o *httpOut) offer(frame []byte, d delivery) {
	q := o.stream()
	switch {
	case q == nil:
	case o.log != nil:
		o.log.offer(frame, d)
	default:
		q.offer(sseEvent(frame), d)
	}
}

var keepAliveComment = []byte(": keep-alive\n\n")

// keepAliveEvery is how often an open stream with nothing to say says so,
// before idle connections are cut by whatever is in between.
var keepAliveEvery = 25 * time.Second

// acceptsEventStream reports whether Accept allows text/event-stream,
// by name or by a wildcard.
func acceptsEventStream(accept []string) bool {
	for _, list := range accept {
		for r := range strings.SplitSeq(list, ",") {
			mt, _, _ := strings.Cut(r, ";")
			switch strings.ToLower(strings.TrimSpace(mt)) {
			case "text/event-stream", "text/*", "*/*":
				return true
			}
		}
	}
	return false
}

// keepAlive offers a comment; it fails once a write failed (the client
// is gone).
func (o *httpOut) keepAlive() error {
	q := o.stream()
	if q == nil {
		return errResponseDone
	}
	q.offer(keepAliveComment, dropWhenBehind)
	return q.failed()
}

func sseEvent(frame []byte) []byte {
	b := make([]byte, 0, len(frame)+24)
	b = append(b, "event: message\ndata: "...)
	b = append(b, frame...)
	return append(b, "\n\n"...)
}

// write is the stream's writer (only the outQueue calls it).
func (o *httpOut) write(b []byte) error {
	if _, err := o.w.Write(b); err != nil {
		return err
	}
	if f, ok := o.w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}

// close ends a stream the handler is leaving: nothing is written after,
// and the handler returns only once the writer has stopped.
func (o *httpOut) close() {
	o.mu.Lock()
	o.done = true
	q := o.q
	o.mu.Unlock()
	if q != nil {
		q.end(nil)
	}
}

// finish writes the response and closes the exchange. With no frame (the
// client cancelled the request) the response is an event stream that ends
// without one.
func (o *httpOut) finish(frame []byte, status int) {
	o.mu.Lock()
	if o.done {
		o.mu.Unlock()
		return
	}
	q := o.q
	if frame == nil {
		q = o.startLocked()
	}
	o.done = true
	if q == nil {
		h := o.w.Header()
		h.Set("Content-Type", "application/json")
		o.w.WriteHeader(status)
		_, _ = o.w.Write(frame)
		o.mu.Unlock()
		return
	}
	lg := o.log
	o.mu.Unlock()
	if lg != nil {
		// The answer goes to whoever reads the stream now: this POST's
		// client, or one that resumed it.
		delivered := lg.finish(frame)
		q.end(nil)
		o.sess.endLog(lg, delivered)
		return
	}
	if frame == nil {
		q.end(nil)
		return
	}
	q.end(sseEvent(frame))
}
