//go:build !nogui

package app

import (
	"bufio"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcptray/mcptray/internal/testpeers"
	"github.com/mcptray/mcptray/mcphub/control"
	"github.com/mcptray/mcptray/oauth/oauthtest"
)

// startXvfb starts a virtual X display for the test and returns its name.
func startXvfb(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		t.Fatal("Xvfb is needed for the window's end-to-end tests (make test-deps installs it)")
	}
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", "1100x700x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{wr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wr.Close()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(rd).ReadString('\n')
	rd.Close()
	if err != nil {
		t.Fatalf("Xvfb did not report its display: %v", err)
	}
	return ":" + strings.TrimSpace(line)
}

// controlClient dials the running hub's control socket.
func (u *userEnv) controlClient(t *testing.T) *control.Client {
	t.Helper()
	paths, err := resolvePaths(u.config)
	if err != nil {
		t.Fatal(err)
	}
	paths.Runtime = filepath.Join(u.dir, "run", "mcptray") // as the user's XDG_RUNTIME_DIR says
	c, err := control.Dial(paths.Control())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// screenshot takes the whole display, as a person sees it, into
// .cache/artifacts/, once the window is mapped and drawn.
func screenshot(t *testing.T, display, name string) string {
	t.Helper()
	// xdotool waits for the window to be mapped (an X event).
	find := exec.Command("xdotool", "search", "--sync", "--onlyvisible", "--name", "^MCP Tray$")
	find.Env = append(os.Environ(), "DISPLAY="+display)
	done := make(chan error, 1)
	go func() { done <- find.Run() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("xdotool search: %v", err)
		}
	case <-time.After(30 * time.Second):
		_ = find.Process.Kill()
		t.Fatal("the MCP Tray window never appeared")
	}
	// Mapped is not yet painted: take shots until the window is drawn.
	deadline := time.Now().Add(20 * time.Second)
	for {
		path, colours := shoot(t, display, name)
		if colours >= 8 {
			t.Logf("screenshot: %s", path)
			return path
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screenshot has %d colours: the window was never drawn", colours)
		}
	}
}

