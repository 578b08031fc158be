// Package bridge is the one MCP server every IDE attaches to: the
// aggregated endpoint (/mcp) with every connected server's tools, prompts
// and resources under prefixed names, one transparent endpoint per server
// (/servers/NAME/mcp), and the same over JSON lines for the stdio bridge.
// Every IDE shares the hub's one upstream session per server.
//
// It is MCP Tray's own implementation of the server side of both protocol
// eras (initialize-era sessions and stateless 2026-07-28 requests), kept
// lean because every bridged call pays for it: requests are routed on raw
// JSON, list results are served from bytes encoded once per catalog
// change, and call records are written off the request path.
package bridge

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcptray/mcptray/internal/ondemand"
	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/store"
	"github.com/mcptray/mcptray/mcphub/upstream"
	"github.com/mcptray/mcptray/oauth"
)

// Hub is what the bridge uses of the hub.
type Hub interface {
	Servers() []mcphub.ServerView
	Conn(id string) (*upstream.Conn, bool)
	Subscribe(buffer int) *status.Subscription
	Authenticate(ctx context.Context, id string, o mcphub.AuthenticateOptions) error
	Config() *config.Config
}

// Recorder keeps call records (the store); it must not block.
type Recorder interface {
	RecordCall(store.Call)
}

// UsageSource answers the usage statistics tool (the store).
type UsageSource interface {
	Usage(ctx context.Context, q store.UsageQuery) (*store.Usage, error)
}

// TokenVerifier checks client tokens by their hash (store.HashToken: the
// store, with its cache); it returns store.ErrTokenInvalid for an
// unknown, revoked or expired token.
type TokenVerifier interface {
	VerifyTokenHash(store.TokenHash) (*store.Token, error)
}

// maxUsageDays bounds the usage statistics tool.
const maxUsageDays = 60

// Options configures a Bridge.
type Options struct {
	Logger  *slog.Logger
	Version string
	Tokens  TokenVerifier
	// RequireToken reports whether HTTP clients need a token (the
	// configuration's hub.bridge.requireToken, read live).
	RequireToken func() bool
	Recorder     Recorder
	Usage        UsageSource
	// Open shows a sign-in page when an IDE calls a sign-in tool; nil means
	// the system browser.
	Open oauth.Opener
}

// Bridge serves IDEs.
type Bridge struct {
	opts Options
	// serverMeta is the _meta of every 2026-07-28 result (serverInfo),
	// encoded once.
	serverMeta []byte
	log        *slog.Logger
	hub        Hub
	stateKey   []byte // MACs the requestState of suspended calls
	limiter    *failLimiter
	recentCaps atomic.Pointer[[]declaredCaps] // see capsOf

	gen     atomic.Uint64                 // catalog generation
	changed atomic.Pointer[chan struct{}] // closed and replaced on every catalog change
	seq     atomic.Uint64
	snaps   sync.Map // view key -> *snapshot

	calls          sync.Map // call tag -> *call
	deadlines      deadlines
	deadlineTicker ondemand.Ticker // expires deadlines
	streamTicker   ondemand.Ticker // checks the tokens of open streams
	checking       atomic.Bool     // a check of streams' tokens runs
	progress       sync.Map        // upstream progress token -> progressRoute
	suspended      sync.Map        // suspension ID -> *suspended

	mu       sync.Mutex
	sessions map[string]*session // initialize-era HTTP sessions by ID
	live     map[*session]struct{}
	active   map[string][]string          // server -> tags of its calls in flight
	subs     map[string]*upstreamSub      // server\x00uri -> the upstream subscription
	streams  map[*session]store.TokenHash // open GET and listen streams authenticated by a client token

	stop chan struct{}
}

