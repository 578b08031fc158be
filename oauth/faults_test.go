package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/testlog"
	"github.com/mcptray/mcptray/oauth/oauthtest"
	"github.com/mcptray/mcptray/oauth/secretstore"
)

// jumpClock is a wall clock that runs with real time and can jump ahead,
// as a machine waking from sleep sees it do. The client and the oauthtest
// server share it, so a token the client thinks expired is expired at the
// MCP server too.
type jumpClock struct{ offset atomic.Int64 }

func (c *jumpClock) Now() time.Time       { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *jumpClock) Jump(d time.Duration) { c.offset.Add(int64(d)) }

// rig is a signed-in client of an oauthtest server with one-hour tokens,
// on a jumping clock, with an open MCP session.
type rig struct {
	srv    *oauthtest.Server
	clock  *jumpClock
	store  Store
	events *eventLog
	c      *Client
	cs     *mcp.ClientSession
}

func newRig(t *testing.T, opts oauthtest.Options, store Store, cfg ...func(*Config)) *rig {
	t.Helper()
	r := &rig{clock: &jumpClock{}, store: store, events: newEventLog()}
	opts.Now = r.clock.Now
	r.srv = oauthtest.NewServer(opts)
	t.Cleanup(r.srv.Close)
	logs := &testlog.Buffer{}
	cfg = append([]func(*Config){func(c *Config) {
		c.Now, c.OnEvent = r.clock.Now, r.events.record
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}}, cfg...)
	// Whatever fault the test made, no secret the provider issued reaches
	// the log or an event (what the status shows).
	t.Cleanup(func() {
		shown := logs.String() + r.events.reasons()
		for _, s := range r.srv.Secrets() {
			if strings.Contains(shown, s) {
				kind, _, _ := strings.Cut(s, "_")
				t.Errorf("a secret the provider issued (a %s_ value) is in the log or a status reason", kind)
			}
		}
	})
	m := testManager(t, store, cfg...)
	r.c = m.Client(ServerConfig{ID: "faulty", URL: r.srv.URL()})
	signIn(t, r.c, &browserFollower{})
	cs, err := connect(context.Background(), r.srv, r.c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	r.cs = cs
	return r
}

// jumpTo moves the clock to d before the access token expires.
func (r *rig) jumpTo(d time.Duration) {
	r.clock.Jump(r.c.Info().Expiry.Sub(r.clock.Now()) - d)
}

// call makes an MCP tool call and says how long it took.
func (r *rig) call(msg string) (time.Duration, error) {
	start := time.Now()
	err := callEcho(context.Background(), r.cs, msg)
	return time.Since(start), err
}

func (r *rig) stored(t *testing.T) []byte {
	t.Helper()
	b, err := r.store.Get(tokenKey("faulty"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitArrived waits until a held token request reached the server.
func waitArrived(t *testing.T, h *oauthtest.Hold) {
	t.Helper()
	select {
	case <-h.Arrived():
	case <-time.After(30 * time.Second):
		t.Fatal("no token request reached the authorization server")
	}
}

// A token endpoint that hangs while the access token is still valid: the
// proactive refresh waits at the server, and calls go on with the old
// token meanwhile. In the last moments before expiry a call waits for the
// refresh only until the token is about to expire, then uses it. The
// refresh finishes once the server answers.
func TestHangingTokenEndpointWhileTokenValid(t *testing.T) {
	r := newRig(t, oauthtest.Options{}, NewMemoryStore(), func(c *Config) { c.recheck = 20 * time.Millisecond })
	oldExpiry := r.c.Info().Expiry
	before := r.srv.Counts()
	hold := r.srv.HoldTokenRequests()
	defer hold.Release()

	// Inside the proactive window (refreshLead, 5 min): the timer starts
	// the refresh, which hangs.
	r.jumpTo(4 * time.Minute)
	waitArrived(t, hold)
	for i := range 3 {
		took, err := r.call("while refreshing")
		if err != nil {
			t.Fatalf("call %d during a hanging refresh: %v", i, err)
		}
		if took > 5*time.Second {
			t.Errorf("call %d took %s: it waited for the refresh", i, took)
		}
	}

	// Inside the synchronous window (syncMargin, 30 s): the call waits for
	// the refresh in flight until 15 s (syncMargin/2) before expiry, here
	// 200 ms, then goes with the old token.
	r.jumpTo(15*time.Second + 200*time.Millisecond)
	took, err := r.call("near expiry")
	if err != nil {
		t.Fatalf("call near expiry during a hanging refresh: %v", err)
	}
	if took > 5*time.Second {
		t.Errorf("the call near expiry took %s; want it to wait at most about 200 ms for the refresh", took)
	}
	if n := r.srv.Counts(); n.TokenRequests != before.TokenRequests+1 || n.Refreshes != 0 {
		t.Errorf("%d token requests, %d refreshes: want the one hanging refresh, shared",
			n.TokenRequests-before.TokenRequests, n.Refreshes)
	}

	hold.Release()
	r.events.waitFor(t, EventRefreshed)
	n := r.srv.Counts()
	if n.Refreshes != 1 || n.TokenRequests != before.TokenRequests+1 || n.RefreshReuse != 0 {
		t.Errorf("after the server answered: %+v", n)
	}
	if !r.c.Info().Expiry.After(oldExpiry) {
		t.Error("the refresh did not replace the token")
	}
	if _, err := r.call("after"); err != nil {
		t.Fatal(err)
	}
}

// A token endpoint that hangs after the access token expired: the call
// fails within the refresh timeout, saying which endpoint timed out. The
// tokens are kept, and the refresh succeeds once the server answers.
func TestHangingTokenEndpointAfterExpiry(t *testing.T) {
	const timeout = 300 * time.Millisecond
	r := newRig(t, oauthtest.Options{}, NewMemoryStore(), func(c *Config) { c.RefreshTimeout = timeout })
	stored := r.stored(t)
	before := r.srv.Counts()
	hold := r.srv.HoldTokenRequests()
	defer hold.Release()
	r.clock.Jump(2 * time.Hour)

	took, err := r.call("expired")
	host := strings.TrimPrefix(r.srv.Issuer, "http://")
	if err == nil || !strings.Contains(err.Error(), "the token endpoint "+host+" timed out") {
		t.Fatalf("call with an expired token and a hanging token endpoint: %v", err)
	}
	if took > timeout+5*time.Second {
		t.Errorf("the call failed after %s; the refresh timeout is %s", took, timeout)
	}
	t.Logf("failed after %s: %v", took.Round(time.Millisecond), err)
	if e := r.events.waitFor(t, EventRefreshFailed); !e.Expired || !strings.Contains(e.Reason, "timed out") {
		t.Errorf("failure event = %+v", e)
	}
	if !r.c.HasTokens() || string(r.stored(t)) != string(stored) {
		t.Fatal("the timeout cost the tokens")
	}
	if n := r.srv.Counts(); n.Refreshes != 0 || n.MCPUnauthenticated != 0 {
		t.Errorf("counts %+v: the refresh must not have completed, nor the expired token been sent", n)
	}

	// The server answers again; past the retry backoff, the next call
	// refreshes and succeeds.
	select {
	case <-hold.GaveUp():
	case <-time.After(30 * time.Second):
		t.Fatal("the server never saw the client give up the held refresh")
	}
	hold.Release()
	r.clock.Jump(time.Minute)
	if _, err := r.call("recovered"); err != nil {
		t.Fatalf("after the token endpoint recovered: %v", err)
	}
	if n := r.srv.Counts(); n.Refreshes != 1 || n.RefreshReuse != 0 || n.TokenRequests != before.TokenRequests+2 {
		t.Errorf("counts after recovery: %+v", n)
	}
}

// Answers from the token endpoint that are not OAuth: a login page, a
// redirect loop, a redirect elsewhere. Each is one request (redirects are
// never followed, so the refresh token goes nowhere else), a transient
// error saying what happened, and the tokens are kept.
func TestTokenEndpointAnswersThatAreNotOAuth(t *testing.T) {
	var trapped atomic.Int32
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		trapped.Add(1)
		body, _ := io.ReadAll(req.Body)
		if strings.Contains(string(body), "refresh_token") {
			t.Errorf("the refresh token was posted to the redirect target")
		}
		http.Error(w, "trap", http.StatusTeapot)
	}))
	defer trap.Close()
	r := newRig(t, oauthtest.Options{}, NewMemoryStore())
	host := strings.TrimPrefix(r.srv.Issuer, "http://")
	stored := r.stored(t)

	for _, tc := range []struct {
		name   string
		inject func()
		want   string
	}{
		{"html login page", func() { r.srv.AnswerTokenRequestsWithHTML(1) },
			"the token endpoint " + host + " answered HTTP 200 with something that is not an OAuth response"},
		{"302 to itself", func() { r.srv.RedirectTokenRequests(1, http.StatusFound, "") },
			"the token endpoint " + host + " answered HTTP 302, a redirect to " + host + "/token; token requests are never redirected"},
		{"307 elsewhere", func() { r.srv.RedirectTokenRequests(1, http.StatusTemporaryRedirect, trap.URL+"/token") },
			"the token endpoint " + host + " answered HTTP 307, a redirect to " + strings.TrimPrefix(trap.URL, "http://") + "/token; token requests are never redirected"},
	} {
		before := r.srv.Counts()
		tc.inject()
		_, err := r.c.refresh(context.Background(), true)
		if err == nil || !isTransient(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want a transient error containing %q", tc.name, err, tc.want)
		}
		after := r.srv.Counts()
		if n := after.TokenRequests - before.TokenRequests; n != 1 {
			t.Errorf("%s: the server saw %d token requests, want 1", tc.name, n)
		}
		if after.Refreshes != before.Refreshes {
			t.Errorf("%s: a refresh happened", tc.name)
		}
		if !r.c.HasTokens() || string(r.stored(t)) != string(stored) {
			t.Fatalf("%s: the tokens were not kept", tc.name)
		}
		if _, err := r.call(tc.name); err != nil {
			t.Errorf("%s: a call with the kept token: %v", tc.name, err)
		}
	}
	if n := trapped.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
	if _, err := r.c.refresh(context.Background(), true); err != nil {
		t.Fatalf("refresh once the token endpoint answers properly: %v", err)
	}
	if n := r.srv.Counts(); n.Refreshes != 1 || n.RefreshReuse != 0 {
		t.Errorf("counts after recovery: %+v", n)
	}
}

// Metadata discovery (GETs, which follow redirects) stops a redirect loop
// after maxRedirects, with a clear error, before any browser opens.
func TestMetadataRedirectLoopFailsSignIn(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{MetadataRedirectLoop: true})
	defer srv.Close()
	c := testManager(t, NewMemoryStore()).Client(ServerConfig{ID: "loop", URL: srv.URL()})
	b := &browserFollower{}
	err := c.SignIn(context.Background(), SignInOptions{Open: b.open})
	if err == nil || !strings.Contains(err.Error(), "redirected 3 times without an answer (HTTP 302); is it a redirect loop?") {
		t.Fatalf("sign-in with a metadata redirect loop: %v", err)
	}
	if n := srv.Counts().MetadataRequests; n != maxRedirects {
		t.Errorf("%d metadata requests; want %d (the first, and the redirects followed before the limit)", n, maxRedirects)
	}
	if b.calls.Load() != 0 {
		t.Error("a browser was opened")
	}
}