// shoot takes one screenshot and counts its colours.
func shoot(t *testing.T, display, name string) (string, int) {
	t.Helper()
	dir, _ := filepath.Abs(filepath.Join("..", ".cache", "artifacts"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if out, err := exec.Command("import", "-display", display, "-window", "root", path).CombinedOutput(); err != nil {
		t.Fatalf("import -window root: %v\n%s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	// A window was drawn: the picture is not one flat colour.
	colours := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 7 {
		for x := b.Min.X; x < b.Max.X; x += 7 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|bl>>8] = true
		}
	}
	return path, len(colours)
}

// TestGUISignInWithKeyIcon: start MCP Tray on a display, press the key icon
// of a server that needs sign-in, a browser follows the authorization URL,
// and the server turns connected. The screenshot shows the window after.
func TestGUISignInWithKeyIcon(t *testing.T) {
	display := startXvfb(t)
	srv := oauthtest.NewServer(oauthtest.Options{})
	defer srv.Close()
	u := newUserEnv(t)
	u.writeConfig(t, fmt.Sprintf(`{"hub": {"bridge": {"port": %d}, "oauth": {"callbackPort": %d}}, "mcpServers": {"demo": {"url": %q}}}`,
		testpeers.FreePort(t), testpeers.FreePort(t), srv.URL()))
	// The "browser": xdg-open loads the page and follows the redirect to
	// the loopback callback, as a browser with a signed-in user does.
	browser := t.TempDir()
	opened := filepath.Join(browser, "opened")
	script := "#!/bin/sh\necho \"$1\" >> " + opened + "\nexec curl -s -L -o /dev/null \"$1\"\n"
	if err := os.WriteFile(filepath.Join(browser, "xdg-open"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	g := u.start(t, []string{"DISPLAY=" + display, "PATH=" + browser + ":" + os.Getenv("PATH"), testHooksEnv + "=1", "DBUS_SESSION_BUS_ADDRESS="})
	w := u.watch(t)
	w.until(t, "demo needs sign-in", func(st *control.StatusResponse) bool {
		return len(st.Servers) == 1 && st.Servers[0].Status.State == "needs_auth"
	})
	if st, _ := u.controlClient(t).Status(context.Background()); st.Hub.Mode != "gui" {
		t.Fatalf("the hub runs in mode %q, want gui", st.Hub.Mode)
	}
	screenshot(t, display, "gui-needs-sign-in.png")

	// Press the key icon.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := u.controlClient(t).Do(ctx, http.MethodPost, "/v1/ui/authenticate/demo", nil, nil); err != nil {
		t.Fatalf("press Authenticate: %v\n%s", err, g.output())
	}
	w.until(t, "demo connected after the sign-in", func(st *control.StatusResponse) bool {
		return st.Servers[0].Status.State == "connected"
	})
	// The window follows the hub's events; read its row until it shows
	// the connected server (there is no event for "repainted").
	var row struct{ Text string }
	for deadline := time.Now().Add(20 * time.Second); ; {
		if err := u.controlClient(t).Do(ctx, http.MethodPost, "/v1/ui/row/demo", nil, &row); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(row.Text, "Connected\n3 tools") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the row still shows %q", row.Text)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if data, _ := os.ReadFile(opened); !strings.Contains(string(data), "/authorize?") {
		t.Errorf("the browser was not opened on the authorization URL: %q", data)
	}
	screenshot(t, display, "gui-signed-in.png")

	// A second start brings the running window up instead of a second hub.
	second := exec.Command(binPath)
	second.Env = append(append([]string{}, u.env...), "DISPLAY="+display)
	out, err := second.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "already running") {
		t.Errorf("second start: %v\n%s", err, out)
	}
	g.quit(t)
	if !strings.Contains(g.output(), "no system tray") {
		t.Errorf("without a session bus the app should say it runs without a tray:\n%s", g.output())
	}
}

// TestGUIWithTrayHost: with a tray host on the session bus the app uses
// the tray, and quits cleanly.
func TestGUIWithTrayHost(t *testing.T) {
	display := startXvfb(t)
	bus := startSessionBus(t)
	watcher := fakeTrayHost(t, bus)
	u := newUserEnv(t)
	u.writeConfig(t, fmt.Sprintf(`{"hub": {"bridge": {"port": %d}}, "mcpServers": {}}`, testpeers.FreePort(t)))
	g := u.start(t, []string{"DISPLAY=" + display, "DBUS_SESSION_BUS_ADDRESS=" + bus})
	select {
	case <-watcher.registered:
	case <-g.done:
		t.Fatalf("the app exited:\n%s", g.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("the app never registered its tray icon:\n%s", g.output())
	}
	g.quit(t)
	if strings.Contains(g.output(), "no system tray") {
		t.Errorf("the app ran without its tray although a host was there:\n%s", g.output())
	}
}

// startSessionBus starts a private D-Bus session bus.
func startSessionBus(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("dbus-daemon: %v (make test-deps installs dbus)", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(addr)
}

// trayHost stands in for a desktop's panel: it owns the
// StatusNotifierWatcher name and records the app's registration. A real
// panel needs a whole desktop; this is the part the app talks to.
type trayHostFake struct {
	registered chan struct{}
	once       sync.Once
}

func (h *trayHostFake) RegisterStatusNotifierItem(service string) *dbus.Error {
	h.once.Do(func() { close(h.registered) })
	return nil
}

func fakeTrayHost(t *testing.T, addr string) *trayHostFake {
	t.Helper()
	conn, err := dbus.Connect(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h := &trayHostFake{registered: make(chan struct{})}
	if err := conn.Export(h, "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher"); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName("org.kde.StatusNotifierWatcher", dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("own the watcher name: %v %v", reply, err)
	}
	return h
}

// TestWindowOpensOnAHeadlessHub: an IDE's bridge started a hub without a
// window; then the person starts MCP Tray on their display. The window
// opens in that hub (never a second hub): its mode turns gui, the row of
// its server is there, the IDE's session and the upstream session carry
// on, and quitting the app stops the hub cleanly.
func TestWindowOpensOnAHeadlessHub(t *testing.T) {
	display := startXvfb(t)
	peer := testpeers.StartEverythingHTTP(t)
	u := newUserEnv(t)
	u.writeConfig(t, fmt.Sprintf(`{"hub": {"bridge": {"port": %d}}, "mcpServers": {"everything": {"url": %q}}}`,
		testpeers.FreePort(t), peer.URL))
	// The headless hub, as an IDE starts it: no display in its environment.
	g := u.start(t, []string{"DISPLAY=", "WAYLAND_DISPLAY=", testHooksEnv + "=1", "DBUS_SESSION_BUS_ADDRESS="}, "serve")
	w := u.watch(t)
	w.until(t, "everything connected", func(st *control.StatusResponse) bool {
		return len(st.Servers) == 1 && st.Servers[0].Status.State == "connected"
	})
	// An IDE window's session, which must survive.
	ide, _, _ := u.bridgeClient(t, nil, mcp.NewClient(&mcp.Implementation{Name: "ide", Version: "1"}, nil), "2025-11-25")
	if _, err := ide.CallTool(context.Background(), &mcp.CallToolParams{Name: "everything__test_simple_text", Arguments: map[string]any{}}); err != nil {
		t.Fatalf("the IDE's call before the window: %v", err)
	}

	// A display that cannot be opened is refused, and the hub goes on.
	bad := exec.Command(binPath)
	bad.Env = append(append([]string{}, u.env...), "DISPLAY=:4711")
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "cannot be opened on display") {
		t.Errorf("mcptray on a display that does not exist: %v\n%s", err, out)
	}
	if st, err := u.controlClient(t).Status(context.Background()); err != nil || st.Hub.Mode != "serve" {
		t.Fatalf("after a refused window the hub is %+v (%v), want it serving on\n%s", st.Hub, err, g.output())
	}

	// Two starts at once (a double click): one window, both told so.
	outs := make(chan string, 2)
	for range 2 {
		go func() {
			open := exec.Command(binPath)
			open.Env = append(append([]string{}, u.env...), "DISPLAY="+display)
			out, err := open.CombinedOutput()
			outs <- fmt.Sprintf("%v: %s", err, out)
		}()
	}
	opened := 0
	for range 2 {
		out := <-outs
		switch {
		case strings.HasPrefix(out, "<nil>: ") && strings.Contains(out, "the window is open in it now"):
			opened++
		case strings.HasPrefix(out, "<nil>: ") && strings.Contains(out, "already running"):
		default:
			t.Errorf("mcptray on a display, with a headless hub running: %s\nhub:\n%s", out, g.output())
		}
	}
	if opened != 1 {
		t.Errorf("%d of two starts say they opened the window", opened)
	}
	st, err := u.controlClient(t).Status(context.Background())
	if err != nil || st.Hub.Mode != "gui" || st.Hub.PID != g.cmd.Process.Pid {
		t.Fatalf("after the window opened the hub is %+v (%v), want the same process in mode gui", st.Hub, err)
	}
	var row struct{ Text string }
	if err := u.controlClient(t).Do(context.Background(), http.MethodPost, "/v1/ui/row/everything", nil, &row); err != nil || !strings.HasPrefix(row.Text, "Connected") {
		t.Errorf("the window's row of everything: %q (%v)", row.Text, err)
	}
	screenshot(t, display, "gui-opened-on-headless-hub.png")
	res, err := ide.CallTool(context.Background(), &mcp.CallToolParams{Name: "everything__test_simple_text", Arguments: map[string]any{}})
	if err != nil || res.IsError {
		t.Errorf("the IDE's session after the window opened: %v %+v", err, res)
	}
	// A second start now only brings the window to the front.
	again := exec.Command(binPath)
	again.Env = append(append([]string{}, u.env...), "DISPLAY="+display)
	if out, err := again.CombinedOutput(); err != nil || !strings.Contains(string(out), "already running") {
		t.Errorf("a second start: %v\n%s", err, out)
	}
	g.quit(t)
}
