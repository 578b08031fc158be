// Package oauthtest is a real OAuth 2.1 authorization server and an MCP
// server protected by it, for tests and the demo, in the spirit of
// net/http/httptest: start one with NewServer, point a client at URL, and
// Close it when done.
//
// The authorization server is strict the way careful providers are: PKCE
// S256 is required, a dynamic registration must give its application_type
// (native for a loopback redirect URI), redirect URIs must be registered
// (loopback ones match on any port, RFC 8252 §7.3), the RFC 8707 resource
// must name the MCP server on every token request (refresh included), codes
// are single use, refresh tokens rotate and a reused one revokes its whole
// family, and every authorization response carries the RFC 9207 iss.
// Options switch parts off or inject faults.
package oauthtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server. The zero value is a complete, strict server.
type Options struct {
	// DisableDCR removes the registration endpoint (RFC 7591).
	DisableDCR bool
	// CIMD advertises client_id_metadata_document_supported and accepts the
	// https client IDs listed in CIMDClients without fetching them (tests
	// run offline).
	CIMD        bool
	CIMDClients []string
	// Clients are registered in advance ("pre-registered").
	Clients []Client
	// TokenLifetime is the access tokens' lifetime; 0 means one hour.
	TokenLifetime time.Duration
	// NoRotation keeps a refresh token valid after use instead of rotating it.
	NoRotation bool
	// NoRefreshTokens issues access tokens only.
	NoRefreshTokens bool
	// ScopesSupported is advertised in both metadata documents; nil means
	// {"mcp:read", "mcp:write", "offline_access"}.
	ScopesSupported []string
	// ChallengeScope is sent as scope= in the 401 challenge ("" sends none).
	ChallengeScope string
	// StepUp makes tools/call of the named tools answer 403
	// insufficient_scope unless the token has the given scope.
	StepUp map[string]string
	// NoIss omits the iss parameter and does not advertise it.
	NoIss bool
	// DropIss advertises the iss parameter but leaves it out of the
	// authorization response (one stripped on the way, or forged).
	DropIss bool
	// WrongIss sends this iss instead of the real issuer (a mix-up attack).
	WrongIss string
	// MetadataIssuer overrides the issuer inside the AS metadata (a metadata
	// issuer mismatch).
	MetadataIssuer string
	// PRMResource overrides the resource in the protected resource metadata
	// (a resource mismatch).
	PRMResource string
	// PRMResourceFor, if set, gives the resource in the protected resource
	// metadata from the MCP server's URL (another spelling of it).
	PRMResourceFor func(mcpURL string) string
	// ChallengeMetadataPath makes the challenges' resource_metadata name
	// this path on the MCP server's origin instead of the metadata's own
	// (a server whose metadata is gone: nothing is served there).
	ChallengeMetadataPath string
	// AuthorizationEndpoint overrides the advertised authorization endpoint
	// (for example "javascript:alert(1)").
	AuthorizationEndpoint string
	// ConsentPage shows an Allow / Deny page instead of approving at once
	// (the demo, so a person sees the flow).
	ConsentPage bool
	// ASAddr and MCPAddr pin the listen addresses ("127.0.0.1:PORT"); empty
	// means a free loopback port.
	ASAddr, MCPAddr string
	// MCPHost names the MCP server in its URLs instead of 127.0.0.1, for
	// example "localhost": a name, which metadata can spell in upper case.
	MCPHost string
	// Now is the clock that codes and tokens expire by; nil means
	// time.Now. A test of a suspended machine shares a jumping clock with
	// the client, so a token the client thinks expired is expired here too.
	Now func() time.Time
	// MetadataRedirectLoop makes the authorization server metadata redirect
	// to itself forever.
	MetadataRedirectLoop bool
	// NoRevocation leaves the revocation endpoint out (RFC 7009 is optional).
	NoRevocation bool
	// CodeChallengeMethods, if not nil, is advertised as
	// code_challenge_methods_supported instead of ["S256"]; an empty, non-nil
	// slice advertises []. Authorization requests still need S256.
	CodeChallengeMethods []string
	// NoCodeChallengeMethods leaves code_challenge_methods_supported out of
	// the metadata (a server that does not say it supports PKCE).
	NoCodeChallengeMethods bool
	// NoAuthorizationServers makes the protected resource metadata list no
	// authorization server ("authorization_servers": []).
	NoAuthorizationServers bool
	// HTTPSRedirectsOnly makes dynamic registration refuse loopback
	// redirect URIs with invalid_redirect_uri, as providers that register
	// web applications only do.
	HTTPSRedirectsOnly bool
	// Resource is the resource the authorization server issues tokens for;
	// empty means this Server's MCP endpoint. Naming another Server's URL
	// (with that one's SetAuthorizationServers) makes this one the
	// authorization server it moved to. Its MCP server does not accept
	// tokens from other Servers.
	Resource string
	// ExpiresIn, if set, is sent as expires_in instead of TokenLifetime's
	// seconds: a JSON number literal, for providers' odd values ("1e12",
	// "-60"). Tokens still expire here after TokenLifetime.
	ExpiresIn string
}

