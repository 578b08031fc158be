package mcphub

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcptray/mcptray/internal/atomicfile"
	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/upstream"
)

// testHub starts a hub on a config file in a temp folder.
func testHub(t *testing.T, cfg string) (*Hub, string, *status.Subscription) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	h := New(Options{ConfigPath: path, Upstream: upstream.Options{
		Backoff: upstream.Backoff{Min: 200 * time.Millisecond, Max: time.Second},
	}})
	sub := h.Subscribe(1024)
	t.Cleanup(func() { sub.Close(); h.Close() })
	if err := h.Reload(); err != nil {
		t.Fatalf("initial config: %v", err)
	}
	return h, path, sub
}

// waitState reads events until every named server is in the wanted state.
func waitState(t *testing.T, h *Hub, sub *status.Subscription, want map[string]status.State) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		ok := true
		for _, v := range h.Servers() {
			if w, named := want[v.ID]; named && v.Status.State != w {
				ok = false
			}
		}
		if ok {
			return
		}
		select {
		case _, open := <-sub.C:
			if !open {
				t.Fatal("event subscription lagged")
			}
		case <-deadline:
			t.Fatalf("servers did not reach %v: %+v", want, h.Servers())
		}
	}
}

func serverByID(h *Hub, id string) ServerView {
	for _, v := range h.Servers() {
		if v.ID == id {
			return v
		}
	}
	return ServerView{}
}

func TestHubConnectsHTTPAndStdio(t *testing.T) {
	peer := testpeers.StartEverythingHTTP(t)
	bin := testpeers.EverythingServerBin(t)
	h, _, sub := testHub(t, fmt.Sprintf(`{"mcpServers": {
  "fixture-http": {"url": %q},
  "fixture-stdio": {"command": %q}
}}`, peer.URL, bin))
	waitState(t, h, sub, map[string]status.State{"fixture-http": status.Connected, "fixture-stdio": status.Connected})

	for _, id := range []string{"fixture-http", "fixture-stdio"} {
		st := serverByID(h, id).Status
		if st.Counts.Tools < 10 || st.ProtocolVersion == "" {
			t.Errorf("%s: %+v", id, st)
		}
		c, _ := h.Conn(id)
		cat := c.Catalog()
		// The schema bytes are the server's own (not re-encoded by go-sdk).
		for _, tool := range cat.Tools {
			if !strings.Contains(string(tool.Raw), `"inputSchema"`) {
				t.Errorf("%s tool %s raw = %s", id, tool.Key, tool.Raw)
			}
		}
	}
	if got := serverByID(h, "fixture-http").Status.Transport; got != upstream.TransportStreamable {
		t.Errorf("http transport = %q", got)
	}
	if got := serverByID(h, "fixture-stdio").Status.Transport; got != upstream.TransportStdio {
		t.Errorf("stdio transport = %q", got)
	}
}

