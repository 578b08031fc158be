package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// SignInOptions says how to reach the person who asked to sign in.
type SignInOptions struct {
	// Open shows the authorization URL (the system browser, or a printed
	// line). Required.
	Open Opener
	// OnURL, if set, learns the authorization URL and whether Open failed,
	// so a UI can show it with a copy button and accept a pasted redirect.
	OnURL func(authURL string, openErr error)
	// Challenge is what the server's last 401/403 said; zero means the last
	// one this Client saw.
	Challenge *Challenge
}

// maxStepUps bounds step-up sign-ins in a row that did not end the
// server's asking: ones the provider did not grant the scope to, and asks
// for a scope already granted (AUTH-32).
const maxStepUps = 3

// SignIn runs the authorization code flow for the server: discovery,
// registration, PKCE, the browser, the loopback redirect, the code
// exchange. It returns once the tokens are stored. Only a person's action
// may call it.
func (c *Client) SignIn(ctx context.Context, o SignInOptions) error {
	if o.Open == nil {
		return errors.New("sign-in needs a way to open the authorization URL")
	}
	if err := c.storeReady(); err != nil {
		return err
	}
	c.mu.Lock()
	id, serverURL, ch := c.cfg.ID, c.cfg.URL, c.challenge
	if o.Challenge != nil {
		ch = *o.Challenge
	}
	stepUp := ch.Error == "insufficient_scope"
	if stepUp {
		c.stepUps++
		if c.stepUps > maxStepUps {
			c.mu.Unlock()
			return fmt.Errorf("the server asked for more permissions %d times in a row (scope %q); giving up", maxStepUps, ch.Scope)
		}
	} else {
		c.stepUps = 0
	}
	_ = c.loadLocked() // stored tokens that cannot be read are replaced by the new ones
	var granted []string
	if c.tokens != nil {
		granted = strings.Fields(c.tokens.Scope)
	}
	c.mu.Unlock()

	err := c.signIn(ctx, o, ch, granted, false)
	var stale *staleClientError
	if errors.As(err, &stale) {
		// invalid_client for a registration that worked before: the provider
		// forgot it. Register again, once.
		c.log.Info("the provider rejected the stored registration; registering again")
		_ = c.m.cfg.Store.Delete(stale.key)
		err = c.signIn(ctx, o, ch, granted, true)
	}
	if err != nil {
		// Errors quote URLs made from the server's, which may hold a key.
		err = hideErr(err, serverURL)
		c.log.Warn("sign-in failed", "err", err)
		return err
	}
	if stepUp && !grantsAll(ch.Scope, granted) {
		// A step-up granted the scope it asked for ends the run: tools that
		// each need their own scope are no loop. Asks for a scope already
		// granted, and ones the provider does not grant, still count.
		c.mu.Lock()
		if c.tokens != nil && grantsAll(ch.Scope, strings.Fields(c.tokens.Scope)) {
			c.stepUps = 0
		}
		c.mu.Unlock()
	}
	c.m.cfg.OnEvent(id, Event{Kind: EventSignedIn})
	return nil
}

// grantsAll reports whether granted holds every scope in want; an empty
// want (a challenge that names none) is never known to be granted.
func grantsAll(want string, granted []string) bool {
	w := strings.Fields(want)
	return len(w) > 0 && !slices.ContainsFunc(w, func(s string) bool { return !slices.Contains(granted, s) })
}

// storeReady checks that a sign-in's tokens can be stored before a person
// goes through the browser for them: a locked keyring fails here, not
// after the consent. A store that answers is read again at once.
func (c *Client) storeReady() error {
	r, ok := c.m.cfg.Store.(interface{ Ready() error })
	if !ok {
		return nil
	}
	if err := r.Ready(); err != nil {
		return fmt.Errorf("cannot sign in: %w, so the tokens could not be stored; unlock it and try again: %w", ErrKeyringUnavailable, err)
	}
	c.mu.Lock()
	c.loadNext = time.Time{}
	c.mu.Unlock()
	return nil
}

// staleClientError means the provider no longer knows a stored registration.
type staleClientError struct {
	key string
	err error
}

func (e *staleClientError) Error() string { return e.err.Error() }