// The machine slept past the token's expiry and the refresh timer has not
// fired yet (it runs on the monotonic clock, which stopped): the next call
// refreshes before it sends anything, so the expired token never reaches
// the server.
func TestSuspendRefreshesBeforeTheNextCall(t *testing.T) {
	r := newRig(t, oauthtest.Options{}, NewMemoryStore())
	if _, err := r.call("before sleep"); err != nil {
		t.Fatal(err)
	}
	before := r.srv.Counts()
	r.clock.Jump(5 * time.Hour)

	if _, err := r.call("after wake"); err != nil {
		t.Fatalf("the first call after waking: %v", err)
	}
	after := r.srv.Counts()
	if n := after.Refreshes - before.Refreshes; n != 1 {
		t.Errorf("%d refreshes before the call returned, want 1", n)
	}
	if n := after.MCPUnauthenticated - before.MCPUnauthenticated; n != 0 {
		t.Errorf("the server rejected %d requests: the expired token was sent before the refresh", n)
	}
	if !r.c.Info().Expiry.After(r.clock.Now()) {
		t.Error("the token in use is still the expired one")
	}
}

// After a wake, the refresh timer's next look at the wall clock (every 30
// s, here 20 ms) refreshes the expired token before any call needs it.
func TestSuspendTimerRefreshesAfterWake(t *testing.T) {
	r := newRig(t, oauthtest.Options{}, NewMemoryStore(), func(c *Config) { c.recheck = 20 * time.Millisecond })
	before := r.srv.Counts()
	r.clock.Jump(5 * time.Hour)

	r.events.waitFor(t, EventRefreshed) // no call made: the timer did it
	if n := r.srv.Counts().Refreshes - before.Refreshes; n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	if !r.c.Info().Expiry.After(r.clock.Now()) {
		t.Error("the token is still the expired one")
	}
	if _, err := r.call("after wake"); err != nil {
		t.Fatal(err)
	}
	after := r.srv.Counts()
	if after.Refreshes != before.Refreshes+1 || after.MCPUnauthenticated != before.MCPUnauthenticated {
		t.Errorf("the call after the timer's refresh: %+v, before %+v", after, before)
	}
}

