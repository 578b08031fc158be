package oauth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/oauth/oauthtest"
)

// refused asserts a sign-in fails with want in its message and never
// reaches a browser.
func refused(t *testing.T, srv *oauthtest.Server, want string) {
	t.Helper()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "target", URL: srv.URL()})
	b := &browserFollower{}
	err := c.SignIn(context.Background(), SignInOptions{Open: b.open})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v\nwant it to contain %q", err, want)
	}
	if b.calls.Load() != 0 {
		t.Error("a browser was opened")
	}
	if c.HasTokens() {
		t.Error("tokens were stored")
	}
}

func TestRefusesResourceMismatch(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{PRMResource: "https://evil.example.com/mcp"})
	defer srv.Close()
	refused(t, srv, `names resource "https://evil.example.com/mcp", which is not`)
}

func TestRefusesDangerousAuthorizationEndpoints(t *testing.T) {
	for _, ep := range []string{
		"javascript:alert(document.cookie)",
		"file:///etc/passwd",
		"data:text/html,<script>alert(1)</script>",
		"http://attacker.example/authorize", // plain http to another machine
		"https://example.com/authorize$(touch /tmp/pwned)",
	} {
		t.Run(ep, func(t *testing.T) {
			srv := oauthtest.NewServer(oauthtest.Options{AuthorizationEndpoint: ep})
			defer srv.Close()
			m := testManager(t, NewMemoryStore())
			c := m.Client(ServerConfig{ID: "target", URL: srv.URL()})
			b := &browserFollower{}
			err := c.SignIn(context.Background(), SignInOptions{Open: b.open})
			if strings.HasPrefix(ep, "https://") {
				// A well-formed https URL with odd characters is only ever
				// passed as one argument, never to a shell; here it simply
				// fails at the (fake) provider. What matters is no shell.
				return
			}
			if err == nil || !strings.Contains(err.Error(), "authorization_endpoint is unsafe") {
				t.Fatalf("err = %v", err)
			}
			if b.calls.Load() != 0 {
				t.Error("a browser was opened")
			}
		})
	}
}

// AUTH-02: a server whose 401 names its resource metadata is not a
// 2025-03-26 server. When that metadata cannot be read, the sign-in fails
// naming its URL and status; the server's origin is not taken for the
// authorization server (no registration, no authorization, no browser).
func TestUnreadableResourceMetadataIsNoLegacyServer(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{ChallengeMetadataPath: "/.well-known/gone"})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "gone", URL: srv.URL()})
	ctx := context.Background()
	if _, err := connect(ctx, srv, c); err == nil { // meets the 401 naming the metadata
		t.Fatal("connected without signing in")
	}
	b := &browserFollower{}
	err := c.SignIn(ctx, SignInOptions{Open: b.open})
	metadata := strings.TrimSuffix(srv.URL(), "/mcp") + "/.well-known/gone"
	if err == nil || !strings.Contains(err.Error(), metadata) || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("err = %v, want it to name %s and HTTP 404", err, metadata)
	}
	if got := srv.Unserved(); !slices.Equal(got, []string{"/.well-known/gone"}) {
		t.Errorf("requests to the server's origin for what it does not serve: %v, want only the metadata's", got)
	}
	if b.calls.Load() != 0 {
		t.Error("a browser was opened")
	}
	if c.HasTokens() {
		t.Error("tokens were stored")
	}
}

