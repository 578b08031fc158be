package oauth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

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