func (c *Client) signIn(ctx context.Context, o SignInOptions, ch Challenge, granted []string, freshRegistration bool) error {
	c.mu.Lock()
	cfg, hc := c.cfg, c.http
	c.mu.Unlock()

	dctx, cancel := withTimeout(ctx, 60*time.Second)
	d, err := discover(dctx, hc, cfg.URL, ch)
	cancel()
	if err != nil {
		return err
	}
	// A pre-registered client's redirect URI is fixed at the provider, so
	// its port must not move (AUTH 6). An ephemeral-port manager (the
	// conformance client, many copies at once against providers that take
	// any loopback redirect) would race its own copies for that one port.
	pinned := cfg.CallbackPort
	if pinned == 0 && cfg.ClientID != "" && !c.m.cfg.EphemeralCallbackPort {
		pinned, _ = c.m.defaults()
	}
	cs, err := c.m.callback(pinned) // bound before the browser opens
	if err != nil {
		return err
	}
	defer cs.release()
	redirect := cs.redirectURI()
	rctx, cancel := withTimeout(ctx, 60*time.Second)
	reg, regKey, err := c.register(rctx, cfg, hc, d.AS, redirect, freshRegistration)
	cancel()
	if err != nil {
		return err
	}
	reused := regKey != "" && !freshRegistration && !reg.Registered.IsZero() && time.Since(reg.Registered) > 5*time.Second

	scope := selectScopes(cfg.Scopes, ch, d.ResourceScopes, d.AS.ScopesSupported, granted)
	verifier := oauth2.GenerateVerifier()
	state := randomState()
	p := &pending{state: state, server: cfg.ID, expires: time.Now().Add(flowLifetime),
		arrived: make(chan callbackResult, 1), outcome: make(chan error, 1), done: make(chan struct{}),
		needsIss: d.AS.IssParameterSupported, issuer: d.AS.Issuer}
	defer close(p.done) // after the outcome: a pasted answer's wait ends
	// AUTH-22: issuer, verifier and state are recorded together before the
	// redirect; the issuer is d.AS.Issuer, captured by this function.
	cs.add(p)
	defer cs.remove(state)

	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {reg.ClientID},
		"redirect_uri":          {redirect},
		"state":                 {state},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"},
		"resource":              {d.Resource},
	}
	if scope != "" {
		q.Set("scope", scope)
	}
	authURL := d.AS.AuthorizationEndpoint
	if strings.Contains(authURL, "?") {
		authURL += "&" + q.Encode()
	} else {
		authURL += "?" + q.Encode()
	}
	if err := CheckBrowserURL(authURL); err != nil {
		return err // never opened (AUTH-24)
	}
	c.log.Info("opening the authorization page", "issuer", d.AS.Issuer, "registration", reg.Method, "scope", scope)
	openErr := o.Open(ctx, authURL)
	if openErr != nil {
		c.log.Warn("the authorization URL could not be opened; waiting for a pasted redirect", "err", hideServerSecrets(openErr.Error(), cfg.URL))
	}
	if o.OnURL != nil {
		o.OnURL(authURL, openErr)
	}

	var res callbackResult
	select {
	case res = <-p.arrived:
	case <-ctx.Done():
		return fmt.Errorf("sign-in cancelled: %w", ctx.Err())
	case <-time.After(time.Until(p.expires)):
		return errors.New("no answer from the browser within 10 minutes")
	}
	t, err := c.finish(ctx, hc, d, reg, regKey, redirect, verifier, scope, res)
	if err != nil && reused && forgotClient(err) {
		p.outcome <- errors.New("the provider forgot MCP Tray's registration; MCP Tray registers again and reopens the sign-in")
		return &staleClientError{key: regKey, err: err}
	}
	if err == nil {
		err = c.keep(ctx, hc, reg.creds(), t)
	}
	if err == nil && reg.Method == MethodPreregistered {
		c.bindPreregistered(cfg, d.AS.Issuer)
	}
	p.outcome <- err
	return err
}

// keep stores a sign-in's tokens, then puts them in use, unless the
// server's URL changed during the sign-in: tokens are used only with the
// resource they were issued for (AUTH-28), so those are revoked where the
// provider allows, and the sign-in fails; so are they when the server was
// removed meanwhile (Forget). Under storeMu, a refresh of the previous
// grant that ends meanwhile cannot store over them.
func (c *Client) keep(ctx context.Context, hc *http.Client, creds clientCreds, t *Tokens) error {
	c.storeMu.Lock()
	defer c.storeMu.Unlock()
	c.mu.Lock()
	id, current, removed := c.cfg.ID, c.cfg.URL, c.closed
	c.mu.Unlock()
	if removed {
		if err := revokeTokens(ctx, hc, creds, t); err != nil {
			c.log.Warn("the tokens of a removed server could not be revoked", "err", err)
		}
		return fmt.Errorf("%s was removed from the configuration during the sign-in; its tokens were not kept", id)
	}
	kept := resourceMatches(t.Resource, current)
	if kept {
		if err := saveJSON(c.m.cfg.Store, tokenKey(id), t); err != nil {
			return fmt.Errorf("the provider signed you in, but the tokens could not be stored, so the sign-in did not take: %w", err)
		}
		c.mu.Lock()
		// The URL may have changed while the tokens were stored; loadLocked
		// never reads them for the new one.
		current = c.cfg.URL
		if kept = resourceMatches(t.Resource, current); kept {
			c.tokens, c.dead, c.failures, c.retryAt, c.loaded, c.loadErr = t, "", 0, time.Time{}, true, nil
			c.scheduleLocked()
		}
		c.mu.Unlock()
	}
	if kept {
		return nil
	}
	if err := revokeTokens(ctx, hc, creds, t); err != nil {
		c.log.Warn("the tokens for the server's old URL could not be revoked", "err", err)
	}
	return fmt.Errorf("the server's URL changed during the sign-in (to %s); the tokens were issued for %s and are not used: sign in again",
		hideServerSecrets(current, current), hideServerSecrets(t.Resource, t.Resource))
}

