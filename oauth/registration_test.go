package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcptray/mcptray/oauth/oauthtest"
)

// AUTH-14: dynamic registration says application_type "native". The
// oauthtest server refuses a registration without it (checked first, so
// that the sign-in's success shows the client sent it).
func TestDynamicRegistrationIsNative(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	resp, err := http.Post(srv.Issuer+"/register", "application/json",
		strings.NewReader(`{"redirect_uris":["http://127.0.0.1:1/callback"],"token_endpoint_auth_method":"none"}`))
	if err != nil {
		t.Fatal(err)
	}
	var e struct{ Error string }
	_ = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || e.Error != "invalid_client_metadata" {
		t.Fatalf("registration without application_type: HTTP %d %q, want 400 invalid_client_metadata", resp.StatusCode, e.Error)
	}

	c := testManager(t, NewMemoryStore()).Client(ServerConfig{ID: "native", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	if n := srv.Counts().Registrations; n != 1 || c.Info().Registration != MethodDCR {
		t.Errorf("%d registrations, info %+v: want one dynamic registration", n, c.Info())
	}
}

// AUTH-14: an authorization server that refuses the loopback redirect URI
// (invalid_redirect_uri) gets an error naming the URI and what the server
// said, before any browser opens; nothing is stored.
func TestRegistrationRefusingTheRedirectURI(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{HTTPSRedirectsOnly: true})
	defer srv.Close()
	port := freeCallbackPort(t)
	store := NewMemoryStore()
	c := testManager(t, store, func(c *Config) { c.CallbackPort = port }).Client(ServerConfig{ID: "https-only", URL: srv.URL()})
	b := &browserFollower{}
	err := c.SignIn(context.Background(), SignInOptions{Open: b.open})
	redirect := fmt.Sprintf("http://127.0.0.1:%d/callback", port)
	for _, want := range []string{"rejected MCP Tray's redirect URI " + redirect, "only https redirect URIs are accepted", "client ID"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to contain %q", err, want)
		}
	}
	if b.calls.Load() != 0 || srv.Counts().Authorizations != 0 {
		t.Error("the sign-in went on to the authorization page")
	}
	if keys, _ := store.List("oauth/"); len(keys) != 0 {
		t.Errorf("stored after the refusal: %v", keys)
	}
}

// AUTH-15, AUTH-06: a dynamic registration belongs to the authorization
// server it was made with. When the server's resource metadata names
// another one, the next sign-in registers there, once, and the first
// one's client ID is never presented to it. Back at the first, its own
// registration is used again.
func TestRegistrationIsPerAuthorizationServer(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{}) // the MCP server, and its first authorization server
	defer srv.Close()
	moved := oauthtest.NewServer(oauthtest.Options{Resource: srv.URL()})
	defer moved.Close()
	c := testManager(t, NewMemoryStore()).Client(ServerConfig{ID: "moving", URL: srv.URL()})
	signIn(t, c, &browserFollower{})
	first := srv.ClientIDs()
	if len(first) == 0 {
		t.Fatal("the first authorization server saw no client ID")
	}

	srv.SetAuthorizationServers(moved.Issuer)
	// An unknown client ID gets an error page, not a redirect back: the
	// sign-in is cancelled once the browser shows one.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := &browserFollower{}
	done := make(chan error, 1)
	go func() { done <- c.SignIn(ctx, SignInOptions{Open: b.open}) }()
	if p := b.page(t); !strings.Contains(p, "Signed in") {
		cancel()
		t.Errorf("the browser ended on %q", p)
	}
	if err := <-done; err != nil {
		t.Errorf("sign-in at the new authorization server: %v", err)
	}
	if info := c.Info(); info.Issuer != moved.Issuer || !info.SignedIn {
		t.Errorf("info = %+v, want signed in at %s", info, moved.Issuer)
	}
	if n := moved.Counts(); n.Registrations != 1 || n.CodeExchanges != 1 {
		t.Errorf("at the new authorization server: %+v, want one registration and one code exchange", n)
	}
	second := moved.ClientIDs()
	if slices.Contains(second, first[0]) {
		t.Errorf("the first authorization server's client ID %s was presented to the second", first[0])
	}
	if slices.ContainsFunc(second, func(id string) bool { return id != second[0] }) {
		t.Errorf("client IDs presented to the second authorization server: %v, want its own alone", second)
	}

	srv.SetAuthorizationServers(srv.Issuer)
	signIn(t, c, &browserFollower{})
	if n := srv.Counts(); n.Registrations != 1 || n.CodeExchanges != 2 {
		t.Errorf("back at the first authorization server: %+v, want its one registration reused", n)
	}
	if ids := srv.ClientIDs(); slices.ContainsFunc(ids, func(id string) bool { return id != first[0] }) {
		t.Errorf("client IDs presented to the first authorization server: %v, want %s alone", ids, first[0])
	}
}
