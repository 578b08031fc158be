package bridge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcptray/mcptray/mcphub/store"
)

// Protocol versions spoken to IDEs. The initialize era is negotiated per
// session; 2026-07-28 ("modern") is per request, with no session.
const modernVersion = "2026-07-28"

var legacyVersions = []string{"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}

// negotiate picks the initialize-era version for what a client asked.
func negotiate(asked string) string {
	if slices.Contains(legacyVersions, asked) {
		return asked
	}
	return legacyVersions[0]
}

// clientCaps is what a client declared it can do (LC-03): the bridge
// relays a server's request to an IDE only if that IDE declared it.
type clientCaps struct {
	sampling, samplingTools bool
	elicitForm, elicitURL   bool
	roots                   bool
}

// declaredCaps is a declaration and what it declares.
type declaredCaps struct {
	raw  string
	caps clientCaps
}

// capsOf parses the capabilities a 2026-07-28 request declares. A client
// declares the same ones with every request, so the parses of the last
// few declarations are kept (several IDEs attached, each declaring its
// own, take turns) and a repeat costs a comparison, not an unmarshal.
func (b *Bridge) capsOf(raw json.RawMessage) clientCaps {
	var recent []declaredCaps
	if p := b.recentCaps.Load(); p != nil {
		recent = *p
		for _, d := range recent {
			if d.raw == string(raw) {
				return d.caps
			}
		}
	}
	caps := parseCaps(raw)
	next := make([]declaredCaps, 0, recentCapsKept)
	next = append(next, declaredCaps{raw: string(raw), caps: caps})
	next = append(next, recent[:min(len(recent), recentCapsKept-1)]...)
	b.recentCaps.Store(&next)
	return caps
}

// recentCapsKept is how many declarations capsOf keeps parsed: more than
// the IDEs one person has attached at once.
const recentCapsKept = 8

func parseCaps(raw json.RawMessage) clientCaps {
	var c struct {
		Sampling *struct {
			Tools *struct{} `json:"tools"`
		} `json:"sampling"`
		Elicitation *struct {
			Form *struct{} `json:"form"`
			URL  *struct{} `json:"url"`
		} `json:"elicitation"`
		Roots *struct{} `json:"roots"`
	}
	_ = json.Unmarshal(raw, &c)
	caps := clientCaps{sampling: c.Sampling != nil, roots: c.Roots != nil}
	if c.Sampling != nil {
		caps.samplingTools = c.Sampling.Tools != nil
	}
	if e := c.Elicitation; e != nil {
		// {} means form only (LC-21).
		caps.elicitForm = e.Form != nil || e.URL == nil
		caps.elicitURL = e.URL != nil
	}
	return caps
}

// sender delivers frames to a client: a request's own response stream, or
// a session's stream for messages that belong to no request.
type sender interface {
	// send delivers a frame, waiting while the client is far behind.
	send(frame []byte) error
	// offer delivers a notification without waiting: when the client is
	// far behind it is dropped or held back (see outQueue), so a slow
	// client never holds up an upstream or other clients.
	offer(frame []byte, d delivery)
}

// session is one client connection: an initialize-era HTTP session (ID in
// Mcp-Session-Id), or one JSON-lines connection (the stdio bridge). A
// 2026-07-28 HTTP request gets a session of its own that ends with it.
type session struct {
	b       *Bridge
	id      string // HTTP session ID; "" otherwise
	view    view
	client  string          // who: a token name, "stdio" or "anonymous"
	key     store.TokenHash // the client token's hash; zero without one
	version string          // negotiated (initialize era)
	caps    clientCaps
	info    json.RawMessage // clientInfo
	lines   bool            // a JSON-lines connection (ServeStream): all its requests are one client's

	initialized atomic.Bool
	lastSeen    atomic.Int64 // unix nanoseconds

	mu        sync.Mutex
	logLevel  string
	pending   map[string]chan *message // requests the bridge sent, by ID
	inflight  map[string]*exchange     // the client's forwarded requests, by raw ID
	subs      map[string]string        // resource subscriptions: URI -> server; nil once unregistered
	stream    sender                   // for unrelated messages (GET stream / the connection)
	streamEnd chan struct{}            // closed when another stream replaces stream
	listener  *listener                // a 2026-07-28 subscriptions/listen stream
	// urlElicitations: url-mode elicitations the client was given, by
	// elicitationKey, until the server says they are complete.
	urlElicitations map[string]struct{}
	logs            map[string]*eventLog // resumable response streams, by ID (TS-09)
	capsUp          json.RawMessage      // what of the declared capabilities is declared upstream (declaredCaps)
	closed          bool
	gone            chan struct{} // closed with the session: its GET stream ends
	seq             atomic.Uint64
}

// caller is who sent an HTTP request: the name its calls are recorded
// under and the token it showed. A session answers only the token it was
// started with: a new token under a revoked one's name is not its owner.
type caller struct {
	name string
	key  store.TokenHash
}

func (s *session) ownedBy(c caller) bool { return s.client == c.name && s.key == c.key }

// sameClient reports whether o's requests come from the client of s: the
// same JSON-lines connection, or over HTTP (where a 2026-07-28 request
// has a session of its own) the same token.
func (s *session) sameClient(o *session) bool {
	if s.lines || o.lines {
		return s == o
	}
	return o.ownedBy(caller{name: s.client, key: s.key})
}

func newSession(b *Bridge, v view, c caller) *session {
	s := &session{b: b, view: v, client: c.name, key: c.key, pending: map[string]chan *message{},
		inflight: map[string]*exchange{}, subs: map[string]string{}, gone: make(chan struct{})}
	s.touch()
	return s
}

func (s *session) touch() { s.lastSeen.Store(time.Now().UnixNano()) }

func newSessionID() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// openStream makes out where messages that belong to no request go, one
// stream at a time (TS-11): the stream open before is replaced, and the
// channel it was given closes.
func (s *session) openStream(out sender) (replaced <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streamEnd != nil {
		close(s.streamEnd)
	}
	s.stream, s.streamEnd = out, make(chan struct{})
	return s.streamEnd
}

// closeStream forgets out as the session's stream, unless another stream
// has replaced it.
func (s *session) closeStream(out sender) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stream == out {
		s.stream, s.streamEnd = nil, nil
	}
}

