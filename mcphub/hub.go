// Package mcphub is the hub: it owns the configuration (and its live
// reload), one upstream connection per configured server, the status of
// each, and the stream of status events that every view reads.
package mcphub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/upstream"
	"github.com/mcptray/mcptray/oauth"
)

// Options configures a Hub.
type Options struct {
	ConfigPath string
	Logger     *slog.Logger
	// ConfigOptions resolves ${env:} and ${keyring:} references.
	ConfigOptions config.Options
	// Upstream is the template for every connection (backoff, HTTP
	// transport, client info); its callbacks are set by the hub.
	Upstream upstream.Options
	// OnConfig is called after a configuration file was applied, with the
	// new configuration and what changed (hub settings included).
	OnConfig func(cfg *config.Config, diff config.Diff)
	// OAuth signs in to servers that need it; nil when no keyring is
	// available, and NoOAuthReason then says why.
	OAuth         *oauth.Manager
	NoOAuthReason string
	// ResolveSecret reads a ${keyring:NAME} value when it is needed (an
	// OAuth client secret).
	ResolveSecret func(name string) (string, error)
}

// Hub runs the configured servers.
type Hub struct {
	opts Options
	log  *slog.Logger
	bus  *status.Bus

	reloadMu sync.Mutex // one reload at a time

	mu      sync.Mutex
	cfg     *config.Config // the configuration that runs (the last good one)
	cfgErr  error          // why the file on disk is not the one running; nil if it is
	applied bool           // a configuration was applied: a broken file leaves it running
	conns   map[string]*conn
	paused  bool // every server held disconnected (SetPaused)
	closed  bool // Close has begun: nothing starts any more

	// The servers waiting for the keyring (held back, or kept running on
	// the values read before: keepReadSecrets), and the reload that reads
	// it again (retrySecrets).
	waiting        map[string]bool
	secretRetry    *time.Timer
	secretRetries  int
	secretRetryMin time.Duration // secretRetryMin; shorter in tests

	warned string // the file's warnings last logged (under reloadMu)

	stopping sync.WaitGroup // replaced connections stopping in the background

	signIns map[string]*signInFlight // the sign-ins in progress (under mu)
}

// conn is a running upstream plus whether it is still the current one for
// its server, so a connection being replaced cannot publish stale status.
type conn struct {
	*upstream.Conn
	auth    *oauth.Client // nil: the server has no sign-in
	mu      sync.Mutex
	current bool
}

// New returns a hub with no servers running.
func New(opts Options) *Hub {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Hub{
		opts:  opts,
		log:   opts.Logger,
		bus:   status.NewBus(),
		conns: map[string]*conn{}, signIns: map[string]*signInFlight{},
		cfg: config.Default(opts.ConfigPath), // a bridge started before a good file is read keeps the safe defaults

		secretRetryMin: secretRetryMin,
	}
}

// Subscribe returns a subscription to the event stream.
func (h *Hub) Subscribe(buffer int) *status.Subscription { return h.bus.Subscribe(buffer) }

// ConfigPath is the file the hub reads.
func (h *Hub) ConfigPath() string { return h.opts.ConfigPath }

// Config is the configuration that runs.
func (h *Hub) Config() *config.Config {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cfg
}

// ConfigError is why the file on disk is not running (nil if it is).
func (h *Hub) ConfigError() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cfgErr
}

// WhileBroken says what runs while the file has errors: the last good
// configuration, or nothing if the file has not been good since the hub
// started.
func (h *Hub) WhileBroken() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.whileBroken()
}

func (h *Hub) whileBroken() string {
	if h.applied {
		return LastGoodRuns
	}
	return NothingRuns
}

// What runs while the configuration file has errors (Hub.WhileBroken).
const (
	LastGoodRuns = "the last good configuration keeps running"
	NothingRuns  = "no servers run until it is fixed"
)

// Reload reads the file and applies it. A file that does not validate
// changes nothing that runs: the error is kept for status and published,
// and the last good configuration stays.
func (h *Hub) Reload() error {
	h.reloadMu.Lock()
	defer h.reloadMu.Unlock()
	if h.isClosed() {
		return errClosed
	}
	cfg, err := config.Load(h.opts.ConfigPath, h.opts.ConfigOptions)
	if err != nil {
		h.mu.Lock()
		changed := h.cfgErr == nil || h.cfgErr.Error() != err.Error()
		h.cfgErr = err
		runs := h.whileBroken()
		h.mu.Unlock()
		if changed {
			h.log.Error("configuration rejected; "+runs, "err", err)
			h.bus.Publish(status.Event{Kind: status.KindConfig, ConfigError: err.Error()})
		}
		return err
	}
	h.logWarnings(cfg.Warnings)
	retry := h.keepReadSecrets(cfg)
	h.apply(cfg)
	h.retrySecrets(retry)
	return nil
}

