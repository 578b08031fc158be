package oauth

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/mcptray/mcptray/internal/testlog"
	"github.com/mcptray/mcptray/oauth/oauthtest"
)

// A key in the server's URL, in its query or as a long path segment, is
// in neither a sign-in's error nor the log.
func TestSignInErrorsHideAKeyInTheServerURL(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{PRMResource: "https://elsewhere.example/mcp"})
	defer srv.Close()
	for _, tc := range []struct{ url, key, shown string }{
		{srv.URL() + "?api_key=SUPERSECRETKEY123", "SUPERSECRETKEY123", "/mcp?…"},
		{srv.URL() + "/sk_live_0123456789abcdef", "sk_live_0123456789abcdef", "/mcp/…"},
	} {
		var logs testlog.Buffer
		m := testManager(t, NewMemoryStore(), func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
		c := m.Client(ServerConfig{ID: "keyed", URL: tc.url})
		// The challenge points at the metadata, as the server's 401 does.
		ch := &Challenge{Status: 401, ResourceMetadata: srv.ResourceMetadataURL()}
		err := c.SignIn(context.Background(), SignInOptions{Open: (&browserFollower{}).open, Challenge: ch})
		if err == nil || !strings.Contains(err.Error(), "names resource") {
			t.Fatalf("%s: err = %v, want the resource mismatch", tc.url, err)
		}
		if strings.Contains(err.Error(), tc.key) || strings.Contains(logs.String(), tc.key) {
			t.Errorf("the key leaked:\nerr: %v\nlog: %s", err, logs.String())
		}
		if !strings.Contains(err.Error(), tc.shown) {
			t.Errorf("err = %v, want the URL shown as …%s", err, tc.shown)
		}
	}
}

// A server without resource metadata (2025-03-26) gets the resource
// parameter without its query: the key in it would reach the authorization
// server and the browser's history.
func TestFallbackResourceDropsTheQuery(t *testing.T) {
	mux := http.NewServeMux()
	as := httptest.NewServer(mux)
	defer as.Close()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": as.URL, "authorization_endpoint": as.URL + "/authorize", "token_endpoint": as.URL + "/token",
			"code_challenge_methods_supported": []string{"S256"},
		})
	})
	m := testManager(t, NewMemoryStore())
	c := m.Client(ServerConfig{ID: "legacy", URL: as.URL + "/mcp?api_key=SUPERSECRETKEY123", ClientID: "app"})
	ctx, cancel := context.WithCancel(context.Background())
	var authURL string
	err := c.SignIn(ctx, SignInOptions{Open: func(_ context.Context, u string) error {
		authURL = u
		cancel() // the person closes the tab
		return nil
	}})
	if err == nil || authURL == "" {
		t.Fatalf("SignIn = %v, opened %q; want it cancelled after opening", err, authURL)
	}
	u, _ := url.Parse(authURL)
	if got, want := u.Query().Get("resource"), as.URL+"/mcp"; got != want {
		t.Errorf("resource = %q, want %q", got, want)
	}
	if strings.Contains(authURL, "SUPERSECRETKEY123") {
		t.Errorf("the key is in the authorization URL: %s", authURL)
	}
}
