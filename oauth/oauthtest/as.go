package oauthtest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

func (s *Server) asHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.metadata)
	mux.HandleFunc("POST /register", s.register)
	mux.HandleFunc("GET /authorize", s.authorize)
	mux.HandleFunc("POST /authorize", s.decide)
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /revoke", s.revoke)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.down.Load() {
			http.Error(w, "authorization server unavailable", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	s.count(func(c *Counts) { c.MetadataRequests++ })
	if s.opts.MetadataRedirectLoop {
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
		return
	}
	issuer := s.Issuer
	if s.opts.MetadataIssuer != "" {
		issuer = s.opts.MetadataIssuer
	}
	authz := s.Issuer + "/authorize"
	if s.opts.AuthorizationEndpoint != "" {
		authz = s.opts.AuthorizationEndpoint
	}
	m := map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                authz,
		"token_endpoint":                        s.Issuer + "/token",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"scopes_supported":                      s.opts.ScopesSupported,
	}
	switch {
	case s.opts.NoCodeChallengeMethods:
		delete(m, "code_challenge_methods_supported")
	case s.opts.CodeChallengeMethods != nil:
		m["code_challenge_methods_supported"] = s.opts.CodeChallengeMethods
	}
	if !s.opts.DisableDCR {
		m["registration_endpoint"] = s.Issuer + "/register"
	}
	if !s.opts.NoRevocation {
		m["revocation_endpoint"] = s.Issuer + "/revoke"
	}
	if s.opts.CIMD {
		m["client_id_metadata_document_supported"] = true
	}
	if !s.opts.NoIss {
		m["authorization_response_iss_parameter_supported"] = true
	}
	writeJSON(w, http.StatusOK, m)
}