// The keyring is locked when MCP Tray starts, with tokens stored from an
// earlier run: the server says the keyring is locked (not "sign in"), a
// sign-in is refused before the browser, reads are retried at most every
// storeRetry, and once the keyring answers the stored tokens are used
// without a new sign-in.
func TestKeyringLockedAtStart(t *testing.T) {
	keys := secretstore.NewLockableKeys()
	dir := t.TempDir()
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	first := testManager(t, secretstore.New(dir, keys))
	signIn(t, first.Client(ServerConfig{ID: "kr", URL: srv.URL()}), &browserFollower{})
	first.Close()
	before := srv.Counts()

	// The next run: a new store, whose data key is in the locked keyring.
	keys.Locked.Store(true)
	clock := &jumpClock{}
	m := testManager(t, secretstore.New(dir, keys), func(c *Config) { c.Now = clock.Now })
	c := m.Client(ServerConfig{ID: "kr", URL: srv.URL()})
	c.Start()
	ctx := context.Background()
	_, err := connect(ctx, srv, c)
	if err == nil || !strings.Contains(err.Error(), "the keyring is locked or unavailable, so the stored sign-in cannot be read") ||
		!errors.Is(err, secretstore.ErrTimeout) {
		t.Fatalf("connect with a locked keyring: %v", err)
	}
	if errors.As(err, new(*NeedsAuthError)) || !errors.Is(err, ErrKeyringUnavailable) {
		t.Errorf("a locked keyring is not told as such: %v", err)
	}
	if info := c.Info(); info.SignedIn || !strings.Contains(info.Problem, "keyring is locked") {
		t.Errorf("info = %+v", info)
	}
	if n := srv.Counts(); n.MCPRequests != before.MCPRequests {
		t.Errorf("%d requests went out without the stored token", n.MCPRequests-before.MCPRequests)
	}

	// Within storeRetry the locked keyring is not asked again.
	reads := keys.Reads.Load()
	for range 5 {
		if _, err := c.TokenSource(ctx); err == nil {
			t.Fatal("TokenSource succeeded with a locked keyring")
		}
	}
	if _, err := connect(ctx, srv, c); err == nil {
		t.Fatal("connected with a locked keyring")
	}
	if n := keys.Reads.Load() - reads; n != 0 {
		t.Errorf("the locked keyring was asked %d more times within %s", n, storeRetry)
	}
	clock.Jump(storeRetry)
	if _, err := c.TokenSource(ctx); err == nil || keys.Reads.Load() != reads+1 {
		t.Errorf("after %s: err %v, %d reads; want one more failed read", storeRetry, err, keys.Reads.Load()-reads)
	}

	// A sign-in now could not store its tokens: it is refused before the browser.
	b := &browserFollower{}
	err = c.SignIn(ctx, SignInOptions{Open: b.open})
	if err == nil || !strings.Contains(err.Error(), "cannot sign in: the keyring is locked or unavailable, so the tokens could not be stored") {
		t.Errorf("sign-in with a locked keyring: %v", err)
	}
	if b.calls.Load() != 0 {
		t.Error("a browser was opened for a sign-in whose tokens could not be stored")
	}

	// The keyring is unlocked: within storeRetry of the last try the
	// remembered error stands; after it, the stored tokens are used.
	keys.Locked.Store(false)
	if _, err := c.TokenSource(ctx); err == nil {
		t.Error("the keyring was read again within storeRetry")
	}
	clock.Jump(storeRetry)
	cs, err := connect(ctx, srv, c)
	if err != nil {
		t.Fatalf("connect after the keyring was unlocked: %v", err)
	}
	defer cs.Close()
	if err := callEcho(ctx, cs, "unlocked"); err != nil {
		t.Fatal(err)
	}
	if info := c.Info(); !info.SignedIn || info.Problem != "" {
		t.Errorf("info after unlocking = %+v", info)
	}
	if n := srv.Counts(); n.Authorizations != before.Authorizations || n.MCPUnauthenticated != before.MCPUnauthenticated {
		t.Errorf("unlocking needed a sign-in or met a 401: %+v, before %+v", n, before)
	}
}

