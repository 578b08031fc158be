package mcphub

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcptray/mcptray/internal/atomicfile"
	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/upstream"
)

// lockableKeyring is a keyring that can be locked and unlocked.
type lockableKeyring struct{ locked atomic.Bool }

func (k *lockableKeyring) lookup(name string) (string, bool, error) {
	if k.locked.Load() {
		return "", false, errors.New("the keyring is locked")
	}
	return "value-of-" + name, true, nil
}

// keyringHub starts a hub whose ${keyring:} values come from k, reading
// the file again after retryMin while a server waits for the keyring.
func keyringHub(t *testing.T, k *lockableKeyring, retryMin time.Duration, cfg string) (*Hub, string, *status.Subscription) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	h := New(Options{ConfigPath: path,
		ConfigOptions: config.Options{LookupSecret: k.lookup},
		Upstream:      upstream.Options{Backoff: upstream.Backoff{Min: 200 * time.Millisecond, Max: time.Second}},
	})
	h.secretRetryMin = retryMin
	sub := h.Subscribe(1024)
	t.Cleanup(func() { sub.Close(); h.Close() })
	if err := h.Reload(); err != nil {
		t.Fatalf("initial config: %v", err)
	}
	return h, path, sub
}

// waitNewConn reads events until id runs on a connection other than old,
// connected.
func waitNewConn(t *testing.T, h *Hub, sub *status.Subscription, id string, old *upstream.Conn) *upstream.Conn {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		if c, ok := h.Conn(id); ok && c != old && c.Status().State == status.Connected {
			return c
		}
		select {
		case _, open := <-sub.C:
			if !open {
				t.Fatal("event subscription lagged")
			}
		case <-deadline:
			t.Fatalf("%s did not connect anew: %+v", id, serverByID(h, id))
		}
	}
}

// A keyring that cannot be read at start (a login that has not unlocked
// it yet) holds back only the server whose entry needs it; the rest of the
// file runs, and the server starts by itself once the keyring opens.
func TestLockedKeyringHoldsBackOnlyItsServer(t *testing.T) {
	bin := testpeers.EverythingServerBin(t)
	k := &lockableKeyring{}
	k.locked.Store(true)
	h, _, sub := keyringHub(t, k, 20*time.Millisecond, fmt.Sprintf(`{"mcpServers": {
  "needs": {"command": %q, "env": {"TOKEN": "${keyring:tok}"}},
  "free": {"command": %q}
}}`, bin, bin))
	waitState(t, h, sub, map[string]status.State{"needs": status.Error, "free": status.Connected})
	if err := h.ConfigError(); err != nil {
		t.Errorf("the file was rejected: %v", err)
	}
	reason := serverByID(h, "needs").Status.Reason
	if !strings.Contains(reason, `reading ${keyring:tok} from the keyring failed: the keyring is locked`) {
		t.Errorf("reason = %q", reason)
	}
	held, _ := h.Conn("needs")

	k.locked.Store(false)
	c := waitNewConn(t, h, sub, "needs", held)
	if got := c.Server().Env["TOKEN"]; got != "value-of-tok" {
		t.Errorf("started with TOKEN=%q", got)
	}
}