// finish validates the redirect and exchanges the code; keep stores the
// tokens.
func (c *Client) finish(ctx context.Context, hc *http.Client, d *discovery, reg *registration, regKey, redirect, verifier, scope string, res callbackResult) (*Tokens, error) {
	// AUTH-25 (RFC 9207): check iss before anything else, and on a mismatch
	// do not act on, or show, the error parameters.
	switch {
	case res.HasIss && res.Iss != d.AS.Issuer:
		return nil, fmt.Errorf("the sign-in response names issuer %q, not %q: refusing it (possible mix-up attack)", res.Iss, d.AS.Issuer)
	case !res.HasIss && d.AS.IssParameterSupported:
		return nil, fmt.Errorf("the authorization server %s promises an iss parameter, but the response has none: refusing it", d.AS.Issuer)
	}
	if res.Error != "" {
		if res.Error == "access_denied" {
			return nil, fmt.Errorf("the sign-in was declined at %s", hostOf(d.AS.Issuer))
		}
		return nil, &authorizationError{Code: res.Error, Description: res.ErrorDescription}
	}
	if res.Code == "" {
		return nil, errors.New("the sign-in response has no authorization code")
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {res.Code},
		"redirect_uri":  {redirect},
		"code_verifier": {verifier},
		"resource":      {d.Resource}, // AUTH-17, AUTH-26
	}
	ectx, cancel := withTimeout(ctx, 30*time.Second)
	defer cancel()
	t, err := tokenRequest(ectx, hc, d.AS.TokenEndpoint, reg.creds(), form, c.m.now)
	if err != nil {
		return nil, fmt.Errorf("exchanging the code failed: %w", err)
	}
	t.Issuer, t.Resource, t.TokenEndpoint, t.RevocationEndpoint = d.AS.Issuer, d.Resource, d.AS.TokenEndpoint, d.AS.RevocationEndpoint
	t.Registration = registrationRef(reg, regKey)
	if t.Scope == "" {
		t.Scope = scope // RFC 6749 §5.1: omitted means as requested
	}
	return t, nil
}

// authorizationError is the error a redirect carried. finish returns it
// only once the redirect's iss is validated, so the caller acts on the
// provider's error, never on a forged one (AUTH-25).
type authorizationError struct {
	Code, Description string
}

func (e *authorizationError) Error() string {
	msg := e.Code
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return fmt.Sprintf("the authorization server returned an error (%s)", msg)
}

// forgotClient reports whether the provider said it does not know the
// client: at the token endpoint, or in a validated redirect.
func forgotClient(err error) bool {
	var te *TokenError
	var ae *authorizationError
	return errors.As(err, &te) && te.Code == "invalid_client" ||
		errors.As(err, &ae) && (ae.Code == "invalid_client" || ae.Code == "unauthorized_client")
}

// selectScopes chooses the scope parameter (AUTH-18 to AUTH-20): the
// scopes set in the config, plus the challenge's; without configured
// scopes, the challenge's alone, else the resource's scopes_supported, else
// none. The challenge's scopes are authoritative for the request (AUTH-19),
// so configured ones add to them and never replace them. A step-up (403
// insufficient_scope) also keeps what was granted (AUTH-31).
// offline_access is added only when the authorization server lists it, and
// only to a non-empty request. No scope appears twice; the order is stable.
func selectScopes(configured []string, ch Challenge, resourceScopes, asScopes, granted []string) string {
	challenged := strings.Fields(ch.Scope)
	var chosen []string
	switch {
	case len(configured) > 0:
		chosen = configured
	case len(challenged) == 0:
		chosen = resourceScopes
	}
	scopes := union(union(nil, chosen), challenged)
	if ch.Error == "insufficient_scope" {
		scopes = union(union(nil, granted), scopes)
	}
	if len(scopes) > 0 && slices.Contains(asScopes, "offline_access") {
		scopes = union(scopes, []string{"offline_access"})
	}
	return strings.Join(scopes, " ")
}

// randomState is 32 random bytes, URL-safe (AUTH-21).
func randomState() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