// AUTH-17: the resource parameter is the canonical form of the resource
// the metadata names: no fragment, lower-case scheme and host. The
// authorization server here accepts only the canonical URL, in the
// authorization, token and refresh requests alike.
func TestResourceParameterIsCanonical(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{MCPHost: "localhost", PRMResourceFor: func(u string) string {
		return strings.Replace(u, "http://localhost", "HTTP://LOCALHOST", 1) + "#x"
	}})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "canonical", URL: srv.URL()})
	ctx := context.Background()
	var sent string
	b := &browserFollower{}
	open := func(ctx context.Context, authURL string) error {
		if u, err := url.Parse(authURL); err == nil {
			sent = u.Query().Get("resource")
		}
		return b.open(ctx, authURL)
	}
	err := c.SignIn(ctx, SignInOptions{Open: open})
	if sent != srv.URL() {
		t.Errorf("resource in the authorization request = %q, want %q", sent, srv.URL())
	}
	if err != nil {
		t.Fatalf("SignIn: %v", err)
	}
	if _, err := c.refresh(ctx, true); err != nil {
		t.Errorf("refresh: %v", err)
	}
	if n := srv.Counts(); n.CodeExchanges != 1 || n.Refreshes != 1 || n.ResourceMissing != 0 {
		t.Errorf("counts: %+v, want one code exchange and one refresh, each with the resource", n)
	}
}

func TestRefusesMetadataIssuerMismatch(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{MetadataIssuer: "https://other-issuer.example"})
	defer srv.Close()
	refused(t, srv, `names issuer "https://other-issuer.example"`)
}

// RFC 9207: a response with the wrong iss (a mix-up) is refused before the
// code is exchanged; one without iss from a server that promises it, too.
func TestRefusesWrongOrMissingIss(t *testing.T) {
	for name, tc := range map[string]struct {
		opts oauthtest.Options
		want string
	}{
		"wrong iss":   {oauthtest.Options{WrongIss: "https://attacker.example"}, `names issuer "https://attacker.example"`},
		"missing iss": {oauthtest.Options{DropIss: true}, "promises an iss parameter, but the response has none"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := oauthtest.NewServer(tc.opts)
			defer srv.Close()
			store := NewMemoryStore()
			m := testManager(t, store)
			c := m.Client(ServerConfig{ID: "mixup", URL: srv.URL()})
			b := &browserFollower{}
			err := c.SignIn(context.Background(), SignInOptions{Open: b.open})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if n := srv.Counts().Authorizations; n != 1 {
				t.Errorf("%d authorizations, want 1: the refusal must come from the redirect", n)
			}
			if srv.Counts().CodeExchanges != 0 {
				t.Error("the code was exchanged")
			}
			if p := b.page(t); !strings.Contains(p, "Sign-in failed") {
				t.Errorf("the browser page does not say it failed: %s", p)
			}
			if _, err := store.Get(tokenKey("mixup")); c.HasTokens() || err == nil {
				t.Error("tokens were stored")
			}
		})
	}
}