// A keyring that locks while the server runs (screen lock, a keyring
// daemon restarted) does not stop it: an edit of the file restarts the
// servers it changes, but this one keeps the values it was started with
// until the keyring can be read again, and then takes its edit.
func TestLockedKeyringKeepsARunningServer(t *testing.T) {
	bin := testpeers.EverythingServerBin(t)
	k := &lockableKeyring{}
	cfg := `{"mcpServers": {
  "needs": {"command": %q, "env": {"TOKEN": "${keyring:tok}", "EDIT": %q}},
  "free": {"command": %q, "env": {"EDIT": %q}}
}}`
	h, path, sub := keyringHub(t, k, 20*time.Millisecond, fmt.Sprintf(cfg, bin, "1", bin, "1"))
	waitState(t, h, sub, map[string]status.State{"needs": status.Connected, "free": status.Connected})
	running, _ := h.Conn("needs")
	free, _ := h.Conn("free")

	k.locked.Store(true)
	if err := atomicfile.WriteFile(path, []byte(fmt.Sprintf(cfg, bin, "2", bin, "2")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	waitNewConn(t, h, sub, "free", free) // the edit of the other server applies
	if c, _ := h.Conn("needs"); c != running || c.Status().State != status.Connected {
		t.Fatalf("the running server was stopped for a keyring it cannot read: %+v", serverByID(h, "needs"))
	}
	if got := running.Server().Env["TOKEN"]; got != "value-of-tok" {
		t.Errorf("running with TOKEN=%q", got)
	}

	k.locked.Store(false)
	c := waitNewConn(t, h, sub, "needs", running)
	if got := c.Server().Env; got["TOKEN"] != "value-of-tok" || got["EDIT"] != "2" {
		t.Errorf("after the keyring opened: env %v", got)
	}
}

// Reconnect on a server that waits for the keyring reads it again at
// once, rather than at the next retry.
func TestReconnectReadsTheKeyringAgain(t *testing.T) {
	bin := testpeers.EverythingServerBin(t)
	k := &lockableKeyring{}
	k.locked.Store(true)
	h, _, sub := keyringHub(t, k, time.Hour, fmt.Sprintf(`{"mcpServers": {
  "needs": {"command": %q, "env": {"TOKEN": "${keyring:tok}"}}
}}`, bin))
	waitState(t, h, sub, map[string]status.State{"needs": status.Error})
	held, _ := h.Conn("needs")
	k.locked.Store(false)
	if err := h.Reconnect("needs"); err != nil {
		t.Fatal(err)
	}
	waitNewConn(t, h, sub, "needs", held)
}

// A sign-in to a server that waits for the keyring says why it cannot
// start, and leaves its status as it was (it stayed "authenticating").
func TestSignInToAServerWaitingForTheKeyring(t *testing.T) {
	k := &lockableKeyring{}
	k.locked.Store(true)
	h, _, sub := keyringHub(t, k, time.Hour, `{"mcpServers": {
  "needs": {"url": "https://mcp.example.com/mcp", "headers": {"Authorization": "Bearer ${keyring:tok}"}}
}}`)
	waitState(t, h, sub, map[string]status.State{"needs": status.Error})
	err := h.Authenticate(t.Context(), "needs", AuthenticateOptions{})
	if err == nil || !strings.Contains(err.Error(), `needs cannot start before its keyring values can be read: server "needs": "headers".Authorization: reading ${keyring:tok} from the keyring failed: the keyring is locked`) {
		t.Fatalf("Authenticate = %v", err)
	}
	if st := serverByID(h, "needs").Status; st.State != status.Error || !strings.Contains(st.Reason, "the keyring is locked") {
		t.Errorf("after the refused sign-in: %+v", st)
	}
}

// Without a keyring in the process (none found, a wrong password) reading
// again cannot help: the server waits without retries, and says what
// would.
func TestNoKeyringIsNotRetried(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(`{"mcpServers": {"needs": {"url": "https://mcp.example.com/mcp", "headers": {"A": "${keyring:a}", "B": "${keyring:b}"}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int32
	h := New(Options{ConfigPath: path, ConfigOptions: config.Options{LookupSecret: func(string) (string, bool, error) {
		asked.Add(1)
		return "", false, config.NoKeyring(errors.New("no keyring backend"))
	}}})
	sub := h.Subscribe(64)
	t.Cleanup(func() { sub.Close(); h.Close() })
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, sub, map[string]status.State{"needs": status.Error})
	if st := serverByID(h, "needs").Status; !strings.HasSuffix(st.Reason, "no keyring backend; start MCP Tray again once its keyring can be opened") {
		t.Errorf("reason = %q", st.Reason)
	}
	h.mu.Lock()
	scheduled := h.secretRetry != nil
	h.mu.Unlock()
	if scheduled {
		t.Error("a retry was scheduled for a keyring the process does not have")
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("the keyring was asked %d times for one file; once it failed, once is enough", n)
	}
}

// Reconnect on a server kept running while the keyring is locked reads
// the file again: an edit of its entry waiting for the keyring applies at
// once when the keyring has opened meanwhile.
func TestReconnectAppliesAnEditWaitingForTheKeyring(t *testing.T) {
	bin := testpeers.EverythingServerBin(t)
	k := &lockableKeyring{}
	cfg := `{"mcpServers": {"needs": {"command": %q, "env": {"TOKEN": "${keyring:tok}", "EDIT": %q}}}}`
	h, path, sub := keyringHub(t, k, time.Hour, fmt.Sprintf(cfg, bin, "1"))
	waitState(t, h, sub, map[string]status.State{"needs": status.Connected})
	running, _ := h.Conn("needs")
	k.locked.Store(true)
	if err := atomicfile.WriteFile(path, []byte(fmt.Sprintf(cfg, bin, "2")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	if c, _ := h.Conn("needs"); c != running {
		t.Fatal("the running server was replaced while the keyring was locked")
	}
	k.locked.Store(false)
	if err := h.Reconnect("needs"); err != nil {
		t.Fatal(err)
	}
	c := waitNewConn(t, h, sub, "needs", running)
	if got := c.Server().Env["EDIT"]; got != "2" {
		t.Errorf("after Reconnect: EDIT=%q, want the edit", got)
	}
}