// notify sends a message that belongs to no request (list_changed,
// resource updates, log messages), when the client can receive one.
func (s *session) notify(frame []byte, d delivery) {
	s.mu.Lock()
	out := s.stream
	s.mu.Unlock()
	if out != nil && s.initialized.Load() {
		out.offer(frame, d)
	}
}

// track remembers a running request so notifications/cancelled can stop
// it: cancel ends its upstream call.
func (s *session) track(x *exchange, cancel context.CancelFunc) func() {
	key := string(x.msg.ID)
	x.stop = cancel
	s.mu.Lock()
	s.inflight[key] = x
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		if s.inflight[key] == x {
			delete(s.inflight, key)
		}
		s.mu.Unlock()
	}
}

// cancelAll cancels every request of the session still in flight: its
// client is gone (a stdio bridge's stream ended).
func (s *session) cancelAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.inflight {
		x.cancel()
	}
}

// cancel is the client's notifications/cancelled for request id.
func (s *session) cancel(id json.RawMessage) {
	s.mu.Lock()
	x := s.inflight[string(id)]
	s.mu.Unlock()
	if x != nil {
		x.cancel()
	}
}

// errClientGone: the client went away before answering.
var errClientGone = errors.New("the client disconnected")

// request sends the client a request (sampling, elicitation, roots) on out
// and waits for its answer, or for ctx. Cancelling tells the client.
func (s *session) request(ctx context.Context, out sender, method string, params any) (json.RawMessage, error) {
	id := "mcptray-" + strconv.FormatUint(s.seq.Add(1), 10)
	ch := make(chan *message, 1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClientGone
	}
	s.pending[id] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
	}()
	if err := out.send(encodeRequest(id, method, params)); err != nil {
		return nil, fmt.Errorf("send %s to the client: %w", method, err)
	}
	select {
	case m := <-ch:
		if m == nil {
			return nil, errClientGone
		}
		if m.Error != nil {
			return nil, m.Error
		}
		return m.Result, nil
	case <-ctx.Done():
		_ = out.send(encodeNotify("notifications/cancelled", map[string]any{"requestId": id, "reason": "the upstream request was cancelled"}))
		return nil, ctx.Err()
	}
}

// answer delivers a client's response to the request it answers.
func (s *session) answer(m *message) bool {
	var id string
	if json.Unmarshal(m.ID, &id) != nil {
		return false
	}
	// Taken out under the lock: one answer per request (a repeat finds
	// nothing), and close can no longer close the channel under the send,
	// which its buffer of one lets through without waiting.
	s.mu.Lock()
	ch, ok := s.pending[id]
	delete(s.pending, id)
	s.mu.Unlock()
	if ok {
		ch <- m
	}
	return ok
}

// close ends the session: running requests are cancelled and waiters freed.
func (s *session) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.gone)
	s.logs = nil // nobody can resume a stream of an ended session
	for _, x := range s.inflight {
		x.stop() // not the client's cancellation: it is told why
	}
	for id, ch := range s.pending {
		close(ch)
		delete(s.pending, id)
	}
	s.stream = nil
	s.mu.Unlock()
}

// subscribe records that the session is (on) subscribed to server's uri
// or no longer is, reporting whether that changed anything: only a change
// counts in the bridge's subscriptions shared by every session. An
// unregistered session's subscriptions change no more.
func (s *session) subscribe(uri, server string, on bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.subs == nil {
		return false
	}
	if _, was := s.subs[uri]; was == on {
		return false
	}
	if on {
		s.subs[uri] = server
	} else {
		delete(s.subs, uri)
	}
	return true
}

// subscription is the server of the session's subscription to uri.
func (s *session) subscription(uri string) (server string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	server, ok = s.subs[uri]
	return server, ok
}

func (s *session) subscribed(uri string) bool {
	_, ok := s.subscription(uri)
	return ok
}

// takeSubs ends the session's subscriptions (it is being unregistered) and
// returns them, each once however often this runs.
func (s *session) takeSubs() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	subs := s.subs
	s.subs = nil
	return subs
}