// register is RFC 7591 dynamic client registration.
func (s *Server) register(w http.ResponseWriter, r *http.Request) {
	var req struct {
		RedirectURIs            []string `json:"redirect_uris"`
		TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
		GrantTypes              []string `json:"grant_types"`
		ApplicationType         string   `json:"application_type"`
		ClientName              string   `json:"client_name"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&req); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_client_metadata", "the body is not JSON")
		return
	}
	if len(req.RedirectURIs) == 0 {
		oauthError(w, http.StatusBadRequest, "invalid_redirect_uri", "redirect_uris is required")
		return
	}
	loopback := false
	for _, u := range req.RedirectURIs {
		switch {
		case isLoopbackRedirect(u) && s.opts.HTTPSRedirectsOnly:
			oauthError(w, http.StatusBadRequest, "invalid_redirect_uri", "only https redirect URIs are accepted")
			return
		case !isLoopbackRedirect(u) && !strings.HasPrefix(u, "https://"):
			oauthError(w, http.StatusBadRequest, "invalid_redirect_uri", "redirect URIs must be https or loopback")
			return
		}
		loopback = loopback || isLoopbackRedirect(u)
	}
	// MCP 2026-07-28 requires application_type; a loopback redirect URI is
	// a native application's.
	switch {
	case req.ApplicationType == "":
		oauthError(w, http.StatusBadRequest, "invalid_client_metadata", "application_type is required")
		return
	case req.ApplicationType != "native" && req.ApplicationType != "web":
		oauthError(w, http.StatusBadRequest, "invalid_client_metadata", "unknown application_type")
		return
	case loopback && req.ApplicationType != "native":
		oauthError(w, http.StatusBadRequest, "invalid_client_metadata", "loopback redirect URIs need application_type native")
		return
	}
	s.mu.Lock()
	hold := s.regHold
	s.mu.Unlock()
	if hold != nil && !hold.wait(r) {
		return
	}
	method := req.TokenEndpointAuthMethod
	if method == "" {
		method = "client_secret_basic"
	}
	s.mu.Lock()
	// A client ID is public (it is in every authorization URL); only the
	// secret is recorded as a secret.
	c := &client{id: "client_" + randomString(), redirectURIs: req.RedirectURIs, authMethod: method}
	if method != "none" {
		c.secret = s.newSecret("secret_")
	}
	s.clients[c.id] = c
	s.mu.Unlock()
	s.count(func(c *Counts) { c.Registrations++ })
	resp := map[string]any{
		"client_id":                  c.id,
		"redirect_uris":              c.redirectURIs,
		"token_endpoint_auth_method": c.authMethod,
		"grant_types":                req.GrantTypes,
		"client_id_issued_at":        time.Now().Unix(),
	}
	if c.secret != "" {
		resp["client_secret"] = c.secret
		resp["client_secret_expires_at"] = 0
	}
	writeJSON(w, http.StatusCreated, resp)
}

func isLoopbackRedirect(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "http" {
		return false
	}
	h := p.Hostname()
	return h == "127.0.0.1" || h == "::1" || h == "localhost"
}

// redirectAllowed: exact match, or a loopback URI that matches but for the
// port (RFC 8252 §7.3). A client without registered URIs accepts loopback.
func redirectAllowed(c *client, u string) bool {
	if len(c.redirectURIs) == 0 {
		return isLoopbackRedirect(u)
	}
	for _, r := range c.redirectURIs {
		if r == u {
			return true
		}
		if isLoopbackRedirect(r) && isLoopbackRedirect(u) {
			a, _ := url.Parse(r)
			b, _ := url.Parse(u)
			if a.Hostname() == b.Hostname() && a.Path == b.Path {
				return true
			}
		}
	}
	return false
}

// authorize validates an authorization request and either approves it at
// once or shows the consent page.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.lastScope.Store(q.Get("scope"))
	s.presentedClient(q.Get("client_id"))
	s.mu.Lock()
	c := s.clients[q.Get("client_id")]
	s.mu.Unlock()
	redirect := q.Get("redirect_uri")
	// Errors about the client or redirect URI are shown, never redirected
	// (RFC 6749 §4.1.2.1): the redirect target is not trusted yet.
	if c == nil {
		http.Error(w, "unknown client_id (invalid_client)", http.StatusBadRequest)
		return
	}
	if !redirectAllowed(c, redirect) {
		http.Error(w, "redirect_uri is not registered for this client", http.StatusBadRequest)
		return
	}
	fail := func(code, desc string) {
		s.redirectBack(w, r, redirect, q.Get("state"), url.Values{"error": {code}, "error_description": {desc}})
	}
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "only code is supported")
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "PKCE with S256 is required")
	case q.Get("resource") != s.resource():
		fail("invalid_target", fmt.Sprintf("resource must be %s", s.resource()))
	case !s.scopesKnown(q.Get("scope")):
		fail("invalid_scope", "unknown scope")
	case s.opts.ConsentPage:
		s.consentPage(w, r)
	default:
		s.approve(w, r, q)
	}
}

func (s *Server) scopesKnown(scope string) bool {
	for _, sc := range strings.Fields(scope) {
		if !slices.Contains(s.opts.ScopesSupported, sc) {
			return false
		}
	}
	return true
}

var consent = template.Must(template.New("consent").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in to the demo MCP server</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;color:#222}
button{font-size:1rem;padding:.5rem 1.5rem;margin-right:1rem}</style></head>
<body><h1>Allow access?</h1>
<p><b>{{.Client}}</b> asks to use the demo MCP server with scope <code>{{.Scope}}</code>.</p>
<form method="post" action="/authorize?{{.Query}}">
<button name="decision" value="allow" id="allow">Allow</button>
<button name="decision" value="deny" id="deny">Deny</button>
</form></body></html>`))

func (s *Server) consentPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Frame-Options", "DENY")
	_ = consent.Execute(w, map[string]any{
		"Client": q.Get("client_id"), "Scope": q.Get("scope"), "Query": template.URL(r.URL.RawQuery),
	})
}