// New returns a bridge; Start attaches it to a hub. (The hub's upstream
// connections need the bridge as their Relay before the hub exists.)
func New(opts Options) *Bridge {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.RequireToken == nil {
		opts.RequireToken = func() bool { return true }
	}
	if opts.Open == nil {
		opts.Open = oauth.SystemBrowser
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	b := &Bridge{opts: opts, log: opts.Logger, stateKey: key, limiter: newFailLimiter(), sessions: map[string]*session{},
		live: map[*session]struct{}{}, active: map[string][]string{}, subs: map[string]*upstreamSub{}, streams: map[*session]store.TokenHash{},
		stop: make(chan struct{})}
	changed := make(chan struct{})
	b.changed.Store(&changed)
	b.serverMeta, _ = json.Marshal(map[string]any{metaServerInfo: b.serverInfo()})
	b.deadlineTicker.Period, b.deadlineTicker.Tick = deadlineTick, b.deadlines.expire
	b.streamTicker.Period, b.streamTicker.Tick = streamCheckPeriod, b.checkStreams
	return b
}

var _ upstream.Relay = (*Bridge)(nil)

// Start attaches the bridge to the hub and follows its events: a catalog
// or status change rebuilds the views and tells every attached client
// whose view changed.
func (b *Bridge) Start(hub Hub) {
	b.hub = hub
	sub := hub.Subscribe(4096)
	go b.follow(sub)
	go b.expireSessions()
}

// Close stops following the hub and ends every session.
func (b *Bridge) Close() {
	select {
	case <-b.stop:
		return
	default:
		close(b.stop)
	}
	b.deadlineTicker.Stop()
	b.streamTicker.Stop()
	b.eachSession((*session).close)
	// A call waiting for its client's retry would hold its upstream
	// request, and so the hub's shutdown, until it expired (5 minutes).
	b.suspended.Range(func(id, _ any) bool {
		b.abandon(id.(string), errors.New("MCP Tray is shutting down"))
		return true
	})
}

func (b *Bridge) follow(sub *status.Subscription) {
	for {
		select {
		case <-b.stop:
			sub.Close()
			return
		case <-sub.Lagged:
			sub = b.hub.Subscribe(4096)
			b.invalidate()
			for _, v := range b.hub.Servers() {
				b.renewSubscriptions(v.ID) // a reconnect may be among the events missed
			}
		case e, ok := <-sub.C:
			if !ok {
				continue // Lagged is closed too; handled above
			}
			if e.Kind == status.KindStatus && e.Status != nil && !catalogRelevant(e.Status.State) {
				continue
			}
			if e.Kind == status.KindStatus && e.Status != nil && e.Status.State == status.Connected {
				b.renewSubscriptions(e.Status.Server) // a new upstream session has none
			}
			b.invalidate()
		}
	}
}

// catalogRelevant: states whose entering can change what a view lists.
func catalogRelevant(s status.State) bool {
	return s != status.Connecting
}

// invalidate drops every cached snapshot and tells clients whose view
// changed: one list_changed per kind that changed, per session (LC-07).
// firstConnectWait bounds how long a list or call waits for servers that
// are still making their first connection (the hub just started, or the
// server was just added), so an IDE that starts with the hub sees the
// tools at once rather than an empty list and, later, list_changed (which
// not every IDE heeds).
const firstConnectWait = 5 * time.Second

// awaitFirstConnect waits until no server of v (only server, if given)
// is on its first connection attempt, or firstConnectWait passes.
func (b *Bridge) awaitFirstConnect(ctx context.Context, v view, server string) {
	var timeout <-chan time.Time
	for {
		changed := *b.changed.Load()
		pending := false
		for _, s := range b.hub.Servers() {
			if (server == "" || s.ID == server) && v.includes(s.ID) && firstAttempt(s.Status) {
				pending = true
				break
			}
		}
		if !pending {
			return
		}
		if timeout == nil {
			t := time.NewTimer(firstConnectWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return
		case <-ctx.Done():
			return
		}
	}
}

// firstAttempt: connecting, and never connected or failed before.
func firstAttempt(s status.Status) bool {
	return s.State == status.Connecting && s.LastError == "" && s.Counts == (status.Counts{})
}

func (b *Bridge) invalidate() {
	next := make(chan struct{})
	close(*b.changed.Swap(&next))
	old := map[string]*snapshot{}
	b.snaps.Range(func(k, v any) bool {
		old[k.(string)] = v.(*snapshot)
		return true
	})
	b.gen.Add(1)
	b.snaps.Clear()
	changed := map[string][3]bool{} // view key -> tools, prompts, resources
	b.eachSession(func(s *session) {
		key := s.view.key()
		c, seen := changed[key]
		if !seen {
			c = changedKinds(old[key], b.snapshot(s.view))
			changed[key] = c
		}
		for kind := range c {
			if c[kind] {
				s.listChanged(kind)
			}
		}
	})
}

// changedKinds reports which kinds of list differ from prev (nil: not
// known, so every kind) to now.
func changedKinds(prev, now *snapshot) [3]bool {
	if prev == nil {
		return [3]bool{true, true, true}
	}
	return [3]bool{changedTools: string(prev.toolsList) != string(now.toolsList),
		changedPrompts:   string(prev.promptsList) != string(now.promptsList),
		changedResources: string(prev.resList) != string(now.resList) || string(prev.templateList) != string(now.templateList)}
}

// snapshot returns the view's catalog for the current generation.
func (b *Bridge) snapshot(v view) *snapshot {
	key := v.key()
	gen := b.gen.Load()
	if s, ok := b.snaps.Load(key); ok && s.(*snapshot).gen == gen {
		return s.(*snapshot)
	}
	s := b.build(v, gen)
	b.snaps.Store(key, s)
	return s
}

func (b *Bridge) separator() string {
	if cfg := b.hub.Config(); cfg != nil && cfg.Hub.ToolSeparator != "" {
		return cfg.Hub.ToolSeparator
	}
	return config.DefaultToolSeparator
}

// register adds a session to the set that hears list_changed.
// register makes s live (sent list changes, found by its id); false if
// it already was.
func (b *Bridge) register(s *session) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.live[s]; ok {
		return false
	}
	b.live[s] = struct{}{}
	if s.id != "" {
		b.sessions[s.id] = s
	}
	return true
}

func (b *Bridge) unregister(s *session) {
	b.mu.Lock()
	delete(b.live, s)
	if s.id != "" {
		delete(b.sessions, s.id)
	}
	b.mu.Unlock()
	b.dropSubscriptions(s)
	s.close()
}

func (b *Bridge) eachSession(f func(*session)) {
	b.mu.Lock()
	live := make([]*session, 0, len(b.live))
	for s := range b.live {
		live = append(live, s)
	}
	b.mu.Unlock()
	for _, s := range live {
		f(s)
	}
}

// Sessions returns how many clients are attached.
func (b *Bridge) Sessions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.live)
}

// sessionIdle is how long an initialize-era HTTP session lives without a
// request or an open stream; its client then gets 404 and starts a new one.
const sessionIdle = 24 * time.Hour

func (b *Bridge) expireSessions() {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			cutoff := time.Now().Add(-sessionIdle).UnixNano()
			var idle []*session
			b.mu.Lock()
			for _, s := range b.sessions {
				s.mu.Lock()
				open := s.stream != nil
				s.mu.Unlock()
				if !open && s.lastSeen.Load() < cutoff {
					idle = append(idle, s)
				}
			}
			b.mu.Unlock()
			for _, s := range idle {
				b.unregister(s)
			}
		}
	}
}
