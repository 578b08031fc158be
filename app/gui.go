//go:build !nogui

package app

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"github.com/go-gl/glfw/v3.3/glfw"

	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/config"
	"github.com/mcptray/mcptray/mcphub/control"
	"github.com/mcptray/mcptray/mcphub/store"
	"github.com/mcptray/mcptray/mcphub/upstream"
	"github.com/mcptray/mcptray/oauth"
	"github.com/mcptray/mcptray/ui"
)

// hasGUI: this build has the window (see gui_nogui.go).
const hasGUI = true

// runGUI runs the hub with its window and tray icon. A second start
// brings the running window to the front instead.
func runGUI(env *cliEnv) int {
	if !canShowWindow() {
		fmt.Fprintln(env.stderr, "mcptray: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset). Run 'mcptray serve' for the hub without a window.")
		return exitFail
	}
	paths, err := resolvePaths(env.configFlag)
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray: %v\n", err)
		return exitFail
	}
	r, err := startHub(env, paths, "gui")
	var held *control.HeldError
	if errors.As(err, &held) {
		return showRunning(env, paths)
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray: %v\n", err)
		return exitFail
	}
	defer r.Close()
	return runWindow(env, r, nil, nil)
}

// openWindow opens the window in a hub that ran without one ('mcptray
// serve', often started by an IDE's bridge), because 'mcptray' was
// started on a display: the window attaches to the hub that runs, so IDE
// sessions and sign-ins go on. It reports whether the window ran (then
// quitting it ended the app, as it does MCP Tray's).
func openWindow(env *cliEnv, r *runningHub, req windowRequest, signals chan os.Signal) bool {
	if !hasDisplay(func(k string) string { return req.env[k] }) {
		r.setMode("serve")
		req.ready <- errors.New("no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset)")
		return false
	}
	// A display that cannot be opened makes Fyne panic, which would take
	// the hub, and every IDE session, down: a child process tries first.
	if err := probeDisplay(req.env); err != nil {
		r.setMode("serve")
		req.ready <- err
		return false
	}
	// The asker's display, whole: a value this hub inherited (from the IDE
	// that started it) and the asker has not is dropped.
	for _, k := range control.DisplayEnv {
		if v, ok := req.env[k]; ok {
			os.Setenv(k, v)
		} else {
			os.Unsetenv(k)
		}
	}
	r.log.Info("opening the window in the running hub")
	runWindow(env, r, func() { req.ready <- nil }, signals)
	return true
}

// probeDisplay opens the display env names in a child process
// (runProbeDisplay), and says why not when it cannot.
func probeDisplay(env map[string]string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, "probe-display")
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !slices.Contains(control.DisplayEnv, k) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		if slices.Contains(control.DisplayEnv, k) {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		why := strings.TrimSpace(string(out))
		if why == "" {
			why = err.Error()
		}
		return fmt.Errorf("the window cannot be opened on display %q: %s", env["DISPLAY"]+env["WAYLAND_DISPLAY"], why)
	}
	return nil
}

// runProbeDisplay is 'mcptray probe-display': GLFW, which Fyne runs on,
// initialised and let go (exit 0), or why it cannot be (exit 1).
func runProbeDisplay(env *cliEnv, _ []string) (code int) {
	// A display that cannot be opened is only logged by Init (go-gl's
	// glfw returns nil for a platform error); the next call then panics
	// for want of an initialised library.
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintln(env.stderr, p)
			code = exitFail
		}
	}()
	log.SetFlags(0) // go-gl logs the platform's error: it is the reason
	if err := glfw.Init(); err != nil {
		fmt.Fprintln(env.stderr, err)
		return exitFail
	}
	defer glfw.Terminate()
	if glfw.GetPrimaryMonitor() == nil {
		fmt.Fprintln(env.stderr, "the display has no monitor")
		return exitFail
	}
	return exitOK
}