// decide handles the consent form (the query is the original request, which
// is validated again).
func (s *Server) decide(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.presentedClient(q.Get("client_id"))
	s.mu.Lock()
	c := s.clients[q.Get("client_id")]
	s.mu.Unlock()
	if c == nil || !redirectAllowed(c, q.Get("redirect_uri")) {
		http.Error(w, "invalid request", http.StatusBadRequest)
		return
	}
	if r.FormValue("decision") != "allow" {
		s.redirectBack(w, r, q.Get("redirect_uri"), q.Get("state"),
			url.Values{"error": {"access_denied"}, "error_description": {"The user denied access."}})
		return
	}
	s.approve(w, r, q)
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request, q url.Values) {
	s.mu.Lock()
	code := s.newSecret("code_")
	s.codes[code] = &grant{clientID: q.Get("client_id"), redirectURI: q.Get("redirect_uri"),
		challenge: q.Get("code_challenge"), resource: q.Get("resource"), scope: q.Get("scope"),
		expires: s.now().Add(time.Minute)}
	s.mu.Unlock()
	s.count(func(c *Counts) { c.Authorizations++ })
	s.redirectBack(w, r, q.Get("redirect_uri"), q.Get("state"), url.Values{"code": {code}})
}

func (s *Server) redirectBack(w http.ResponseWriter, r *http.Request, redirect, state string, params url.Values) {
	u, err := url.Parse(redirect)
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	if state != "" {
		q.Set("state", state)
	}
	switch {
	case s.opts.WrongIss != "":
		q.Set("iss", s.opts.WrongIss)
	case !s.opts.NoIss && !s.opts.DropIss:
		q.Set("iss", s.Issuer)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// clientAuth authenticates the client at the token endpoint with the method
// it registered (RFC 6749 §2.3.1: Basic credentials are form-encoded first).
func (s *Server) clientAuth(r *http.Request) (*client, bool) {
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	s.presentedClient(id)
	s.mu.Lock()
	c := s.clients[id]
	s.mu.Unlock()
	if c == nil {
		return nil, false
	}
	switch c.authMethod {
	case "none":
		return c, !basic && secret == ""
	case "client_secret_post":
		return c, !basic && subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) == 1
	default:
		return c, basic && subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) == 1
	}
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.count(func(c *Counts) { c.TokenRequests++ })
	// The body is read first: only then does net/http watch the connection
	// and end r.Context() when a held client gives up.
	formErr := r.ParseForm()
	s.mu.Lock()
	hold := s.hold
	s.mu.Unlock()
	if hold != nil && (hold.grant == "" || hold.grant == r.PostForm.Get("grant_type")) && !hold.wait(r) {
		return
	}
	s.mu.Lock()
	var f *failure
	if len(s.failures) > 0 {
		f = &s.failures[0]
		s.failures = s.failures[1:]
	}
	s.mu.Unlock()
	if f != nil {
		s.fail(w, r, f)
		return
	}
	if formErr != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	c, ok := s.clientAuth(r)
	if !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	resource := r.PostForm.Get("resource")
	if resource == "" {
		s.count(func(c *Counts) { c.ResourceMissing++ })
	}
	if resource != s.resource() {
		oauthError(w, http.StatusBadRequest, "invalid_target", fmt.Sprintf("resource must be %s", s.resource()))
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		s.exchange(w, r, c)
	case "refresh_token":
		s.refreshGrant(w, r, c)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "")
	}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, f *failure) {
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	switch {
	case f.location != "":
		http.Redirect(w, r, f.location, f.status)
	case f.html:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(f.status)
		_, _ = w.Write([]byte(`<!doctype html><html><head><title>Sign in</title></head><body><form method="post"><input name="user"><input name="password" type="password"></form></body></html>`))
	case f.status == 0:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		fallthrough
	default:
		oauthError(w, f.status, f.code, "injected failure")
	}
}

func (s *Server) exchange(w http.ResponseWriter, r *http.Request, c *client) {
	code := r.PostForm.Get("code")
	s.mu.Lock()
	g := s.codes[code]
	delete(s.codes, code) // single use, even when the request fails
	s.mu.Unlock()
	switch {
	case g == nil || s.now().After(g.expires):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown, used or expired code")
		return
	case g.clientID != c.id || g.redirectURI != r.PostForm.Get("redirect_uri"):
		oauthError(w, http.StatusBadRequest, "invalid_grant", "the code was issued to another client or redirect_uri")
		return
	case g.resource != r.PostForm.Get("resource"):
		oauthError(w, http.StatusBadRequest, "invalid_target", "resource differs from the authorization request")
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		return
	}
	s.count(func(c *Counts) { c.CodeExchanges++ })
	s.mu.Lock()
	fam := s.newSecret("family_")
	s.families[fam] = false
	s.mu.Unlock()
	s.issue(w, c.id, g.scope, g.resource, fam)
}