// Client is a pre-registered client.
type Client struct {
	ID, Secret   string
	RedirectURIs []string // empty: any loopback redirect URI
}

// Server is a running authorization server and MCP server.
type Server struct {
	opts    Options
	as      *httptest.Server
	mcp     *httptest.Server
	mcpBase string // the MCP server's origin, with MCPHost

	// Issuer is the authorization server's issuer identifier.
	Issuer string

	mu       sync.Mutex
	clients  map[string]*client
	codes    map[string]*grant
	access   map[string]*token
	refresh  map[string]*token
	families map[string]bool // family ID -> revoked
	issued   []string        // every secret value ever issued
	failures []failure       // injected token endpoint failures
	hold     *Hold           // holds token requests while set
	regHold  *Hold           // holds registration requests while set

	down      atomic.Bool
	rejectAll atomic.Bool // the MCP server refuses every access token
	counts    Counts
	countsMu  sync.Mutex
	lastScope atomic.Value // string: scope of the last authorization request
	unserved  []string     // paths asked of the MCP server's origin that it does not serve (under mu)
	presented []string     // client IDs presented to the authorization server (under mu)
	asMoved   []string     // the authorization servers the metadata names instead of this one, if not nil (under mu)
}

// Counts is what the server has seen.
type Counts struct {
	Registrations      int
	MetadataRequests   int // GETs of the authorization server metadata, redirected ones included
	TokenRequests      int // requests that reached the token endpoint, failed ones included
	Authorizations     int // authorization requests that reached a decision
	CodeExchanges      int
	Refreshes          int // successful refresh grants
	RefreshReuse       int // refresh tokens presented after they were rotated away
	Revocations        int
	ResourceMissing    int // token requests without the resource parameter
	MCPRequests        int
	MCPUnauthenticated int
}

type client struct {
	id, secret   string
	redirectURIs []string
	authMethod   string // client_secret_basic, client_secret_post or none
}

type grant struct {
	clientID, redirectURI, challenge, resource, scope string
	expires                                           time.Time
}

type token struct {
	value, clientID, scope, resource, family string
	expires                                  time.Time
	used                                     bool // refresh: rotated away
}

// failure is one injected token endpoint fault: an OAuth error, a closed
// connection (status 0), an HTML page (html), or a redirect (location),
// with a Retry-After header when retryAfter is set.
type failure struct {
	status     int
	code       string
	html       bool
	location   string
	retryAfter string
}

