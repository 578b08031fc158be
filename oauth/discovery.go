package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/oauthex"
)

// authServer is a discovered authorization server, with its endpoints
// checked (AUTH-24: no javascript:, file:, data: or plain-http endpoints).
type authServer struct {
	Issuer                string
	AuthorizationEndpoint string
	TokenEndpoint         string
	RegistrationEndpoint  string
	RevocationEndpoint    string
	ScopesSupported       []string
	AuthMethodsSupported  []string
	IssParameterSupported bool
	CIMDSupported         bool
	// FromMetadata is false in the 2025-03-26 fallback, where no metadata
	// exists and the endpoints are the default paths on the server's origin.
	FromMetadata bool
}

// discovery is what a sign-in needs to know about a server.
type discovery struct {
	// Resource is sent as the RFC 8707 resource parameter: the canonical
	// form of the protected resource metadata's resource when it was
	// validated, else the server's canonical URI (AUTH-17).
	Resource string
	// ResourceScopes is the protected resource's scopes_supported.
	ResourceScopes []string
	AS             *authServer
}

// notFoundError means a metadata URL answered 4xx: try the next one.
type notFoundError struct {
	url    string
	status int
}

func (e *notFoundError) Error() string { return fmt.Sprintf("%s answered HTTP %d", e.url, e.status) }

// getJSON fetches a metadata document.
func getJSON(ctx context.Context, hc *http.Client, raw string, v any) error {
	if err := checkEndpointURL(raw); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", raw, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 && resp.StatusCode < 500 {
		return &notFoundError{url: raw, status: resp.StatusCode}
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "" {
		// newHTTPClient hands back the redirect it stopped following.
		return fmt.Errorf("fetch %s: redirected %d times without an answer (HTTP %d); is it a redirect loop?", raw, maxRedirects, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch %s: HTTP %d", raw, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("fetch %s: %w", raw, err)
	}
	if ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); ct == "text/html" {
		return fmt.Errorf("%s returned a web page instead of JSON metadata", raw)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s is not valid JSON metadata: %v", raw, err)
	}
	return nil
}

// CanonicalResource is the canonical form of an MCP server URI (AUTH-17):
// lower-case scheme and host, no default port, no fragment; the path is
// kept as written.
func CanonicalResource(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	if (u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
		u.Host = u.Hostname()
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// resourceMatches applies AUTH-05: the metadata's resource must be the
// server's URI, or (as Slack and Azure-fronted servers publish) the same
// origin with a path that is a prefix of the server's path at a segment
// boundary. Everything else stops the flow before any authorization request.
func resourceMatches(prmResource, serverURL string) bool {
	a, err1 := url.Parse(CanonicalResource(prmResource))
	b, err2 := url.Parse(CanonicalResource(serverURL))
	if err1 != nil || err2 != nil || a.Scheme != b.Scheme || a.Host != b.Host {
		return false
	}
	ap, bp := strings.TrimSuffix(a.Path, "/"), strings.TrimSuffix(b.Path, "/")
	return ap == bp || ap == "" || strings.HasPrefix(bp, ap+"/")
}

// prmURLs lists where the protected resource metadata may be (AUTH-02,
// AUTH-03): the challenge's resource_metadata alone when given, else the
// path-aware well-known URL, then the root one.
func prmURLs(serverURL, fromChallenge string) []string {
	if fromChallenge != "" {
		return []string{fromChallenge}
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil
	}
	origin := u.Scheme + "://" + u.Host
	var urls []string
	if p := strings.TrimSuffix(u.EscapedPath(), "/"); p != "" {
		urls = append(urls, origin+"/.well-known/oauth-protected-resource"+p)
	}
	return append(urls, origin+"/.well-known/oauth-protected-resource")
}

// asMetadataURLs lists the metadata URLs of an issuer in the order the
// spec requires (AUTH-08): with a path, RFC 8414 path insertion, OIDC path
// insertion, OIDC path appending; without, RFC 8414 then OIDC.
func asMetadataURLs(issuer string) []string {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil
	}
	origin := u.Scheme + "://" + u.Host
	p := strings.TrimSuffix(u.EscapedPath(), "/")
	if p == "" {
		return []string{origin + "/.well-known/oauth-authorization-server", origin + "/.well-known/openid-configuration"}
	}
	return []string{
		origin + "/.well-known/oauth-authorization-server" + p,
		origin + "/.well-known/openid-configuration" + p,
		origin + p + "/.well-known/openid-configuration",
	}
}

// hideServerSecrets removes from msg what may be a key in the server's
// URL, for errors and logs: the query becomes "…", and so does a path
// segment of 16 or more characters (hosted servers put API keys there;
// words like "mcp" are shorter and stay, to tell a wrong path).
func hideServerSecrets(msg, serverURL string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		return strings.ReplaceAll(msg, serverURL, "(the server's URL)")
	}
	var secrets []string
	add := func(s string) {
		secrets = append(secrets, s)
		if d, err := url.QueryUnescape(s); err == nil && d != s {
			secrets = append(secrets, d)
		}
	}
	if u.RawQuery != "" {
		add(u.RawQuery)
	}
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		if len(seg) >= 16 {
			add(seg)
		}
	}
	if u.User != nil {
		add(u.User.String())
	}
	// Longest first: a segment inside the query must not leave the rest.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "…")
	}
	return msg
}

// hiddenError is err with the server's secrets removed from its text; the
// chain (ErrKeyringUnavailable, *NeedsAuthError) is kept.
type hiddenError struct {
	err error
	msg string
}

func (e *hiddenError) Error() string { return e.msg }
func (e *hiddenError) Unwrap() error { return e.err }

