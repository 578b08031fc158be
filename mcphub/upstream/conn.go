// Package upstream keeps the hub connected to one upstream MCP server: it
// picks the transport (Streamable HTTP, legacy HTTP+SSE, or a stdio command),
// negotiates the protocol version, fetches the catalogs, watches the session,
// and reconnects with backoff. Every status change is reported in order.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/h1"
	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
)

// Options configures a connection.
type Options struct {
	Logger *slog.Logger
	// OnStatus receives every status change, in order, one call at a
	// time. It must not change the status itself (Set*): that would wait
	// for itself.
	OnStatus func(status.Status)
	// OnCatalog is called after a catalog was fetched or refreshed.
	OnCatalog func(server string, cat *Catalog)
	// HTTPTransport is the base of every HTTP request; nil means a clone of
	// http.DefaultTransport.
	HTTPTransport http.RoundTripper
	Backoff       Backoff
	ClientInfo    *mcp.Implementation
	// StableAfter is how long a session must last before the backoff is
	// reset; a server that crashes right after connecting must not be
	// reconnected in a hot loop.
	StableAfter time.Duration
	// KeepAlive is the ping interval for initialize-era sessions (LC-12).
	KeepAlive time.Duration
	// Auth signs HTTP requests with OAuth tokens (oauth.Client); nil for
	// servers without sign-in. It is go-sdk's interface: the Streamable HTTP
	// transport calls it itself, and the probe does the same for legacy SSE.
	Auth auth.OAuthHandler
	// ElicitationHandler answers the server's elicitation requests; nil
	// declares no elicitation capability.
	ElicitationHandler func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error)
	// Relay, when set, receives the server's notifications and requests
	// (the bridge); the client then declares sampling, elicitation and
	// roots, which the bridge relays to IDEs.
	Relay Relay
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.OnStatus == nil {
		o.OnStatus = func(status.Status) {}
	}
	if o.OnCatalog == nil {
		o.OnCatalog = func(string, *Catalog) {}
	}
	if o.HTTPTransport == nil {
		o.HTTPTransport = defaultHTTPTransport()
	}
	if o.Backoff.Min == 0 {
		o.Backoff = DefaultBackoff
	}
	if o.ClientInfo == nil {
		o.ClientInfo = &mcp.Implementation{Name: "mcptray", Version: "dev"}
	}
	if o.StableAfter == 0 {
		o.StableAfter = 30 * time.Second
	}
	if o.KeepAlive == 0 {
		o.KeepAlive = 30 * time.Second
	}
}

// defaultHTTPTransport sends plain-HTTP requests (a server on this machine
// or the LAN, where the hop's own cost shows) on h1's transport, which has
// no per-request goroutine hand-offs, and the rest (https, proxies) on a
// standard one.
func defaultHTTPTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConnsPerHost = 16
	return h1.New(t)
}

// Conn is the hub's connection to one upstream server.
type Conn struct {
	srv    config.Server
	opts   Options
	log    *slog.Logger
	client *mcp.Client
	// eraRetried: the last attempt was refused by checkEra (only the run
	// goroutine reads and writes it).
	eraRetried bool

	pub     sync.Mutex // held from storing a status to publishing it, so the two orders agree
	mu      sync.Mutex
	st      status.Status
	stepUp  *status.Challenge // a live session's 403 insufficient_scope (wantsMoreScope)
	session *mcp.ClientSession
	raw     *rawPath // the fast path of that session, if it has one
	catalog atomic.Pointer[Catalog]

	kick    chan struct{}    // reconnect now, resetting the backoff
	lost    chan lostSession // a request found a session dead (see sessionLost)
	changed chan struct{}    // a list_changed arrived; see pending
	pending [4]atomic.Bool   // by catalogKind
	// rootsAgain: an IDE's roots changed since the server was last told;
	// rootsTelling: a goroutine is telling it (RootsChanged).
	rootsAgain, rootsTelling atomic.Bool
	cancel                   context.CancelFunc
	done                     chan struct{}
}

// Start begins connecting to srv in the background.
func Start(srv config.Server, opts Options) *Conn {
	c := newConn(srv, opts)
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.run(ctx)
	return c
}