// runWindow runs the window and tray icon over r until the app quits;
// up, if set, learns that the window is there. early (nil: none) is a
// served hub's signals, heard until Fyne's own handler takes SIGINT and
// SIGTERM over (once it runs).
func runWindow(env *cliEnv, r *runningHub, up func(), early chan os.Signal) int {
	a := fyneapp.NewWithID("io.github.mcptray")
	tray, why := trayHost()
	if !tray {
		r.log.Info("no system tray: the window stays the app's only face, and closing it quits", "why", why)
	}
	adapter := &guiHub{r: r}
	u := ui.New(a, adapter, ui.Options{TrayAvailable: tray})
	r.setShow(func() { fyne.Do(u.Show) })
	if os.Getenv(testHooksEnv) == "1" {
		r.setUITest(func(action, id string) (string, error) {
			switch action {
			case "authenticate":
				if u.TapAuthenticate(id) {
					return "", nil
				}
				return "", fmt.Errorf("%s has no Authenticate button now", id)
			case "row":
				return u.RowText(id), nil
			}
			return "", fmt.Errorf("unknown UI action %q", action)
		})
	}
	u.Start()
	u.Show()
	if up != nil {
		up()
	}
	// Say where everything is once the window is up.
	a.Lifecycle().SetOnStarted(func() {
		if early != nil {
			signal.Stop(early)
		}
		r.printStarted(env)
	})

	// SIGINT and SIGTERM are Fyne's: its driver quits on them by itself
	// (a handler that cannot be unregistered), and a quit of ours racing
	// it ran after its GLFW was gone (a panic). SIGHUP reloads.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGHUP)
	var quitMu sync.Mutex
	ran := false // a.Run returned: Fyne must not be called any more
	whileRunning := func(f func()) {
		quitMu.Lock()
		defer quitMu.Unlock()
		if !ran {
			fyne.Do(f)
		}
	}
	go func() {
		for stop := false; !stop; {
			select {
			case <-signals:
				r.log.Info("SIGHUP: reloading the configuration")
				_ = r.hub.Reload()
			case sig := <-early: // before Fyne runs
				if sig == syscall.SIGHUP {
					_ = r.hub.Reload()
					continue
				}
				stop = true
			case <-r.stopping: // 'mcptray stop'
				stop = true
			}
		}
		// Hide the windows a moment before quitting: Fyne 2.7.1 crashes
		// (nil GLFW window) on a pointer event that reaches a window already
		// destroyed, which quitting with the pointer over it can cause.
		whileRunning(func() {
			for _, w := range a.Driver().AllWindows() {
				w.Hide()
			}
		})
		time.AfterFunc(100*time.Millisecond, func() { whileRunning(a.Quit) })
	}()
	a.Run()
	quitMu.Lock()
	ran = true
	quitMu.Unlock()
	signal.Stop(signals)
	u.Stop()
	return exitOK
}

