package ui

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/mcptray/mcptray/assets"
	"github.com/mcptray/mcptray/mcphub"
	"github.com/mcptray/mcptray/mcphub/status"
)

// Options configures the UI.
type Options struct {
	// TrayAvailable: a tray host exists, so the app has a tray menu and
	// closing the window only hides it. Without one, closing quits.
	TrayAvailable bool
	// OpenURL opens a link or file; the app's by default.
	OpenURL func(*url.URL) error
	// Now is the clock (tests fix it).
	Now func() time.Time
	// IDEFiles lists where IDE configuration files are looked for
	// (Import, Connect an IDE); the user's by default.
	IDEFiles []IDEFile
	// Do runs a UI update from another goroutine: fyne.Do by default
	// (tests run the updates on their own goroutine instead).
	Do func(func())
}

// UI is the main window and the tray menu over one hub.
type UI struct {
	app  fyne.App
	hub  Hub
	opts Options
	win  fyne.Window

	servers  *serverList
	details  *detailsPanel
	banner   *widget.Label // the configuration error, if any
	pauseBtn *widget.Button
	pausing  bool // a Pause all or Resume all is under way (UI goroutine)
	tabs     *container.AppTabs
	activity *activityView
	connect  *connectView
	settings *settingsView

	mu       sync.Mutex
	signIns  map[string]context.CancelFunc // sign-ins this window started
	authErrs map[string]string             // the last failed sign-in's reason, until the state changes
	notified map[string]status.State       // the state last notified, per server
	// configErr is the file's error as last shown (tray, notification).
	configErr error
	stop      func()

	// clock redraws relative times (retry countdowns, "3 s ago") each
	// second while the window is shown; hidden in the tray, the app is
	// not woken for times nobody sees. Both on the UI goroutine.
	clock   *time.Ticker
	ticking bool
	redraws int // times the times were redrawn
}

// New builds the window (not shown yet).
func New(a fyne.App, hub Hub, opts Options) *UI {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.OpenURL == nil {
		opts.OpenURL = a.OpenURL
	}
	if opts.IDEFiles == nil {
		opts.IDEFiles = DefaultIDEFiles()
	}
	if opts.Do == nil {
		opts.Do = fyne.Do
	}
	u := &UI{app: a, hub: hub, opts: opts, signIns: map[string]context.CancelFunc{},
		authErrs: map[string]string{}, notified: map[string]status.State{}}
	a.SetIcon(assets.Icon)
	u.win = a.NewWindow("MCP Tray")
	u.win.SetIcon(assets.Icon)
	u.win.Resize(fyne.NewSize(980, 620))
	if opts.TrayAvailable {
		u.win.SetCloseIntercept(u.hide)
	}
	u.build()
	return u
}

// do runs f on the UI goroutine.
func (u *UI) do(f func()) { u.opts.Do(f) }

// Window is the main window.
func (u *UI) Window() fyne.Window { return u.win }

// Show brings the window up and to the front.
func (u *UI) Show() {
	u.win.Show()
	u.win.RequestFocus()
	u.tick(true)
}

// hide puts the window away (to the tray).
func (u *UI) hide() {
	u.win.Hide()
	u.tick(false)
}

// tick starts the clock, the times redrawn at once, or stops it.
func (u *UI) tick(on bool) {
	u.ticking = on
	if u.clock == nil {
		return // not started
	}
	if !on {
		u.clock.Stop()
		return
	}
	u.clock.Reset(time.Second)
	u.redrawTimes()
}

func (u *UI) redrawTimes() {
	u.redraws++
	u.servers.refreshTimes()
	u.details.update(u.hub.Servers())
}

// Start follows the hub's changes until Stop.
func (u *UI) Start() {
	changes, stopChanges := u.hub.Changes()
	// done ends both loops: Ticker.Stop does not close its channel, and a
	// hub's stop need not close changes.
	done := make(chan struct{})
	u.refresh()
	go func() {
		for {
			select {
			case _, ok := <-changes:
				if !ok {
					return
				}
				u.do(u.refresh)
			case <-done:
				return
			}
		}
	}()
	// Retry times count down even when nothing happens.
	clock := time.NewTicker(time.Second)
	u.clock = clock
	u.tick(u.ticking)
	go func() {
		for {
			select {
			case <-clock.C:
				u.do(u.redrawTimes)
			case <-done:
				return
			}
		}
	}()
	u.stop = func() {
		clock.Stop()
		close(done)
		stopChanges()
	}
}

// Stop ends the subscription and cancels sign-ins this window started.
func (u *UI) Stop() {
	if u.stop != nil {
		u.stop()
		u.stop = nil
	}
	u.mu.Lock()
	for _, cancel := range u.signIns {
		cancel()
	}
	u.mu.Unlock()
}

