// Package oauth is MCP Tray's OAuth 2.1 client for MCP servers: discovery
// (RFC 9728, RFC 8414, OpenID Connect), client registration (pre-registered,
// Client ID Metadata Documents, RFC 7591), the authorization code flow with
// PKCE and a loopback redirect, tokens kept in the encrypted secret store,
// refresh ahead of expiry, and revocation (RFC 7009).
//
// One Manager serves the process; it hands out one Client per server. A
// browser is opened only by Client.SignIn, which only a person's action
// calls; background requests that meet a 401 get a refresh or a
// NeedsAuthError, never a browser tab.
//
// Requirement numbers (AUTH-xx) refer to SPEC-REQUIREMENTS.md.
package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mcptray/mcptray/oauth/secretstore"
)

// Config configures a Manager.
type Config struct {
	Store  Store
	Logger *slog.Logger
	// CallbackPort is the default loopback port of the redirect URI;
	// EphemeralCallbackPort picks a free one per sign-in instead, for
	// pre-registered clients too unless their ServerConfig pins a port
	// (the conformance client, which runs many copies at once).
	CallbackPort          int
	EphemeralCallbackPort bool
	// ClientMetadataURL is MCP Tray's Client ID Metadata Document (an https
	// URL); empty means CIMD is not used.
	ClientMetadataURL string
	// ClientName is shown by providers on their consent page.
	ClientName string
	// Transport is the base of every OAuth request (proxy settings, TLS).
	Transport *http.Transport
	// OnEvent is told about token changes of every server, from any goroutine.
	OnEvent func(server string, e Event)
	// RefreshTimeout bounds one refresh request to the token endpoint; 0
	// means 30 s.
	RefreshTimeout time.Duration
	// Now is the wall clock that token expiry, refresh scheduling and
	// retries are decided by; nil means time.Now. Tests make it jump, as a
	// machine waking from sleep sees it do.
	Now func() time.Time

	// recheck is the longest the refresh timer sleeps before it reads the
	// wall clock again; 0 means 30 s. Tests shorten it.
	recheck time.Duration
}

// EventKind is what happened to a server's tokens.
type EventKind int

const (
	EventRefreshing    EventKind = iota // a refresh started
	EventRefreshed                      // a refresh succeeded, or ended discarded because the grant changed meanwhile (Reason says so)
	EventRefreshFailed                  // a refresh failed for a transient reason; tokens kept
	EventNeedsAuth                      // the grant is gone: a person must sign in again
	EventSignedIn                       // a sign-in finished
	EventSignedOut                      // tokens were deleted
)

// Event is a change of a server's tokens.
type Event struct {
	Kind      EventKind
	Reason    string
	NextRetry time.Time // EventRefreshFailed: when the refresh is tried again
	Expired   bool      // EventRefreshFailed: the access token has expired meanwhile
}

// Manager owns the loopback callback listeners and every server's Client.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	clients map[string]*Client

	cbMu      sync.Mutex
	callbacks map[int]*callbackServer
}

