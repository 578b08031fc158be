package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// Client is one server's OAuth state: its tokens, their refresh, and
// sign-in. It implements go-sdk's auth.OAuthHandler for the Streamable
// HTTP transport, and serves the legacy SSE transport through the same
// methods (see upstream).
type Client struct {
	m   *Manager
	log *slog.Logger

	// storeMu makes deciding to write the stored tokens and writing them
	// one step, so a refresh that ends during a sign-in or a sign-out
	// cannot store over what they wrote or deleted. Taken before mu.
	storeMu sync.Mutex

	mu       sync.Mutex
	cfg      ServerConfig
	http     *http.Client
	loaded   bool
	loadErr  error     // the stored tokens could not be read (a locked keyring); nil once read
	loadNext time.Time // no new read attempt before this after loadErr
	lastInfo atomic.Pointer[Info]
	tokens   *Tokens
	dead     string // why the grant is unusable (invalid_grant, signed out); "" when fine
	inflight *refreshCall
	failures int       // consecutive transient refresh failures
	retryAt  time.Time // no refresh attempt before this after a failure
	timer    *time.Timer
	closed   bool

	challenge Challenge // the last one a server sent
	stepUps   int       // step-up sign-ins in a row that did not end the server's asking (AUTH-32)

	// refreshed is the last tokens a refresh produced, and retried the
	// tokens a 401's forced refresh produced: a 401 to those is not
	// answered with yet another refresh (see Authorize).
	refreshed, retried *Tokens
}

type refreshCall struct {
	done   chan struct{}
	tokens *Tokens
	err    error
}

func (c *Client) configure(sc ServerConfig) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cfg.URL != sc.URL || c.cfg.AllowPrivateNetwork != sc.AllowPrivateNetwork {
		c.http = newHTTPClient(policyFor(sc.URL, sc.AllowPrivateNetwork), c.m.cfg.Transport)
	}
	urlChanged := c.cfg.URL != sc.URL
	c.cfg = sc
	switch {
	case c.tokens != nil && resourceMatches(c.tokens.Resource, sc.URL):
		// The same grant serves the new URL (a query or a trailing slash
		// changed): kept as it is, so a refresh of it under way still
		// counts (reading the store again would hand out the refresh
		// token that refresh is rotating away).
	case urlChanged:
		// AUTH-28: never send a token to a resource it was not issued
		// for. Read the store again for the new URL: a URL changed by
		// mistake and changed back finds its sign-in, still stored, again.
		c.tokens, c.dead = nil, ""
		c.loaded = false
	}
}

// storeRetry spaces out reads of stored tokens that failed: a locked
// keyring takes its whole timeout (5 s) to say so, which must not stall
// every request.
const storeRetry = 10 * time.Second

// loadLocked reads the stored tokens once. A read that fails (the keyring
// is locked or unavailable) is not "no tokens": the error is remembered,
// returned until storeRetry has passed, then the read is tried again, so
// the tokens are used as soon as the keyring answers.
func (c *Client) loadLocked() error {
	if c.loaded {
		return nil
	}
	now := c.m.now()
	if c.loadErr != nil && now.Before(c.loadNext) {
		return c.loadErr
	}
	var t Tokens
	ok, err := loadJSON(c.m.cfg.Store, tokenKey(c.cfg.ID), &t)
	switch {
	case errors.Is(err, errDamaged):
		c.log.Warn("the stored tokens are damaged; the next sign-in replaces them", "err", err)
	case err != nil:
		if c.loadErr == nil {
			c.log.Warn("the stored tokens cannot be read; retrying", "err", err, "every", storeRetry)
		}
		c.loadErr = fmt.Errorf("%w, so the stored sign-in cannot be read "+
			"(MCP Tray tries again every %s; no new sign-in is needed): %w", ErrKeyringUnavailable, storeRetry, err)
		c.loadNext = now.Add(storeRetry)
		return c.loadErr
	}
	if c.loadErr != nil {
		c.log.Info("the stored tokens can be read again")
	}
	c.loaded, c.loadErr = true, nil
	if ok && resourceMatches(t.Resource, c.cfg.URL) {
		c.tokens = &t
		c.scheduleLocked()
	}
	return nil
}

// HasTokens reports whether the server has a usable grant.
func (c *Client) HasTokens() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loadLocked() == nil && c.tokens != nil && c.dead == ""
}