func newConn(srv config.Server, opts Options) *Conn {
	opts.setDefaults()
	c := &Conn{
		srv:     srv,
		opts:    opts,
		log:     opts.Logger.With("server", srv.ID),
		kick:    make(chan struct{}, 1),
		lost:    make(chan lostSession, 1),
		changed: make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	c.st = status.Status{Server: srv.ID, State: status.Connecting, Since: time.Now()}
	co := &mcp.ClientOptions{
		Capabilities:             &mcp.ClientCapabilities{},
		ToolListChangedHandler:   func(_ context.Context, r *mcp.ToolListChangedRequest) { c.listChanged(r.Session, kindTools) },
		PromptListChangedHandler: func(_ context.Context, r *mcp.PromptListChangedRequest) { c.listChanged(r.Session, kindPrompts) },
		ResourceListChangedHandler: func(_ context.Context, r *mcp.ResourceListChangedRequest) {
			c.listChanged(r.Session, kindResources, kindTemplates)
		},
		ElicitationHandler:        opts.ElicitationHandler,
		KeepAlive:                 opts.KeepAlive,
		KeepAliveFailureThreshold: 2,
	}
	if opts.Relay != nil {
		relayOptions(co, srv.ID, opts.Relay)
	}
	c.client = mcp.NewClient(opts.ClientInfo, co)
	if opts.Relay != nil {
		c.client.AddReceivingMiddleware(relayMiddleware(srv.ID, opts.Relay))
	}
	return c
}

// Session is one connection made by Dial.
type Session struct {
	*mcp.ClientSession
	Catalog   *Catalog
	Transport string // TransportStreamable, TransportSSE or TransportStdio
	att       *attempt
}

// Close ends the session (and stops a stdio server).
func (s *Session) Close() { s.att.close() }

// Dial connects to srv once, without retrying, and fetches its catalog: a
// quick check of an endpoint. The error is a *NeedsAuthError when the
// server asked for sign-in; Describe turns any error into a sentence.
func Dial(ctx context.Context, srv config.Server, opts Options) (*Session, error) {
	c := newConn(srv, opts)
	att, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	return &Session{ClientSession: att.session, Catalog: att.catalog, Transport: att.transport, att: att}, nil
}

// Stop disconnects (a stdio server is shut down) and waits until it is done.
func (c *Conn) Stop() {
	c.cancel()
	<-c.done
}

// Reconnect drops the current session, if any, and connects again at once.
func (c *Conn) Reconnect() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Server is the configuration entry this connection was started with.
func (c *Conn) Server() config.Server { return c.srv }

// Status is the current status.
func (c *Conn) Status() status.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st
}