// NewManager returns a Manager.
func NewManager(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.CallbackPort == 0 {
		cfg.CallbackPort = DefaultCallbackPort
	}
	if cfg.ClientName == "" {
		cfg.ClientName = "MCP Tray"
	}
	if cfg.Transport == nil {
		cfg.Transport = defaultTransport()
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = func(string, Event) {}
	}
	if cfg.RefreshTimeout == 0 {
		cfg.RefreshTimeout = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.recheck == 0 {
		cfg.recheck = 30 * time.Second
	}
	return &Manager{cfg: cfg, log: cfg.Logger, clients: map[string]*Client{}, callbacks: map[int]*callbackServer{}}
}

// now reads the wall clock without its monotonic reading, which stops
// while the machine sleeps.
func (m *Manager) now() time.Time { return m.cfg.Now().Round(0) }

// SetDefaults applies the hub's sign-in settings from a new configuration:
// the default callback port and the CIMD URL, for sign-ins that start
// after the call.
func (m *Manager) SetDefaults(callbackPort int, clientMetadataURL string) {
	m.cbMu.Lock()
	defer m.cbMu.Unlock()
	if callbackPort != 0 {
		m.cfg.CallbackPort = callbackPort
	}
	m.cfg.ClientMetadataURL = clientMetadataURL
}

// defaults reads what SetDefaults writes.
func (m *Manager) defaults() (callbackPort int, clientMetadataURL string) {
	m.cbMu.Lock()
	defer m.cbMu.Unlock()
	return m.cfg.CallbackPort, m.cfg.ClientMetadataURL
}

// ServerConfig is one server's sign-in settings.
type ServerConfig struct {
	ID  string // the server's ID: names its stored tokens
	URL string // the MCP endpoint, which is the OAuth resource
	// ClientID and ClientSecret are a client registered in advance, and
	// Issuer the authorization server it is registered with ("": the one
	// it first signs in with).
	ClientID, ClientSecret, Issuer string
	// ClientSecretFunc, if set, reads the secret when it is needed (a
	// keyring locked now may be open at the next refresh), in place of
	// ClientSecret.
	ClientSecretFunc func() (string, error)
	Scopes           []string // requested instead of the spec's choice
	CallbackPort     int      // pins the redirect port; 0: the default
	// AllowPrivateNetwork lets discovery and token requests reach private
	// and loopback addresses (an intranet server given by name); see
	// addressPolicy.
	AllowPrivateNetwork bool
}

// clientSecret is the pre-registered client's secret.
func (sc ServerConfig) clientSecret() (string, error) {
	if sc.ClientSecretFunc == nil {
		return sc.ClientSecret, nil
	}
	secret, err := sc.ClientSecretFunc()
	if err != nil {
		return "", fmt.Errorf("%w: the client secret cannot be read: %w", ErrKeyringUnavailable, err)
	}
	return secret, nil
}

// Client returns the Client of a server, creating it or updating its
// settings. Tokens survive settings changes unless the server's URL (the
// resource they were issued for) changed.
func (m *Manager) Client(sc ServerConfig) *Client {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.clients[sc.ID]
	if !ok {
		c = &Client{m: m, log: m.log.With("server", sc.ID)}
		m.clients[sc.ID] = c
	}
	c.configure(sc)
	return c
}

// Forget signs a removed server out: its grant is revoked where the
// provider allows, and its tokens and registrations are deleted.
func (m *Manager) Forget(ctx context.Context, server string) error {
	m.mu.Lock()
	c := m.clients[server]
	delete(m.clients, server)
	m.mu.Unlock()
	var errs []error
	if c != nil {
		c.close() // first: a sign-in still open then keeps nothing (keep)
		errs = append(errs, c.SignOut(ctx))
	} else if err := m.cfg.Store.Delete(tokenKey(server)); err != nil {
		errs = append(errs, err)
	}
	names, err := m.cfg.Store.List("oauth/client/" + server + "/")
	errs = append(errs, err)
	for _, n := range names {
		errs = append(errs, m.cfg.Store.Delete(n))
	}
	return errors.Join(errs...)
}

// Close stops every refresh timer and callback listener.
func (m *Manager) Close() {
	m.mu.Lock()
	for _, c := range m.clients {
		c.close()
	}
	m.mu.Unlock()
	m.cbMu.Lock()
	for p, cs := range m.callbacks {
		_ = cs.ln.Close()
		delete(m.callbacks, p)
	}
	m.cbMu.Unlock()
}

// CompleteManually finishes a sign-in from a pasted redirect URL or code
// (for machines where the browser runs elsewhere, AUTH 5 "--no-browser").
func (m *Manager) CompleteManually(server, input string) error {
	return m.deliverManual(server, input)
}

// Challenge is what a server's WWW-Authenticate header said (AUTH-01).
type Challenge struct {
	Status           int // 401 or 403
	ResourceMetadata string
	Scope            string
	Error            string
}

// NeedsAuthError means a person must sign in (again) before the server
// can be used.
type NeedsAuthError struct {
	Reason string
}

func (e *NeedsAuthError) Error() string { return e.Reason }

// ErrKeyringUnavailable marks an error of the secret store (a locked or
// missing keyring): stored tokens cannot be read, or a sign-in's could not
// be stored. It is no reason to sign in again; unlocking the keyring helps.
var ErrKeyringUnavailable = errors.New("the keyring is locked or unavailable")

// MemoryStore keeps tokens in memory (tests, the conformance client).
type MemoryStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{m: map[string][]byte{}} }

func (s *MemoryStore) Get(name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[name]
	if !ok {
		return nil, secretstore.ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

func (s *MemoryStore) Set(name string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[name] = append([]byte(nil), v...)
	return nil
}

func (s *MemoryStore) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, name)
	return nil
}

func (s *MemoryStore) List(prefix string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out, nil
}

func describeTokenError(err error) string {
	var te *TokenError
	if errors.As(err, &te) {
		switch te.Code {
		case "invalid_grant":
			return "the sign-in expired or was revoked at the provider (invalid_grant): sign in again"
		case "invalid_client":
			return "the provider no longer knows MCP Tray's registration (invalid_client): sign in again"
		case "unauthorized_client":
			return "the provider no longer lets MCP Tray refresh this sign-in (unauthorized_client): sign in again"
		}
		return fmt.Sprintf("the provider refused the token request (%s)", te.Error())
	}
	return err.Error()
}
