package mcphub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/atomicfile"
	"github.com/mcptray/mcptray/internal/testlog"
	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/upstream"
	"github.com/mcptray/mcptray/oauth"
	"github.com/mcptray/mcptray/oauth/oauthtest"
	"github.com/mcptray/mcptray/oauth/secretstore"
)

// oauthHub starts a hub with sign-in support on a config file.
func oauthHub(t *testing.T, cfg string) (*Hub, string, *status.Subscription, *oauth.MemoryStore, *testlog.Buffer) {
	t.Helper()
	store := oauth.NewMemoryStore()
	h, path, sub, logs := oauthHubWith(t, cfg, oauth.Config{Store: store})
	return h, path, sub, store, logs
}

// oauthHubWith starts a hub whose oauth.Manager has oc's store and clock.
func oauthHubWith(t *testing.T, cfg string, oc oauth.Config) (*Hub, string, *status.Subscription, *testlog.Buffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var h *Hub
	oc.Logger, oc.CallbackPort = log, 44000+int(time.Now().UnixNano()%500)*10
	oc.OnEvent = func(s string, e oauth.Event) { h.OnAuthEvent(s, e) }
	m := oauth.NewManager(oc)
	t.Cleanup(m.Close)
	h = New(Options{ConfigPath: path, Logger: log, OAuth: m,
		Upstream: upstream.Options{Backoff: upstream.Backoff{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond}}})
	sub := h.Subscribe(4096)
	t.Cleanup(func() { sub.Close(); h.Close() })
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	return h, path, sub, logs
}