// A first sign-in with the keyring locked fails before the browser opens,
// and stores nothing.
func TestSignInWithLockedKeyring(t *testing.T) {
	keys := secretstore.NewLockableKeys()
	keys.Locked.Store(true)
	store := secretstore.New(t.TempDir(), keys)
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	c := testManager(t, store).Client(ServerConfig{ID: "kr", URL: srv.URL()})
	b := &browserFollower{}
	err := c.SignIn(context.Background(), SignInOptions{Open: b.open})
	if err == nil || !strings.Contains(err.Error(), "cannot sign in: the keyring is locked or unavailable, so the tokens could not be stored") ||
		!errors.Is(err, secretstore.ErrTimeout) {
		t.Fatalf("sign-in with a locked keyring: %v", err)
	}
	if b.calls.Load() != 0 {
		t.Error("a browser was opened")
	}
	if n := srv.Counts(); n.Registrations != 0 || n.Authorizations != 0 {
		t.Errorf("the provider was asked anyway: %+v", n)
	}
	if names, _ := store.List(""); len(names) != 0 {
		t.Errorf("stored: %v", names)
	}
	keys.Locked.Store(false)
	signIn(t, c, b)
	if !c.HasTokens() {
		t.Error("no tokens after unlocking and signing in")
	}
}

