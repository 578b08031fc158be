package ui

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/status"
	"github.com/mcptray/mcptray/mcphub/store"
	"github.com/mcptray/mcptray/oauth"
)

// testNow is the fixed clock of the tests (golden images show times).
var testNow = time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)

// fakeHub is a hub whose states the test sets. Sign-ins wait for the test
// to finish them; configuration edits go to a real file.
type fakeHub struct {
	mu     sync.Mutex
	views  []mcphub.ServerView
	path   string
	paused bool
	auths  chan *authCall
}

type authCall struct {
	id   string
	ctx  context.Context
	done chan error
}

func newFakeHub(t *testing.T, views ...mcphub.ServerView) *fakeHub {
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(config.DefaultFile), 0o600); err != nil {
		t.Fatal(err)
	}
	return &fakeHub{views: views, path: path, auths: make(chan *authCall, 4)}
}

func (h *fakeHub) set(id string, f func(*mcphub.ServerView)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.views {
		if h.views[i].ID == id {
			f(&h.views[i])
		}
	}
}

func (h *fakeHub) Servers() []mcphub.ServerView {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]mcphub.ServerView(nil), h.views...)
}
func (h *fakeHub) Changes() (<-chan struct{}, func()) { return make(chan struct{}), func() {} }
func (h *fakeHub) ConfigError() error                 { return nil }
func (h *fakeHub) Paused() bool                       { h.mu.Lock(); defer h.mu.Unlock(); return h.paused }
func (h *fakeHub) SetPaused(p bool)                   { h.mu.Lock(); h.paused = p; h.mu.Unlock() }
func (h *fakeHub) Authenticate(ctx context.Context, id string) error {
	c := &authCall{id: id, ctx: ctx, done: make(chan error, 1)}
	h.auths <- c
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (h *fakeHub) Reconnect(string) error                { return nil }
func (h *fakeHub) SignOut(context.Context, string) error { return nil }
func (h *fakeHub) RecentErrors(context.Context, string, int) ([]ErrorRecord, error) {
	return []ErrorRecord{{Time: testNow.Add(-time.Minute), Reason: "the server answered 503"}}, nil
}
func (h *fakeHub) Catalog(string) Catalog {
	return Catalog{Tools: []Item{{Name: "search", Description: "Search issues"}}}
}
func (h *fakeHub) ConfigPath() string                                     { return h.path }
func (h *fakeHub) EditConfig(e config.Edit) error                         { return config.Apply(h.path, e, config.Options{}) }
func (h *fakeHub) Usage(context.Context, time.Time) (*store.Usage, error) { return &store.Usage{}, nil }
func (h *fakeHub) RecentCalls(context.Context, int) ([]store.Call, error) { return nil, nil }
func (h *fakeHub) CreateToken(string) (string, error)                     { return "mcptray_pat_test", nil }
func (h *fakeHub) BridgeURL() string                                      { return "http://127.0.0.1:48800/mcp" }
func (h *fakeHub) BridgeCommand() []string                                { return []string{"/usr/bin/mcptray", "bridge"} }
func (h *fakeHub) Environment() Environment {
	return Environment{Version: "test", KeyringBackend: "test"}
}
func (h *fakeHub) Autostart() (bool, error) { return false, nil }
func (h *fakeHub) SetAutostart(bool) error  { return nil }

// testUI builds the window on a test app. UI updates from other
// goroutines queue up; settle runs them on the test's goroutine.
type testUI struct {
	*UI
	queue chan func()
}

func newTestUI(t *testing.T, hub Hub) *testUI {
	a := test.NewTempApp(t)
	a.Settings().SetTheme(variant{theme.VariantLight})
	q := make(chan func(), 64)
	u := New(a, hub, Options{Now: func() time.Time { return testNow }, IDEFiles: []IDEFile{}, Do: func(f func()) { q <- f }})
	u.win.Resize(fyne.NewSize(980, 620))
	u.refresh()
	return &testUI{UI: u, queue: q}
}

// The window redraws its relative times each second while it is shown,
// and not while it is hidden in the tray.
func TestClockRunsWhileShown(t *testing.T) {
	u := newTestUI(t, newFakeHub(t))
	u.Start()
	defer u.Stop()
	if u.ticking {
		t.Fatal("the clock runs before the window is shown")
	}
	u.Show()
	shown := u.redraws
	u.settle(t, "the shown window's clock to tick", func() bool { return u.redraws > shown })
	u.hide()
	if u.ticking {
		t.Fatal("the clock runs while the window is hidden")
	}
}

// settle runs queued UI updates until ok holds.
func (u *testUI) settle(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !ok() {
		select {
		case f := <-u.queue:
			f()
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (h *fakeHub) nextAuth(t *testing.T) *authCall {
	t.Helper()
	select {
	case c := <-h.auths:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("the hub was never asked to sign in")
		return nil
	}
}

func needsAuth(id string) mcphub.ServerView {
	return mcphub.ServerView{ID: id, Name: id, Transport: "http", Target: "https://mcp." + id + ".app/mcp",
		Status: status.Status{Server: id, State: status.NeedsAuth, Reason: id + " needs you to sign in", Since: testNow.Add(-time.Minute)}}
}

// The key icon: the row waits for the browser with Cancel, and turns
// connected when the hub says the sign-in is done.
func TestAuthenticateRowGoesThroughStates(t *testing.T) {
	hub := newFakeHub(t, needsAuth("linear"))
	u := newTestUI(t, hub)
	row := u.servers.rows["linear"]
	if !row.auth.Visible() || row.cancel.Visible() {
		t.Fatal("a server that needs sign-in shows Authenticate, not Cancel")
	}
	test.Tap(row.auth)
	call := hub.nextAuth(t)
	if call.id != "linear" {
		t.Fatalf("signed in to %q", call.id)
	}
	if !strings.Contains(row.detail.Text, "Waiting for the browser") || !row.cancel.Visible() || row.auth.Visible() {
		t.Errorf("while waiting: detail %q, cancel %v, auth %v", row.detail.Text, row.cancel.Visible(), row.auth.Visible())
	}
	hub.set("linear", func(v *mcphub.ServerView) { v.Status.State = status.Authenticating })
	u.refresh()
	if !strings.Contains(row.detail.Text, "Waiting for the browser") {
		t.Errorf("authenticating: detail %q", row.detail.Text)
	}
	hub.set("linear", func(v *mcphub.ServerView) {
		v.Status = status.Status{Server: "linear", State: status.Connected, Counts: status.Counts{Tools: 12}, ServerInfo: "linear 2.0"}
	})
	call.done <- nil
	u.settle(t, "the row to show the connected server", func() bool { return strings.Contains(row.detail.Text, "12 tools") })
	if row.cancel.Visible() || row.auth.Visible() || row.state.Text != "Connected" {
		t.Errorf("connected: state %q, cancel %v, auth %v", row.state.Text, row.cancel.Visible(), row.auth.Visible())
	}
}

func TestAuthenticateCancel(t *testing.T) {
	hub := newFakeHub(t, needsAuth("linear"))
	u := newTestUI(t, hub)
	row := u.servers.rows["linear"]
	test.Tap(row.auth)
	call := hub.nextAuth(t)
	test.Tap(row.cancel)
	select {
	case <-call.ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Cancel did not cancel the sign-in")
	}
	u.settle(t, "Authenticate to come back", func() bool { return row.auth.Visible() })
	if strings.Contains(row.detail.Text, "failed") {
		t.Errorf("a cancelled sign-in is not a failure: %q", row.detail.Text)
	}
}

func TestAuthenticateFailureShowsReason(t *testing.T) {
	hub := newFakeHub(t, needsAuth("linear"))
	u := newTestUI(t, hub)
	row := u.servers.rows["linear"]
	test.Tap(row.auth)
	hub.nextAuth(t).done <- errors.New("the provider refused: access_denied")
	u.settle(t, "the failure on the row", func() bool { return row.auth.Visible() })
	if row.detail.Text != "Sign-in failed: the provider refused: access_denied" {
		t.Errorf("detail %q", row.detail.Text)
	}
}

// Add server writes the configuration file; the other entries and the
// hub settings stay as they were.
func TestAddServerWritesConfig(t *testing.T) {
	hub := newFakeHub(t)
	u := newTestUI(t, hub)
	f := u.showServerForm("")
	test.Type(f.name, "linear")
	f.kind.SetSelected(kindHTTP)
	test.Type(f.url, "https://mcp.linear.app/mcp")
	f.headers.SetText("X-Team: core")
	f.scopes.SetText("read write")
	f.scopes.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) // Enter saves
	u.settle(t, "the dialog to close", func() bool { return !f.open })
	want := strings.Replace(config.DefaultFile, `"mcpServers": {}`, `"mcpServers": {
    "linear": {
      "url": "https://mcp.linear.app/mcp",
      "headers": {
        "X-Team": "core"
      },
      "oauth": {
        "scopes": [
          "read",
          "write"
        ]
      }
    }
  }`, 1)
	if got, _ := os.ReadFile(hub.path); string(got) != want {
		t.Errorf("config file:\n%s\nwant:\n%s", got, want)
	}
}

// A bad value is shown in the dialog, which stays open; the file is not
// touched. Editing renames in place and keeps settings the form does not
// show.
func TestServerFormValidatesAndEdits(t *testing.T) {
	hub := newFakeHub(t)
	if err := os.WriteFile(hub.path, []byte(`{"mcpServers": {
    "alpha": {"url": "https://a.example/mcp", "timeout": 45},
    "beta": {"command": "beta"}
}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(hub.path)
	u := newTestUI(t, hub)
	f := u.showServerForm("")
	test.Type(f.name, "gamma")
	test.Type(f.url, "ftp://files.example")
	f.save()
	u.settle(t, "the problem shown", func() bool { return f.message.Visible() })
	if !strings.Contains(f.message.Text, "ftp") || !f.open {
		t.Errorf("message %q, dialog open %v", f.message.Text, f.open)
	}
	if after, _ := os.ReadFile(hub.path); string(after) != string(before) {
		t.Error("a refused edit changed the file")
	}
	f.url.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape}) // Escape cancels
	if f.open {
		t.Error("Escape did not close the dialog")
	}

	g := u.showServerForm("alpha")
	if g.url.Text != "https://a.example/mcp" {
		t.Fatalf("form not filled: url %q", g.url.Text)
	}
	g.name.SetText("first")
	g.save()
	u.settle(t, "the edit dialog to close", func() bool { return !g.open || g.message.Visible() })
	if g.message.Visible() {
		t.Fatalf("the edit was refused: %s", g.message.Text)
	}
	got, _ := os.ReadFile(hub.path)
	want := `{"mcpServers": {
    "first": {
      "url": "https://a.example/mcp",
      "timeout": 45
    },
    "beta": {"command": "beta"}
}}`
	if string(got) != want {
		t.Errorf("after rename:\n%s\nwant\n%s", got, want)
	}
}

// The tray icon shows the worst state; a server that needs sign-in is an
// Authenticate item.
func TestTrayMenu(t *testing.T) {
	connected := mcphub.ServerView{ID: "ok", Name: "ok", Status: status.Status{State: status.Connected}}
	failing := mcphub.ServerView{ID: "bad", Name: "bad", Status: status.Status{State: status.Error}}
	for _, tc := range []struct {
		views  []mcphub.ServerView
		paused bool
		want   overall
	}{
		{[]mcphub.ServerView{connected}, false, overallOK},
		{[]mcphub.ServerView{connected, needsAuth("x")}, false, overallSignIn},
		{[]mcphub.ServerView{needsAuth("x"), failing}, false, overallError},
		{[]mcphub.ServerView{failing}, true, overallPaused},
	} {
		if got := overallOf(tc.views, tc.paused); got != tc.want {
			t.Errorf("%v paused=%v: %v, want %v", tc.views, tc.paused, got, tc.want)
		}
	}
	hub := newFakeHub(t, connected, needsAuth("linear"))
	u := newTestUI(t, hub)
	menu := u.trayMenu(hub.Servers(), false)
	var signIn *fyne.MenuItem
	for _, it := range menu.Items {
		if it.Label == "linear: Authenticate…" {
			signIn = it
		}
	}
	if signIn == nil {
		t.Fatalf("no Authenticate item in %v", menu.Items)
	}
	signIn.Action()
	if c := hub.nextAuth(t); c.id != "linear" {
		t.Errorf("the tray item signed in to %q", c.id)
	}
}

// A notification per state change, not per retry.
func TestNotifyOncePerStateChange(t *testing.T) {
	hub := newFakeHub(t, mcphub.ServerView{ID: "s", Name: "s", Status: status.Status{State: status.Connected}})
	u := newTestUI(t, hub)
	failing := func(reason string) []mcphub.ServerView {
		return []mcphub.ServerView{{ID: "s", Name: "s", Status: status.Status{State: status.Error, Reason: reason}}}
	}
	test.AssertNotificationSent(t, fyne.NewNotification("s is failing", "down"), func() { u.notify(failing("down")) })
	test.AssertNotificationSent(t, nil, func() {
		u.notify([]mcphub.ServerView{{ID: "s", Name: "s", Status: status.Status{State: status.Connecting}}})
		u.notify(failing("still down"))
	})
	u.notify([]mcphub.ServerView{{ID: "s", Name: "s", Status: status.Status{State: status.Connected}}})
	test.AssertNotificationSent(t, fyne.NewNotification("s is failing", "down again"), func() { u.notify(failing("down again")) })
}

func TestRedactTarget(t *testing.T) {
	for in, want := range map[[2]string]string{
		{"http", "https://user:pw@api.example.com/mcp?key=SECRET&x=1#frag"}: "https://api.example.com/mcp?key=%E2%80%A6&x=%E2%80%A6",
		{"stdio", "npx -y server --token SECRET"}:                           "npx (4 arguments)",
		{"stdio", "server"}: "server",
	} {
		if got := redactTarget(in[0], in[1]); got != want || strings.Contains(got, "SECRET") {
			t.Errorf("%v: %q, want %q", in, got, want)
		}
	}
}

func TestSignInText(t *testing.T) {
	info := oauth.Info{SignedIn: true, Expiry: testNow.Add(10 * time.Minute), Refreshable: true}
	if got := signInText(info, testNow); got != "Signed in; the access token expires in 10m and is refreshed before then" {
		t.Errorf("%q", got)
	}
}

// The details of a failing server list its recent errors from the hub's
// records, read off the UI goroutine.
func TestDetailsShowRecentErrors(t *testing.T) {
	hub := newFakeHub(t, everyState()...)
	u := newTestUI(t, hub)
	u.servers.selectRow("local-db")
	shows := func(text string) bool {
		for _, it := range u.details.facts.Items {
			if l, ok := it.Widget.(*widget.Label); ok && strings.Contains(l.Text, text) {
				return true
			}
		}
		return false
	}
	u.settle(t, "the recent errors in the details", func() bool { return shows("the server answered 503") })
	if !shows("the command exited at start") {
		t.Error("the current reason is not shown with the recent errors")
	}
}