// AUTH-25, AUTH-37: a forged redirect with the right state, a wrong iss and
// error=invalid_client is refused as a mix-up, and its error is not acted
// on: a reused registration is not taken for forgotten (deleted, replaced,
// the browser opened again), and the page does not show the forged text.
// The same answer with the provider's own iss does mean it forgot.
func TestForgedInvalidClientWithWrongIssKeepsRegistration(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	store := NewMemoryStore()
	m := testManager(t, store)
	c := m.Client(ServerConfig{ID: "forged", URL: srv.URL()})
	signIn(t, c, &browserFollower{})

	// stored ages the stored registration, as only one made more than a
	// few seconds ago may be taken for one the provider forgot.
	stored := func() (string, registration) {
		t.Helper()
		keys, err := store.List("oauth/client/forged/")
		if err != nil || len(keys) != 1 {
			t.Fatalf("stored registrations: %v %v", keys, err)
		}
		var reg registration
		if ok, err := loadJSON(store, keys[0], &reg); !ok || err != nil {
			t.Fatalf("load the registration: %v %v", ok, err)
		}
		reg.Registered = reg.Registered.Add(-time.Hour)
		if err := saveJSON(store, keys[0], &reg); err != nil {
			t.Fatal(err)
		}
		return keys[0], reg
	}
	// answer makes a "browser" that lands on a redirect with the flow's
	// own state and redirect URI, the given iss, and invalid_client.
	answer := func(b *browserFollower, iss string) Opener {
		return func(ctx context.Context, authURL string) error {
			u, err := url.Parse(authURL)
			if err != nil {
				return err
			}
			q := u.Query()
			return b.open(ctx, q.Get("redirect_uri")+"?"+url.Values{
				"state": {q.Get("state")}, "iss": {iss},
				"error": {"invalid_client"}, "error_description": {"forged description"},
			}.Encode())
		}
	}

	key, reg := stored()
	b := &browserFollower{}
	err := c.SignIn(context.Background(), SignInOptions{Open: answer(b, "https://attacker.example")})
	if err == nil || !strings.Contains(err.Error(), `names issuer "https://attacker.example"`) {
		t.Fatalf("err = %v, want the issuer mismatch", err)
	}
	if n := b.calls.Load(); n != 1 {
		t.Errorf("the browser was opened %d times, want 1", n)
	}
	if n := srv.Counts().Registrations; n != 1 {
		t.Errorf("%d registrations at the provider, want 1", n)
	}
	var kept registration
	if ok, err := loadJSON(store, key, &kept); !ok || err != nil || kept.ClientID != reg.ClientID {
		t.Errorf("the stored registration was not kept: found %v, %v, client %q (was %q)", ok, err, kept.ClientID, reg.ClientID)
	}
	if p := b.page(t); !strings.Contains(p, "possible mix-up attack") || strings.Contains(p, "forged description") || strings.Contains(p, "forgot") {
		t.Errorf("the browser page does not show the issuer mismatch alone: %s", p)
	}

	// From the provider itself: register again and reopen the sign-in.
	stored()
	b = &browserFollower{}
	_ = c.SignIn(context.Background(), SignInOptions{Open: answer(b, srv.Issuer)})
	if n := b.calls.Load(); n != 2 {
		t.Errorf("with the provider's iss the browser was opened %d times, want 2", n)
	}
	if n := srv.Counts().Registrations; n != 2 {
		t.Errorf("with the provider's iss: %d registrations, want 2", n)
	}
}

// A redirect whose state is unknown, or reused, is refused and reaches no
// flow; a replayed redirect cannot exchange the code a second time.
func TestStateReplayAndForgery(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "replay", URL: srv.URL()})

	var redirect string
	capture := func(ctx context.Context, authURL string) error {
		go func() {
			// Follow to the provider, note the redirect, then deliver it.
			noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := noFollow.Get(authURL)
			if err != nil {
				return
			}
			resp.Body.Close()
			redirect = resp.Header.Get("Location")
			if r, err := http.Get(redirect); err == nil {
				r.Body.Close()
			}
		}()
		return nil
	}
	if err := c.SignIn(context.Background(), SignInOptions{Open: capture}); err != nil {
		t.Fatal(err)
	}
	exchanges := srv.Counts().CodeExchanges

	// The listener is closed once no flow is pending; start another flow
	// so it listens, then replay the old redirect at it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan string, 1)
	go func() {
		_ = c.SignIn(ctx, SignInOptions{Open: func(_ context.Context, u string) error { started <- u; return nil }})
	}()
	<-started
	for _, bad := range []string{
		redirect, // replay of a used state
		strings.Replace(redirect, "state=", "state=forged", 1), // unknown state
	} {
		resp, err := http.Get(bad)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "unknown, expired or was already used") {
			t.Errorf("%s: %d %s", bad, resp.StatusCode, body)
		}
	}
	if srv.Counts().CodeExchanges != exchanges {
		t.Error("a replayed or forged redirect led to a code exchange")
	}
}