// Start loads stored tokens and, when they are near expiry or expired
// (the app was closed, the machine slept), refreshes them in the
// background at once, before any request needs them.
func (c *Client) Start() {
	c.mu.Lock()
	err := c.loadLocked()
	due := err == nil && c.tokens != nil && c.dead == "" && c.tokens.RefreshToken != "" &&
		c.tokens.expiresWithin(c.m.now(), refreshLead(c.tokens))
	c.mu.Unlock()
	if due {
		go c.refreshInBackground()
	}
}

// Info describes a server's sign-in without any secret, for status views.
type Info struct {
	SignedIn     bool      `json:"signed_in"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Scopes       []string  `json:"scopes,omitempty"`
	Issuer       string    `json:"issuer,omitempty"`
	Registration string    `json:"registration,omitempty"` // MethodPreregistered, MethodCIMD or MethodDCR
	Problem      string    `json:"problem,omitempty"`
	Refreshable  bool      `json:"refreshable"`
}

// Info returns the sign-in's public facts. Status views call it: while
// another caller holds the client (a locked keyring can take seconds to
// answer a read) it returns the facts last seen instead of waiting.
func (c *Client) Info() Info {
	if !c.mu.TryLock() {
		if last := c.lastInfo.Load(); last != nil {
			return *last
		}
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if c.loadErr == nil {
		_ = c.loadLocked() // a failed read is retried by requests, not by status views
	}
	var i Info
	if t := c.tokens; t != nil {
		i = Info{SignedIn: c.dead == "", Expiry: t.Expiry, Scopes: strings.Fields(t.Scope), Issuer: t.Issuer,
			Registration: registrationMethod(t.Registration), Refreshable: t.RefreshToken != ""}
	}
	i.Problem = c.dead
	if c.loadErr != nil {
		i.Problem = c.loadErr.Error()
	}
	c.lastInfo.Store(&i)
	return i
}

// registrationMethod is the method part of a Tokens.Registration.
func registrationMethod(r string) string {
	m, _, _ := strings.Cut(r, " ")
	return m
}

// refreshLead is how long before expiry the refresh is made: a quarter of
// the lifetime, at most five minutes, so a call never meets an expired
// token; syncMargin is the last moment a request refreshes synchronously.
func refreshLead(t *Tokens) time.Duration { return min(t.lifetime()/4, 5*time.Minute) }
func syncMargin(t *Tokens) time.Duration  { return min(t.lifetime()/10, 30*time.Second) }

// scheduleLocked arms the proactive refresh. The timer never waits more
// than 30 s (recheck) before looking at the wall clock again: a suspended
// machine stops the monotonic clock timers run on.
func (c *Client) scheduleLocked() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	t := c.tokens
	if c.closed || t == nil || c.dead != "" || t.RefreshToken == "" || t.Expiry.IsZero() {
		return
	}
	at := t.Expiry.Round(0).Add(-refreshLead(t))
	if !c.retryAt.IsZero() {
		at = c.retryAt
	}
	wait := min(max(at.Round(0).Sub(c.m.now()), 0), c.m.cfg.recheck)
	c.timer = time.AfterFunc(wait, c.tick)
}

func (c *Client) tick() {
	c.mu.Lock()
	t, now := c.tokens, c.m.now()
	due := !c.closed && t != nil && c.dead == "" && t.RefreshToken != "" &&
		t.expiresWithin(now, refreshLead(t)) && !now.Before(c.retryAt)
	if !due {
		c.scheduleLocked()
	}
	c.mu.Unlock()
	if due {
		c.refreshInBackground()
	}
}

func (c *Client) refreshInBackground() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.refresh(ctx, false); err != nil {
		c.log.Debug("background refresh did not succeed", "err", err)
	}
}

func (c *Client) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
	}
}

// Token returns a valid access token (oauth2.TokenSource), refreshing it
// first when it is about to expire.
func (c *Client) Token() (*oauth2.Token, error) {
	t, err := c.current()
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: t.AccessToken, TokenType: "Bearer", Expiry: t.Expiry}, nil
}

// current returns the tokens to sign a request with. It runs for every
// request to the server: only a refresh makes a context (whose timer
// would otherwise wake a thread per request).
func (c *Client) current() (*Tokens, error) {
	c.mu.Lock()
	err := c.loadLocked()
	t, dead := c.tokens, c.dead
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if t == nil || dead != "" {
		return nil, &NeedsAuthError{Reason: orDefault(dead, "not signed in")}
	}
	now := c.m.now()
	if !t.expiresWithin(now, syncMargin(t)) {
		return t, nil
	}
	// The refresh bounds itself (RefreshTimeout); this only guards against
	// a store that hangs while the new tokens are written.
	ctx, cancel := context.WithTimeout(context.Background(), c.m.cfg.RefreshTimeout+10*time.Second)
	defer cancel()
	if !t.expiresWithin(now, 0) {
		// The old token still works: a slow token endpoint may hold the
		// request only until the token is about to expire.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.Expiry.Sub(now)-syncMargin(t)/2)
		defer cancel()
	}
	nt, err := c.refresh(ctx, false)
	if err == nil {
		return nt, nil
	}
	if isTransient(err) && !t.expiresWithin(c.m.now(), 0) {
		return t, nil // the old token is still valid; the refresh goes on, or is retried later
	}
	return nil, err
}

// TokenSource is auth.OAuthHandler's first method: nil (no Authorization
// header) when there is no grant, so the server answers with a challenge.
// Stored tokens that cannot be read are an error, not "no grant": a
// sign-in would not help while the keyring cannot store its tokens either.
func (c *Client) TokenSource(context.Context) (oauth2.TokenSource, error) {
	c.mu.Lock()
	err := c.loadLocked()
	has := c.tokens != nil && c.dead == ""
	c.mu.Unlock()
	if err != nil || !has {
		return nil, err
	}
	return c, nil
}

// Authorize is auth.OAuthHandler's second method, called when a request
// got 401 or 403. It never opens a browser (this is a background request):
// a 401 to a token gets one forced refresh and a retry (AUTH-30); anything
// else becomes a NeedsAuthError that the status shows, until a person
// signs in.
func (c *Client) Authorize(ctx context.Context, req *http.Request, resp *http.Response) error {
	defer resp.Body.Close()
	ch := ParseChallenge(resp)
	c.mu.Lock()
	c.challenge = ch
	err := c.loadLocked()
	t, dead := c.tokens, c.dead
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusForbidden {
		if ch.Error == "insufficient_scope" {
			return &NeedsAuthError{Reason: fmt.Sprintf("the server needs more permissions (scope %q): sign in again to grant them", ch.Scope)}
		}
		return fmt.Errorf("the server refused access (HTTP 403)")
	}
	if t == nil || dead != "" {
		return &NeedsAuthError{Reason: orDefault(dead, "the server requires sign-in")}
	}
	sent := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	if sent != "" && sent != t.AccessToken {
		return nil // another request already refreshed: retry with the new token
	}
	if c.rejectedFresh(t) {
		// A server that refuses a token this fresh (another audience or
		// issuer) refuses the next one too; refreshing on every request
		// would only rotate the refresh token.
		return &NeedsAuthError{Reason: "the server rejected a just-refreshed access token (HTTP 401): sign in again"}
	}
	nt, err := c.refresh(ctx, true)
	if err != nil {
		if isTransient(err) {
			return fmt.Errorf("the server rejected the token and refreshing it failed: %w", err)
		}
		return &NeedsAuthError{Reason: describeTokenError(err)}
	}
	c.mu.Lock()
	if nt == c.refreshed { // not a newer sign-in's tokens, handed over instead
		c.retried = nt
	}
	c.mu.Unlock()
	return nil
}

// freshWindow is how long after a refresh a 401 to its token is taken as
// the server refusing tokens like it, not as the token having gone bad.
const freshWindow = 30 * time.Second

// rejectedFresh reports whether t, just rejected with a 401, came from a
// refresh within freshWindow or from the forced refresh of an earlier 401.
func (c *Client) rejectedFresh(t *Tokens) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return t == c.retried || (t == c.refreshed && c.m.now().Sub(t.Obtained) < freshWindow)
}

// ParseChallenge reads a 401/403's WWW-Authenticate header (AUTH-01).
func ParseChallenge(resp *http.Response) Challenge {
	ch := Challenge{Status: resp.StatusCode}
	if c, ok := BearerChallenge(resp.Header); ok {
		ch.ResourceMetadata, ch.Scope, ch.Error = c.Params["resource_metadata"], c.Params["scope"], c.Params["error"]
	}
	return ch
}

// SetChallenge records what a server said, for the next sign-in.
func (c *Client) SetChallenge(ch Challenge) {
	c.mu.Lock()
	c.challenge = ch
	c.mu.Unlock()
}

// refresh gets new tokens with the refresh token. One refresh runs at a
// time per server; concurrent callers share its result (with rotating
// refresh tokens, two refreshes would spend the same token and the loser
// would revoke the grant). forced skips the backoff after failures. A
// caller whose ctx ends stops waiting; the refresh goes on.
func (c *Client) refresh(ctx context.Context, forced bool) (*Tokens, error) {
	call, err := c.startRefresh(forced)
	if err != nil {
		return nil, err
	}
	select {
	case <-call.done:
		return call.tokens, call.err
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the token refresh: %w", ctx.Err())
	}
}

// startRefresh returns the refresh in flight, or starts one.
func (c *Client) startRefresh(forced bool) (*refreshCall, error) {
	c.mu.Lock()
	if err := c.loadLocked(); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	if call := c.inflight; call != nil {
		c.mu.Unlock()
		return call, nil
	}
	old := c.tokens
	switch {
	case old == nil || c.dead != "":
		c.mu.Unlock()
		return nil, &NeedsAuthError{Reason: orDefault(c.dead, "not signed in")}
	case old.RefreshToken == "":
		c.dead = "the access token expired and the provider gave no refresh token: sign in again"
		if forced {
			c.dead = "the server no longer accepts the access token and the provider gave no refresh token: sign in again"
		}
		id, dead := c.cfg.ID, c.dead
		c.mu.Unlock()
		c.m.cfg.OnEvent(id, Event{Kind: EventNeedsAuth, Reason: dead})
		return nil, &NeedsAuthError{Reason: dead}
	case !forced && c.m.now().Before(c.retryAt):
		at := c.retryAt
		c.mu.Unlock()
		return nil, fmt.Errorf("the last refresh failed; retrying at %s", at.Format(time.TimeOnly))
	}
	call := &refreshCall{done: make(chan struct{})}
	c.inflight = call
	hc, cfg := c.http, c.cfg
	c.mu.Unlock()
	go c.runRefresh(call, old, hc, cfg)
	return call, nil
}

// runRefresh makes the refresh request and records its outcome. It runs
// on its own: once the provider has rotated the refresh token, the new one
// must be received and stored even when every caller stopped waiting.
//
// The outcome counts only while the client still holds the grant it
// refreshed: a sign-out, a newer sign-in or a new URL (AUTH-28) that came
// while the request was out is not undone. The dropped tokens are revoked
// where the provider allows, unless a newer sign-in at the same provider
// holds the client (some providers end every grant of the app on a
// revocation).
func (c *Client) runRefresh(call *refreshCall, old *Tokens, hc *http.Client, cfg ServerConfig) {
	c.m.cfg.OnEvent(cfg.ID, Event{Kind: EventRefreshing})
	ctx, cancel := context.WithTimeout(context.Background(), c.m.cfg.RefreshTimeout)
	nt, err := c.refreshRequest(ctx, hc, cfg, old)
	cancel()
	var stale string // why the outcome is dropped; "" keeps it
	got := err == nil
	if got {
		c.storeMu.Lock()
		c.mu.Lock()
		stale = c.supersededLocked(old)
		c.mu.Unlock()
		if stale == "" {
			// AUTH-30: the rotated refresh token is stored before anything
			// uses the new access token.
			if serr := saveJSON(c.m.cfg.Store, tokenKey(cfg.ID), nt); serr != nil {
				c.log.Error("the refreshed tokens could not be stored; they are kept in memory", "err", serr)
			}
		}
	}

	c.mu.Lock()
	if stale == "" {
		// A sign-out may have come while the tokens were stored; it deletes
		// them once storeMu is free.
		stale = c.supersededLocked(old)
	}
	fresh, revokeFresh := nt, false
	var ev Event
	switch {
	case stale != "":
		revokeFresh = got && !(c.tokens != nil && c.tokens.Issuer == fresh.Issuer)
		ev = Event{Kind: EventRefreshed, Reason: "the refresh's result was discarded: " + stale}
		c.log.Info("the sign-in changed during a token refresh; its result is discarded", "why", stale, "err", err)
		// The callers get what the client holds now.
		nt, err = c.tokens, nil
		if nt == nil || c.dead != "" {
			nt, err = nil, &NeedsAuthError{Reason: orDefault(c.dead, "not signed in")}
		}
	case err == nil:
		c.tokens, c.failures, c.retryAt, c.refreshed = nt, 0, time.Time{}, nt
		ev = Event{Kind: EventRefreshed}
		c.log.Info("token refreshed", "expires", nt.Expiry.Format(time.RFC3339))
	case isTransient(err):
		c.failures++
		delay := min(5*time.Second<<min(c.failures-1, 6), 5*time.Minute)
		if wait := retryAfter(err); wait > 0 {
			delay = max(wait, time.Second) // what the provider asked for, bounded by parseRetryAfter
		}
		now := c.m.now()
		c.retryAt = now.Add(delay)
		ev = Event{Kind: EventRefreshFailed, Reason: "token refresh failed, will retry: " + err.Error(),
			NextRetry: c.retryAt, Expired: old.expiresWithin(now, 0)}
		c.log.Warn("token refresh failed; tokens kept", "err", err, "retry_in", delay)
	default:
		var te *TokenError
		if errors.As(err, &te) && (te.Code == "invalid_client" || te.Code == "unauthorized_client") && old.Registration != "" {
			// A stale dynamic registration, or one the provider no longer
			// lets refresh: forget it, the next sign-in registers again.
			_ = c.m.cfg.Store.Delete(registrationKeyOf(old.Registration))
		}
		c.dead = describeTokenError(err)
		ev = Event{Kind: EventNeedsAuth, Reason: c.dead}
		c.log.Warn("token refresh refused; sign-in needed", "err", err)
	}
	c.inflight = nil
	call.tokens, call.err = nt, err
	c.scheduleLocked()
	c.mu.Unlock()
	if got {
		c.storeMu.Unlock()
	}
	close(call.done)
	if revokeFresh {
		c.revokeBestEffort(hc, cfg, fresh)
	}
	c.m.cfg.OnEvent(cfg.ID, ev)
}

// supersededLocked says why a refresh of old may no longer change the
// client; "" while old is still the grant in use.
func (c *Client) supersededLocked(old *Tokens) string {
	switch {
	case !resourceMatches(old.Resource, c.cfg.URL):
		return "the server's URL changed to " + hideServerSecrets(c.cfg.URL, c.cfg.URL) // AUTH-28
	case c.tokens == nil:
		return orDefault(c.dead, "the tokens were dropped")
	case c.tokens != old:
		return "a newer sign-in replaced the tokens"
	}
	return c.dead
}

// revokeBestEffort revokes tokens nobody will use, logging a failure.
func (c *Client) revokeBestEffort(hc *http.Client, cfg ServerConfig, t *Tokens) {
	creds, err := c.credentials(cfg, t)
	if err == nil {
		err = revokeTokens(context.Background(), hc, creds, t)
	}
	if err != nil {
		c.log.Warn("discarded tokens could not be revoked", "err", err)
	}
}

func (c *Client) refreshRequest(ctx context.Context, hc *http.Client, cfg ServerConfig, old *Tokens) (*Tokens, error) {
	creds, err := c.credentials(cfg, old)
	if err != nil {
		return nil, err
	}
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {old.RefreshToken},
		// AUTH-17: the resource on every token request, refresh included
		// (x/oauth2's refresher leaves it out; docker/mcp-gateway PR #563).
		"resource": {old.Resource},
	}
	if old.Scope != "" {
		form.Set("scope", old.Scope)
	}
	nt, err := tokenRequest(ctx, hc, old.TokenEndpoint, creds, form, c.m.now)
	if err != nil {
		return nil, err
	}
	nt.Issuer, nt.Resource, nt.TokenEndpoint, nt.RevocationEndpoint, nt.Registration =
		old.Issuer, old.Resource, old.TokenEndpoint, old.RevocationEndpoint, old.Registration
	if nt.RefreshToken == "" {
		nt.RefreshToken = old.RefreshToken // not rotated: keep using it
	}
	if nt.Scope == "" {
		nt.Scope = old.Scope
	}
	return nt, nil
}

// credentials finds the client identity tokens were issued to; cfg is the
// server's settings, read under mu by the caller.
func (c *Client) credentials(cfg ServerConfig, t *Tokens) (clientCreds, error) {
	method, rest, _ := strings.Cut(t.Registration, " ")
	switch method {
	case MethodPreregistered:
		if cfg.ClientID == "" {
			return clientCreds{}, &NeedsAuthError{Reason: "the pre-registered client was removed from the configuration: sign in again"}
		}
		secret, err := cfg.clientSecret()
		if err != nil {
			return clientCreds{}, err
		}
		auth := "none"
		if secret != "" {
			auth = orDefault(rest, "client_secret_basic")
		}
		return clientCreds{ID: cfg.ClientID, Secret: secret, AuthMethod: auth}, nil
	case MethodCIMD:
		return clientCreds{ID: rest, AuthMethod: "none"}, nil
	case MethodDCR:
		var r registration
		ok, err := loadJSON(c.m.cfg.Store, rest, &r)
		switch {
		case errors.Is(err, errDamaged):
			// Unreadable for good, unlike a locked keyring: the next sign-in
			// registers again.
			return clientCreds{}, &NeedsAuthError{Reason: "the stored client registration is damaged: sign in again"}
		case err != nil:
			return clientCreds{}, err
		case !ok:
			return clientCreds{}, &NeedsAuthError{Reason: "the client registration is gone: sign in again"}
		}
		return r.creds(), nil
	}
	return clientCreds{}, &NeedsAuthError{Reason: "the stored sign-in is from an unknown registration: sign in again"}
}

// registrationRef is how Tokens remember their client: "method detail",
// where detail is the auth method (pre-registered), the client ID (CIMD)
// or the stored registration's key (DCR).
func registrationRef(r *registration, key string) string {
	switch r.Method {
	case MethodPreregistered:
		return MethodPreregistered + " " + r.AuthMethod
	case MethodCIMD:
		return MethodCIMD + " " + r.ClientID
	}
	return MethodDCR + " " + key
}

func registrationKeyOf(ref string) string {
	_, key, _ := strings.Cut(ref, " ")
	return key
}

// SignOut revokes the grant at the provider when it has a revocation
// endpoint (RFC 7009), then deletes the tokens. The registration is kept
// for the next sign-in.
func (c *Client) SignOut(ctx context.Context) error {
	c.mu.Lock()
	_ = c.loadLocked() // tokens that cannot be read are deleted all the same, unrevoked
	t, hc, cfg := c.tokens, c.http, c.cfg
	c.tokens, c.dead = nil, "signed out"
	c.loaded, c.loadErr = true, nil // nothing stored is wanted any more
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	if t != nil {
		if creds, err := c.credentials(cfg, t); err == nil {
			if err := revokeTokens(ctx, hc, creds, t); err != nil {
				c.log.Warn("revocation failed; deleting the tokens anyway", "err", err)
			}
		}
	}
	// A refresh that saw the grant before the sign-out and is storing its
	// result finishes first; its tokens are deleted here.
	c.storeMu.Lock()
	err := c.m.cfg.Store.Delete(tokenKey(cfg.ID))
	c.storeMu.Unlock()
	c.m.cfg.OnEvent(cfg.ID, Event{Kind: EventSignedOut, Reason: "signed out"})
	return err
}

// revokeTokens revokes the refresh token, then the access token, where
// the provider has a revocation endpoint (RFC 7009); the first failure
// ends it.
func revokeTokens(ctx context.Context, hc *http.Client, creds clientCreds, t *Tokens) error {
	if t.RevocationEndpoint == "" {
		return nil
	}
	for _, tok := range []struct{ value, hint string }{{t.RefreshToken, "refresh_token"}, {t.AccessToken, "access_token"}} {
		if tok.value != "" {
			if err := revoke(ctx, hc, t.RevocationEndpoint, creds, tok.value, tok.hint); err != nil {
				return err
			}
		}
	}
	return nil
}

func revoke(ctx context.Context, hc *http.Client, endpoint string, creds clientCreds, token, hint string) error {
	if err := checkEndpointURL(endpoint); err != nil {
		return err
	}
	ctx, cancel := withTimeout(ctx, 15*time.Second)
	defer cancel()
	resp, err := postForm(ctx, hc, endpoint, creds, url.Values{"token": {token}, "token_type_hint": {hint}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revocation answered HTTP %d", resp.StatusCode)
	}
	return nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// union returns a followed by the members of b it lacks (AUTH-31).
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