func (u *UI) build() {
	u.banner = widget.NewLabel("")
	u.banner.Wrapping = fyne.TextWrapWord
	u.banner.Importance = widget.DangerImportance
	u.banner.Hide()

	u.details = newDetailsPanel(u)
	u.servers = newServerList(u)
	add := widget.NewButtonWithIcon("Add server", theme.ContentAddIcon(), func() { u.showServerForm("") })
	add.Importance = widget.HighImportance
	imp := widget.NewButtonWithIcon("Import…", theme.DownloadIcon(), u.showImport)
	openCfg := widget.NewButtonWithIcon("Open config file", theme.DocumentIcon(), u.openConfig)
	u.pauseBtn = widget.NewButtonWithIcon("Pause all", theme.MediaPauseIcon(), u.togglePause)
	toolbar := container.NewHBox(add, imp, openCfg, u.pauseBtn)
	split := container.NewHSplit(u.servers.object(), u.details.object())
	split.Offset = 0.6
	serversTab := container.NewBorder(container.NewVBox(toolbar, u.banner), nil, nil, nil, split)

	u.activity = newActivityView(u)
	u.connect = newConnectView(u)
	u.settings = newSettingsView(u)
	u.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Servers", theme.ListIcon(), serversTab),
		container.NewTabItemWithIcon("Connect an IDE", theme.ComputerIcon(), u.connect.object()),
		container.NewTabItemWithIcon("Activity", theme.HistoryIcon(), u.activity.object()),
		container.NewTabItemWithIcon("Settings", theme.SettingsIcon(), u.settings.object()),
	)
	u.tabs.OnSelected = func(t *container.TabItem) {
		if t.Text == "Activity" {
			u.activity.reload()
		}
	}
	u.win.SetContent(u.tabs)
}

// togglePause pauses or resumes every server, one press at a time: a
// second press while the first runs would read the old state and undo it.
func (u *UI) togglePause() {
	if u.pausing {
		return
	}
	u.pausing = true
	u.pauseBtn.Disable()
	paused := !u.hub.Paused()
	go func() {
		u.hub.SetPaused(paused)
		u.do(func() {
			u.pausing = false
			u.pauseBtn.Enable()
			u.refresh()
		})
	}()
}

// refresh redraws everything from the hub's current state.
func (u *UI) refresh() {
	views := u.hub.Servers()
	cfgErr := u.hub.ConfigError()
	if err := cfgErr; err != nil {
		u.banner.SetText("The configuration file has errors; " + u.hub.WhileBroken() + ":\n" + err.Error())
		u.banner.Show()
	} else {
		u.banner.Hide()
	}
	paused := u.hub.Paused()
	if paused {
		u.pauseBtn.SetText("Resume all")
		u.pauseBtn.SetIcon(theme.MediaPlayIcon())
	} else {
		u.pauseBtn.SetText("Pause all")
		u.pauseBtn.SetIcon(theme.MediaPauseIcon())
	}
	u.mu.Lock()
	for id, reason := range u.authErrs {
		if v, ok := find(views, id); !ok || v.Status.State != status.NeedsAuth || reason == "" {
			delete(u.authErrs, id)
		}
	}
	u.mu.Unlock()
	u.servers.update(views)
	u.details.update(views)
	u.connect.update()
	u.settings.update()
	u.notifyConfig(cfgErr)
	u.notify(views)
	u.updateTray(views, paused)
}

func find(views []mcphub.ServerView, id string) (mcphub.ServerView, bool) {
	for _, v := range views {
		if v.ID == id {
			return v, true
		}
	}
	return mcphub.ServerView{}, false
}

// signingIn reports whether this window runs a sign-in for id.
func (u *UI) signingIn(id string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	_, ok := u.signIns[id]
	return ok
}

func (u *UI) authError(id string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.authErrs[id]
}

// authenticate starts a sign-in: the browser opens, the row waits for it
// with a Cancel button, and turns connected when the hub says so. A sign-in
// started from the tray notifies its failure: the window may be hidden.
func (u *UI) authenticate(id string, notifyFailure bool) {
	u.mu.Lock()
	if _, busy := u.signIns[id]; busy {
		u.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	u.signIns[id] = cancel
	delete(u.authErrs, id)
	u.mu.Unlock()
	u.refresh()
	go func() {
		err := u.hub.Authenticate(ctx, id)
		failed := err != nil && !errors.Is(err, context.Canceled)
		u.mu.Lock()
		delete(u.signIns, id)
		if failed {
			u.authErrs[id] = "Sign-in failed: " + err.Error()
		}
		u.mu.Unlock()
		cancel()
		u.do(func() {
			if failed && notifyFailure {
				// The state went back to the needs sign-in it was notified
				// for, so notify does not speak up.
				name := id
				if v, ok := find(u.hub.Servers(), id); ok {
					name = v.Name
				}
				u.app.SendNotification(fyne.NewNotification("Sign-in to "+name+" failed", err.Error()))
			}
			u.refresh()
		})
	}()
}

func (u *UI) cancelSignIn(id string) {
	u.mu.Lock()
	cancel := u.signIns[id]
	u.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// TapAuthenticate presses the key icon of a server's row, as a person
// would: the end-to-end test's hook. It reports whether the row had one.
func (u *UI) TapAuthenticate(id string) bool {
	var ok bool
	fyne.DoAndWait(func() { ok = u.servers.tapAuthenticate(id) })
	return ok
}

// RowText is what a server's row shows (state, then detail): the
// end-to-end test reads the window through it.
func (u *UI) RowText(id string) string {
	var text string
	fyne.DoAndWait(func() {
		if r := u.servers.rows[id]; r != nil {
			text = r.state.Text + "\n" + r.detail.Text
		}
	})
	return text
}

// run does slow work off the UI goroutine and shows its error, if any.
func (u *UI) run(what string, f func() error) {
	go func() {
		if err := f(); err != nil {
			u.do(func() { u.showError(what, err) })
		}
		u.do(u.refresh)
	}()
}

func (u *UI) showError(what string, err error) {
	dialog.ShowError(errors.New(what+": "+err.Error()), u.win)
}

func (u *UI) openConfig() {
	if err := u.opts.OpenURL(&url.URL{Scheme: "file", Path: u.hub.ConfigPath()}); err != nil {
		u.showError("Open the configuration file", err)
	}
}