// The keyring locks after the data key was loaded (the screen locked):
// secretstore keeps the key, so refreshes with rotation go on being
// stored, and a later run reads the rotated tokens.
func TestKeyringLockedLater(t *testing.T) {
	keys := secretstore.NewLockableKeys()
	dir := t.TempDir()
	store := secretstore.New(dir, keys)
	r := newRig(t, oauthtest.Options{}, store)
	keys.Locked.Store(true)
	reads := keys.Reads.Load()

	var last string
	for i := range 2 {
		if _, err := r.c.refresh(context.Background(), true); err != nil {
			t.Fatalf("refresh %d with the keyring locked: %v", i, err)
		}
		var st Tokens
		if err := json.Unmarshal(r.stored(t), &st); err != nil {
			t.Fatal(err)
		}
		r.c.mu.Lock()
		current := r.c.tokens.RefreshToken
		r.c.mu.Unlock()
		if st.RefreshToken != current || st.RefreshToken == last {
			t.Errorf("refresh %d: the rotated refresh token was not stored", i)
		}
		last = st.RefreshToken
		if _, err := r.call("locked"); err != nil {
			t.Fatal(err)
		}
	}
	if n := keys.Reads.Load() - reads; n != 0 {
		t.Errorf("the locked keyring was asked %d times", n)
	}
	if n := r.srv.Counts(); n.Refreshes != 2 || n.RefreshReuse != 0 {
		t.Errorf("counts %+v", n)
	}

	// The next run, unlocked, reads the rotated tokens.
	keys.Locked.Store(false)
	next := testManager(t, secretstore.New(dir, keys))
	c := next.Client(ServerConfig{ID: "faulty", URL: r.srv.URL()})
	if _, err := c.refresh(context.Background(), true); err != nil {
		t.Fatalf("refresh in the next run with the rotated token: %v", err)
	}
	if n := r.srv.Counts(); n.RefreshReuse != 0 || n.Authorizations != 1 {
		t.Errorf("counts %+v", n)
	}
}
