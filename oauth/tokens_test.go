package oauth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcptray/mcptray/oauth/oauthtest"
)

// eventLog collects a Manager's events.
type eventLog struct {
	mu     sync.Mutex
	events []Event
	ch     chan Event
}

func newEventLog() *eventLog { return &eventLog{ch: make(chan Event, 1000)} }

func (l *eventLog) record(_ string, e Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	l.ch <- e
}

// reasons is every event's reason, one per line.
func (l *eventLog) reasons() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, e := range l.events {
		b.WriteString(e.Reason + "\n")
	}
	return b.String()
}

func (l *eventLog) waitFor(t *testing.T, kind EventKind) Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e := <-l.ch:
			if e.Kind == kind {
				return e
			}
		case <-timeout:
			t.Fatalf("no event of kind %d", kind)
		}
	}
}

// Short-lived tokens with rotation, calls for a minute: no call fails and
// no refresh token is ever presented twice.
func TestRefreshKeepsCallsWorking(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{TokenLifetime: 2 * time.Second})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "short", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	ctx := context.Background()
	cs, err := connect(ctx, srv, c)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	failed := 0
	ticker := time.NewTicker(300 * time.Millisecond)
	defer ticker.Stop()
	for i := range 200 {
		<-ticker.C
		if err := callEcho(ctx, cs, "n"); err != nil {
			failed++
			t.Logf("call %d: %v", i, err)
		}
	}
	counts := srv.Counts()
	t.Logf("200 calls over %s: %d refreshes, %d failed", 200*300*time.Millisecond, counts.Refreshes, failed)
	if failed != 0 {
		t.Errorf("%d calls failed", failed)
	}
	if counts.RefreshReuse != 0 {
		t.Errorf("a refresh token was used twice (%d times)", counts.RefreshReuse)
	}
	if counts.Refreshes < 20 {
		t.Errorf("only %d refreshes for a minute of 2 s tokens", counts.Refreshes)
	}
	if counts.ResourceMissing != 0 {
		t.Errorf("%d token requests lacked resource", counts.ResourceMissing)
	}
}

// Concurrent requests that all find the token expiring share one refresh.
func TestRefreshIsSingleFlight(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{TokenLifetime: 2 * time.Second})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "sf", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	before := srv.Counts().Refreshes
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := c.refresh(context.Background(), true)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// Forced refreshes that overlap share one request; at most a few run
	// back to back, and none reuses a rotated token.
	if srv.Counts().RefreshReuse != 0 {
		t.Error("a refresh token was reused")
	}
	if n := srv.Counts().Refreshes - before; n < 1 || n > 20 {
		t.Errorf("%d refreshes", n)
	}
}

// An outage of the authorization server during refresh keeps the tokens;
// the refresh succeeds once it is back.
func TestRefreshDuringOutageKeepsTokens(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{TokenLifetime: 2 * time.Second})
	defer srv.Close()
	store := NewMemoryStore()
	events := newEventLog()
	m := testManager(t, store, func(c *Config) { c.OnEvent = events.record })
	c := m.Client(ServerConfig{ID: "outage", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	stored, _ := store.Get(tokenKey("outage"))

	srv.SetDown(true)
	e := events.waitFor(t, EventRefreshFailed)
	if e.NextRetry.IsZero() || !strings.Contains(e.Reason, "will retry") {
		t.Errorf("failure event = %+v", e)
	}
	if !c.HasTokens() {
		t.Fatal("a transient failure dropped the tokens")
	}
	if now, _ := store.Get(tokenKey("outage")); string(now) != string(stored) {
		t.Error("the stored tokens changed during the outage")
	}
	srv.SetDown(false)
	events.waitFor(t, EventRefreshed)
	if _, err := c.Token(); err != nil {
		t.Errorf("after the outage: %v", err)
	}
}

// A 5xx or an HTML error page from the token endpoint is transient too.
func TestTransientTokenEndpointFailures(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{TokenLifetime: time.Hour})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "tr", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	for _, f := range []struct {
		status int
		code   string
	}{{503, "temporarily_unavailable"}, {500, "server_error"}, {0, ""}} {
		srv.FailTokenRequests(1, f.status, f.code)
		_, err := c.refresh(context.Background(), true)
		if err == nil || !isTransient(err) {
			t.Errorf("status %d: err = %v, want a transient error", f.status, err)
		}
		if !c.HasTokens() {
			t.Fatalf("status %d dropped the tokens", f.status)
		}
	}
	if _, err := c.refresh(context.Background(), true); err != nil {
		t.Errorf("recovery: %v", err)
	}
}

