package mcphub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/upstream"
	"github.com/mcptray/mcptray/oauth"
	"github.com/mcptray/mcptray/oauth/oauthtest"
)

// A failed sign-in's reason in the status does not show a key that is in
// the server's URL.
func TestHubSignInFailureHidesAKeyInTheURL(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{PRMResource: "https://evil.example/mcp"})
	defer srv.Close()
	h, _, sub, _, logs := oauthHub(t, fmt.Sprintf(`{"mcpServers": {"bad": {"url": %q}}}`, srv.URL()+"?api_key=SUPERSECRETKEY123"))
	waitState(t, h, sub, map[string]status.State{"bad": status.NeedsAuth})
	err := h.Authenticate(context.Background(), "bad", AuthenticateOptions{Open: follow})
	if err == nil {
		t.Fatal("signed in despite the resource mismatch")
	}
	st := serverByID(h, "bad").Status
	if !strings.Contains(st.Reason, "sign-in failed") || !strings.Contains(st.Reason, "/mcp?…") {
		t.Errorf("status reason = %q", st.Reason)
	}
	for what, s := range map[string]string{"error": err.Error(), "status": st.Reason, "log": logs.String()} {
		if strings.Contains(s, "SUPERSECRETKEY123") {
			t.Errorf("the key is in the %s: %s", what, s)
		}
	}
}

// A pre-registered client's secret that could not be read when the server
// started (a locked keyring) is read again by the sign-in: while it cannot
// be, the sign-in says so before any browser opens; once it can, the
// sign-in uses it rather than asking as a public client.
func TestHubSignInReadsTheClientSecretAgain(t *testing.T) {
	srv := oauthtest.NewServer(oauthtest.Options{Clients: []oauthtest.Client{{ID: "app", Secret: "s3cret-value"}}})
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "config.json")
	cfg := fmt.Sprintf(`{"mcpServers": {"pre": {"url": %q, "oauth": {"clientId": "app", "clientSecret": "${keyring:pre-secret}"}}}}`, srv.URL())
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var locked atomic.Bool
	locked.Store(true)
	var h *Hub
	m := oauth.NewManager(oauth.Config{Store: oauth.NewMemoryStore(), Logger: slog.New(slog.DiscardHandler), CallbackPort: 47000 + int(time.Now().UnixNano()%500)*10,
		OnEvent: func(s string, e oauth.Event) { h.OnAuthEvent(s, e) }})
	t.Cleanup(m.Close)
	h = New(Options{ConfigPath: path, OAuth: m, Logger: slog.New(slog.DiscardHandler),
		Upstream:      upstream.Options{Backoff: upstream.Backoff{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond}},
		ConfigOptions: config.Options{LookupSecret: func(string) (string, bool, error) { return "", true, nil }},
		ResolveSecret: func(name string) (string, error) {
			if locked.Load() {
				return "", errors.New("the keyring did not answer in time (is it locked?)")
			}
			return "s3cret-value", nil
		}})
	sub := h.Subscribe(4096)
	t.Cleanup(func() { sub.Close(); h.Close() })
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, sub, map[string]status.State{"pre": status.NeedsAuth})

	ctx := context.Background()
	opened := false
	abandon, cancel := context.WithCancel(ctx) // a browser that opens is closed at once
	defer cancel()
	err := h.Authenticate(abandon, "pre", AuthenticateOptions{Open: func(context.Context, string) error { opened = true; cancel(); return nil }})
	if err == nil || !strings.Contains(err.Error(), "${keyring:pre-secret}") || !strings.Contains(err.Error(), "is it locked?") || opened {
		t.Fatalf("sign-in while the secret cannot be read: err %v, browser opened %v", err, opened)
	}

	locked.Store(false)
	if err := h.Authenticate(ctx, "pre", AuthenticateOptions{Open: follow}); err != nil {
		t.Fatalf("sign-in once the keyring answers: %v", err)
	}
	if info := serverByID(h, "pre").Auth; info == nil || info.Registration != oauth.MethodPreregistered {
		t.Errorf("auth info = %+v", info)
	}
}