func hideErr(err error, serverURL string) error {
	if err == nil {
		return nil
	}
	if msg := hideServerSecrets(err.Error(), serverURL); msg != err.Error() {
		return &hiddenError{err: err, msg: msg}
	}
	return err
}

// discover finds the protected resource metadata and the authorization
// server for a server that asked for sign-in.
func discover(ctx context.Context, hc *http.Client, serverURL string, ch Challenge) (*discovery, error) {
	// Without resource metadata the resource is the server's URI without
	// its query: RFC 8707 §2 says it SHOULD NOT have one, and a key there
	// would reach the authorization server and the browser's history.
	d := &discovery{Resource: CanonicalResource(serverURL)}
	if u, err := url.Parse(d.Resource); err == nil {
		u.RawQuery, u.ForceQuery = "", false
		d.Resource = u.String()
	}
	var prm *oauthex.ProtectedResourceMetadata
	var missing *notFoundError
	for _, u := range prmURLs(serverURL, ch.ResourceMetadata) {
		var m oauthex.ProtectedResourceMetadata
		err := getJSON(ctx, hc, u, &m)
		if errors.As(err, &missing) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("protected resource metadata: %w", err)
		}
		prm = &m
		break
	}
	if prm == nil && ch.ResourceMetadata != "" {
		// A server that names its resource metadata is not a 2025-03-26
		// one: taking its origin for the authorization server would skip
		// the resource and PKCE checks (AUTH-02).
		return nil, fmt.Errorf("the server's protected resource metadata cannot be read (%w): refusing to sign in without it", missing)
	}
	if prm == nil {
		// A 2025-03-26 server: no resource metadata; its own origin is the
		// authorization server.
		u, _ := url.Parse(serverURL)
		as, err := discoverAS(ctx, hc, u.Scheme+"://"+u.Host, true)
		if err != nil {
			return nil, err
		}
		d.AS = as
		return d, nil
	}
	if prm.Resource == "" || !resourceMatches(prm.Resource, serverURL) {
		return nil, fmt.Errorf("the server's metadata names resource %q, which is not %s: refusing to sign in (it may be trying to collect a token for another service)", prm.Resource, serverURL)
	}
	// Sent as the metadata names it, but canonical: a fragment, or an
	// upper-case scheme or host, passed the check above (AUTH-17).
	d.Resource = CanonicalResource(prm.Resource)
	d.ResourceScopes = prm.ScopesSupported
	if len(prm.AuthorizationServers) == 0 {
		return nil, fmt.Errorf("the server's metadata lists no authorization server")
	}
	// AUTH-06: several may be listed; the first is used, and credentials
	// and tokens are kept per issuer (see registration.go).
	as, err := discoverAS(ctx, hc, prm.AuthorizationServers[0], false)
	if err != nil {
		return nil, err
	}
	d.AS = as
	return d, nil
}

// discoverAS reads an issuer's metadata. legacy allows the 2025-03-26
// fallback to default endpoints when there is none.
func discoverAS(ctx context.Context, hc *http.Client, issuer string, legacy bool) (*authServer, error) {
	if err := checkEndpointURL(issuer); err != nil {
		return nil, fmt.Errorf("authorization server: %w", err)
	}
	for _, u := range asMetadataURLs(issuer) {
		var m oauthex.AuthServerMeta
		err := getJSON(ctx, hc, u, &m)
		if errors.As(err, new(*notFoundError)) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("authorization server metadata: %w", err)
		}
		// AUTH-09: the issuer must be the one the URL was built from,
		// character for character; otherwise the document is not used.
		if m.Issuer != issuer {
			return nil, fmt.Errorf("the authorization server metadata at %s names issuer %q, not %q: refusing to use it", u, m.Issuer, issuer)
		}
		return checkMetadata(&m)
	}
	if !legacy {
		return nil, fmt.Errorf("no authorization server metadata found for %s", issuer)
	}
	as := &authServer{
		Issuer:                issuer,
		AuthorizationEndpoint: issuer + "/authorize",
		TokenEndpoint:         issuer + "/token",
		RegistrationEndpoint:  issuer + "/register",
	}
	return as, nil
}

func checkMetadata(m *oauthex.AuthServerMeta) (*authServer, error) {
	// AUTH-10: no PKCE advertised, or no S256, means no sign-in.
	if !slices.Contains(m.CodeChallengeMethodsSupported, "S256") {
		return nil, fmt.Errorf("the authorization server %s does not support PKCE with S256, which MCP requires", m.Issuer)
	}
	for name, v := range map[string]string{"authorization_endpoint": m.AuthorizationEndpoint, "token_endpoint": m.TokenEndpoint} {
		if v == "" {
			return nil, fmt.Errorf("the authorization server metadata has no %s", name)
		}
	}
	for name, v := range map[string]string{
		"authorization_endpoint": m.AuthorizationEndpoint, "token_endpoint": m.TokenEndpoint,
		"registration_endpoint": m.RegistrationEndpoint, "revocation_endpoint": m.RevocationEndpoint,
	} {
		if v == "" {
			continue
		}
		if err := checkEndpointURL(v); err != nil {
			return nil, fmt.Errorf("the authorization server's %s is unsafe: %w", name, err)
		}
	}
	return &authServer{
		Issuer:                m.Issuer,
		AuthorizationEndpoint: m.AuthorizationEndpoint,
		TokenEndpoint:         m.TokenEndpoint,
		RegistrationEndpoint:  m.RegistrationEndpoint,
		RevocationEndpoint:    m.RevocationEndpoint,
		ScopesSupported:       m.ScopesSupported,
		AuthMethodsSupported:  m.TokenEndpointAuthMethodsSupported,
		IssParameterSupported: m.AuthorizationResponseIssParameterSupported,
		CIMDSupported:         m.ClientIDMetadataDocumentSupported,
		FromMetadata:          true,
	}, nil
}