// showRunning asks the hub that holds this configuration to show its
// window.
func showRunning(env *cliEnv, paths Paths) int {
	client, err := control.Dial(paths.Control())
	if err != nil {
		return env.hubError("open", paths, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second) // a first window takes a moment
	defer cancel()
	opened, err := client.Show(ctx)
	if err != nil {
		fmt.Fprintf(env.stderr, "mcptray: %v\n", err)
		return exitFail
	}
	st, statusErr := client.Status(ctx)
	switch {
	case opened && statusErr == nil:
		fmt.Fprintf(env.stderr, "MCP Tray's hub was running without a window (process %d); the window is open in it now, and quitting it stops the hub.\n", st.Hub.PID)
	case opened:
		fmt.Fprintln(env.stderr, "MCP Tray's hub was running without a window; the window is open in it now, and quitting it stops the hub.")
	default:
		fmt.Fprintln(env.stderr, "MCP Tray is already running; its window is in front now.")
	}
	if statusErr == nil {
		if note := otherBuild(st.Hub); note != "" {
			fmt.Fprintln(env.stderr, note)
		}
	}
	return exitOK
}

// guiHub is the window's view of the running hub (ui.Hub).
type guiHub struct{ r *runningHub }

func (g *guiHub) Servers() []mcphub.ServerView { return g.r.hub.Servers() }
func (g *guiHub) ConfigError() error           { return g.r.hub.ConfigError() }
func (g *guiHub) WhileBroken() string          { return g.r.hub.WhileBroken() }
func (g *guiHub) Paused() bool                 { return g.r.hub.Paused() }
func (g *guiHub) SetPaused(p bool)             { g.r.hub.SetPaused(p) }
func (g *guiHub) Reconnect(id string) error    { return g.r.hub.Reconnect(id) }
func (g *guiHub) ConfigPath() string           { return g.r.paths.Config }

func (g *guiHub) Changes() (<-chan struct{}, func()) {
	out := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	redraw := func() {
		select {
		case out <- struct{}{}:
		default: // a redraw is pending already
		}
	}
	go func() {
		defer close(out)
		for first := true; ctx.Err() == nil; first = false {
			sub := g.r.hub.Subscribe(256)
			if !first {
				// Fell behind: redraw only now that the new subscription
				// is in place, so that no change falls in between.
				redraw()
			}
			func() {
				defer sub.Close()
				for {
					select {
					case <-ctx.Done():
						return
					case <-sub.Lagged:
						return
					case _, ok := <-sub.C:
						if !ok {
							return
						}
						redraw()
					}
				}
			}()
		}
	}()
	return out, cancel
}

func (g *guiHub) Authenticate(ctx context.Context, id string) error {
	return g.r.hub.Authenticate(ctx, id, mcphub.AuthenticateOptions{Open: oauth.SystemBrowser})
}

func (g *guiHub) SignOut(ctx context.Context, id string) error { return g.r.hub.SignOut(ctx, id) }

func (g *guiHub) Catalog(id string) ui.Catalog {
	c, ok := g.r.hub.Conn(id)
	if !ok || c.Catalog() == nil {
		return ui.Catalog{}
	}
	cat := c.Catalog()
	items := func(list ...[]upstream.Item) []ui.Item {
		var out []ui.Item
		for _, l := range list {
			for _, it := range l {
				out = append(out, ui.Item{Name: it.Key, Description: it.Description})
			}
		}
		return out
	}
	return ui.Catalog{Tools: items(cat.Tools), Resources: items(cat.Resources, cat.ResourceTemplates), Prompts: items(cat.Prompts)}
}

func (g *guiHub) RecentErrors(ctx context.Context, id string, n int) ([]ui.ErrorRecord, error) {
	events, err := g.r.db.RecentEvents(ctx, id, 200)
	if err != nil {
		return nil, err
	}
	var out []ui.ErrorRecord
	for _, e := range events {
		if e.State != "error" || e.Reason == "" {
			continue
		}
		if len(out) > 0 && out[len(out)-1].Reason == e.Reason {
			continue // the same failure retried
		}
		out = append(out, ui.ErrorRecord{Time: e.Time, Reason: e.Reason})
		if len(out) == n {
			break
		}
	}
	return out, nil
}

func (g *guiHub) EditConfig(e config.Edit) error {
	if err := config.Apply(g.r.paths.Config, e, config.Options{LookupSecret: g.r.lookupSecret}); err != nil {
		return err
	}
	// Apply at once rather than when the watcher sees the write.
	if err := g.r.hub.Reload(); err != nil {
		return err
	}
	if _, err := g.r.http.address(); err != nil {
		return fmt.Errorf("the configuration was saved, but %w", err)
	}
	return nil
}

func (g *guiHub) Usage(ctx context.Context, since time.Time) (*store.Usage, error) {
	return g.r.db.Usage(ctx, store.UsageQuery{Since: since, Until: time.Now().Add(time.Minute)})
}

func (g *guiHub) RecentCalls(ctx context.Context, n int) ([]store.Call, error) {
	return g.r.db.RecentCalls(ctx, n)
}

func (g *guiHub) CreateToken(name string) (string, error) {
	tok, _, err := g.r.db.CreateToken(context.Background(), name, nil, 0)
	return tok, err
}

func (g *guiHub) BridgeURL() string {
	if u, _ := g.r.http.address(); u != "" {
		return u // where it listens, which a port that was taken did not move
	}
	return "http://127.0.0.1:" + strconv.Itoa(g.r.hub.Config().Hub.Bridge.Port) + "/mcp"
}

func (g *guiHub) BridgeCommand() []string {
	exe, err := executable()
	if err != nil {
		exe = "mcptray"
	}
	argv := []string{exe, "bridge"}
	// An IDE starts the bridge without this process's environment.
	if !g.r.paths.isDefaultConfig() {
		argv = append(argv, "--config", g.r.paths.Config)
	}
	return argv
}

func (g *guiHub) Environment() ui.Environment {
	info := g.r.info()
	return ui.Environment{Version: info.Version, KeyringBackend: orUnknown(info.Keyring), LogPath: info.LogFile, DataDir: g.r.paths.Data}
}

func (g *guiHub) Autostart() (bool, error) {
	a, err := newAutostart()
	if err != nil {
		return false, err
	}
	return a.Enabled()
}

func (g *guiHub) SetAutostart(on bool) error {
	a, err := newAutostart()
	if err != nil {
		return err
	}
	return a.Set(on)
}