// NewServer starts a server on loopback.
func NewServer(opts Options) *Server {
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ScopesSupported == nil {
		opts.ScopesSupported = []string{"mcp:read", "mcp:write", "offline_access"}
	}
	s := &Server{
		opts:     opts,
		clients:  map[string]*client{},
		codes:    map[string]*grant{},
		access:   map[string]*token{},
		refresh:  map[string]*token{},
		families: map[string]bool{},
	}
	for _, c := range opts.Clients {
		method := "client_secret_basic"
		if c.Secret == "" {
			method = "none"
		}
		s.clients[c.ID] = &client{id: c.ID, secret: c.Secret, redirectURIs: c.RedirectURIs, authMethod: method}
	}
	for _, id := range opts.CIMDClients {
		s.clients[id] = &client{id: id, authMethod: "none"}
	}
	s.as = start(opts.ASAddr, s.asHandler())
	s.Issuer = s.as.URL
	s.mcp = start(opts.MCPAddr, s.mcpHandler())
	s.mcpBase = s.mcp.URL
	if opts.MCPHost != "" {
		s.mcpBase = "http://" + net.JoinHostPort(opts.MCPHost, strconv.Itoa(s.mcp.Listener.Addr().(*net.TCPAddr).Port))
	}
	return s
}

func start(addr string, h http.Handler) *httptest.Server {
	if addr == "" {
		return httptest.NewServer(h)
	}
	srv := httptest.NewUnstartedServer(h)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		panic("oauthtest: listen on " + addr + ": " + err.Error())
	}
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	return srv
}

// URL is the MCP endpoint.
func (s *Server) URL() string { return s.mcpBase + "/mcp" }

// ResourceMetadataURL is where the protected resource metadata is served.
func (s *Server) ResourceMetadataURL() string {
	return s.mcpBase + "/.well-known/oauth-protected-resource/mcp"
}

// Close stops both servers.
func (s *Server) Close() {
	s.as.Close()
	s.mcp.Close()
}

// SetDown makes the authorization server answer 503 to everything (an
// outage) until SetDown(false).
func (s *Server) SetDown(down bool) { s.down.Store(down) }

// RejectAccessTokens makes the MCP server answer 401 invalid_token to every
// access token, fresh ones included, until RejectAccessTokens(false): a
// server that expects another audience or issuer.
func (s *Server) RejectAccessTokens(reject bool) { s.rejectAll.Store(reject) }

// FailTokenRequests makes the next n token requests fail with the HTTP
// status and OAuth error code given (status 0 closes the connection).
func (s *Server) FailTokenRequests(n, status int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status: status, code: code})
	}
}

// FailTokenRequestsRetryAfter is FailTokenRequests with a Retry-After
// header (seconds or an HTTP date), as a rate-limiting provider sends with
// a 429.
func (s *Server) FailTokenRequestsRetryAfter(n, status int, code, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status: status, code: code, retryAfter: retryAfter})
	}
}

// AnswerTokenRequestsWithHTML makes the next n token requests get a 200
// text/html login page, as a misconfigured proxy or SSO gateway sends.
func (s *Server) AnswerTokenRequestsWithHTML(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status: http.StatusOK, html: true})
	}
}

// RedirectTokenRequests makes the next n token requests get a redirect
// with the given status to location; "" redirects to the token endpoint
// itself (a loop).
func (s *Server) RedirectTokenRequests(n, status int, location string) {
	if location == "" {
		location = s.Issuer + "/token"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status: status, location: location})
	}
}

// Hold keeps token requests waiting, as a hanging authorization server
// does: each waits until Release, or until its client gives up (then it
// ends unanswered and changes nothing).
type Hold struct {
	s        *Server
	slot     **Hold // where the server keeps it, cleared on Release
	grant    string // the grant_type held; "" holds every request
	arrived  chan struct{}
	gaveUp   chan struct{}
	released chan struct{}
	once     sync.Once
}

// HoldTokenRequests holds every token request from now until the Hold is
// released.
func (s *Server) HoldTokenRequests() *Hold { return s.newHold(&s.hold, "") }

// HoldRefreshRequests holds refresh_token grants only: code exchanges go
// through, so a sign-in can finish while a refresh hangs.
func (s *Server) HoldRefreshRequests() *Hold { return s.newHold(&s.hold, "refresh_token") }

// HoldRegistrations holds dynamic client registration requests (RFC 7591)
// until the Hold is released.
func (s *Server) HoldRegistrations() *Hold { return s.newHold(&s.regHold, "") }