// Session is the live session, or nil when not connected.
func (c *Conn) Session() *mcp.ClientSession {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

// Catalog is the last fetched catalog, or nil before the first connect.
func (c *Conn) Catalog() *Catalog { return c.catalog.Load() }

func (c *Conn) setStatus(mut func(*status.Status)) {
	c.updateStatus(func(s *status.Status, _ bool) bool { mut(s); return true })
}

// updateStatus applies mut, which sees whether a session is live and may
// decline the change (false), and publishes the result. Changes are
// published in the order they are stored: publishing holds c.pub, not
// c.mu, so OnStatus may read the Conn (but must not change its status).
func (c *Conn) updateStatus(mut func(s *status.Status, live bool) bool) {
	c.pub.Lock()
	defer c.pub.Unlock()
	c.mu.Lock()
	st := c.st
	prevChallenge := st.Challenge
	st.Reason, st.NextRetry, st.Challenge = "", time.Time{}, nil
	if !mut(&st, c.session != nil) {
		c.mu.Unlock()
		return
	}
	if st.State == status.Authenticating && st.Challenge == nil {
		st.Challenge = prevChallenge // what the sign-in is answering
	}
	if (st.State == status.Connected || st.State == status.Refreshing) && c.stepUp != nil && st.Challenge == nil {
		st.Challenge = c.stepUp // until a new session (a sign-in) begins
		if st.Reason == "" {
			st.Reason = (&NeedsAuthError{Challenge: c.stepUp}).Error()
		}
	}
	if st.State != c.st.State {
		st.Since = time.Now()
	}
	if st.State == status.Error {
		st.LastError, st.LastErrorAt = st.Reason, time.Now()
	}
	c.st = st
	c.mu.Unlock()
	c.opts.OnStatus(st)
}

// wantsMoreScope marks a live session's server as refusing some requests
// for want of scope (403 insufficient_scope, AUTH-31): it stays
// connected, and its status carries the challenge, so the window offers
// Authenticate and the bridge its sign-in tool. A challenge met during a
// connect is the attempt's own to judge.
func (c *Conn) wantsMoreScope(ch *status.Challenge) {
	c.updateStatus(func(s *status.Status, live bool) bool {
		if !live || (s.State != status.Connected && s.State != status.Refreshing) {
			return false
		}
		c.stepUp = ch // c.mu is held
		return true
	})
}

// SetAuthenticating shows that a person started a sign-in. A server with a
// live session stays connected: its tools keep working while the person
// is in the browser, and the new tokens take effect on the reconnect that
// follows a successful sign-in.
func (c *Conn) SetAuthenticating() {
	c.updateStatus(func(s *status.Status, live bool) bool {
		s.State = status.Authenticating
		return !live
	})
}

// SetNeedsAuth shows that a sign-in is needed, with why (a sign-in that
// failed, a grant that was revoked). It is ignored while a session is
// live: its tokens still work (a cancelled sign-in changed nothing), and
// a grant that is really gone ends the session with a 401 soon enough.
func (c *Conn) SetNeedsAuth(reason string) {
	c.updateStatus(func(s *status.Status, live bool) bool {
		s.State, s.Reason = status.NeedsAuth, reason
		return !live
	})
}

// SetRefreshing shows a token refresh of a connected server, and its end.
func (c *Conn) SetRefreshing(on bool) {
	c.updateStatus(func(s *status.Status, _ bool) bool {
		switch {
		case on && s.State == status.Connected:
			s.State = status.Refreshing
		case !on && s.State == status.Refreshing:
			s.State = status.Connected
		default:
			return false
		}
		return true
	})
}

func (c *Conn) listChanged(s *mcp.ClientSession, kinds ...catalogKind) {
	// While no session is live, s is most likely the one being connected,
	// whose catalog is being fetched: a change now may postdate a list
	// already fetched, so it is kept and refreshed once the session is
	// live (serve). A late one from a session already ended costs one
	// extra refresh at worst.
	if live := c.Session(); live != nil && live != s {
		return // a notification from a session already replaced
	}
	for _, k := range kinds {
		c.pending[k].Store(true)
	}
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *Conn) run(ctx context.Context) {
	defer close(c.done)
	if ci, ok := c.opts.HTTPTransport.(interface{ CloseIdleConnections() }); ok {
		defer ci.CloseIdleConnections() // nothing of a stopped connection stays open
	}
	if c.srv.Disabled {
		c.setStatus(func(s *status.Status) { s.State = status.Disabled })
		<-ctx.Done()
		return
	}
	if u := c.srv.SecretUnreadable; u != nil {
		// The hub reads the file again (and so the keyring) until the value
		// can be read, and then starts a new connection in this one's place.
		reason := u.Msg + "; MCP Tray tries again every 2 minutes at most, and at once on Reconnect"
		if c.srv.NoKeyring {
			reason = u.Msg + "; start MCP Tray again once its keyring can be opened"
		}
		c.setStatus(func(s *status.Status) { s.State, s.Reason = status.Error, reason })
		<-ctx.Done()
		return
	}
	failures := 0
	connecting := false // the status says connecting already (see the session's end)
	for {
		if !connecting {
			c.setStatus(func(s *status.Status) { s.State = status.Connecting })
		}
		connecting = false
		// The attempt fetches every list; only changes from now on count.
		for k := range c.pending {
			c.pending[k].Store(false)
		}
		att, err := c.connect(ctx)
		if ctx.Err() != nil {
			if att != nil {
				att.close()
			}
			return
		}
		if err != nil {
			var na *NeedsAuthError
			if errors.As(err, &na) {
				c.log.Info("upstream needs sign-in", "status", na.Challenge.Status, "challenge_error", na.Challenge.Error)
				c.setStatus(func(s *status.Status) {
					s.State, s.Reason, s.Challenge = status.NeedsAuth, na.Error(), na.Challenge
				})
				// No retry loop: wait for a sign-in, a config change or a Reconnect.
				if !c.wait(ctx, nil) {
					return
				}
				failures = 0
				continue
			}
			delay := c.opts.Backoff.Delay(failures)
			failures++
			reason := Describe(err, c.srv)
			c.log.Warn("upstream connect failed", "reason", reason, "retry_in", delay.Round(time.Millisecond))
			next := time.Now().Add(delay)
			c.setStatus(func(s *status.Status) { s.State, s.Reason, s.NextRetry = status.Error, reason, next })
			timer := time.NewTimer(delay)
			if !c.wait(ctx, timer.C) {
				timer.Stop()
				return
			}
			timer.Stop()
			continue
		}

		started := time.Now()
		c.mu.Lock()
		c.session = att.session
		c.raw = c.rawPathOf(att)
		c.stepUp = nil // a new session (a sign-in may have granted the scope; a refusal marks it again)
		c.mu.Unlock()
		c.catalog.Store(att.catalog)
		c.publishConnected(att)
		c.opts.OnCatalog(c.srv.ID, att.catalog)
		c.log.Info("upstream connected", "transport", att.transport, "protocol", att.catalog.ProtocolVersion,
			"tools", att.catalog.Callable(), "took", time.Since(att.began).Round(time.Millisecond))

		endErr := c.serve(ctx, att)
		c.mu.Lock()
		c.session, c.raw = nil, nil
		c.mu.Unlock()
		if ctx.Err() != nil {
			att.close()
			return
		}
		kicked := errors.Is(endErr, errKicked)
		missing := errors.Is(endErr, mcp.ErrSessionMissing)
		switch {
		case kicked:
		case missing:
			c.log.Info("upstream session expired; initializing again")
		default:
			c.log.Warn("upstream session ended", "err", Redact(endErr, c.srv))
		}
		if kicked || time.Since(started) >= c.opts.StableAfter {
			failures = 0
		}
		// The status changes before the session is closed, which can take
		// seconds (an HTTP DELETE): meanwhile it must not say connected.
		if kicked || missing && failures == 0 {
			// At once: a reconnect was asked for, or the server forgot the
			// session (404, TC-03); the backoff still guards against a loop.
			if !kicked {
				failures++
			}
			c.setStatus(func(s *status.Status) { s.State = status.Connecting })
			connecting = true
			att.close()
			continue
		}
		delay := c.opts.Backoff.Delay(failures)
		failures++
		reason := "the session ended: " + Describe(endErr, c.srv)
		next := time.Now().Add(delay)
		timer := time.NewTimer(delay) // the close counts towards the wait
		c.setStatus(func(s *status.Status) { s.State, s.Reason, s.NextRetry = status.Error, reason, next })
		att.close()
		if !c.wait(ctx, timer.C) {
			timer.Stop()
			return
		}
		timer.Stop()
	}
}

var errKicked = errors.New("reconnect requested")

// lostSession is a request's report that the session of raw is dead.
type lostSession struct {
	raw *rawPath
	err error
}

// sessionLost ends the session of raw because a request found it dead (the
// server went away, or forgot the session): the status says so at once,
// and the connection loop reconnects, instead of waiting for go-sdk to
// notice on its own. A report about an earlier session is ignored.
func (c *Conn) sessionLost(raw *rawPath, err error) {
	for {
		select {
		case c.lost <- lostSession{raw, err}:
			return
		default:
		}
		// Full: make room, dropping the older report (likely stale).
		select {
		case <-c.lost:
		default:
		}
	}
}

// wait blocks until timer fires (true), Reconnect is called (true), or ctx
// ends (false). A nil timer waits for Reconnect or ctx only.
func (c *Conn) wait(ctx context.Context, timer <-chan time.Time) bool {
	select {
	case <-ctx.Done():
		return false
	case <-c.kick:
		return true
	case <-timer:
		return true
	}
}

func (c *Conn) publishConnected(att *attempt) {
	cat := att.catalog
	c.setStatus(func(s *status.Status) {
		s.State = status.Connected
		s.Transport = att.transport
		s.ProtocolVersion = cat.ProtocolVersion
		s.ServerInfo = ""
		if cat.ServerInfo != nil {
			s.ServerInfo = strings.TrimSpace(cat.ServerInfo.Name + " " + cat.ServerInfo.Version)
		}
		// The tools an IDE can call: task-only ones are not listed (LC-20).
		s.Counts = status.Counts{Tools: cat.Callable(), Prompts: len(cat.Prompts),
			Resources: len(cat.Resources), ResourceTemplates: len(cat.ResourceTemplates)}
	})
}

// serve watches a live session until it ends, refreshing catalogs on
// list_changed.
func (c *Conn) serve(ctx context.Context, att *attempt) error {
	ended := make(chan error, 1)
	go func() { ended <- att.session.Wait() }()
	watch, stop := context.WithCancel(ctx)
	defer stop()
	gone := c.keepAlive(watch, att)
	listenEnded := c.listenWatched(att)
	for {
		select {
		case <-listenEnded:
			// go-sdk does not open it again: the hub does, for as long as
			// the session lives.
			listenEnded = nil
			go c.relisten(watch, att)
		case <-ctx.Done():
			return ctx.Err()
		case <-c.kick:
			return errKicked
		case err := <-gone:
			return err
		case l := <-c.lost:
			c.mu.Lock()
			current := c.raw
			c.mu.Unlock()
			if l.raw == current {
				return l.err
			} // else a late report about an earlier session
		case err := <-ended:
			if err == nil {
				err = errors.New("the server closed the connection")
			}
			return err
		case <-c.changed:
			c.refreshChanged(ctx, att)
		}
	}
}

// refreshChanged fetches the lists that changed. A list that fails keeps
// its previous version: the session itself is watched by serve's other
// channels (ended, lost, keepalive), and a list that cannot be had now is
// no reason to drop the tools that work.
func (c *Conn) refreshChanged(ctx context.Context, att *attempt) {
	rctx, cancel := context.WithTimeout(ctx, c.srv.Timeout)
	defer cancel()
	next := *c.catalog.Load() // copy; the published one is never modified
	next.Fetched = time.Now()
	changed := false
	for _, k := range allKinds {
		if !c.pending[k].Swap(false) {
			continue
		}
		err := next.refresh(rctx, att.session, att.capture, k)
		switch {
		case notServed(err):
			*next.list(k) = nil
		case err != nil:
			// Still changed: fetched again at the next change of any list.
			c.pending[k].Store(true)
			if ctx.Err() == nil {
				c.log.Warn("catalog refresh failed; keeping the previous list", "list", k.method(), "err", Redact(err, c.srv))
			}
			continue
		}
		changed = true
	}
	if !changed || ctx.Err() != nil {
		return // a signal about changes the connect already fetched, or all failed
	}
	att.catalog = &next
	c.catalog.Store(&next)
	c.publishConnected(att)
	c.opts.OnCatalog(c.srv.ID, &next)
}

// CredentialsRejectedError is a 401 to a request that carried an
// Authorization header of the configuration, from a server that names no
// OAuth server: the header is wrong, and no sign-in fixes it.
type CredentialsRejectedError struct {
	Detail string // the challenge's error code, if any ("invalid_token")
}

func (e *CredentialsRejectedError) Error() string {
	return "the server rejected the configured credentials (" + e.Answer() + `); check the "headers" of this server`
}

// Answer is the server's answer: "HTTP 401", and its error code if any.
func (e *CredentialsRejectedError) Answer() string {
	if e.Detail == "" {
		return "HTTP 401"
	}
	return "HTTP 401: " + e.Detail
}

// NeedsAuthError means the server asked for a sign-in (401, or 403 with
// insufficient_scope). Challenge is never nil.
type NeedsAuthError struct {
	Challenge *status.Challenge
	Reason    string // from the OAuth client, when it knows more
}

func (e *NeedsAuthError) Error() string {
	if e.Reason != "" {
		return e.Reason
	}
	if e.Challenge.Status == http.StatusForbidden {
		return fmt.Sprintf("the server needs more permissions (scope %q): sign in again", e.Challenge.Scope)
	}
	return "the server requires sign-in"
}