// Editing one server must not touch another's upstream session.
func TestEditKeepsOtherSessions(t *testing.T) {
	peer := testpeers.StartEverythingHTTP(t)
	bin := testpeers.EverythingServerBin(t)
	cfg := `{"mcpServers": {
  "keep-http": {"url": %q},
  "keep-stdio": {"command": %q},
  "edited": {"command": %q, "env": {"X": "%s"}}
}}`
	h, path, sub := testHub(t, fmt.Sprintf(cfg, peer.URL, bin, bin, "1"))
	all := map[string]status.State{"keep-http": status.Connected, "keep-stdio": status.Connected, "edited": status.Connected}
	waitState(t, h, sub, all)

	httpConn, _ := h.Conn("keep-http")
	stdioConn, _ := h.Conn("keep-stdio")
	httpSession := httpConn.Session()
	stdioSession := stdioConn.Session()
	editedBefore, _ := h.Conn("edited")

	if err := atomicfile.WriteFile(path, []byte(fmt.Sprintf(cfg, peer.URL, bin, bin, "2")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(); err != nil {
		t.Fatal(err)
	}
	editedAfter, _ := h.Conn("edited")
	if editedAfter == editedBefore {
		t.Fatal("the edited server was not restarted")
	}
	waitState(t, h, sub, all)

	if c, _ := h.Conn("keep-http"); c != httpConn || c.Session() != httpSession || httpSession.ID() == "" {
		t.Error("the HTTP server's upstream session was replaced by an edit of another server")
	}
	if c, _ := h.Conn("keep-stdio"); c != stdioConn || c.Session() != stdioSession {
		t.Error("the stdio server's upstream session was replaced by an edit of another server")
	}
}

func TestBrokenEditKeepsLastGood(t *testing.T) {
	bin := testpeers.EverythingServerBin(t)
	good := fmt.Sprintf(`{"mcpServers": {"a": {"command": %q}}}`, bin)
	h, path, sub := testHub(t, good)
	waitState(t, h, sub, map[string]status.State{"a": status.Connected})
	before, _ := h.Conn("a")

	if err := os.WriteFile(path, []byte(`{"mcpServers": {"a": {"command": "x",}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := h.Reload()
	if err == nil || !strings.Contains(err.Error(), "config.json:1:37: JSON syntax: trailing comma") {
		t.Fatalf("Reload = %v", err)
	}
	if h.ConfigError() == nil {
		t.Error("ConfigError is nil after a broken edit")
	}
	if after, _ := h.Conn("a"); after != before || after.Status().State != status.Connected {
		t.Error("a broken edit disturbed the running server")
	}
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(); err != nil || h.ConfigError() != nil {
		t.Fatalf("repair: %v / %v", err, h.ConfigError())
	}
	if after, _ := h.Conn("a"); after != before {
		t.Error("repairing the file restarted an unchanged server")
	}
}

// A file that is broken when the hub starts leaves the hub's settings at
// their defaults, not zero: the bridge, which listens anyway, keeps its
// port and requires client tokens (a zero config had it listen on a random
// port with no token required).
func TestBrokenFileAtStartKeepsTheDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(`{"hub": {"bridge": {"requireToken": false}}, "mcpServers": {"a": {"command": "x",}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	h := New(Options{ConfigPath: path})
	defer h.Close()
	if err := h.Reload(); err == nil {
		t.Fatal("a broken file loaded")
	}
	got := h.Config()
	want := config.Default(path)
	if got.Path != path || !reflect.DeepEqual(got.Hub, want.Hub) || len(got.Servers) != 0 {
		t.Errorf("config after a broken start = %+v, want the defaults %+v", got, want)
	}
	if !got.Hub.Bridge.RequireToken || got.Hub.Bridge.Port != config.DefaultBridgePort {
		t.Errorf("bridge settings = %+v: want a token required on port %d", got.Hub.Bridge, config.DefaultBridgePort)
	}
}

// Pause all disconnects every server without editing the file; resuming
// connects them again.
func TestPauseAll(t *testing.T) {
	peer := testpeers.StartEverythingHTTP(t)
	h, path, sub := testHub(t, fmt.Sprintf(`{"mcpServers": {"a": {"url": %q}}}`, peer.URL))
	waitState(t, h, sub, map[string]status.State{"a": status.Connected})
	before, _ := os.ReadFile(path)
	h.SetPaused(true)
	waitState(t, h, sub, map[string]status.State{"a": status.Disabled})
	if !h.Paused() {
		t.Error("Paused() = false")
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("pausing edited the configuration file")
	}
	// A sign-in meanwhile is refused for that reason, not as "disabled".
	if err := h.Authenticate(context.Background(), "a", AuthenticateOptions{}); err == nil || !strings.Contains(err.Error(), "paused") {
		t.Errorf("a sign-in while paused: %v, want it refused because MCP Tray is paused", err)
	}
	h.SetPaused(false)
	waitState(t, h, sub, map[string]status.State{"a": status.Connected})
}