// Several servers sign in at once through one callback listener; each
// redirect reaches its own flow by state.
func TestConcurrentSignIns(t *testing.T) {
	a := oauthtest.NewServer(oauthtest.Options{})
	defer a.Close()
	b := oauthtest.NewServer(oauthtest.Options{})
	defer b.Close()
	m := testManager(t, NewMemoryStore())
	ca := m.Client(ServerConfig{ID: "a", URL: a.URL()})
	cb := m.Client(ServerConfig{ID: "b", URL: b.URL()})
	// Hold both browsers until both flows are waiting.
	var ready sync.WaitGroup
	ready.Add(2)
	gate := make(chan struct{})
	slow := func(ctx context.Context, u string) error {
		go func() {
			ready.Done()
			<-gate
			if r, err := http.Get(u); err == nil {
				r.Body.Close()
			}
		}()
		return nil
	}
	errs := make(chan error, 2)
	for _, c := range []*Client{ca, cb} {
		go func() { errs <- c.SignIn(context.Background(), SignInOptions{Open: slow}) }()
	}
	ready.Wait()
	close(gate)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if !ca.HasTokens() || !cb.HasTokens() {
		t.Fatal("one of the concurrent sign-ins has no tokens")
	}
	if ca.Info().Issuer != a.Issuer || cb.Info().Issuer != b.Issuer {
		t.Error("tokens went to the wrong server")
	}
}

// A 403 insufficient_scope leads to a sign-in for the union of scopes; the
// call then works. Step-up stops after three attempts.
func TestStepUp(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{
		StepUp:          map[string]string{"admin_action": "mcp:admin"},
		ScopesSupported: []string{"mcp:read", "mcp:admin", "offline_access"},
		ChallengeScope:  "mcp:read",
	})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "su", URL: srv.URL()})
	ctx := context.Background()
	if _, err := connect(ctx, srv, c); err == nil { // meets the 401 and its scope
		t.Fatal("connected without signing in")
	}
	signIn(t, c, &browserFollower{})
	if got := srv.LastScope(); got != "mcp:read offline_access" {
		t.Errorf("first scope = %q", got)
	}
	cs, err := connect(ctx, srv, c)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "admin_action", Arguments: map[string]any{}})
	var na *NeedsAuthError
	if !errors.As(err, &na) || !strings.Contains(na.Reason, "needs more permissions") {
		t.Fatalf("call without the scope = %v", err)
	}
	signIn(t, c, &browserFollower{}) // the person presses Authenticate again
	if got := srv.LastScope(); got != "mcp:read offline_access mcp:admin" {
		t.Errorf("step-up scope = %q, want the union", got)
	}
	cs2, err := connect(ctx, srv, c)
	if err != nil {
		t.Fatal(err)
	}
	defer cs2.Close()
	if res, err := cs2.CallTool(ctx, &mcp.CallToolParams{Name: "admin_action", Arguments: map[string]any{}}); err != nil || res.IsError {
		t.Errorf("after step-up: %v %+v", err, res)
	}
	// Endless challenges stop at three attempts: the successful one above
	// was granted its scope and does not count; three more that do not end
	// the asking (abandoned here) are allowed, the next is refused before
	// any browser opens.
	again := &Challenge{Status: 403, Error: "insufficient_scope", Scope: "mcp:read"}
	abandoned, cancel := context.WithCancel(ctx)
	cancel()
	for range maxStepUps {
		_ = c.SignIn(abandoned, SignInOptions{Open: (&browserFollower{}).open, Challenge: again})
	}
	b := &browserFollower{}
	err = c.SignIn(ctx, SignInOptions{Open: b.open, Challenge: again})
	if err == nil || !strings.Contains(err.Error(), "giving up") || b.calls.Load() != 0 {
		t.Errorf("fourth step-up: %v (browser opened %d times)", err, b.calls.Load())
	}
}