// follow is a test browser: it loads the URL and follows the redirects.
func follow(ctx context.Context, authURL string) error {
	go func() {
		if resp, err := http.Get(authURL); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	return nil
}

func TestHubSignInAndTokenLifecycle(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{TokenLifetime: 2 * time.Second})
	defer srv.Close()
	h, path, sub, store, logs := oauthHub(t, fmt.Sprintf(`{"mcpServers": {"demo": {"url": %q}}}`, srv.URL()))
	waitState(t, h, sub, map[string]status.State{"demo": status.NeedsAuth})
	st := serverByID(h, "demo").Status
	if st.Challenge == nil || st.Challenge.ResourceMetadata != srv.ResourceMetadataURL() {
		t.Errorf("challenge = %+v", st.Challenge)
	}

	// The key icon: sign in, and be told only once the server is connected.
	if err := h.Authenticate(context.Background(), "demo", AuthenticateOptions{Open: follow}); err != nil {
		t.Fatal(err)
	}
	v := serverByID(h, "demo")
	if v.Status.State != status.Connected || v.Status.Counts.Tools < 3 {
		t.Fatalf("after Authenticate: %+v", v.Status)
	}
	if v.Auth == nil || !v.Auth.SignedIn || v.Auth.Registration != oauth.MethodDCR || v.Auth.Expiry.IsZero() {
		t.Errorf("auth info = %+v", v.Auth)
	}

	// 2 s tokens are refreshed ahead of expiry; the status shows it.
	sawRefreshing := false
	deadline := time.After(10 * time.Second)
	for !sawRefreshing {
		select {
		case e := <-sub.C:
			sawRefreshing = e.Status != nil && e.Status.Server == "demo" && e.Status.State == status.Refreshing
		case <-deadline:
			t.Fatal("no refreshing state within 10 s of 2 s tokens")
		}
	}
	waitState(t, h, sub, map[string]status.State{"demo": status.Connected})

	// The provider revokes the grant: the next refresh fails with
	// invalid_grant and the server needs sign-in, with a reason.
	srv.RevokeRefreshTokens()
	waitState(t, h, sub, map[string]status.State{"demo": status.NeedsAuth})
	if r := serverByID(h, "demo").Status.Reason; !strings.Contains(r, "invalid_grant") {
		t.Errorf("reason = %q", r)
	}
	if err := h.Authenticate(context.Background(), "demo", AuthenticateOptions{Open: follow}); err != nil {
		t.Fatal(err)
	}

	// Sign out: revoked at the provider, needs_auth again.
	if err := h.SignOut(context.Background(), "demo"); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, sub, map[string]status.State{"demo": status.NeedsAuth})
	if srv.Counts().Revocations == 0 {
		t.Error("sign-out revoked nothing")
	}
	if err := h.Authenticate(context.Background(), "demo", AuthenticateOptions{Open: follow}); err != nil {
		t.Fatal(err)
	}

	// Removing the server from the config forgets its tokens, once applied.
	if err := atomicfile.WriteFile(path, []byte(`{"mcpServers": {}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	deadline = time.After(10 * time.Second)
	for {
		keys, _ := store.List("oauth/")
		if len(keys) == 0 {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("tokens of a removed server remain: %v", keys)
		case <-time.After(20 * time.Millisecond): // the forget runs in the background; no event marks its end
		}
	}

	// Nothing secret reached the log.
	out := logs.String()
	for _, secret := range srv.Secrets() {
		if strings.Contains(out, secret) {
			t.Errorf("the log contains a secret issued by the provider: %.12s...", secret)
		}
	}
}

// noAsks is a raw call's handler for calls that send nothing back.
type noAsks struct{}

func (noAsks) Notification(string, json.RawMessage) {}
func (noAsks) Request(context.Context, string, json.RawMessage) (json.RawMessage, error) {
	return nil, errors.New("no requests expected")
}

// Signed calls on the raw path, several at once: each carries the access
// token (the server says whose it is), and the headers the session's
// requests share are copied before one is signed, never written (the
// race detector watches them).
func TestSignedRawCallsAtOnce(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	t.Cleanup(srv.Close) // after the hub's, which ends its streams to it
	h, _, sub, _, _ := oauthHub(t, fmt.Sprintf(`{"mcpServers": {"demo": {"url": %q, "protocolVersion": "2025-11-25"}}}`, srv.URL()))
	waitState(t, h, sub, map[string]status.State{"demo": status.NeedsAuth})
	if err := h.Authenticate(context.Background(), "demo", AuthenticateOptions{Open: follow}); err != nil {
		t.Fatal(err)
	}
	conn, ok := h.Conn("demo")
	if !ok {
		t.Fatal("no connection for demo")
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 5 {
				res, err := conn.CallRaw(t.Context(), "tools/call", json.RawMessage(`{"name":"whoami","arguments":{}}`), noAsks{})
				if err != nil || !strings.Contains(string(res), "client ") || strings.Contains(string(res), "client ,") {
					t.Errorf("signed raw call: %s %v", res, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestHubSignInFailureIsAReason(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{PRMResource: "https://evil.example/mcp"})
	defer srv.Close()
	h, _, sub, _, _ := oauthHub(t, fmt.Sprintf(`{"mcpServers": {"bad": {"url": %q}}}`, srv.URL()))
	waitState(t, h, sub, map[string]status.State{"bad": status.NeedsAuth})
	opened := false
	err := h.Authenticate(context.Background(), "bad", AuthenticateOptions{Open: func(context.Context, string) error { opened = true; return nil }})
	if err == nil || opened {
		t.Fatalf("err = %v, browser opened: %v", err, opened)
	}
	st := serverByID(h, "bad").Status
	if st.State != status.NeedsAuth || !strings.Contains(st.Reason, "sign-in failed") || !strings.Contains(st.Reason, "evil.example") {
		t.Errorf("status = %+v", st)
	}
}

// A sign-in cancelled by the person who started it (the window's Cancel,
// Ctrl-C in 'mcptray auth') is not a failure: the server needs sign-in for
// the reason it did before, with no "sign-in failed" shown.
func TestHubSignInCancelledKeepsTheReason(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	h, _, sub, _, _ := oauthHub(t, fmt.Sprintf(`{"mcpServers": {"demo": {"url": %q}}}`, srv.URL()))
	waitState(t, h, sub, map[string]status.State{"demo": status.NeedsAuth})
	before := serverByID(h, "demo").Status
	ctx, cancel := context.WithCancel(context.Background())
	opened := func(context.Context, string) error { cancel(); return nil } // the browser opens, the person cancels
	if err := h.Authenticate(ctx, "demo", AuthenticateOptions{Open: opened}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want a cancellation", err)
	}
	st := serverByID(h, "demo").Status
	if st.State != status.NeedsAuth || st.Reason != before.Reason || strings.Contains(st.Reason, "failed") {
		t.Errorf("after a cancelled sign-in: %s %q, want %s %q", st.State, st.Reason, status.NeedsAuth, before.Reason)
	}
}

// The server's entry is edited while the browser is open (the connection
// the sign-in began with is replaced): the sign-in still ends connected.
func TestHubSignInAcrossAReload(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	t.Cleanup(srv.Close) // after the hub's cleanup, which ends its open stream
	h, path, sub, _, _ := oauthHub(t, fmt.Sprintf(`{"mcpServers": {"demo": {"url": %q}}}`, srv.URL()))
	waitState(t, h, sub, map[string]status.State{"demo": status.NeedsAuth})
	editWhileOpen := func(ctx context.Context, authURL string) error {
		edited := fmt.Sprintf(`{"mcpServers": {"demo": {"url": %q, "timeout": 30}}}`, srv.URL())
		if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
			return err
		}
		reloaded := time.Now()
		if err := h.Reload(); err != nil {
			return err
		}
		// The new connection meets the 401 before the person is done.
		for e := range sub.C {
			if st := e.Status; e.Kind == status.KindStatus && st != nil && st.Server == "demo" &&
				st.State == status.NeedsAuth && !st.Since.Before(reloaded) {
				break
			}
		}
		return follow(ctx, authURL)
	}
	if err := h.Authenticate(context.Background(), "demo", AuthenticateOptions{Open: editWhileOpen}); err != nil {
		t.Fatalf("sign-in across a reload: %v", err)
	}
	if st := serverByID(h, "demo").Status; st.State != status.Connected {
		t.Errorf("after the sign-in: %s %q", st.State, st.Reason)
	}
}

func TestHubRefusesSignInForStdio(t *testing.T) {
	h, _, _, _, _ := oauthHub(t, `{"mcpServers": {"local": {"command": "true", "disabled": true}}}`)
	if err := h.Authenticate(context.Background(), "local", AuthenticateOptions{Open: follow}); err == nil {
		t.Error("signing in to a disabled stdio server did not fail")
	}
}

// The keyring is locked when the hub starts, with tokens stored by an
// earlier run: the server shows an error saying so (not needs_auth), a
// sign-in attempt fails before the browser and leaves that state, and once
// the keyring answers the server connects with the stored tokens.
func TestHubKeyringLocked(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	t.Cleanup(srv.Close) // after the hub's cleanup, which ends its open stream
	keys := secretstore.NewLockableKeys()
	dir := t.TempDir()
	earlier := oauth.NewManager(oauth.Config{Store: secretstore.New(dir, keys), CallbackPort: 45000 + int(time.Now().UnixNano()%500)*10})
	ctx := context.Background()
	if err := earlier.Client(oauth.ServerConfig{ID: "locked", URL: srv.URL()}).SignIn(ctx, oauth.SignInOptions{Open: follow}); err != nil {
		t.Fatal(err)
	}
	earlier.Close()

	keys.Locked.Store(true)
	var offset atomic.Int64 // the oauth clock jumps past the keyring's retry interval
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	h, _, sub, _ := oauthHubWith(t, fmt.Sprintf(`{"mcpServers": {"locked": {"url": %q}}}`, srv.URL()),
		oauth.Config{Store: secretstore.New(dir, keys), Now: now})
	waitState(t, h, sub, map[string]status.State{"locked": status.Error})
	const locked = "the keyring is locked or unavailable, so the stored sign-in cannot be read"
	v := serverByID(h, "locked")
	if !strings.HasPrefix(v.Status.Reason, locked) || v.Status.NextRetry.IsZero() {
		t.Errorf("status = %+v", v.Status)
	}
	if v.Auth == nil || v.Auth.SignedIn || !strings.Contains(v.Auth.Problem, locked) {
		t.Errorf("auth info = %+v", v.Auth)
	}
	t.Logf("shown: %s", v.Status.Reason)

	opened := false
	err := h.Authenticate(ctx, "locked", AuthenticateOptions{Open: func(context.Context, string) error { opened = true; return nil }})
	if err == nil || !strings.Contains(err.Error(), "cannot sign in: the keyring is locked or unavailable") || opened {
		t.Fatalf("sign-in with a locked keyring: err %v, browser opened %v", err, opened)
	}
	if st := serverByID(h, "locked").Status.State; st == status.NeedsAuth {
		t.Error("a sign-in refused for the keyring left the server needing sign-in")
	}
	waitState(t, h, sub, map[string]status.State{"locked": status.Error})

	keys.Locked.Store(false)
	offset.Add(int64(time.Minute))
	waitState(t, h, sub, map[string]status.State{"locked": status.Connected})
	if n := srv.Counts(); n.Authorizations != 1 {
		t.Errorf("%d authorizations: unlocking needed a new sign-in", n.Authorizations)
	}
}

// Reading a server's client secret from the keyring (which can wait for
// the keyring to be unlocked) does not hold the hub: a reload does not
// read it at all (the sign-in or refresh that needs it does), and while a
// sign-in waits for it the window and the bridge still get the servers.
func TestSecretReadDoesNotHoldTheHub(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{Clients: []oauthtest.Client{{ID: "app", Secret: "s3cret-value"}}})
	t.Cleanup(srv.Close) // after the hub's cleanup, which ends its open stream
	path := filepath.Join(t.TempDir(), "config.json")
	cfg := fmt.Sprintf(`{"mcpServers": {"slack": {"url": %q, "oauth": {"clientId": "app", "clientSecret": "${keyring:slack-secret}"}}}}`, srv.URL())
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var h *Hub
	m := oauth.NewManager(oauth.Config{Store: oauth.NewMemoryStore(), CallbackPort: 46000 + int(time.Now().UnixNano()%500)*10,
		OnEvent: func(s string, e oauth.Event) { h.OnAuthEvent(s, e) }})
	t.Cleanup(m.Close)
	reading, unlock := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h = New(Options{ConfigPath: path, OAuth: m,
		Upstream:      upstream.Options{Backoff: upstream.Backoff{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond}},
		ConfigOptions: config.Options{LookupSecret: func(string) (string, bool, error) { return "", true, nil }},
		ResolveSecret: func(string) (string, error) {
			once.Do(func() { close(reading) })
			<-unlock
			return "s3cret-value", nil
		}})
	sub := h.Subscribe(4096)
	t.Cleanup(func() { sub.Close(); h.Close() })
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, sub, map[string]status.State{"slack": status.NeedsAuth})
	select {
	case <-reading:
		t.Fatal("the reload (or the connection) read the client secret")
	default:
	}
	signedIn := make(chan error, 1)
	go func() { signedIn <- h.Authenticate(context.Background(), "slack", AuthenticateOptions{Open: follow}) }()
	<-reading
	answered := make(chan int, 1)
	go func() { answered <- len(h.Servers()) }()
	select {
	case <-answered:
	case <-time.After(10 * time.Second):
		t.Error("the hub did not answer while a secret was read from the keyring")
	}
	close(unlock)
	if err := <-signedIn; err != nil {
		t.Fatalf("sign-in once the secret was read: %v", err)
	}
}

// A reload after Close starts nothing: the hub is shutting down.
func TestReloadAfterCloseStartsNothing(t *testing.T) {
	h, _, _ := testHub(t, `{"mcpServers": {}}`)
	h.Close()
	if err := h.Reload(); !errors.Is(err, errClosed) {
		t.Errorf("reload after close: %v", err)
	}
	if n := len(h.Servers()); n != 0 {
		t.Errorf("%d servers after close", n)
	}
}

// A second and third ask to sign in to a server whose sign-in is open (the
// IDE's sign-in tool called again, 'mcptray auth' while the window's waits)
// join it: one browser tab, the joiners told its address, and all of them
// answered when the person finishes.
func TestSignInAsksJoinTheOpenOne(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	t.Cleanup(srv.Close)
	h, _, sub, _, _ := oauthHub(t, fmt.Sprintf(`{"mcpServers": {"demo": {"url": %q}}}`, srv.URL()))
	waitState(t, h, sub, map[string]status.State{"demo": status.NeedsAuth})
	var opened atomic.Int32
	open := func(context.Context, string) error { opened.Add(1); return nil } // the person has not finished yet
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	shown := make(chan string, 3)
	onURL := func(u string, _ error) { shown <- u }
	results := make(chan error, 3)
	go func() { results <- h.Authenticate(ctx, "demo", AuthenticateOptions{Open: open, OnURL: onURL}) }()
	first := <-shown
	for range 2 {
		go func() { results <- h.Authenticate(ctx, "demo", AuthenticateOptions{Open: open, OnURL: onURL}) }()
		if u := <-shown; u != first {
			t.Errorf("a joining ask was told %s, want the open sign-in's %s", u, first)
		}
	}
	if err := follow(ctx, first); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := <-results; err != nil {
			t.Errorf("an ask ended with %v", err)
		}
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("%d browser tabs were opened for one sign-in", n)
	}
}

// An ask that joins a sign-in before its page is open learns the address
// once it is; the first ask leaving (its Cancel) does not end the sign-in
// for one still waiting, and the last to leave ends it.
func TestSignInGoesOnWhileAnyoneWaits(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	t.Cleanup(srv.Close)
	h, _, sub, _, _ := oauthHub(t, fmt.Sprintf(`{"mcpServers": {"demo": {"url": %q}}}`, srv.URL()))
	waitState(t, h, sub, map[string]status.State{"demo": status.NeedsAuth})
	opening, letOpen := make(chan string, 1), make(chan struct{})
	open := func(_ context.Context, u string) error { opening <- u; <-letOpen; return nil } // the browser is slow to start
	ownerCtx, leave := context.WithCancel(context.Background())
	ownerDone := make(chan error, 1)
	go func() { ownerDone <- h.Authenticate(ownerCtx, "demo", AuthenticateOptions{Open: open}) }()
	authURL := <-opening // the flow is open; its page not yet
	shown := make(chan string, 1)
	joinerDone := make(chan error, 1)
	go func() {
		joinerDone <- h.Authenticate(context.Background(), "demo", AuthenticateOptions{OnURL: func(u string, _ error) { shown <- u }})
	}()
	waitJoined(t, h, "demo", 2)
	close(letOpen)
	if u := <-shown; u != authURL {
		t.Errorf("the joiner was told %s, want %s", u, authURL)
	}
	leave() // the first ask's Cancel
	if err := <-ownerDone; err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("the ask that left: %v", err)
	}
	if err := follow(context.Background(), authURL); err != nil { // the person finishes in the browser
		t.Fatal(err)
	}
	if err := <-joinerDone; err != nil {
		t.Errorf("the ask still waiting: %v, want the sign-in done", err)
	}

	// Signed out again, one ask alone: its leaving ends the sign-in.
	if err := h.SignOut(context.Background(), "demo"); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, sub, map[string]status.State{"demo": status.NeedsAuth})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- h.Authenticate(ctx, "demo", AuthenticateOptions{Open: func(context.Context, string) error { cancel(); return nil }})
	}()
	if err := <-done; err == nil {
		t.Fatal("the only ask left, yet the sign-in succeeded")
	}
	h.mu.Lock()
	_, still := h.signIns["demo"]
	h.mu.Unlock()
	if still {
		t.Error("the sign-in is still open after its only ask left")
	}
}

// waitJoined waits until n asks wait for the sign-in of id.
func waitJoined(t *testing.T, h *Hub, id string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		h.mu.Lock()
		f := h.signIns[id]
		got := 0
		if f != nil {
			got = f.waiting
		}
		h.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d asks wait for the sign-in of %s, want %d", got, id, n)
		}
		runtime.Gosched() // joining is a lock away; there is no event for it
	}
}

// Sign-in is for servers that ask for it. One that refuses the
// Authorization header of its configuration is an error to correct (not a
// needs_auth that a sign-in cannot fix), and is not signed in to; one that
// works without a sign-in stays connected when a sign-in nobody needed
// fails (its server publishes no OAuth metadata).
func TestSignInOnlyWhereItIsAsked(t *testing.T) {
	s := mcp.NewServer(&mcp.Implementation{Name: "plain", Version: "1"}, nil)
	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" && a != "Bearer right" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="plain", error="invalid_token"`)
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		mcpHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(plain.Close)
	h, _, sub, _, _ := oauthHub(t, fmt.Sprintf(`{"mcpServers": {"static": {"url": %q, "headers": {"Authorization": "Bearer wrong"}}, "open": {"url": %q}}}`,
		plain.URL, plain.URL))
	waitState(t, h, sub, map[string]status.State{"static": status.Error, "open": status.Connected})
	if st := serverByID(h, "static").Status; !strings.Contains(st.Reason, "rejected the configured credentials") {
		t.Errorf("static: %q, want the configured credentials named", st.Reason)
	}
	opened := false
	open := func(context.Context, string) error { opened = true; return nil }
	if err := h.Authenticate(context.Background(), "static", AuthenticateOptions{Open: open}); err == nil || !strings.Contains(err.Error(), "Authorization header") {
		t.Errorf("sign-in to static: %v, want a refusal naming its Authorization header", err)
	}
	err := h.Authenticate(context.Background(), "open", AuthenticateOptions{Open: open})
	if err == nil || !strings.Contains(err.Error(), "never asked for a sign-in") || opened {
		t.Errorf("sign-in to open: %v (browser opened: %v), want a failure saying it never asked", err, opened)
	}
	waitState(t, h, sub, map[string]status.State{"open": status.Connected})
}