func (s *Server) newHold(slot **Hold, grant string) *Hold {
	h := &Hold{s: s, slot: slot, grant: grant,
		arrived: make(chan struct{}, 100), gaveUp: make(chan struct{}, 100), released: make(chan struct{})}
	s.mu.Lock()
	*slot = h
	s.mu.Unlock()
	return h
}

// Arrived receives once per token request that started waiting.
func (h *Hold) Arrived() <-chan struct{} { return h.arrived }

// GaveUp receives once per held request whose client gave up waiting (the
// request ended unanswered). A test releasing the Hold waits for it first,
// or the server might still serve a request its client has abandoned.
func (h *Hold) GaveUp() <-chan struct{} { return h.gaveUp }

// Release lets the waiting requests, and every later one, through.
func (h *Hold) Release() {
	h.once.Do(func() {
		h.s.mu.Lock()
		if *h.slot == h {
			*h.slot = nil
		}
		h.s.mu.Unlock()
		close(h.released)
	})
}

// wait holds a request; it reports false when the client gave up first.
func (h *Hold) wait(r *http.Request) bool {
	select {
	case h.arrived <- struct{}{}:
	default:
	}
	select {
	case <-h.released:
		return true
	case <-r.Context().Done():
		select {
		case h.gaveUp <- struct{}{}:
		default:
		}
		return false
	}
}

// RevokeRefreshTokens invalidates every refresh token (the user revoked the
// app, or the provider expired the grant): the next refresh gets
// invalid_grant.
func (s *Server) RevokeRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for fam := range s.families {
		s.families[fam] = true
	}
}

// ForgetClients drops every dynamically registered client, as a provider
// that expired them would: the next use gets invalid_client.
func (s *Server) ForgetClients() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.clients {
		if !s.preregistered(id) {
			delete(s.clients, id)
		}
	}
}

func (s *Server) preregistered(id string) bool {
	for _, c := range s.opts.Clients {
		if c.ID == id {
			return true
		}
	}
	for _, c := range s.opts.CIMDClients {
		if c == id {
			return true
		}
	}
	return false
}

func (s *Server) now() time.Time { return s.opts.Now() }

// Counts returns what the server has seen so far.
func (s *Server) Counts() Counts {
	s.countsMu.Lock()
	defer s.countsMu.Unlock()
	return s.counts
}

func (s *Server) count(f func(*Counts)) {
	s.countsMu.Lock()
	f(&s.counts)
	s.countsMu.Unlock()
}

// Unserved returns, in order, the paths requested from the MCP server's
// origin that it does not serve: endpoints a client guessed there.
func (s *Server) Unserved() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.unserved...)
}

// SetAuthorizationServers makes the protected resource metadata name
// these authorization servers from now on, instead of this one: a server
// that moved to another provider.
func (s *Server) SetAuthorizationServers(issuers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asMoved = append([]string{}, issuers...)
}

// ClientIDs returns, in order, the client IDs presented to the
// authorization server: in authorization requests and in client
// authentication at the token and revocation endpoints.
func (s *Server) ClientIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.presented...)
}

func (s *Server) presentedClient(id string) {
	if id == "" {
		return
	}
	s.mu.Lock()
	s.presented = append(s.presented, id)
	s.mu.Unlock()
}

// resource is what the authorization server issues tokens for.
func (s *Server) resource() string {
	if s.opts.Resource != "" {
		return s.opts.Resource
	}
	return s.URL()
}

// LastScope is the scope parameter of the last authorization request.
func (s *Server) LastScope() string {
	v, _ := s.lastScope.Load().(string)
	return v
}

// Secrets returns every secret the server ever issued: access and refresh
// tokens, codes, client secrets. Tests grep logs and databases for them.
func (s *Server) Secrets() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// newSecret returns a random value with a recognisable prefix and records it.
func (s *Server) newSecret(prefix string) string {
	v := prefix + randomString()
	s.issued = append(s.issued, v)
	return v
}

func randomString() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, code int, errCode, desc string) {
	writeJSON(w, code, map[string]string{"error": errCode, "error_description": desc})
}
