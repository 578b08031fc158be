package ui

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/mcptray/mcptray/internal/testleak"
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
	mu             sync.Mutex
	views          []mcphub.ServerView
	path           string
	paused         bool
	auths          chan *authCall
	bridgeURL      string
	autostartCalls int
	configErr      error

	// Set before the UI may call them: SetAutostart's answer, and gates
	// that make SetPaused, CreateToken and Usage hand the test a channel
	// and return once it is closed.
	autostartErr                    error
	holdPause, holdToken, holdUsage chan chan struct{}
}

// hold waits, if the test holds the calls of gate, until it lets this
// one go.
func hold(gate chan chan struct{}) {
	if gate == nil {
		return
	}
	release := make(chan struct{})
	gate <- release
	<-release
}

// held is the next call waiting at gate.
func held(t *testing.T, gate chan chan struct{}, what string) chan struct{} {
	t.Helper()
	select {
	case release := <-gate:
		return release
	case <-time.After(10 * time.Second):
		t.Fatalf("the hub was never asked to %s", what)
		return nil
	}
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
	return &fakeHub{views: views, path: path, auths: make(chan *authCall, 4), bridgeURL: "http://127.0.0.1:48800/mcp"}
}

func (h *fakeHub) remove(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.views = slices.DeleteFunc(h.views, func(v mcphub.ServerView) bool { return v.ID == id })
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

// Changes never signals; like the hub's, its stop closes the channel.
func (h *fakeHub) Changes() (<-chan struct{}, func()) {
	changes := make(chan struct{})
	return changes, sync.OnceFunc(func() { close(changes) })
}
func (h *fakeHub) ConfigError() error  { h.mu.Lock(); defer h.mu.Unlock(); return h.configErr }
func (h *fakeHub) WhileBroken() string { return mcphub.LastGoodRuns }
func (h *fakeHub) setConfigError(err error) {
	h.mu.Lock()
	h.configErr = err
	h.mu.Unlock()
}
func (h *fakeHub) Paused() bool { h.mu.Lock(); defer h.mu.Unlock(); return h.paused }
func (h *fakeHub) SetPaused(p bool) {
	hold(h.holdPause)
	h.mu.Lock()
	h.paused = p
	h.mu.Unlock()
}

// Authenticate changes the state as the hub does: signing in, then back to
// needs sign-in with the old reason on a cancel, or with why on a failure.
// On success the test sets the state.
func (h *fakeHub) Authenticate(ctx context.Context, id string) error {
	before, _ := find(h.Servers(), id)
	h.set(id, func(v *mcphub.ServerView) { v.Status.State, v.Status.Reason = status.Authenticating, "" })
	c := &authCall{id: id, ctx: ctx, done: make(chan error, 1)}
	h.auths <- c
	select {
	case err := <-c.done:
		if err != nil {
			h.set(id, func(v *mcphub.ServerView) {
				v.Status.State, v.Status.Reason = status.NeedsAuth, "sign-in failed: "+err.Error()
			})
		}
		return err
	case <-ctx.Done():
		if before.Status.State == status.NeedsAuth {
			h.set(id, func(v *mcphub.ServerView) { v.Status.State, v.Status.Reason = status.NeedsAuth, before.Status.Reason })
		}
		return fmt.Errorf("sign-in cancelled: %w", ctx.Err())
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
func (h *fakeHub) ConfigPath() string             { return h.path }
func (h *fakeHub) EditConfig(e config.Edit) error { return config.Apply(h.path, e, config.Options{}) }
func (h *fakeHub) Usage(context.Context, time.Time) (*store.Usage, error) {
	hold(h.holdUsage)
	return &store.Usage{}, nil
}
func (h *fakeHub) RecentCalls(context.Context, int) ([]store.Call, error) { return nil, nil }
func (h *fakeHub) CreateToken(string) (string, error) {
	hold(h.holdToken)
	return "mcptray_pat_test", nil
}
func (h *fakeHub) BridgeURL() string       { h.mu.Lock(); defer h.mu.Unlock(); return h.bridgeURL }
func (h *fakeHub) setBridgeURL(u string)   { h.mu.Lock(); h.bridgeURL = u; h.mu.Unlock() }
func (h *fakeHub) BridgeCommand() []string { return []string{"/usr/bin/mcptray", "bridge"} }
func (h *fakeHub) Environment() Environment {
	return Environment{Version: "test", KeyringBackend: "test"}
}
func (h *fakeHub) Autostart() (bool, error) { return false, nil }
func (h *fakeHub) SetAutostart(bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.autostartCalls++
	return h.autostartErr
}

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

// runNext waits for the next queued UI update and runs it.
func (u *testUI) runNext(t *testing.T, what string) {
	t.Helper()
	select {
	case f := <-u.queue:
		f()
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// labels lists the text of every label under o, in order.
func labels(o fyne.CanvasObject) []string {
	var out []string
	switch o := o.(type) {
	case *widget.Label:
		out = append(out, o.Text)
	case *fyne.Container:
		for _, c := range o.Objects {
			out = append(out, labels(c)...)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(o).Objects() {
			out = append(out, labels(c)...)
		}
	}
	return out
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
	text := row.state.Text + "\n" + row.detail.Text
	if strings.Contains(text, "failed") || !strings.Contains(text, "linear needs you to sign in") {
		t.Errorf("a cancelled sign-in is not a failure; the row keeps the reason: %q", text)
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
	if g.confirm == nil {
		t.Fatal("a rename was saved without asking")
	}
	g.confirm.Confirm()
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
		{"http", "https://user:pw@api.example.com/mcp?key=SECRET&x=1#frag"}: "https://api.example.com/mcp?key=…&x=…",
		{"http", "https://mcp.example.com/s/SECRETSECRETSECRET1/mcp"}:       "https://mcp.example.com/s/…/mcp",
		{"http", "http://127.0.0.1:8080/mcp"}:                               "http://127.0.0.1:8080/mcp",
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

// The row shows where a server is without the secrets the hub put into
// its URL or command line from ${env:...}.
func TestServerRowRedactsTarget(t *testing.T) {
	connected := status.Status{State: status.Connected}
	hub := newFakeHub(t,
		mcphub.ServerView{ID: "web", Name: "web", Transport: "http", Target: "https://u:pw@h.example/mcp?api_key=SECRETKEY", Status: connected},
		mcphub.ServerView{ID: "pg", Name: "pg", Transport: "stdio", Target: "pg-mcp --dsn postgres://u:hunter2@db/x", Status: connected})
	u := newTestUI(t, hub)
	for id, secrets := range map[string][]string{"web": {"SECRETKEY", "u:pw"}, "pg": {"hunter2", "postgres://"}} {
		text := strings.Join(labels(u.servers.rows[id]), "\n")
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("the row of %s shows %q:\n%s", id, secret, text)
			}
		}
	}
}

// When the selected server goes, the details show the one the list
// selects instead.
func TestDetailsFollowSelection(t *testing.T) {
	server := func(id string) mcphub.ServerView {
		return mcphub.ServerView{ID: id, Name: id, Transport: "http", Target: "https://" + id + ".example/mcp",
			Status: status.Status{Server: id, State: status.Connected}}
	}
	hub := newFakeHub(t, server("a"), server("b"), server("c"))
	u := newTestUI(t, hub)
	u.servers.selectRow("b")
	if u.details.title.Text != "b" {
		t.Fatalf("details of %q, want b", u.details.title.Text)
	}
	hub.remove("b")
	u.refresh()
	if u.details.noneMsg.Visible() || !u.details.body.Visible() || u.details.title.Text != u.servers.selected {
		t.Errorf("list selects %q; details show %q (placeholder shown: %v)", u.servers.selected, u.details.title.Text, u.details.noneMsg.Visible())
	}
}

// A server stopped by Pause all says so, not that its entry disables it,
// and offers no Reconnect that would do nothing.
func TestPausedServerRow(t *testing.T) {
	hub := newFakeHub(t,
		mcphub.ServerView{ID: "p", Name: "p", Transport: "http", Target: "https://p.example/mcp", Status: status.Status{State: status.Disabled}},
		mcphub.ServerView{ID: "off", Name: "off", Transport: "http", Target: "https://off.example/mcp", Disabled: true, Status: status.Status{State: status.Disabled}})
	hub.paused = true
	u := newTestUI(t, hub)
	p := u.servers.rows["p"]
	if p.state.Text != "Paused" || !strings.Contains(p.detail.Text, "Resume all") || strings.Contains(p.detail.Text, "configuration") {
		t.Errorf("paused row: %q / %q", p.state.Text, p.detail.Text)
	}
	if p.reconnect.Visible() {
		t.Error("a paused server offers Reconnect")
	}
	if off := u.servers.rows["off"]; off.detail.Text != "Disabled in the configuration." || off.reconnect.Visible() {
		t.Errorf("disabled row: %q, reconnect %v", off.detail.Text, off.reconnect.Visible())
	}
}

// lockedKeyring is a token store whose keyring does not answer.
type lockedKeyring struct{}

var errLocked = errors.New("the secret service is locked")

func (lockedKeyring) Get(string) ([]byte, error)    { return nil, errLocked }
func (lockedKeyring) Set(string, []byte) error      { return errLocked }
func (lockedKeyring) Delete(string) error           { return errLocked }
func (lockedKeyring) List(string) ([]string, error) { return nil, errLocked }

// A locked keyring is not a reason to sign in: its problem is shown as it
// is, without "Needs sign-in".
func TestSignInTextKeyringLocked(t *testing.T) {
	m := oauth.NewManager(oauth.Config{Store: lockedKeyring{}, Logger: slog.New(slog.DiscardHandler)})
	defer m.Close()
	info := m.Client(oauth.ServerConfig{ID: "linear", URL: "https://mcp.linear.app/mcp"}).Info()
	if info.Problem == "" {
		t.Fatal("a locked keyring gives no problem")
	}
	got := signInText(info, testNow)
	if strings.Contains(got, "Needs sign-in") || !strings.Contains(got, "no new sign-in is needed") {
		t.Errorf("locked keyring: %q", got)
	}
	if got := signInText(oauth.Info{Problem: "signed out"}, testNow); got != "Needs sign-in: signed out" {
		t.Errorf("signed out: %q", got)
	}
}

// Start and Stop leave no goroutine behind.
func TestStartStopLeavesNoGoroutine(t *testing.T) {
	u := newTestUI(t, newFakeHub(t))
	before := testleak.Take(t)
	for range 3 {
		u.Start()
		u.Stop()
	}
	before.Check(t, 0, 0)
}

// A double click on Pause all pauses once: the second press would read
// the old state and resume.
func TestPauseAllOncePerPress(t *testing.T) {
	hub := newFakeHub(t)
	hub.holdPause = make(chan chan struct{}, 2)
	u := newTestUI(t, hub)
	test.Tap(u.pauseBtn)
	test.Tap(u.pauseBtn)
	release := held(t, hub.holdPause, "pause")
	if !u.pauseBtn.Disabled() {
		t.Error("Pause all can be pressed while it runs")
	}
	close(release)
	u.settle(t, "Pause all to finish", func() bool { return !u.pauseBtn.Disabled() })
	if !hub.Paused() || u.pauseBtn.Text != "Resume all" {
		t.Errorf("paused %v, button %q", hub.Paused(), u.pauseBtn.Text)
	}
	select {
	case <-hub.holdPause:
		t.Error("the second press paused or resumed again")
	default:
	}
}

// A sign-in started from the tray tells its failure: the window may be
// hidden, and the state is back to the needs sign-in already notified.
func TestTraySignInFailureNotifies(t *testing.T) {
	hub := newFakeHub(t, needsAuth("linear"))
	u := newTestUI(t, hub)
	var signIn *fyne.MenuItem
	for _, it := range u.trayMenu(hub.Servers(), false).Items {
		if it.Label == "linear: Authenticate…" {
			signIn = it
		}
	}
	if signIn == nil {
		t.Fatal("no Authenticate item in the tray menu")
	}
	signIn.Action()
	call := hub.nextAuth(t)
	test.AssertNotificationSent(t, fyne.NewNotification("Sign-in to linear failed", "the provider refused: access_denied"), func() {
		call.done <- errors.New("the provider refused: access_denied")
		row := u.servers.rows["linear"]
		u.settle(t, "the failure on the row", func() bool { return row.auth.Visible() })
	})
}

// A server removed while it needed sign-in, then added again, is
// notified again.
func TestNotifyAgainAfterRemoval(t *testing.T) {
	u := newTestUI(t, newFakeHub(t))
	views := []mcphub.ServerView{needsAuth("linear")}
	want := fyne.NewNotification("linear needs you to sign in", "Open MCP Tray and press Authenticate.")
	test.AssertNotificationSent(t, want, func() { u.notify(views) })
	u.notify(nil)
	test.AssertNotificationSent(t, want, func() { u.notify(views) })
}