func TestInvalidGrantNeedsSignIn(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	events := newEventLog()
	m := testManager(t, NewMemoryStore(), func(c *Config) { c.OnEvent = events.record })
	c := m.Client(ServerConfig{ID: "ig", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	srv.RevokeRefreshTokens()
	_, err := c.refresh(context.Background(), true)
	var te *TokenError
	if !errors.As(err, &te) || te.Code != "invalid_grant" {
		t.Fatalf("refresh = %v", err)
	}
	e := events.waitFor(t, EventNeedsAuth)
	if !strings.Contains(e.Reason, "sign in again") || c.HasTokens() {
		t.Errorf("event %+v, HasTokens %v", e, c.HasTokens())
	}
	if _, err := c.Token(); !errors.As(err, new(*NeedsAuthError)) {
		t.Errorf("Token after invalid_grant = %v", err)
	}
	// Signing in again works.
	signIn(t, c, &browserFollower{})
	if !c.HasTokens() {
		t.Error("no tokens after signing in again")
	}
}

// A provider that forgot the dynamic registration answers invalid_client:
// the registration is evicted and the next sign-in registers again.
func TestInvalidClientEvictsRegistration(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	store := NewMemoryStore()
	m := testManager(t, store)
	c := m.Client(ServerConfig{ID: "ic", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	srv.ForgetClients()
	if _, err := c.refresh(context.Background(), true); err == nil {
		t.Fatal("refresh with a forgotten client succeeded")
	}
	if keys, _ := store.List("oauth/client/ic/"); len(keys) != 0 {
		t.Errorf("the stale registration is still stored: %v", keys)
	}
	signIn(t, c, &browserFollower{})
	if n := srv.Counts().Registrations; n != 2 {
		t.Errorf("%d registrations, want 2", n)
	}
}

// A hub restarted between sign-in and refresh gets its tokens back from the
// store and refreshes them without a new sign-in.
func TestTokensSurviveRestart(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{TokenLifetime: 2 * time.Second})
	defer srv.Close()
	store := NewMemoryStore()
	m1 := NewManager(Config{Store: store, CallbackPort: freeCallbackPort(t)})
	signIn(t, m1.Client(ServerConfig{ID: "r", URL: srv.URL()}), &browserFollower{})
	m1.Close()
	authorizations := srv.Counts().Authorizations

	// Let the access token expire while "the app is closed".
	time.Sleep(2500 * time.Millisecond) // the token's own lifetime: nothing to wait on but time
	m2 := testManager(t, store)
	c := m2.Client(ServerConfig{ID: "r", URL: srv.URL()})
	if !c.HasTokens() {
		t.Fatal("the restarted manager has no tokens")
	}
	cs, err := connect(context.Background(), srv, c)
	if err != nil {
		t.Fatalf("connect after restart: %v", err)
	}
	defer cs.Close()
	if err := callEcho(context.Background(), cs, "back"); err != nil {
		t.Fatal(err)
	}
	if srv.Counts().Authorizations != authorizations {
		t.Error("the restart needed a new sign-in")
	}
}

func TestSignOutRevokes(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	store := NewMemoryStore()
	m := testManager(t, store)
	c := m.Client(ServerConfig{ID: "so", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	if err := c.SignOut(context.Background()); err != nil {
		t.Fatal(err)
	}
	if srv.Counts().Revocations == 0 {
		t.Error("nothing was revoked at the provider")
	}
	if _, err := store.Get(tokenKey("so")); err == nil {
		t.Error("tokens still stored after sign-out")
	}
	if c.HasTokens() {
		t.Error("HasTokens after sign-out")
	}
}

func TestForgetDeletesEverything(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	store := NewMemoryStore()
	m := testManager(t, store)
	signIn(t, m.Client(ServerConfig{ID: "gone", URL: srv.URL()}), &browserFollower{})
	if err := m.Forget(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	if keys, _ := store.List("oauth/"); len(keys) != 0 {
		t.Errorf("left behind: %v", keys)
	}
}

type refreshResult struct {
	tokens *Tokens
	err    error
}

// refreshAsync starts a forced refresh and hands back its result.
func refreshAsync(c *Client) <-chan refreshResult {
	res := make(chan refreshResult, 1)
	go func() {
		t, err := c.refresh(context.Background(), true)
		res <- refreshResult{t, err}
	}()
	return res
}

func awaitRefresh(t *testing.T, res <-chan refreshResult) refreshResult {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("the refresh never returned")
		return refreshResult{}
	}
}

func (c *Client) heldTokens() *Tokens {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tokens
}

// A refresh that was waiting at the token endpoint when the person signed
// out (or removed the server) must not bring the tokens back: not in
// memory, not in the store a restart reads. The provider here has no
// revocation endpoint, so the held refresh succeeds.
func TestRefreshInFlightDoesNotUndoSignOut(t *testing.T) {
	for _, how := range []string{"sign-out", "forget"} {
		t.Run(how, func(t *testing.T) {
			srv := oauthtest.NewServer(oauthtest.Options{NoRevocation: true})
			defer srv.Close()
			store := NewMemoryStore()
			m := testManager(t, store)
			c := m.Client(ServerConfig{ID: "out", URL: srv.URL()})
			signIn(t, c, &browserFollower{})
			hold := srv.HoldRefreshRequests()
			defer hold.Release()
			res := refreshAsync(c)
			waitArrived(t, hold)
			var err error
			if how == "sign-out" {
				err = c.SignOut(context.Background())
			} else {
				err = m.Forget(context.Background(), "out")
			}
			if err != nil {
				t.Fatal(err)
			}
			hold.Release()
			r := awaitRefresh(t, res)
			if n := srv.Counts().Refreshes; n != 1 {
				t.Fatalf("%d refreshes at the provider, want the held one", n)
			}
			if !errors.As(r.err, new(*NeedsAuthError)) {
				t.Errorf("the refresh after %s returned %v, want a NeedsAuthError", how, r.err)
			}
			if c.HasTokens() || c.heldTokens() != nil {
				t.Errorf("the refresh put the tokens back in memory after %s", how)
			}
			if _, err := store.Get(tokenKey("out")); err == nil {
				t.Errorf("the refresh stored tokens after %s", how)
			}
			if testManager(t, store).Client(ServerConfig{ID: "out", URL: srv.URL()}).HasTokens() {
				t.Errorf("after %s and a restart the server is signed in", how)
			}
		})
	}
}

// A sign-in that finishes while a refresh of the previous grant waits at
// the token endpoint is kept: the refreshed old grant does not overwrite
// it, in memory or in the store.
func TestRefreshInFlightDoesNotOverwriteNewerSignIn(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	store := NewMemoryStore()
	m := testManager(t, store)
	c := m.Client(ServerConfig{ID: "again", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	hold := srv.HoldRefreshRequests()
	defer hold.Release()
	res := refreshAsync(c)
	waitArrived(t, hold)
	signIn(t, c, &browserFollower{}) // its code exchange is not held
	newer := c.heldTokens()
	stored, _ := store.Get(tokenKey("again"))
	hold.Release()
	r := awaitRefresh(t, res)
	if n := srv.Counts().Refreshes; n != 1 {
		t.Fatalf("%d refreshes at the provider, want the held one", n)
	}
	if r.err != nil || r.tokens == nil || r.tokens.AccessToken != newer.AccessToken {
		t.Errorf("the refresh's callers got %v, %v; want the newer sign-in's tokens", r.tokens, r.err)
	}
	if c.heldTokens() != newer {
		t.Error("the refreshed old grant replaced the newer sign-in in memory")
	}
	if now, _ := store.Get(tokenKey("again")); string(now) != string(stored) {
		t.Error("the refreshed old grant replaced the newer sign-in in the store")
	}
	// Not revoked: at some providers revoking one grant ends every grant of
	// the app, the newer sign-in's included.
	if n := srv.Counts().Revocations; n != 0 {
		t.Errorf("%d revocations", n)
	}
}

// AUTH-28: a refresh that was waiting when the server's URL changed does
// not put back tokens issued for the old URL; its tokens are revoked.
func TestRefreshInFlightAcrossURLChangeIsDropped(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	store := NewMemoryStore()
	events := newEventLog()
	m := testManager(t, store, func(c *Config) { c.OnEvent = events.record })
	c := m.Client(ServerConfig{ID: "moved", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	stored, _ := store.Get(tokenKey("moved"))
	hold := srv.HoldRefreshRequests()
	defer hold.Release()
	res := refreshAsync(c)
	waitArrived(t, hold)
	m.Client(ServerConfig{ID: "moved", URL: "http://127.0.0.1:9/elsewhere/mcp"})
	hold.Release()
	r := awaitRefresh(t, res)
	if n := srv.Counts().Refreshes; n != 1 {
		t.Fatalf("%d refreshes at the provider, want the held one", n)
	}
	if r.err == nil || c.HasTokens() || c.heldTokens() != nil {
		t.Fatalf("after the URL changed: refresh %v, %v; HasTokens %v", r.tokens, r.err, c.HasTokens())
	}
	if _, err := c.Token(); !errors.As(err, new(*NeedsAuthError)) {
		t.Errorf("Token for the new URL = %v, want a NeedsAuthError", err)
	}
	if now, _ := store.Get(tokenKey("moved")); string(now) != string(stored) {
		t.Error("the tokens refreshed for the old URL were stored")
	}
	events.waitFor(t, EventRefreshed) // the refresh's end, after its tokens were revoked
	if n := srv.Counts().Revocations; n == 0 {
		t.Error("the dropped tokens were not revoked")
	}
}

// A server's URL changed (a typo) and changed back: the sign-in still
// stored for it is used again, with no new sign-in.
func TestURLChangedAndBackKeepsTheSignIn(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "typo", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	m.Client(ServerConfig{ID: "typo", URL: "http://127.0.0.1:9/mpc"})
	if c.HasTokens() {
		t.Fatal("tokens for another URL are in use")
	}
	m.Client(ServerConfig{ID: "typo", URL: srv.URL()})
	if _, err := c.Token(); err != nil {
		t.Errorf("Token after the URL came back: %v", err)
	}
	if !c.HasTokens() {
		t.Error("the stored sign-in was not used again")
	}
	if n := srv.Counts().Authorizations; n != 1 {
		t.Errorf("%d sign-ins at the provider, want 1", n)
	}
}

// A refresh that cannot even be made because the client identity is gone
// (the pre-registered client was removed from the configuration, the
// stored registration is damaged) needs a sign-in: it is not retried
// forever while the status says signed in.
func TestRefreshWithoutClientIdentityNeedsSignIn(t *testing.T) {
	t.Run("pre-registered client removed", func(t *testing.T) {
		srv := oauthtest.NewServer(oauthtest.Options{DisableDCR: true, Clients: []oauthtest.Client{{ID: "tray-app"}}})
		defer srv.Close()
		events := newEventLog()
		m := testManager(t, NewMemoryStore(), func(c *Config) { c.OnEvent = events.record })
		c := m.Client(ServerConfig{ID: "pre", URL: srv.URL(), ClientID: "tray-app"})
		signIn(t, c, &browserFollower{})
		m.Client(ServerConfig{ID: "pre", URL: srv.URL()})
		checkNeedsSignIn(t, c, events, "pre-registered client was removed")
	})
	t.Run("registration damaged", func(t *testing.T) {
		srv := oauthtest.NewServer(oauthtest.Options{})
		defer srv.Close()
		store := NewMemoryStore()
		events := newEventLog()
		m := testManager(t, store, func(c *Config) { c.OnEvent = events.record })
		c := m.Client(ServerConfig{ID: "dmg", URL: srv.URL()})
		signIn(t, c, &browserFollower{})
		keys, _ := store.List("oauth/client/dmg/")
		if len(keys) != 1 {
			t.Fatalf("registrations stored: %v", keys)
		}
		_ = store.Set(keys[0], []byte("{"))
		checkNeedsSignIn(t, c, events, "registration is damaged")
		signIn(t, c, &browserFollower{}) // registers again
		if n := srv.Counts().Registrations; n != 2 || !c.HasTokens() {
			t.Errorf("%d registrations, HasTokens %v: want a new registration and a sign-in", n, c.HasTokens())
		}
	})
}

func checkNeedsSignIn(t *testing.T, c *Client, events *eventLog, reason string) {
	t.Helper()
	_, err := c.refresh(context.Background(), true)
	if !errors.As(err, new(*NeedsAuthError)) || isTransient(err) || !strings.Contains(err.Error(), reason) {
		t.Fatalf("refresh = %v, want a NeedsAuthError that is not transient", err)
	}
	if e := events.waitFor(t, EventNeedsAuth); !strings.Contains(e.Reason, reason) {
		t.Errorf("event = %+v", e)
	}
	if info := c.Info(); info.SignedIn || !strings.Contains(info.Problem, reason) {
		t.Errorf("info = %+v", info)
	}
	if _, err := c.Token(); !errors.As(err, new(*NeedsAuthError)) {
		t.Errorf("Token = %v", err)
	}
}

// expires_in beyond what time.Duration holds (292 years) is capped
// instead of wrapping to an expiry in the past; zero or negative means
// the lifetime is unknown, as when expires_in is missing.
func TestOddExpiresIn(t *testing.T) {
	const year = 365 * 24 * time.Hour
	for _, tc := range []struct {
		expiresIn string
		unknown   bool
	}{{"1e12", false}, {"9223372037", false}, {"0", true}, {"-60", true}} {
		t.Run(tc.expiresIn, func(t *testing.T) {
			srv := oauthtest.NewServer(oauthtest.Options{ExpiresIn: tc.expiresIn})
			defer srv.Close()
			c := testManager(t, NewMemoryStore()).Client(ServerConfig{ID: "odd", URL: srv.URL()})
			signIn(t, c, &browserFollower{})
			info := c.Info()
			switch left := time.Until(info.Expiry); {
			case tc.unknown && !info.Expiry.IsZero():
				t.Errorf("expiry %s, want none (unknown)", info.Expiry)
			case !tc.unknown && (left < 9*year || left > 11*year):
				t.Errorf("expiry %s (in %s), want it capped at about ten years", info.Expiry, left)
			}
			if _, err := c.Token(); err != nil {
				t.Error(err)
			}
		})
	}
}

// nextOutcome waits for a refresh's outcome: the next event that is not
// EventRefreshing (or the sign-in's EventSignedIn).
func (l *eventLog) nextOutcome(t *testing.T) Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e := <-l.ch:
			if e.Kind != EventRefreshing && e.Kind != EventSignedIn {
				return e
			}
		case <-timeout:
			t.Fatal("no refresh outcome")
		}
	}
}

// A 429 to the proactive refresh says nothing about the grant: the tokens
// are kept, the still-valid access token goes on being used, the refresh
// waits the Retry-After the provider asked for, then succeeds.
func TestRateLimitedRefreshKeepsTheGrant(t *testing.T) {
	r := newRig(t, oauthtest.Options{}, NewMemoryStore())
	before, _ := r.c.Token()
	r.jumpTo(4 * time.Minute) // inside the refresh lead, still valid
	r.srv.FailTokenRequestsRetryAfter(1, http.StatusTooManyRequests, "", "120")
	r.c.Start()

	e := r.events.nextOutcome(t)
	if e.Kind != EventRefreshFailed || e.Expired {
		t.Fatalf("after a 429: event %+v, want a transient failure of a valid token", e)
	}
	if wait := e.NextRetry.Sub(r.clock.Now()); wait < 110*time.Second || wait > 120*time.Second {
		t.Errorf("retry in %s, want the 120 s the provider asked for", wait)
	}
	if !r.c.HasTokens() {
		t.Fatal("a 429 dropped the grant")
	}
	if now, err := r.c.Token(); err != nil || now.AccessToken != before.AccessToken {
		t.Errorf("Token after a 429 = %v; want the old, still valid token", err)
	}
	if _, err := r.call("rate limited"); err != nil {
		t.Errorf("a call with the still-valid token: %v", err)
	}

	r.clock.Jump(121 * time.Second)
	r.c.Start()
	if e := r.events.nextOutcome(t); e.Kind != EventRefreshed {
		t.Errorf("the retry after Retry-After: %+v", e)
	}
}

// Token endpoint answers that are errors but do not say the grant is gone
// (rate limits, timeouts, a 4xx without a grant error code) keep the
// tokens; a refresh is tried again later.
func TestNonFinalRefreshErrorsKeepTheGrant(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "nf", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	for _, f := range []struct {
		status int
		code   string
	}{{429, ""}, {429, "slow_down"}, {408, ""}, {400, "invalid_request"}, {401, ""}, {403, ""}} {
		srv.FailTokenRequests(1, f.status, f.code)
		_, err := c.refresh(context.Background(), true)
		if err == nil || !isTransient(err) {
			t.Errorf("HTTP %d %q: err = %v, want a transient error", f.status, f.code, err)
		}
		if !c.HasTokens() {
			t.Fatalf("HTTP %d %q dropped the tokens", f.status, f.code)
		}
	}
	if _, err := c.refresh(context.Background(), true); err != nil {
		t.Errorf("recovery: %v", err)
	}
}

// unauthorized_client (the client may no longer refresh) ends the grant
// like invalid_client: the reason asks for a sign-in and the dynamic
// registration is registered again.
func TestUnauthorizedClientNeedsSignIn(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	store := NewMemoryStore()
	events := newEventLog()
	m := testManager(t, store, func(c *Config) { c.OnEvent = events.record })
	c := m.Client(ServerConfig{ID: "uc", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	srv.FailTokenRequests(1, http.StatusBadRequest, "unauthorized_client")
	_, err := c.refresh(context.Background(), true)
	if err == nil || isTransient(err) {
		t.Fatalf("refresh = %v, want a final error", err)
	}
	e := events.nextOutcome(t)
	if e.Kind != EventNeedsAuth || !strings.Contains(e.Reason, "sign in again") || c.HasTokens() {
		t.Errorf("event %+v, HasTokens %v", e, c.HasTokens())
	}
	if keys, _ := store.List("oauth/client/uc/"); len(keys) != 0 {
		t.Errorf("the registration is still stored: %v", keys)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"120", 120 * time.Second},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{"Sun, 01 Mar 2026 12:01:30 GMT", 90 * time.Second},
		{"Sun, 01 Mar 2026 11:00:00 GMT", 0},             // in the past
		{"99999999999999999999", maxRetryAfter},          // beyond int64
		{"Sun, 01 Mar 2099 12:00:00 GMT", maxRetryAfter}, // far away
	} {
		if got := parseRetryAfter(tc.v, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.v, got, tc.want)
		}
	}
}

// A server that rejects even a fresh token (another audience) gets one
// forced refresh; after that its 401s are "sign in again", not a refresh
// per request that rotates the refresh token each time.
func TestTokenRejectedAfterRefreshNeedsSignIn(t *testing.T) {
	r := newRig(t, oauthtest.Options{}, NewMemoryStore())
	r.srv.RejectAccessTokens(true)
	before := r.srv.Counts().Refreshes
	if _, err := r.call("first"); err == nil {
		t.Fatal("a call with a rejected token succeeded")
	}
	if n := r.srv.Counts().Refreshes - before; n != 1 {
		t.Fatalf("%d refreshes after the first 401, want 1", n)
	}
	// go-sdk closes a session whose retried request got 401: each attempt
	// is a new connection, as the hub's reconnects are.
	attempt := func() error {
		cs, err := connect(context.Background(), r.srv, r.c)
		if err == nil {
			cs.Close()
		}
		return err
	}
	for i := range 3 {
		if err := attempt(); err == nil || !strings.Contains(err.Error(), "rejected a just-refreshed access token") {
			t.Errorf("attempt %d: %v, want the sign-in reason", i, err)
		}
	}
	r.clock.Jump(time.Minute) // past the fresh window: the forced refresh's token is still known
	if err := attempt(); err == nil || !strings.Contains(err.Error(), "sign in again") {
		t.Errorf("an attempt a minute later: %v", err)
	}
	if n := r.srv.Counts().Refreshes - before; n != 1 {
		t.Errorf("%d refreshes in all, want 1", n)
	}

	// What go-sdk gets from Authorize, the hub turns into needs_auth.
	tok, _ := r.c.Token()
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL(), nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp := &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{}, Body: http.NoBody}
	if err := r.c.Authorize(context.Background(), req, resp); !errors.As(err, new(*NeedsAuthError)) {
		t.Errorf("Authorize = %v, want a NeedsAuthError", err)
	}

	// The server accepts tokens again: the token it rejected works, nothing
	// was dropped.
	r.srv.RejectAccessTokens(false)
	if err := attempt(); err != nil {
		t.Errorf("a connection once the server accepts the token: %v", err)
	}
}

// A pre-registered client's secret read on use (ClientSecretFunc): while
// it cannot be read (a locked keyring) a refresh fails without reaching
// the provider and the grant is kept; once it can, the refresh goes out
// with it.
func TestClientSecretReadOnUse(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{DisableDCR: true, Clients: []oauthtest.Client{{ID: "app", Secret: "s3cret-value"}}})
	defer srv.Close()
	var locked atomic.Bool
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "pre", URL: srv.URL(), ClientID: "app", ClientSecretFunc: func() (string, error) {
		if locked.Load() {
			return "", errors.New("the keyring is locked")
		}
		return "s3cret-value", nil
	}})
	signIn(t, c, &browserFollower{})
	before := srv.Counts().TokenRequests

	locked.Store(true)
	r := refreshAsync(c)
	if res := awaitRefresh(t, r); !errors.Is(res.err, ErrKeyringUnavailable) || !isTransient(res.err) {
		t.Fatalf("refresh with the keyring locked: %v, want a transient keyring error", res.err)
	}
	if n := srv.Counts().TokenRequests; n != before {
		t.Errorf("%d token requests went out without the secret", n-before)
	}
	if !c.HasTokens() {
		t.Fatal("the grant was dropped")
	}

	locked.Store(false)
	if res := awaitRefresh(t, refreshAsync(c)); res.err != nil {
		t.Fatalf("refresh once the keyring answers: %v", res.err)
	}
}

// AUTH-20: a provider need not issue a refresh token. Without one the
// sign-in shows as not refreshable, and once the access token expires the
// client says a sign-in is needed instead of sending a refresh request
// (it would have nothing to send).
func TestNoRefreshTokenNeedsSignInAtExpiry(t *testing.T) {
	r := newRig(t, oauthtest.Options{NoRefreshTokens: true, TokenLifetime: 10 * time.Minute}, NewMemoryStore())
	if info := r.c.Info(); !info.SignedIn || info.Refreshable {
		t.Errorf("after sign-in: info = %+v, want signed in and not refreshable", info)
	}
	signedIn := r.srv.Counts()
	if signedIn.TokenRequests != 1 {
		t.Fatalf("%d token requests to sign in, want the code exchange alone", signedIn.TokenRequests)
	}

	// Where a refresh token would be refreshed ahead of expiry, the access
	// token is simply used.
	r.jumpTo(time.Minute)
	if _, err := r.call("near expiry"); err != nil {
		t.Fatalf("call before expiry: %v", err)
	}

	r.jumpTo(-time.Second) // expired
	if _, err := r.call("expired"); err == nil {
		t.Error("a call with the expired token worked")
	}
	const reason = "gave no refresh token: sign in again"
	if e := r.events.waitFor(t, EventNeedsAuth); !strings.Contains(e.Reason, reason) {
		t.Errorf("event = %+v, want it to say %q", e, reason)
	}
	if _, err := r.c.Token(); !errors.As(err, new(*NeedsAuthError)) || !strings.Contains(err.Error(), reason) {
		t.Errorf("Token = %v, want a NeedsAuthError saying %q", err, reason)
	}
	if info := r.c.Info(); info.SignedIn || info.Refreshable || !strings.Contains(info.Problem, reason) {
		t.Errorf("after expiry: info = %+v", info)
	}
	if n := r.srv.Counts(); n.TokenRequests != signedIn.TokenRequests || n.Refreshes != 0 {
		t.Errorf("%d token requests after the sign-in, %d refreshes: want none", n.TokenRequests-signedIn.TokenRequests, n.Refreshes)
	}
}

// The server's URL is edited in a way that keeps the resource (a query
// added) while a refresh is out: the grant in use is kept, so that
// refresh's rotated refresh token is stored and used, and the next
// refresh works (reading the store again had handed out the old refresh
// token, whose reuse revokes the grant).
func TestAURLEditOfTheSameResourceKeepsARefreshUnderWay(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "edit", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	hold := srv.HoldRefreshRequests()
	defer hold.Release()
	res := refreshAsync(c)
	waitArrived(t, hold)
	m.Client(ServerConfig{ID: "edit", URL: srv.URL() + "?tenant=a"}) // the same resource
	if !c.HasTokens() {
		t.Fatal("the edit dropped the grant")
	}
	hold.Release()
	if r := awaitRefresh(t, res); r.err != nil {
		t.Fatalf("the refresh under way: %v", r.err)
	}
	if _, err := c.refresh(t.Context(), true); err != nil {
		t.Errorf("the next refresh: %v (reuses %d)", err, srv.Counts().RefreshReuse)
	}
}

// Two hubs on two configuration files share one secret store, and both
// name a server "demo": each keeps a grant of its own (Namespaced), so
// one's refresh does not spend the other's refresh token, and removing
// the server from one file signs the other out of nothing.
func TestTwoConfigurationsKeepTheirOwnSignIns(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	shared := NewMemoryStore()
	ma := testManager(t, Namespaced(shared, "a"))
	mb := testManager(t, Namespaced(shared, "b"))
	a := ma.Client(ServerConfig{ID: "demo", URL: srv.URL()})
	b := mb.Client(ServerConfig{ID: "demo", URL: srv.URL()})
	signIn(t, a, &browserFollower{})
	signIn(t, b, &browserFollower{})
	if _, err := b.refresh(t.Context(), true); err != nil {
		t.Fatalf("b's refresh: %v", err)
	}
	if _, err := a.refresh(t.Context(), true); err != nil {
		t.Errorf("a's refresh after b's: %v", err)
	}
	if err := mb.Forget(t.Context(), "demo"); err != nil {
		t.Fatal(err)
	}
	if names, _ := Namespaced(shared, "a").List("oauth/"); len(names) == 0 {
		t.Error("forgetting b's server deleted a's sign-in")
	}
	if names, _ := Namespaced(shared, "b").List("oauth/"); len(names) != 0 {
		t.Errorf("b's sign-in is still stored: %v", names)
	}
	if _, err := a.refresh(t.Context(), true); err != nil {
		t.Errorf("a's refresh after b's server was removed: %v", err)
	}
}
