package oauth

import (
	"context"
	"errors"
	"strings"
	"sync"
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