func (s *Server) refreshGrant(w http.ResponseWriter, r *http.Request, c *client) {
	value := r.PostForm.Get("refresh_token")
	s.mu.Lock()
	rt := s.refresh[value]
	var errDesc string
	switch {
	case rt == nil:
		errDesc = "unknown refresh token"
	case rt.clientID != c.id:
		errDesc = "refresh token issued to another client"
	case s.families[rt.family]:
		errDesc = "the grant was revoked"
	case rt.used:
		// Reuse of a rotated token: someone else has the family. Revoke it all
		// (OAuth 2.1 §4.3.1).
		s.families[rt.family] = true
		errDesc = "refresh token reused; the grant is revoked"
		s.mu.Unlock()
		s.count(func(c *Counts) { c.RefreshReuse++ })
		oauthError(w, http.StatusBadRequest, "invalid_grant", errDesc)
		return
	}
	if errDesc != "" {
		s.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", errDesc)
		return
	}
	if !s.opts.NoRotation {
		rt.used = true
	}
	s.mu.Unlock()
	s.count(func(c *Counts) { c.Refreshes++ })
	scope := rt.scope
	if req := r.PostForm.Get("scope"); req != "" {
		scope = req // narrowing is allowed; tests only narrow or repeat
	}
	if s.opts.NoRotation {
		s.issueAccessOnly(w, c.id, scope, rt.resource, rt.family, value)
		return
	}
	s.issue(w, c.id, scope, rt.resource, rt.family)
}

// issue writes a token response with a new access token and, unless
// disabled, a new refresh token in family fam.
func (s *Server) issue(w http.ResponseWriter, clientID, scope, resource, fam string) {
	s.mu.Lock()
	at := &token{value: s.newSecret("at_"), clientID: clientID, scope: scope, resource: resource, family: fam,
		expires: s.now().Add(s.opts.TokenLifetime)}
	s.access[at.value] = at
	resp := map[string]any{
		"access_token": at.value, "token_type": "Bearer", "expires_in": s.expiresIn(), "scope": scope,
	}
	if !s.opts.NoRefreshTokens {
		rt := &token{value: s.newSecret("rt_"), clientID: clientID, scope: scope, resource: resource, family: fam}
		s.refresh[rt.value] = rt
		resp["refresh_token"] = rt.value
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) issueAccessOnly(w http.ResponseWriter, clientID, scope, resource, fam, refresh string) {
	s.mu.Lock()
	at := &token{value: s.newSecret("at_"), clientID: clientID, scope: scope, resource: resource, family: fam,
		expires: s.now().Add(s.opts.TokenLifetime)}
	s.access[at.value] = at
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": at.value, "token_type": "Bearer", "scope": scope, "expires_in": s.expiresIn(),
	})
}

// expiresIn is the expires_in of a token response.
func (s *Server) expiresIn() any {
	if s.opts.ExpiresIn != "" {
		return json.Number(s.opts.ExpiresIn)
	}
	return int(s.opts.TokenLifetime.Round(time.Second) / time.Second)
}

// revoke is RFC 7009: revoking either token ends the whole grant.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	if _, ok := s.clientAuth(r); !ok {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	v := r.PostForm.Get("token")
	s.mu.Lock()
	for _, t := range []*token{s.access[v], s.refresh[v]} {
		if t != nil {
			s.families[t.family] = true
		}
	}
	s.mu.Unlock()
	s.count(func(c *Counts) { c.Revocations++ })
	w.WriteHeader(http.StatusOK) // RFC 7009 §2.2: 200 even for unknown tokens
}