func TestSelectScopes(t *testing.T) {
	as := []string{"a", "b", "offline_access"}
	for _, tc := range []struct {
		name              string
		configured        []string
		ch                Challenge
		resource, granted []string
		as                []string
		want              string
	}{
		{"challenge first", nil, Challenge{Scope: "x y"}, []string{"r"}, nil, as, "x y offline_access"},
		{"then resource scopes", nil, Challenge{}, []string{"r1", "r2"}, nil, as, "r1 r2 offline_access"},
		{"else omitted", nil, Challenge{}, nil, nil, as, ""},
		{"offline only when advertised", nil, Challenge{Scope: "x"}, nil, nil, []string{"x"}, "x"},
		// AUTH-19: the challenge's scopes are authoritative; configured ones
		// are added, without duplicates, in a stable order.
		{"configured and challenged", []string{"c"}, Challenge{Scope: "x"}, nil, nil, nil, "c x"},
		{"configured and challenged, no duplicates", []string{"c", "x", "c"}, Challenge{Scope: "y x"}, []string{"r"}, nil, as, "c x y offline_access"},
		{"configured alone without a challenged scope", []string{"c"}, Challenge{}, []string{"r"}, nil, as, "c offline_access"},
		{"step-up is a union", nil, Challenge{Error: "insufficient_scope", Scope: "write"}, nil, []string{"read", "offline_access"}, as, "read offline_access write"},
		// AUTH-19, AUTH-31: configured scopes do not hide the challenged one.
		{"step-up adds the challenged scope to configured ones", []string{"mcp:read"}, Challenge{Error: "insufficient_scope", Scope: "mcp:admin"},
			nil, []string{"mcp:read", "offline_access"}, as, "mcp:read offline_access mcp:admin"},
		{"step-up without anything granted", []string{"c"}, Challenge{Error: "insufficient_scope", Scope: "x"}, nil, nil, nil, "c x"},
	} {
		if got := selectScopes(tc.configured, tc.ch, tc.resource, tc.as, tc.granted); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// AUTH-08's order, and AUTH-02/03's.
func TestDiscoveryURLOrder(t *testing.T) {
	got := strings.Join(asMetadataURLs("https://auth.example.com/tenant1"), " ")
	want := "https://auth.example.com/.well-known/oauth-authorization-server/tenant1 " +
		"https://auth.example.com/.well-known/openid-configuration/tenant1 " +
		"https://auth.example.com/tenant1/.well-known/openid-configuration"
	if got != want {
		t.Errorf("with path:\n%s\nwant\n%s", got, want)
	}
	if got := strings.Join(asMetadataURLs("https://auth.example.com"), " "); got !=
		"https://auth.example.com/.well-known/oauth-authorization-server https://auth.example.com/.well-known/openid-configuration" {
		t.Errorf("without path: %s", got)
	}
	if got := strings.Join(prmURLs("https://mcp.example.com/v1/mcp", ""), " "); got !=
		"https://mcp.example.com/.well-known/oauth-protected-resource/v1/mcp https://mcp.example.com/.well-known/oauth-protected-resource" {
		t.Errorf("prm: %s", got)
	}
	if got := prmURLs("https://mcp.example.com/mcp", "https://mcp.example.com/custom.json"); len(got) != 1 {
		t.Errorf("a header URL must be used alone: %v", got)
	}
}

func TestResourceMatching(t *testing.T) {
	for _, tc := range []struct {
		prm, server string
		ok          bool
	}{
		{"https://mcp.example.com/mcp", "https://mcp.example.com/mcp", true},
		{"https://MCP.example.com/mcp", "https://mcp.example.com/mcp", true},
		{"https://mcp.slack.com", "https://mcp.slack.com/mcp", true},
		{"https://mcp.example.com/", "https://mcp.example.com/mcp", true},
		{"https://mcp.example.com/m", "https://mcp.example.com/mcp", false},
		{"https://evil.example.com/mcp", "https://mcp.example.com/mcp", false},
		{"http://mcp.example.com/mcp", "https://mcp.example.com/mcp", false},
		{"https://mcp.example.com/mcp/other", "https://mcp.example.com/mcp", false},
	} {
		if got := resourceMatches(tc.prm, tc.server); got != tc.ok {
			t.Errorf("resourceMatches(%q, %q) = %v", tc.prm, tc.server, got)
		}
	}
}

// AUTH-33: private and link-local addresses are refused unless the MCP
// server itself is local.
func TestAddressPolicy(t *testing.T) {
	public := policyFor("https://mcp.example.com/mcp", false)
	for _, ip := range []string{"127.0.0.1", "10.0.0.1", "192.168.1.1", "169.254.169.254", "fe80::1", "::1", "100.64.0.1", "0.0.0.0"} {
		if public.check(netip.MustParseAddr(ip)) == nil {
			t.Errorf("public server: %s allowed", ip)
		}
	}
	if public.check(netip.MustParseAddr("93.184.215.14")) != nil {
		t.Error("a public address was refused")
	}
	local := policyFor("http://127.0.0.1:8080/mcp", false)
	if local.check(netip.MustParseAddr("127.0.0.1")) != nil || local.check(netip.MustParseAddr("169.254.169.254")) == nil {
		t.Error("loopback server policy wrong")
	}
	lan := policyFor("http://192.168.1.20/mcp", false)
	if lan.check(netip.MustParseAddr("192.168.1.1")) != nil || lan.check(netip.MustParseAddr("127.0.0.1")) == nil {
		t.Error("LAN server policy wrong")
	}
}

// A public server whose metadata points at a private address is refused
// at connect time, whatever the URL's spelling.
func TestSSRFGuardBlocksDial(t *testing.T) {
	hc := newHTTPClient(policyFor("https://mcp.example.com/mcp", false), defaultTransport())
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer target.Close()
	_, err := hc.Get(target.URL)
	if !errors.Is(err, errBlocked) {
		t.Errorf("request to %s: %v", target.URL, err)
	}
}

// Every value on the callback page is escaped: error descriptions come
// from the network.
func TestCallbackPageEscapes(t *testing.T) {
	rec := httptest.NewRecorder()
	page(rec, 200, "Sign-in failed", `the authorization server returned an error (x: <script>alert(1)</script>)`, false)
	body := rec.Body.String()
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;") {
		t.Errorf("page not escaped: %s", body)
	}
	if rec.Header().Get("Content-Security-Policy") == "" {
		t.Error("no CSP on the callback page")
	}
}

// The manual path: a pasted redirect URL completes the flow.
func TestPastedRedirectCompletesSignIn(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "paste", URL: srv.URL()})
	printed := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- c.SignIn(context.Background(), SignInOptions{Open: func(_ context.Context, u string) error {
			printed <- u // --no-browser: the URL is printed for another machine's browser
			return nil
		}})
	}()
	authURL := <-printed
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location") // what the person copies from the browser's address bar
	if err := m.CompleteManually("paste", loc); err != nil {
		t.Fatalf("CompleteManually: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(loc)
	if err := m.CompleteManually("paste", loc); err == nil || u.Query().Get("state") == "" {
		t.Error("a pasted redirect could be used twice")
	}
}

// The callback listener answers only requests addressed to loopback: a
// page whose name was rebound to 127.0.0.1 is refused before the state is
// looked at.
func TestCallbackRefusesForeignHost(t *testing.T) {
	cs := &callbackServer{m: testManager(t, NewMemoryStore())}
	for host, want := range map[string]int{
		"evil.example:48801": http.StatusForbidden,
		"evil.example":       http.StatusForbidden,
		"10.0.0.1:48801":     http.StatusForbidden,
		"127.0.0.1:48801":    http.StatusBadRequest, // addressed right; the state is unknown
		"localhost:48801":    http.StatusBadRequest,
		"[::1]:48801":        http.StatusBadRequest,
	} {
		req := httptest.NewRequest(http.MethodGet, "/callback?code=c&state=s", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		cs.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Host %s: HTTP %d, want %d", host, rec.Code, want)
		}
	}
}