// logWarnings logs the file's warnings when they differ from the last
// logged: a reload of the same file (a keyring retry, a touch) says nothing
// new.
func (h *Hub) logWarnings(ws []config.Issue) {
	var all strings.Builder
	for _, w := range ws {
		all.WriteString(w.String() + "\n")
	}
	if all.String() == h.warned {
		return
	}
	h.warned = all.String()
	for _, w := range ws {
		h.log.Warn("configuration", "warning", w.String())
	}
}

// keepReadSecrets handles the servers of cfg whose keyring values cannot
// be read now (a keyring locked after the hub started, or not yet unlocked
// at login). One already running keeps the entry it was started with,
// values and all, rather than being restarted without them; one not
// running starts held back (upstream shows why). It reports whether
// reading the file again later may start one.
func (h *Hub) keepReadSecrets(cfg *config.Config) (retry bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	waiting := map[string]bool{}
	for i, s := range cfg.Servers {
		if s.SecretUnreadable == nil {
			continue
		}
		waiting[s.ID] = true
		retry = retry || !s.NoKeyring
		level := slog.LevelWarn
		if h.waiting[s.ID] {
			level = slog.LevelDebug // said when its wait began, not at every retry
		}
		old := h.cfg.Server(s.ID)
		if _, running := h.conns[s.ID]; !running || old == nil || old.SecretUnreadable != nil || old.Disabled {
			h.log.Log(context.Background(), level, "a server waits for the keyring", "server", s.ID, "reason", s.SecretUnreadable.String())
			continue
		}
		kept := *old
		kept.Pos = s.Pos
		cfg.Servers[i] = kept
		h.log.Log(context.Background(), level, "the keyring cannot be read; the server keeps running with the values read before, and edits to its entry wait until the keyring can be read",
			"server", s.ID, "reason", s.SecretUnreadable.String())
	}
	h.waiting = waiting
	return retry
}

// Keyring retry delays: the first soon (a login's unlock), then doubling.
const (
	secretRetryMin = 10 * time.Second
	secretRetryMax = 2 * time.Minute
)

// retrySecrets reads the file again later while a server waits for a
// keyring that may open, and stops once none does. Called under reloadMu.
func (h *Hub) retrySecrets(retry bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.secretRetry != nil {
		h.secretRetry.Stop()
		h.secretRetry = nil
	}
	if !retry || h.closed {
		h.secretRetries = 0
		return
	}
	delay := min(h.secretRetryMin<<min(h.secretRetries, 8), secretRetryMax)
	h.secretRetries++
	h.secretRetry = time.AfterFunc(delay, func() { _ = h.Reload() })
}

// apply moves the running servers to cfg, touching only what changed.
func (h *Hub) apply(cfg *config.Config) {
	if h.opts.OAuth != nil {
		h.opts.OAuth.SetDefaults(cfg.Hub.OAuth.CallbackPort, cfg.Hub.OAuth.ClientMetadataURL)
	}
	h.mu.Lock()
	diff := config.Compare(h.cfg, cfg) // h.cfg changes only under reloadMu, held
	h.mu.Unlock()
	starting := slices.Concat(diff.Changed, diff.Added)
	auths := h.prepareAuth(cfg, starting)
	h.mu.Lock()
	hadErr := h.cfgErr != nil
	h.cfg, h.cfgErr, h.applied = cfg, nil, true
	var stopping []*conn
	for _, id := range slices.Concat(diff.Removed, diff.Changed) {
		if c, ok := h.conns[id]; ok {
			c.retire()
			stopping = append(stopping, c)
			delete(h.conns, id)
		}
	}
	for _, id := range starting {
		h.conns[id] = h.startLocked(*cfg.Server(id), auths[id])
	}
	h.mu.Unlock()

	level := slog.LevelInfo
	if len(starting)+len(diff.Removed) == 0 && !diff.HubChanged && !hadErr {
		level = slog.LevelDebug // the same file again (a keyring retry, a touch)
	}
	h.log.Log(context.Background(), level, "configuration applied", "path", cfg.Path, "servers", len(cfg.Servers),
		"added", diff.Added, "changed", diff.Changed, "removed", diff.Removed)
	// Stopping a stdio server can take seconds (stdin close, SIGTERM,
	// SIGKILL); it must not delay the servers that are starting.
	for _, c := range stopping {
		h.stopping.Go(c.Stop)
	}
	for _, id := range diff.Removed {
		h.bus.Publish(status.Event{Kind: status.KindRemoved, Status: &status.Status{Server: id}})
	}
	h.forget(diff.Removed) // only now that the removal is applied
	if h.opts.OnConfig != nil {
		// Before the event: whoever it wakes sees the settings applied
		// (the bridge on its new port, or why not).
		h.opts.OnConfig(cfg, diff)
	}
	if hadErr || len(diff.Added)+len(diff.Changed)+len(diff.Removed) > 0 || diff.HubChanged {
		h.bus.Publish(status.Event{Kind: status.KindConfig})
	}
}

