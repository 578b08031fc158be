package oauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/oauth/oauthtest"
)

// browserFollower is a test "browser": it loads the authorization URL and
// follows the redirects, to the loopback callback like a real browser.
type browserFollower struct {
	calls atomic.Int32
	once  sync.Once
	pages chan string // the final page's body, per call
}

func (b *browserFollower) open(ctx context.Context, authURL string) error {
	b.calls.Add(1)
	b.init()
	go func() {
		req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, authURL, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.pages <- "error: " + err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		b.pages <- string(body)
	}()
	return nil
}

// init makes pages: page may be called before the sign-in opens the URL.
func (b *browserFollower) init() { b.once.Do(func() { b.pages = make(chan string, 100) }) }

// page waits for the page the browser ended on.
func (b *browserFollower) page(t *testing.T) string {
	t.Helper()
	b.init()
	select {
	case p := <-b.pages:
		return p
	case <-time.After(10 * time.Second):
		t.Fatal("the browser never finished loading")
		return ""
	}
}

// testManager returns a Manager on its own callback port range.
func testManager(t *testing.T, store Store, cfg ...func(*Config)) *Manager {
	t.Helper()
	c := Config{Store: store, CallbackPort: freeCallbackPort(t), Logger: slog.New(slog.DiscardHandler)}
	for _, f := range cfg {
		f(&c)
	}
	m := NewManager(c)
	t.Cleanup(m.Close)
	return m
}

var portBase atomic.Int32

// freeCallbackPort hands each test its own block of ports, so parallel
// packages and tests do not fight over 48801.
func freeCallbackPort(t *testing.T) int {
	// Below Linux's ephemeral range (32768-60999), where another test
	// process's outgoing connections could hold the port a moment later.
	portBase.CompareAndSwap(0, 20000+int32(time.Now().UnixNano()%1000)*10)
	return int(portBase.Add(12))
}

// connect opens an MCP session to srv with c as its OAuth handler.
func connect(ctx context.Context, srv *oauthtest.Server, c *Client) (*mcp.ClientSession, error) {
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	return client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: srv.URL(), OAuthHandler: c, MaxRetries: -1}, nil)
}

func signIn(t *testing.T, c *Client, b *browserFollower) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.SignIn(ctx, SignInOptions{Open: b.open}); err != nil {
		t.Fatalf("SignIn: %v", err)
	}
}

func callEcho(ctx context.Context, cs *mcp.ClientSession, msg string) error {
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"message": msg}})
	if err != nil {
		return err
	}
	if res.IsError || len(res.Content) == 0 || res.Content[0].(*mcp.TextContent).Text != "echo: "+msg {
		return fmt.Errorf("unexpected result %+v", res)
	}
	return nil
}

func TestSignInWithDynamicRegistration(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	store := NewMemoryStore()
	m := testManager(t, store)
	c := m.Client(ServerConfig{ID: "demo", URL: srv.URL()})
	ctx := context.Background()

	// Before sign-in: the server answers with a challenge and no browser opens.
	if _, err := connect(ctx, srv, c); err == nil {
		t.Fatal("connected without a token")
	}
	b := &browserFollower{}
	signIn(t, c, b)
	if p := b.page(t); !strings.Contains(p, "Signed in") {
		t.Errorf("browser page: %s", p)
	}
	cs, err := connect(ctx, srv, c)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if err := callEcho(ctx, cs, "hi"); err != nil {
		t.Fatal(err)
	}
	info := c.Info()
	if !info.SignedIn || info.Registration != MethodDCR || info.Issuer != srv.Issuer || !strings.Contains(strings.Join(info.Scopes, " "), "offline_access") {
		t.Errorf("info = %+v", info)
	}
	// A second sign-in reuses the stored registration.
	signIn(t, c, b)
	if n := srv.Counts().Registrations; n != 1 {
		t.Errorf("%d registrations, want 1 (reused)", n)
	}
	if srv.Counts().ResourceMissing != 0 {
		t.Error("a token request lacked the resource parameter")
	}
}

func TestSignInPreregisteredClient(t *testing.T) {
	port := freeCallbackPort(t)
	srv := oauthtest.NewServer(oauthtest.Options{DisableDCR: true, Clients: []oauthtest.Client{
		{ID: "tray-app", Secret: "s3cret-value", RedirectURIs: []string{fmt.Sprintf("http://127.0.0.1:%d/callback", port)}},
	}})
	defer srv.Close()
	m := testManager(t, NewMemoryStore(), func(c *Config) { c.CallbackPort = port })
	c := m.Client(ServerConfig{ID: "pre", URL: srv.URL(), ClientID: "tray-app", ClientSecret: "s3cret-value"})
	signIn(t, c, &browserFollower{})
	if info := c.Info(); info.Registration != MethodPreregistered {
		t.Errorf("registration = %q", info.Registration)
	}
	cs, err := connect(context.Background(), srv, c)
	if err != nil {
		t.Fatal(err)
	}
	cs.Close()
}

