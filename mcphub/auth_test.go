package mcphub

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcptray/mcptray/internal/atomicfile"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/upstream"
	"github.com/mcptray/mcptray/oauth"
	"github.com/mcptray/mcptray/oauth/oauthtest"
)

// syncBuffer is a log sink tests can read while the hub writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// oauthHub starts a hub with sign-in support on a config file.
func oauthHub(t *testing.T, cfg string) (*Hub, string, *status.Subscription, *oauth.MemoryStore, *syncBuffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := oauth.NewMemoryStore()
	var h *Hub
	m := oauth.NewManager(oauth.Config{Store: store, Logger: log, CallbackPort: 44000 + int(time.Now().UnixNano()%500)*10,
		OnEvent: func(s string, e oauth.Event) { h.OnAuthEvent(s, e) }})
	t.Cleanup(m.Close)
	h = New(Options{ConfigPath: path, Logger: log, OAuth: m,
		Upstream: upstream.Options{Backoff: upstream.Backoff{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond}}})
	sub := h.Subscribe(4096)
	t.Cleanup(func() { sub.Close(); h.Close() })
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	return h, path, sub, store, logs
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

func TestHubRefusesSignInForStdio(t *testing.T) {
	h, _, _, _, _ := oauthHub(t, `{"mcpServers": {"local": {"command": "true", "disabled": true}}}`)
	if err := h.Authenticate(context.Background(), "local", AuthenticateOptions{Open: follow}); err == nil {
		t.Error("signing in to a disabled stdio server did not fail")
	}
}