// prepareAuth gets the OAuth clients of the servers about to start, their
// tokens loaded. Loading can wait seconds on a locked keyring, so it is
// done before the hub's lock is taken: Servers, Conn and Config (the
// bridge's calls, the window) answer meanwhile.
func (h *Hub) prepareAuth(cfg *config.Config, ids []string) map[string]*oauth.Client {
	auths := map[string]*oauth.Client{}
	for _, id := range ids {
		if a := h.authFor(*cfg.Server(id)); a != nil {
			a.Start()
			auths[id] = a
		}
	}
	return auths
}

// startLocked starts srv's connection, with auth (nil: none) from
// prepareAuth.
func (h *Hub) startLocked(srv config.Server, auth *oauth.Client) *conn {
	if h.paused {
		srv.Disabled = true
	}
	c := &conn{current: true, auth: auth}
	opts := h.opts.Upstream
	opts.Logger = h.log
	if auth != nil {
		opts.Auth = auth
	}
	opts.OnStatus = func(st status.Status) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.current {
			h.bus.Publish(status.Event{Kind: status.KindStatus, Status: &st})
		}
	}
	c.Conn = upstream.Start(srv, opts)
	return c
}

// retire stops c from publishing: a newer connection owns the server now.
func (c *conn) retire() {
	c.mu.Lock()
	c.current = false
	c.mu.Unlock()
}

// ServerView is what the hub shows of one server: its configuration minus
// anything secret, and its status.
type ServerView struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Transport string        `json:"transport"`
	Target    string        `json:"target"` // URL or command line
	Disabled  bool          `json:"disabled"`
	Status    status.Status `json:"status"`
	Auth      *oauth.Info   `json:"auth,omitempty"` // sign-in facts, never a token
}

// Servers lists every configured server in file order.
func (h *Hub) Servers() []ServerView {
	h.mu.Lock()
	out := make([]ServerView, 0, len(h.cfg.Servers))
	auths := make([]*oauth.Client, 0, len(h.cfg.Servers))
	for _, s := range h.cfg.Servers {
		v := ServerView{ID: s.ID, Name: s.Name, Transport: string(s.Transport), Target: s.Target(), Disabled: s.Disabled}
		var auth *oauth.Client
		if c, ok := h.conns[s.ID]; ok {
			v.Status = c.Status()
			auth = c.auth
		}
		out = append(out, v)
		auths = append(auths, auth)
	}
	h.mu.Unlock()
	// Outside the hub's lock: a sign-in's facts can wait on its keyring.
	for i, a := range auths {
		if a != nil {
			info := a.Info()
			out[i].Auth = &info
		}
	}
	return out
}

// Conn returns the running connection of a server.
func (h *Hub) Conn(id string) (*upstream.Conn, bool) {
	c, ok := h.conn(id)
	if !ok {
		return nil, false
	}
	return c.Conn, true
}

func (h *Hub) conn(id string) (*conn, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.conns[id]
	return c, ok
}

// ErrUnknownServer is returned for a server ID that is not configured.
var ErrUnknownServer = errors.New("no such server in the configuration")

// Reconnect drops a server's session and connects again at once. For a
// server waiting for the keyring the file is read again first, and with it
// the keyring: the server starts if it can now.
func (h *Hub) Reconnect(id string) error {
	if err := h.reloadIfWaiting(id); err != nil {
		return fmt.Errorf("reconnect %q: %w", id, err)
	}
	c, ok := h.Conn(id)
	if !ok {
		return fmt.Errorf("reconnect %q: %w", id, ErrUnknownServer)
	}
	c.Reconnect() // a held-back server, like a disabled one, has no session: it ignores this
	return nil
}

// reloadIfWaiting reads the file again, and with it the keyring, when id
// waits for the keyring (keepReadSecrets): the server starts if it can now.
func (h *Hub) reloadIfWaiting(id string) error {
	h.mu.Lock()
	waiting := h.waiting[id]
	h.mu.Unlock()
	if !waiting {
		return nil
	}
	if err := h.Reload(); err != nil {
		return fmt.Errorf("read the configuration again: %w", err)
	}
	return nil
}

// errClosed: the hub was closed; nothing is applied any more.
var errClosed = errors.New("the hub is shutting down")

func (h *Hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Close stops every server and waits for them, and for those replaced
// earlier. A reload under way finishes first; none starts after.
func (h *Hub) Close() {
	h.reloadMu.Lock()
	h.mu.Lock()
	h.closed = true
	conns := h.conns
	h.conns = map[string]*conn{}
	if h.secretRetry != nil {
		h.secretRetry.Stop()
	}
	h.mu.Unlock()
	h.reloadMu.Unlock()
	for _, c := range conns {
		c.retire()
		h.stopping.Go(c.Stop)
	}
	h.stopping.Wait()
}

// Watch reloads the configuration whenever its file changes, until ctx ends.
func (h *Hub) Watch(ctx context.Context) error {
	return config.Watch(ctx, h.opts.ConfigPath, config.DefaultDebounce, h.log, func() {
		start := time.Now()
		if err := h.Reload(); err == nil {
			h.log.Debug("reloaded after a file change", "took", time.Since(start).Round(time.Microsecond))
		}
	})
}