// AUTH-15: a pre-registered client is bound to the authorization server it
// signed in with (or the configured "issuer"): when the server points to
// another one, the sign-in fails with an error naming both, before any
// browser opens, until the config names the new issuer.
func TestPreregisteredClientIsBoundToItsIssuer(t *testing.T) {
	port := freeCallbackPort(t)
	clients := []oauthtest.Client{{ID: "tray-app", RedirectURIs: []string{fmt.Sprintf("http://127.0.0.1:%d/callback", port)}}}
	first := oauthtest.NewServer(oauthtest.Options{DisableDCR: true, Clients: clients})
	defer first.Close()
	moved := oauthtest.NewServer(oauthtest.Options{DisableDCR: true, Clients: clients})
	defer moved.Close()
	m := testManager(t, NewMemoryStore(), func(c *Config) { c.CallbackPort = port })
	sc := ServerConfig{ID: "pre", URL: first.URL(), ClientID: "tray-app"}
	c := m.Client(sc)
	signIn(t, c, &browserFollower{})

	mismatch := func(sc ServerConfig, boundTo string, configured bool) {
		t.Helper()
		b := &browserFollower{}
		err := m.Client(sc).SignIn(context.Background(), SignInOptions{Open: b.open})
		var ie *IssuerMismatchError
		if !errors.As(err, &ie) || ie.Issuer != moved.Issuer || ie.BoundTo != boundTo || ie.Configured != configured {
			t.Fatalf("err = %v, want an IssuerMismatchError from %s to %s", err, boundTo, moved.Issuer)
		}
		for _, want := range []string{moved.Issuer, boundTo, `"oauth.issuer"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not name %s: %v", want, err)
			}
		}
		if b.calls.Load() != 0 || moved.Counts().Authorizations != 0 {
			t.Error("the client ID was sent to the other authorization server")
		}
	}
	// The server moves to another authorization server: refused.
	sc.URL = moved.URL()
	mismatch(sc, first.Issuer, false)
	// A configured issuer that is not the server's: refused too.
	sc.Issuer = first.Issuer
	mismatch(sc, first.Issuer, true)
	// The user says the client ID is registered with the new one.
	sc.Issuer = moved.Issuer
	signIn(t, m.Client(sc), &browserFollower{})
	// Once signed in there, the binding follows, also without the setting.
	sc.Issuer = ""
	signIn(t, m.Client(sc), &browserFollower{})
	if n := moved.Counts().Authorizations; n != 2 {
		t.Errorf("%d authorizations at the new server, want 2", n)
	}
}

// A pre-registered client's port is pinned: when it is taken, sign-in fails
// with a clear message instead of moving to a port the provider rejects.
// An ephemeral-port manager pins nothing: copies of the conformance client
// run at once, and one of them holding the default port must not fail the
// others (CI saw auth/pre-registration lose this race to
// auth/client-credentials-basic).
func TestPreRegisteredClientWithItsPortTaken(t *testing.T) {
	for _, ephemeral := range []bool{false, true} {
		port := freeCallbackPort(t)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		srv := oauthtest.NewServer(oauthtest.Options{DisableDCR: true, Clients: []oauthtest.Client{{ID: "tray-app"}}})
		defer srv.Close()
		m := testManager(t, NewMemoryStore(), func(c *Config) { c.CallbackPort = port; c.EphemeralCallbackPort = ephemeral })
		c := m.Client(ServerConfig{ID: "pre", URL: srv.URL(), ClientID: "tray-app"})
		b := &browserFollower{}
		err = c.SignIn(context.Background(), SignInOptions{Open: b.open})
		if ephemeral {
			if err != nil || srv.Counts().Authorizations != 1 {
				t.Errorf("ephemeral: sign-in with the default port taken: %v, %d authorizations", err, srv.Counts().Authorizations)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("port %d is in use by another program", port)) {
			t.Fatalf("err = %v", err)
		}
		if b.calls.Load() != 0 {
			t.Error("a browser was opened although the callback could not listen")
		}
	}
}

// Without a pinned port, a taken default port moves to the next one, and
// the new redirect URI gets a new registration.
func TestCallbackPortMovesAndReregisters(t *testing.T) {
	port := freeCallbackPort(t)
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	m := testManager(t, NewMemoryStore(), func(c *Config) { c.CallbackPort = port })
	c := m.Client(ServerConfig{ID: "dcr", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	signIn(t, c, &browserFollower{})
	if n := srv.Counts().Registrations; n != 2 {
		t.Errorf("%d registrations, want 2 (one per redirect URI)", n)
	}
}

func TestSignInWithClientMetadataDocument(t *testing.T) {
	const cimd = "https://mcptray.example/oauth/client.json"
	srv := oauthtest.NewServer(oauthtest.Options{CIMD: true, CIMDClients: []string{cimd}})
	defer srv.Close()
	m := testManager(t, NewMemoryStore(), func(c *Config) { c.ClientMetadataURL = cimd })
	c := m.Client(ServerConfig{ID: "cimd", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	if info := c.Info(); info.Registration != MethodCIMD {
		t.Errorf("registration = %q", info.Registration)
	}
	if srv.Counts().Registrations != 0 {
		t.Error("dynamic registration ran although CIMD was available")
	}
}

func TestNoWayToRegister(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{DisableDCR: true})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "x", URL: srv.URL()})
	b := &browserFollower{}
	err := c.SignIn(context.Background(), SignInOptions{Open: b.open})
	var nr *ErrNoRegistration
	if !errors.As(err, &nr) || !strings.Contains(err.Error(), `put its client ID, and secret as ${keyring:NAME}, in the server's "oauth" settings`) {
		t.Fatalf("err = %v", err)
	}
	if b.calls.Load() != 0 {
		t.Error("a browser was opened")
	}
}

func TestDeniedConsentIsAReadableReason(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{ConsentPage: true})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "deny", URL: srv.URL()})
	deny := func(ctx context.Context, authURL string) error {
		go func() {
			// Press "Deny" on the consent page.
			resp, err := http.PostForm(authURL, map[string][]string{"decision": {"deny"}})
			if err == nil {
				resp.Body.Close()
			}
		}()
		return nil
	}
	err := c.SignIn(context.Background(), SignInOptions{Open: deny})
	if err == nil || err.Error() != "the sign-in was declined at "+strings.TrimPrefix(srv.Issuer, "http://") {
		t.Fatalf("err = %v", err)
	}
	if c.HasTokens() {
		t.Error("tokens after a declined sign-in")
	}
}

// AUTH-28: when the server's URL changes while a sign-in waits for the
// browser, the tokens it gets (issued for the old URL) are not kept, and
// the sign-in says why.
func TestSignInAcrossURLChangeFails(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	store := NewMemoryStore()
	m := testManager(t, store)
	c := m.Client(ServerConfig{ID: "moving", URL: srv.URL()})
	b := &browserFollower{}
	open := func(ctx context.Context, u string) error {
		m.Client(ServerConfig{ID: "moving", URL: "http://127.0.0.1:9/elsewhere/mcp"}) // a config reload
		return b.open(ctx, u)
	}
	err := c.SignIn(context.Background(), SignInOptions{Open: open})
	if err == nil || !strings.Contains(err.Error(), "URL changed during the sign-in") {
		t.Fatalf("sign-in across a URL change: %v", err)
	}
	if p := b.page(t); !strings.Contains(p, "URL changed during the sign-in") {
		t.Errorf("browser page: %s", p)
	}
	if c.HasTokens() {
		t.Error("tokens for the old URL are in use for the new one")
	}
	if _, err := store.Get(tokenKey("moving")); err == nil {
		t.Error("tokens for the old URL were stored")
	}
}

// A sign-in holds its callback listener from the moment it takes it: one
// that waits in dynamic registration keeps it open while another sign-in
// on the same listener starts and ends.
func TestSignInKeepsItsCallbackListenerDuringRegistration(t *testing.T) {
	slow := oauthtest.NewServer(oauthtest.Options{})
	defer slow.Close()
	fast := oauthtest.NewServer(oauthtest.Options{})
	defer fast.Close()
	m := testManager(t, NewMemoryStore())
	cs := m.Client(ServerConfig{ID: "slow", URL: slow.URL()})
	cf := m.Client(ServerConfig{ID: "fast", URL: fast.URL()})
	hold := slow.HoldRegistrations()
	defer hold.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := &browserFollower{}
	done := make(chan error, 1)
	go func() { done <- cs.SignIn(ctx, SignInOptions{Open: b.open}) }()
	waitArrived(t, hold) // the slow sign-in has its listener and is registering
	signIn(t, cf, &browserFollower{})
	hold.Release()
	if p := b.page(t); !strings.Contains(p, "Signed in") {
		t.Fatalf("the slow sign-in's redirect: %s", p)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !cs.HasTokens() {
		t.Error("no tokens after the slow sign-in")
	}
}

// A server removed (Forget) while its sign-in waits in the browser keeps
// nothing when the person then finishes there: the sign-in fails saying
// why, its tokens are revoked and none is stored.
func TestSignInOfAForgottenServerKeepsNothing(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	store := NewMemoryStore()
	m := testManager(t, store)
	c := m.Client(ServerConfig{ID: "gone", URL: srv.URL()})
	b := &browserFollower{}
	forgetFirst := func(ctx context.Context, authURL string) error {
		if err := m.Forget(ctx, "gone"); err != nil {
			t.Errorf("Forget: %v", err)
		}
		return b.open(ctx, authURL) // the tab left open is finished
	}
	err := c.SignIn(context.Background(), SignInOptions{Open: forgetFirst})
	if err == nil || !strings.Contains(err.Error(), "removed") {
		t.Fatalf("the sign-in of a removed server: %v, want it refused", err)
	}
	if names, _ := store.List("oauth/token/"); len(names) != 0 {
		t.Errorf("tokens of the removed server were stored: %v", names)
	}
	if n := srv.Counts().Revocations; n == 0 {
		t.Error("the tokens issued to the removed server were not revoked")
	}
}
